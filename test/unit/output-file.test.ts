// -o PATH: what is at the path decides how it is written, and nothing but a regular file is ever replaced.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, constants, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { openOutput, OutputError, withOutput } from '../../inspect/output-file.js';
import { runCli, type CliResult } from '../helpers/run-cli.js';

const CLI = fileURLToPath(new URL('../../cli/index.ts', import.meta.url));
const sha256 = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

// A store with one exact layer (applied, so its tar-split is recorded): its tar must hash to its DiffID.
const base = t.testdir();
const src = join(base, 'src');
mkdirSync(src);
writeFileSync(join(src, 'hello'), 'hello, layer\n');
writeFileSync(join(src, 'blob'), Buffer.alloc(300_000, 3));
const layerTar = join(base, 'layer.tar');
execFileSync('tar', ['-C', src, '-cf', layerTar, 'hello', 'blob']);
const root = join(base, 'root');
const applied = runCli(['--root', root, 'apply', layerTar, '--json']);
if (applied.status !== 0) throw new Error(`apply failed: ${applied.stderr}`);
const layer = JSON.parse(applied.stdout) as { chainId: string; diffId: string; cacheId: string };
const changedFile = join(root, 'overlay2', layer.cacheId, 'diff', 'hello');

const diffTo = (out: string, ...more: string[]) => runCli(['--root', root, 'diff', layer.chainId, '-o', out, ...more]);

function assertRefused(t: Test, r: CliResult, file: string, reason: RegExp): void {
  t.equal(r.status, 1, 'exit 1');
  const lines = r.stderr.trimEnd().split('\n');
  t.equal(lines.length, 1, `one line: ${r.stderr}`);
  t.ok(lines[0].startsWith(`strata: error: ${file}: `), `names ${file}: ${lines[0]}`);
  t.match(lines[0], reason);
}

/** Entries strata left in a directory besides `expected`: a temporary file would show here. */
const leftovers = (dir: string, expected: string[]) => readdirSync(dir).filter((n) => !expected.includes(n));

t.test('a character device is written through and stays a device', async (t) => {
  const dir = t.testdir();
  const dev = join(dir, 'null');
  execFileSync('mknod', [dev, 'c', '1', '3']);
  const r = diffTo(dev);
  t.equal(r.status, 0, r.stderr);
  const st = lstatSync(dev);
  t.ok(st.isCharacterDevice(), 'still a character device');
  t.equal(st.rdev, lstatSync('/dev/null').rdev, 'still 1:3');
  t.same(leftovers(dir, ['null']), [], 'no temporary file beside it');
  // Only once a copy of /dev/null survived is the real one risked: a regression shows on the copy.
  if (st.isCharacterDevice()) {
    const real = diffTo('/dev/null');
    t.equal(real.status, 0, real.stderr);
    t.ok(lstatSync('/dev/null').isCharacterDevice(), '/dev/null is still a character device');
  }
});

t.test('a FIFO is written through to its reader', async (t) => {
  const dir = t.testdir();
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const received = readFile(fifo);
  const child = spawn(process.execPath, ['--import=tsx', CLI, '--root', root, 'diff', layer.chainId, '-o', fifo], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const status = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  // Should strata have failed without opening the FIFO, a writer's open and close lets the reader end.
  if (status !== 0) closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
  t.equal(status, 0, stderr);
  t.equal(sha256(await received), layer.diffId, 'the reader got the exact tar');
  t.ok(lstatSync(fifo).isFIFO(), 'still a FIFO');
  t.same(leftovers(dir, ['fifo']), []);
});

t.test('a symbolic link is refused, and followed with --follow', async (t) => {
  const dir = t.testdir();
  const target = join(dir, 'target.tar');
  const link = join(dir, 'link.tar');
  writeFileSync(target, 'old');
  symlinkSync('target.tar', link);
  assertRefused(t, diffTo(link), link, /symbolic link.*--follow/);
  t.equal(readFileSync(target, 'utf8'), 'old', 'its target is untouched');
  t.ok(lstatSync(link).isSymbolicLink(), 'the link is still a link');

  const followed = diffTo(link, '--follow');
  t.equal(followed.status, 0, followed.stderr);
  t.equal(sha256(readFileSync(target)), layer.diffId, 'the target got the tar');
  t.equal(readlinkSync(link), 'target.tar', 'the link is still the same link');

  const dev = join(dir, 'null');
  execFileSync('mknod', [dev, 'c', '1', '3']);
  const toDev = join(dir, 'to-dev');
  symlinkSync(dev, toDev);
  t.equal(diffTo(toDev, '--follow').status, 0, 'followed to a device');
  t.ok(lstatSync(dev).isCharacterDevice(), 'the device it points at is written through');
  const dangling = join(dir, 'dangling');
  symlinkSync('made-by-strata.tar', dangling);
  t.equal(diffTo(dangling, '--follow').status, 0, 'followed to a file that is not there yet');
  t.equal(sha256(readFileSync(join(dir, 'made-by-strata.tar'))), layer.diffId);
  t.same(leftovers(dir, ['target.tar', 'link.tar', 'null', 'to-dev', 'dangling', 'made-by-strata.tar']), []);
});

t.test('a directory is refused', async (t) => {
  const dir = t.testdir({ inside: 'x' });
  assertRefused(t, diffTo(dir), dir, /is a directory/);
  t.same(readdirSync(dir), ['inside']);
});

t.test('a socket is refused', async (t) => {
  const dir = t.testdir();
  const sock = join(dir, 'sock');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(sock, resolve));
  t.teardown(() => server.close());
  assertRefused(t, diffTo(sock), sock, /is a socket/);
  t.ok(lstatSync(sock).isSocket(), 'still a socket');
});

