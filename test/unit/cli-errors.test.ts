// Each ordinary mistake, made through the CLI as a user makes it: one line naming the file, no stack,
// no Node internals, a non-zero exit. And a closed pipe ends a command quietly.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { runCli, type CliResult } from '../helpers/run-cli.js';
import { buildSampleStore } from '../helpers/sample-store.js';

const CLI = fileURLToPath(new URL('../../cli/index.ts', import.meta.url));
const STRATA = `${process.execPath} --import=tsx ${CLI}`;

const base = t.testdir();
const s = buildSampleStore(join(base, 'store'));
// A layer larger than any pipe's buffer, so that a reader that stops early closes the pipe mid-write.
const big = s.builder.layer(null, { 'big.bin': 'x'.repeat(8 << 20) }, 'BIG');

const textFile = join(base, 'notes.txt');
writeFileSync(textFile, 'hello, not a tar\n');
mkdirSync(join(base, 'layer-src'));
writeFileSync(join(base, 'layer-src', 'hello'), 'hello\n'.repeat(400));
const goodTar = join(base, 'good.tar');
execFileSync('tar', ['-C', join(base, 'layer-src'), '-cf', goodTar, 'hello']);
const truncatedTar = join(base, 'truncated.tar');
// Cut inside the file's contents (2400 bytes after a 512-byte header).
writeFileSync(truncatedTar, readFileSync(goodTar).subarray(0, 1200));
const missing = join(base, 'no-such.tar');

/** The one rule for every mistake: exactly one error line, naming `file`, no frames, no Node internals, exit ≠ 0. */
function assertOneLine(t: Test, r: CliResult, file: string, text = r.stderr): void {
  const lines = text.replace(/\r/g, '').split('\n');
  const errors = lines.filter((l) => l.startsWith('strata: error: '));
  t.equal(errors.length, 1, `one error line in: ${JSON.stringify(text)}`);
  t.ok(errors[0]?.includes(file), `it names ${file}: ${errors[0]}`);
  t.notOk(lines.some((l) => /^\s+at /.test(l)), 'no stack frame');
  t.notMatch(text, /node:internal/, 'no Node internals');
  t.notMatch(text, /this is a bug in strata/, 'a user mistake, not a bug');
  t.ok(r.status !== 0 && r.status !== null, `a non-zero exit (${r.status})`);
}

const freshRoot = (t: Test) => join(t.testdir(), 'root');

