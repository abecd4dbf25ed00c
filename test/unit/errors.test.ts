import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import t from 'tap';
import { CLOSED_PIPE_EXIT, reportError, runCommand } from '../../cli/output.js';
import { OutputClosedError } from '../../inspect/output-file.js';
import { fsError, PERMISSION_HINT, StrataError } from '../../native/errors.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** Every module a command may throw from: found on disk, so that a new module cannot be missed. */
function modules(): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      // Worker entry files run as soon as they are imported; cli/index.ts (outside cli/commands) too.
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') && !e.name.endsWith('-worker.ts')) found.push(p);
    }
  };
  for (const dir of ['cli/commands', 'inspect', 'drivers', 'snapshots', 'native']) walk(join(REPO, dir));
  return found.sort();
}

/** Captures what `fn` writes to stderr, and the exit code it sets (restored afterwards). */
async function captureStderr(fn: () => unknown): Promise<{ text: string; exitCode: number | string | undefined }> {
  const write = process.stderr.write;
  const exitCode = process.exitCode;
  let text = '';
  process.stderr.write = ((chunk: string | Uint8Array) => {
    text += chunk.toString();
    return true;
  }) as typeof process.stderr.write;
  try {
    await fn();
    return { text, exitCode: process.exitCode };
  } finally {
    process.stderr.write = write;
    process.exitCode = exitCode;
  }
}

t.test('every exported error class extends StrataError', async (t) => {
  const files = modules();
  t.ok(files.length >= 40, `${files.length} modules found`);
  const classes = new Map<string, unknown>();
  for (const file of files) {
    const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    for (const [name, value] of Object.entries(mod)) {
      if (typeof value === 'function' && /^[A-Z]\w*Error$/.test(name) && /^class\b/.test(Function.prototype.toString.call(value))) {
        classes.set(`${relative(REPO, file)}: ${name}`, value);
      }
    }
  }
  // Known ones, so that a discovery that found nothing cannot pass.
  for (const known of ['inspect/load.ts: LoadError', 'drivers/mount.ts: MountError', 'inspect/output-file.ts: OutputError', 'inspect/layer-export.ts: DigestMismatchError']) {
    t.ok(classes.has(known), `${known} is among them`);
  }
  t.ok(classes.size >= 8, `${classes.size} error classes`);
  for (const [where, cls] of classes) {
    if (cls === StrataError) continue;
    t.ok((cls as { prototype: unknown }).prototype instanceof StrataError, `${where} extends StrataError`);
  }
});

t.test('reportError: a StrataError is one line naming the file; anything else is a bug', async (t) => {
  delete process.env.STRATA_DEBUG;
  const user = await captureStderr(() => reportError(new StrataError('no such file or directory', { file: '/srv/x.tar' })));
  t.equal(user.text, 'strata: error: /srv/x.tar: no such file or directory\n');
  t.equal(user.exitCode, 1);

  const bug = await captureStderr(() => reportError(new TypeError("Cannot read properties of undefined (reading 'x')\nsecond line")));
  t.equal(bug.text, "strata: error: Cannot read properties of undefined (reading 'x') (this is a bug in strata; STRATA_DEBUG=1 shows where)\n");
  t.equal(bug.exitCode, 1);

  process.env.STRATA_DEBUG = '1';
  t.teardown(() => delete process.env.STRATA_DEBUG);
  const debug = await captureStderr(() => reportError(new Error('boom')));
  t.match(debug.text, /^strata: error: boom \(this is a bug in strata; STRATA_DEBUG=1 shows where\)\nError: boom\n\s+at /, 'the stack under STRATA_DEBUG=1');
});

t.test('fsError names the file, says the reason in words, and hints once at permissions', async (t) => {
  const enoent = Object.assign(new Error("ENOENT: no such file or directory, open 'x'"), { code: 'ENOENT' });
  t.equal(fsError('/a/b', enoent).message, '/a/b: no such file or directory');
  const eacces = Object.assign(new Error('EACCES'), { code: 'EACCES' });
  t.equal(fsError('/a/b', eacces).message, `/a/b: permission denied (${PERMISSION_HINT})`);
  t.equal(fsError('/a/b', eacces).cause, eacces, 'keeps the errno error for STRATA_DEBUG');
  const already = new StrataError('corrupt', { file: '/c' });
  t.equal(fsError('/a/b', already), already, 'a StrataError passes through');
});

t.test('runCommand: a closed output ends quietly with 141; other errors are reported', async (t) => {
  const closed = await captureStderr(() =>
    runCommand(() => {
      throw new OutputClosedError('the reader closed the pipe', { file: 'stdout' });
    }),
  );
  t.equal(closed.text, '');
  t.equal(closed.exitCode, CLOSED_PIPE_EXIT);
  const failed = await captureStderr(() =>
    runCommand(async () => {
      throw new StrataError('is a directory', { file: '/tmp' });
    }),
  );
  t.equal(failed.text, 'strata: error: /tmp: is a directory\n');
  t.equal(failed.exitCode, 1);
  const warned = await captureStderr(() => runCommand(() => [{ file: '/f', message: 'corrupt JSON' }]));
  t.equal(warned.text, 'strata: warning: /f: corrupt JSON\n');
  t.equal(warned.exitCode, undefined);
});