t.test('-o - is stdout', async (t) => {
  const dir = t.testdir();
  const r = spawnSync(process.execPath, ['--import=tsx', CLI, '--root', root, 'diff', layer.chainId, '-o', '-'], { cwd: dir, maxBuffer: 1 << 26 });
  t.equal(r.status, 0, r.stderr.toString());
  t.equal(sha256(r.stdout), layer.diffId, 'the exact tar on stdout');
  t.notOk(existsSync(join(dir, '-')), 'no file named "-"');
  t.equal(r.stderr.toString(), '');
});

t.test('a regular file is replaced by rename once complete, and left alone when the check fails', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'layer.tar');
  writeFileSync(file, 'old contents');
  chmodSync(file, 0o600);
  const before = statSync(file);
  const r = diffTo(file);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stderr, /\(= DiffID\)/);
  const after = statSync(file);
  t.equal(sha256(readFileSync(file)), layer.diffId);
  t.not(after.ino, before.ino, 'a new file renamed over the old one, not the old one rewritten');
  t.equal(after.mode & 0o777, 0o600, 'the mode of the file it replaced');
  t.same(leftovers(dir, ['layer.tar']), [], 'no temporary file left');

  // The layer's file changes on disk (same size): the rebuilt tar no longer hashes to the DiffID.
  const original = readFileSync(changedFile);
  writeFileSync(changedFile, original.toString().toUpperCase());
  t.teardown(() => writeFileSync(changedFile, original));
  const good = readFileSync(file);
  const failed = diffTo(file);
  assertRefused(t, failed, file, /not the layer's DiffID .*nothing written.*hello/);
  t.equal(statSync(file).ino, after.ino, 'the same file is still there');
  t.same(readFileSync(file), good, 'with the same bytes');
  t.same(leftovers(dir, ['layer.tar']), [], 'the temporary file is gone');

  const dev = join(dir, 'null');
  execFileSync('mknod', [dev, 'c', '1', '3']);
  const throughDev = diffTo(dev);
  assertRefused(t, throughDev, dev, /the tar written hashes to .*not the layer's DiffID/);
  t.ok(lstatSync(dev).isCharacterDevice(), 'a device that got the bytes stays a device');
});

t.test('a missing directory is named', async (t) => {
  const dir = t.testdir();
  assertRefused(t, diffTo(join(dir, 'a', 'b', 'x.tar')), join(dir, 'a', 'b'), /no such directory/);
  writeFileSync(join(dir, 'file'), '');
  assertRefused(t, diffTo(join(dir, 'file', 'x.tar')), join(dir, 'file'), /not a directory/);
});

t.test('withOutput: commits on success, drops the temporary file on failure', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'out.txt');
  await withOutput(file, {}, async (out) => {
    t.equal(out.kind, 'file');
    t.equal(out.writesThrough, false);
    await out.write(Buffer.from('one'));
    t.notOk(existsSync(file), 'not in place before the commit');
  });
  t.equal(readFileSync(file, 'utf8'), 'one');
  await t.rejects(
    withOutput(file, {}, async (out) => {
      await out.write(Buffer.from('two'));
      throw new Error('stopped');
    }),
    /stopped/,
  );
  t.equal(readFileSync(file, 'utf8'), 'one', 'unchanged');
  t.same(readdirSync(dir), ['out.txt']);
  const stdout = await openOutput('-');
  t.equal(stdout.kind, 'stdout');
  t.equal(stdout.fd, 1);
  await t.rejects(openOutput(dir), OutputError);
});