/** Each mistake: the command line, and the file its one error line must name. */
const MISTAKES: Array<{ what: string; make: (t: Test) => { args: string[]; file: string } }> = [
  { what: 'load of a text file', make: (t) => ({ args: ['--root', freshRoot(t), 'load', textFile], file: textFile }) },
  { what: 'load of a missing file', make: (t) => ({ args: ['--root', freshRoot(t), 'load', missing], file: missing }) },
  { what: 'load of /etc/passwd', make: (t) => ({ args: ['--root', freshRoot(t), 'load', '/etc/passwd'], file: '/etc/passwd' }) },
  { what: 'load of a directory', make: (t) => ({ args: ['--root', freshRoot(t), 'load', base], file: base }) },
  { what: 'load of a truncated tar', make: (t) => ({ args: ['--root', freshRoot(t), 'load', truncatedTar], file: truncatedTar }) },
  { what: 'apply of a text file', make: (t) => ({ args: ['--root', freshRoot(t), 'apply', textFile], file: textFile }) },
  { what: 'apply of a missing file', make: (t) => ({ args: ['--root', freshRoot(t), 'apply', missing], file: missing }) },
  { what: 'apply of a truncated tar', make: (t) => ({ args: ['--root', freshRoot(t), 'apply', truncatedTar], file: truncatedTar }) },
  {
    what: 'apply --parent with an unknown layer',
    make: (t) => ({ args: ['--root', freshRoot(t), 'apply', goodTar, '--parent', 'sha256:' + 'ab'.repeat(32)], file: 'layerdb/sha256/' + 'ab'.repeat(32) }),
  },
  { what: 'a root that is a file (read)', make: () => ({ args: ['--root', textFile, 'images'], file: textFile }) },
  { what: 'a root that is a file (write)', make: () => ({ args: ['--root', textFile, 'load', goodTar], file: textFile }) },
  {
    what: 'diff on an empty root',
    make: (t) => {
      const root = t.testdir();
      return { args: ['--root', root, 'diff', 'sha256:abc'], file: root };
    },
  },
  {
    what: 'diff -o into a missing directory',
    make: () => ({ args: ['--root', s.root, 'diff', s.layers.L1.chainId, '-o', join(base, 'gone', 'x.tar')], file: join(base, 'gone') }),
  },
  { what: 'mount onto a missing directory', make: () => ({ args: ['--root', s.root, 'mount', 'app:1', join(base, 'no-mnt')], file: join(base, 'no-mnt') }) },
  { what: 'mount onto a file', make: () => ({ args: ['--root', s.root, 'mount', 'app:1', textFile], file: textFile }) },
  {
    what: 'umount of what is not mounted',
    make: (t) => {
      const dir = t.testdir();
      return { args: ['umount', dir], file: dir };
    },
  },
  { what: 'umount of a missing directory', make: () => ({ args: ['umount', join(base, 'no-mnt')], file: join(base, 'no-mnt') }) },
  { what: 'demo --dir onto a file', make: () => ({ args: ['demo', '--dir', textFile], file: textFile }) },
];

for (const m of MISTAKES) {
  t.test(m.what, async (t) => {
    const { args, file } = m.make(t);
    const r = runCli(args);
    assertOneLine(t, r, file);
    t.equal(r.stdout, '', 'nothing on stdout');
  });
}

t.test('a write refused because a daemon uses the root', async (t) => {
  const root = freshRoot(t);
  const lockFile = join(root, 'volumes', 'metadata.db');
  mkdirSync(join(root, 'volumes'), { recursive: true });
  writeFileSync(lockFile, '');
  // dockerd holds this lock while it runs (inspect/daemon-check.ts looks for it).
  const holder = spawn('flock', [lockFile, 'sleep', '60'], { stdio: 'ignore' });
  t.teardown(() => {
    holder.kill();
  });
  for (let i = 0; i < 100 && spawnSync('flock', ['--nonblock', lockFile, 'true']).status === 0; i++) await new Promise((r) => setTimeout(r, 50));
  for (const args of [['load', goodTar], ['apply', goodTar]]) {
    const r = runCli(['--root', root, ...args]);
    assertOneLine(t, r, lockFile);
    t.match(r.stderr, /daemon/);
  }
});

t.test('diff to a terminal refuses in one line, pointing at strata changes', async (t) => {
  // script(1) gives the command a terminal; -e passes on its exit code. What it prints is the terminal's.
  const cmd = `${STRATA} --root ${s.root} diff ${s.layers.L1.chainId}`;
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8' });
  const result = { stdout: '', stderr: r.stdout, status: r.status };
  assertOneLine(t, result, 'stdout');
  t.match(r.stdout, new RegExp(`strata changes ${s.layers.L1.chainId}`), 'says what lists the changes');
  t.match(r.stdout, /-o FILE/);
  const viaDash = spawnSync('script', ['-qec', `${cmd} -o -`, '/dev/null'], { encoding: 'utf8' });
  assertOneLine(t, { stdout: '', stderr: viaDash.stdout, status: viaDash.status }, 'stdout');
  const viaTty = spawnSync('script', ['-qec', `${cmd} -o /dev/tty`, '/dev/null'], { encoding: 'utf8' });
  assertOneLine(t, { stdout: '', stderr: viaTty.stdout, status: viaTty.status }, '/dev/tty');
});

