// Write commands on a hostile store: a parent layer whose directory, or whose bookkeeping files, were
// replaced by symlinks into the host is refused before anything is written through them.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { runCli } from '../helpers/run-cli.js';

function tarOf(dir: string, files: Record<string, string>, out: string): string {
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  execFileSync('tar', ['-C', dir, '-cf', out, ...Object.keys(files)]);
  return out;
}

function hostDir(top: string): string {
  const host = join(top, 'host');
  mkdirSync(host);
  writeFileSync(join(host, 'precious.txt'), 'HOST FILE\n');
  return host;
}

for (const driver of ['vfs', 'overlay2']) {
  t.test(`${driver}: a parent layer directory replaced by a symlink into the host`, async (t) => {
    const top = t.testdir();
    const root = join(top, 'root');
    const base = runCli(['--root', root, '--driver', driver, 'apply', tarOf(join(top, 'b'), { 'base.txt': 'base\n' }, join(top, 'base.tar')), '--json']);
    t.equal(base.status, 0, base.stderr);
    const parent = JSON.parse(base.stdout) as { chainId: string; cacheId: string };
    const host = hostDir(top);
    const dir = driver === 'vfs' ? join(root, 'vfs', 'dir', parent.cacheId) : join(root, 'overlay2', parent.cacheId, 'diff');
    rmSync(dir, { recursive: true });
    symlinkSync(host, dir);
    const evil = tarOf(join(top, 'e'), { 'planted.txt': 'planted\n', '.wh.precious.txt': '' }, join(top, 'evil.tar'));
    const r = runCli(['--root', root, 'apply', evil, '--parent', parent.chainId]);
    t.equal(r.status, 1, 'refused');
    t.equal(r.stderr.split('\n').filter((l) => l.startsWith('strata: error: ')).length, 1, `one error line: ${r.stderr}`);
    t.match(r.stderr, /symbolic link|not a directory/, 'saying why');
    t.same(readdirSync(host), ['precious.txt'], 'nothing written into, nothing deleted from the host directory');
    t.equal(readFileSync(join(host, 'precious.txt'), 'utf8'), 'HOST FILE\n');
  });
}

t.test("overlay2: a parent's committed marker replaced by a symlink to a host file", async (t) => {
  const top = t.testdir();
  const root = join(top, 'root');
  const base = runCli(['--root', root, '--driver', 'overlay2', 'apply', tarOf(join(top, 'b'), { 'base.txt': 'base\n' }, join(top, 'base.tar')), '--json']);
  t.equal(base.status, 0, base.stderr);
  const parent = JSON.parse(base.stdout) as { chainId: string; cacheId: string };
  const host = hostDir(top);
  symlinkSync(join(host, 'precious.txt'), join(root, 'overlay2', parent.cacheId, 'committed'));
  const r = runCli(['--root', root, 'apply', tarOf(join(top, 'c'), { 'child.txt': 'child\n' }, join(top, 'child.tar')), '--parent', parent.chainId]);
  t.equal(r.status, 1, 'refused');
  t.match(r.stderr, new RegExp(`^strata: error: ${join(root, 'overlay2', parent.cacheId, 'committed')}: `), 'naming the marker');
  t.equal(readFileSync(join(host, 'precious.txt'), 'utf8'), 'HOST FILE\n', 'the host file is not truncated');
  t.same(readdirSync(join(root, 'overlay2')).filter((n) => n !== 'l' && n !== parent.cacheId), [], 'no layer left behind');
});