/** Runs `strata ARGS | READER` in bash; returns strata's exit code (PIPESTATUS[0]) and its stderr. */
function pipeTo(args: string, reader: string, env: Record<string, string> = {}): { status: number; stderr: string } {
  const errFile = join(mkdtempSync(join(base, 'pipe-')), 'stderr');
  const r = spawnSync('bash', ['-o', 'pipefail', '-c', `${STRATA} ${args} 2>${errFile} | ${reader} >/dev/null; echo "\${PIPESTATUS[0]}"`], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  return { status: Number(r.stdout.trim()), stderr: readFileSync(errFile, 'utf8') };
}

t.test('a listing whose reader stops early ends quietly with 0', async (t) => {
  // `true` exits before strata writes a byte: every write meets a closed pipe.
  const cases = [['images', 'head -1'], ['images', 'true'], ['images --json', 'true'], ['layers', 'true'], ['df -v', 'true']];
  for (const [args, reader] of cases) {
    const r = pipeTo(`--root ${s.root} ${args}`, reader);
    t.equal(r.status, 0, `strata ${args} | ${reader}: exit 0`);
    t.equal(r.stderr, '', `strata ${args} | ${reader}: nothing on stderr`);
  }
});

t.test('a tar writer whose reader stops early ends with 141 or 1, without a stack', async (t) => {
  const exactRoot = freshRoot(t);
  const src = join(t.testdir(), 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'blob'), Buffer.alloc(6 << 20, 7));
  const bigTar = join(src, '..', 'big.tar');
  execFileSync('tar', ['-C', src, '-cf', bigTar, 'blob']);
  const applied = runCli(['--root', exactRoot, 'apply', bigTar, '--json']);
  t.equal(applied.status, 0, applied.stderr);
  const exact = JSON.parse(applied.stdout).chainId as string;
  const cases = [
    { what: 'fresh, native writer', args: `--root ${s.root} diff ${big.chainId}`, env: {}, readers: ['head -c 100', 'true'] },
    { what: 'fresh, JavaScript writer', args: `--root ${s.root} diff ${big.chainId}`, env: { STRATA_NATIVE: '0' }, readers: ['head -c 100'] },
    { what: 'exact (sha256-checked)', args: `--root ${exactRoot} diff ${exact}`, env: {}, readers: ['head -c 100'] },
  ];
  for (const c of cases) {
    for (const reader of c.readers) {
      const r = pipeTo(c.args, reader, c.env);
      t.ok(r.status === 141 || r.status === 1, `${c.what} | ${reader}: exit ${r.status}`);
      t.notMatch(r.stderr, /^\s+at |node:internal|Unhandled|EPIPE/m, `${c.what} | ${reader}: no stack, no crash: ${JSON.stringify(r.stderr)}`);
      t.equal(r.stderr, '', `${c.what} | ${reader}: quietly, nothing on stderr`);
    }
  }
});

t.test('a misspelt flag that takes the next argument as its value is named, not reported as a missing argument', async (t) => {
  const r = runCli(['--root', s.root, 'rmi', '--dryrun', 'app:1']);
  t.equal(r.status, 2, 'a usage error');
  t.match(r.stderr, /^strata: error: Unknown argument: dryrun\n/, 'names the unknown flag');
  t.equal(r.stdout, '');
  const two = runCli(['--root', s.root, 'why', '--jsn', '--nosize', 'app:1']);
  t.match(two.stderr, /Unknown arguments: jsn, nosize/, 'every unknown flag');
  const camel = runCli(['--root', s.root, 'rmi', '--dry-rn', 'app:1']);
  t.match(camel.stderr, /^strata: error: Unknown argument: dry-rn\n/, 'named as typed, not also camelCased (dryRn)');
  const none = runCli(['--root', s.root]);
  t.equal(none.stderr.match(/--help/g)?.length, 1, 'no command: the --help hint once');
  const missing = runCli(['--root', s.root, 'rmi']);
  t.match(missing.stderr, /Not enough non-option arguments/, 'a real missing argument keeps its message');
});
