// devicemapper read offline: a store made at run time with real drivers (vfs layers applied from tars,
// their tar-splits recorded) is turned into the same store on devicemapper — a real thin pool
// (thin_restore) whose thin devices hold ext4 or xfs filesystems with each layer's full copy at /rootfs
// (test/helpers/to-devicemapper.ts). Every command must answer on it as on the vfs original, with nothing
// left mounted, attached or written afterwards; bad pools are named in one line.
import { createHash } from 'node:crypto';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { fingerprint } from '../helpers/fingerprint.js';
import { storeOfTars, type TarSpec } from '../helpers/layer-store.js';
import { cliJson, runCli } from '../helpers/run-cli.js';
import { buildDevicemapperPool } from '../helpers/dm-pool.js';
import { convertVfsToDevicemapper } from '../helpers/to-devicemapper.js';
import { makeV1Store } from '../helpers/v1-store.js';

const CLI = fileURLToPath(new URL('../../cli/index.ts', import.meta.url));
const sha = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');
const latin = (s: string) => Buffer.from(s, 'latin1');

const LAYERS: TarSpec[][] = [
  [
    { name: 'bin', dir: true },
    { name: 'bin/sh', content: 'x'.repeat(200_000), mode: 0o755 },
    { name: 'bin/ash', hardlink: 'bin/sh' },
    { name: 'bin/link', symlink: 'sh' },
    { name: 'etc', dir: true },
    { name: 'etc/hosts', content: '127.0.0.1 localhost\n' },
    { name: latin('caf\xe9-\xff.txt'), content: 'not UTF-8\n' },
    { name: 'old.txt', content: 'old\n', uid: 1000, gid: 1000 },
  ],
  [
    { name: 'etc', dir: true },
    { name: 'etc/hosts', content: 'changed\n' },
    { name: '.wh.old.txt', marker: true },
    { name: 'srv', dir: true, mode: 0o700 },
    { name: 'srv/data', content: 'y'.repeat(70_000) },
  ],
];

/** Mounts and loop devices strata left behind: none, after every command. */
function leftovers(tmp: string): string[] {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes('strata-dm-'));
  return [...mounts, ...readdirSync(tmp).map((n) => `${tmp}/${n}`)];
}

const root = process.getuid?.() === 0;

for (const fs of ['ext4', 'xfs'] as const) {
  t.test(`a devicemapper store on ${fs} answers as its vfs original`, { skip: !root && 'needs root (loop mounts)' }, async (t) => {
    const vfsRoot = join(t.testdir({}), 'vfs');
    const { builder, layers, imageId } = await storeOfTars(vfsRoot, 'vfs', LAYERS, ['dm:1']);
    const container = builder.container({ image: imageId, name: 'worker', state: 'exited', files: { 'srv/made-here': 'by the container\n', 'etc/hosts': 'container hosts\n' } });
    const dm = join(t.testdirName, 'dm');
    const tmp = join(t.testdirName, 'tmp');
    const work = join(t.testdirName, 'work');
    mkdirSync(tmp);
    mkdirSync(work);
    const env = { STRATA_TMPDIR: tmp };
    convertVfsToDevicemapper(vfsRoot, dm, { fs, deviceBytes: fs === 'xfs' ? 512 << 20 : 64 << 20 });
    const before = fingerprint(dm);
    const both = (args: string[]) => [cliJson(['--root', vfsRoot, ...args], env), cliJson(['--root', dm, ...args], env)];

    t.test('listings: images, layers, history, ps, inspect', async (t) => {
      const [vImages, dImages] = both(['images', '-a']);
      t.same(dImages, vImages, 'images');
      const [vLayers, dLayers] = both(['layers']);
      t.same(
        dLayers.map((l: { chainId: string; diffId: string; size: number }) => [l.chainId, l.diffId, l.size]),
        vLayers.map((l: { chainId: string; diffId: string; size: number }) => [l.chainId, l.diffId, l.size]),
        'layers: the same ChainIDs, DiffIDs and sizes',
      );
      const [vPs, dPs] = both(['ps', '-a']);
      t.same(dPs, vPs, 'ps -a');
      const inspect = cliJson<Array<{ Driver: string; GraphDriver: { Name: string } }>>(['--root', dm, 'inspect', 'worker'], env);
      t.equal(inspect[0].Driver, 'devicemapper');
      t.same(leftovers(tmp), [], 'nothing mounted or left in the temp directory');
    });

    t.test('verify and diff: every layer rebuilds its exact tar from the devices', async (t) => {
      const verify = cliJson<Array<{ ok: boolean; diffId: string }>>(['--root', dm, 'verify'], env);
      t.equal(verify.length, 2);
      t.ok(verify.every((v) => v.ok), 'every layer hashes to its DiffID');
      const out = join(work, 'top.tar');
      const r = runCli(['--root', dm, 'diff', layers[1].chainId, '-o', out], env);
      t.equal(r.status, 0, r.stderr);
      t.equal(sha(readFileSync(out)), layers[1].diffId, 'diff: the exact tar of the top layer');
      const fresh = runCli(['--root', dm, 'diff', 'worker', '-o', join(work, 'rw.tar')], env);
      t.equal(fresh.status, 0, fresh.stderr);
      const names = runCli(['--root', vfsRoot, 'diff', 'worker', '-o', join(work, 'rw-vfs.tar')], env);
      t.equal(names.status, 0, names.stderr);
      t.ok(readFileSync(join(work, 'rw.tar')).equals(readFileSync(join(work, 'rw-vfs.tar'))), "the container's layer: the same naive diff as vfs gives");
      t.same(leftovers(tmp), []);
    });

    t.test('changes of a layer and of a container, names as bytes', async (t) => {
      const [vTop, dTop] = [runCli(['--root', vfsRoot, 'changes', 'dm:1', '--layer', '-1'], env), runCli(['--root', dm, 'changes', 'dm:1', '--layer', '-1'], env)];
      t.equal(dTop.status, 0, dTop.stderr);
      t.equal(dTop.stdout, vTop.stdout);
      t.match(dTop.stdout, /^D \/old\.txt$/m);
      const [vC, dC] = [runCli(['--root', vfsRoot, 'changes', 'worker'], env), runCli(['--root', dm, 'changes', 'worker'], env)];
      t.equal(dC.stdout, vC.stdout);
      t.match(dC.stdout, /^A \/srv\/made-here$/m);
      const base = cliJson<Array<{ path: string }>>(['--root', dm, 'changes', 'dm:1', '--layer', '1'], env);
      t.ok(
        base.some((c) => JSON.stringify(c).includes('caf') || JSON.stringify(c).includes('\\u00e9')),
        'the non-UTF-8 name is listed',
      );
      t.same(leftovers(tmp), []);
    });

    t.test('mount and umount: the image read-only, nothing left behind', async (t) => {
      const at = join(work, 'mnt');
      mkdirSync(at);
      const m = runCli(['--root', dm, 'mount', 'dm:1', at], env);
      t.equal(m.status, 0, m.stderr);
      t.equal(readFileSync(join(at, 'etc', 'hosts'), 'utf8'), 'changed\n');
      t.notOk(existsSync(join(at, 'old.txt')), 'the deleted file is gone');
      t.equal(readFileSync(join(at, 'bin', 'ash')).length, 200_000);
      t.throws(() => writeFileSync(join(at, 'x'), 'x'), /EROFS|read-only/, 'read-only');
      const u = runCli(['--root', dm, 'umount', at], env);
      t.equal(u.status, 0, u.stderr);
      t.same(readdirSync(at), [], 'unmounted');
      t.same(leftovers(tmp), [], 'the device image and its loop mount are gone too');
      const rw = runCli(['--root', dm, 'mount', 'worker', at, '--rw'], env);
      t.equal(rw.status, 1);
      t.match(rw.stderr, /^strata: error: .*read-only/m);
      t.equal(rw.stderr.trim().split('\n').length, 1, 'one line');
    });

    t.test('migrate --to overlay2: the same store on overlay2, every layer verified', async (t) => {
      const out = join(work, 'overlay2-out');
      const r = runCli(['--root', dm, 'migrate', '--to', 'overlay2', '--out', out], env);
      t.equal(r.status, 0, r.stderr);
      t.match(r.stdout, /^Migrated 2 layers, 1 images and 1 containers from devicemapper to overlay2/m);
      const verify = cliJson<Array<{ ok: boolean }>>(['--root', out, 'verify'], env);
      t.ok(verify.length === 2 && verify.every((v) => v.ok));
      t.same(cliJson(['--root', out, 'images', '-a'], env), cliJson(['--root', vfsRoot, 'images', '-a'], env), 'the same images');
      t.equal(runCli(['--root', out, 'changes', 'worker'], env).stdout, runCli(['--root', vfsRoot, 'changes', 'worker'], env).stdout, "the container's changes");
      t.same(leftovers(tmp), []);
    });

    t.test('writes are refused in one line', async (t) => {
      const load = runCli(['--root', dm, 'apply', join(work, 'top.tar')], env);
      t.equal(load.status, 1);
      t.match(load.stderr, /read-only in strata/);
      for (const args of [['prune', '--apply', '--min-age', '0s'], ['rmi', 'dm:1']]) {
        const r = runCli(['--root', dm, ...args], env);
        t.equal(r.status, 1, args.join(' '));
        t.match(r.stderr, /^strata: error: .*the devicemapper driver is read-only in strata/, `${args[0]}: refused before it asks or plans`);
      }
      t.equal(fingerprint(dm), before, 'and no command wrote to the store');
    });
  });
}

t.test('a damaged pool: named in one line, the rest still answers', { skip: !root && 'needs root (loop mounts)' }, async (t) => {
  const vfsRoot = join(t.testdir({}), 'vfs');
  const { layers } = await storeOfTars(vfsRoot, 'vfs', LAYERS, ['dm:1']);
  const good = join(t.testdirName, 'good');
  convertVfsToDevicemapper(vfsRoot, good, { fs: 'ext4', deviceBytes: 64 << 20 });
  const tmp = join(t.testdirName, 'tmp');
  const work = join(t.testdirName, 'work');
  mkdirSync(tmp);
  mkdirSync(work);
  const env = { STRATA_TMPDIR: tmp };
  const copy = (name: string) => {
    const dir = join(t.testdirName, name);
    cpSync(good, dir, { recursive: true });
    return dir;
  };
  const cacheOf = (chainId: string) => readFileSync(join(vfsRoot, 'image', 'vfs', 'layerdb', 'sha256', chainId.slice(7), 'cache-id'), 'utf8');

  t.test('a thin device missing from the pool metadata', async (t) => {
    const dir = copy('missing-device');
    const file = join(dir, 'devicemapper', 'metadata', cacheOf(layers[1].chainId));
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), device_id: 999 }));
    const r = runCli(['--root', dir, 'verify', '--json'], env);
    t.equal(r.status, 1);
    const report = JSON.parse(r.stdout) as Array<{ ok: boolean; problem?: string }>;
    t.equal(report.filter((x) => x.ok).length, 1, 'the other layer verifies');
    t.match(report.find((x) => !x.ok)?.problem, /thin device 999 is missing from the pool's metadata/);
    t.same(leftovers(tmp), []);
  });

  t.test('migrate refuses before writing when a device cannot be read; --skip-broken leaves it behind, listed', async (t) => {
    const dir = copy('migrate-broken');
    const file = join(dir, 'devicemapper', 'metadata', cacheOf(layers[1].chainId));
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), device_id: 999 }));
    const out = join(work, 'migrated-broken');
    const r = runCli(['--root', dir, 'migrate', '--to', 'vfs', '--out', out], env);
    t.equal(r.status, 1);
    t.match(r.stderr, /thin device 999 is missing from the pool's metadata/);
    t.notOk(existsSync(join(out, 'vfs')), 'nothing written');
    const skip = runCli(['--root', dir, 'migrate', '--to', 'vfs', '--out', join(work, 'migrated-skip'), '--skip-broken'], env);
    t.equal(skip.status, 0, skip.stderr);
    t.match(skip.stdout + skip.stderr, /thin device 999 is missing/);
    const left = cliJson<Array<{ chainId: string }>>(['--root', join(work, 'migrated-skip'), 'layers'], env);
    t.same(left.map((l) => l.chainId), [layers[0].chainId], 'the readable base layer is migrated, the broken one left behind');
    t.same(leftovers(tmp), []);
  });

  t.test('killed with SIGKILL while devices are mounted: the next run lets go of them', async (t) => {
    const child = spawn(process.execPath, ['--import=tsx', CLI, '--root', good, 'verify'], { env: { ...process.env, ...env }, stdio: 'ignore' });
    const started = Date.now();
    while (!readFileSync('/proc/self/mountinfo', 'utf8').includes(`strata-dm-${child.pid}-`) && Date.now() - started < 30_000) await new Promise((r) => setTimeout(r, 20));
    t.ok(readFileSync('/proc/self/mountinfo', 'utf8').includes(`strata-dm-${child.pid}-`), 'a device was mounted');
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    t.not(leftovers(tmp).length, 0, 'the killed run left its session');
    const again = runCli(['--root', good, 'changes', 'dm:1', '--layer', '-1'], env);
    t.equal(again.status, 0, again.stderr);
    t.same(leftovers(tmp), [], 'the next run removed it');
  });

  t.test('interrupted (SIGINT, SIGTERM): every device let go', async (t) => {
    // diff into a pipe nobody reads: the command waits on it with the device mounted when the signal comes.
    const bigVfs = join(work, 'big-vfs');
    const big = join(work, 'big');
    await storeOfTars(bigVfs, 'vfs', [[{ name: 'big', content: Buffer.alloc(48 << 20, 'z') }]], ['big:1']);
    convertVfsToDevicemapper(bigVfs, big, { fs: 'ext4', deviceBytes: 128 << 20 });
    for (const [signal, status] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
      const child = spawn(process.execPath, ['--import=tsx', CLI, '--root', big, 'diff', 'big:1', '--layer', '1'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'ignore'] });
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      const started = Date.now();
      while (!readFileSync('/proc/self/mountinfo', 'utf8').includes(`strata-dm-${child.pid}-`) && Date.now() - started < 30_000) await new Promise((r) => setTimeout(r, 5));
      child.kill(signal);
      const code = await new Promise<number | null>((r) => child.once('exit', (c, sig) => r(c ?? (sig === 'SIGINT' ? 130 : sig === 'SIGTERM' ? 143 : null))));
      clearTimeout(timer);
      t.equal(code, status, `${signal}: the command ends as the signal ends it`);
      t.same(leftovers(tmp), [], `${signal}: nothing left mounted`);
    }
  });

  t.test('an untrusted pool: a symlink or FIFO in place of the pool files is refused, not followed or waited on', async (t) => {
    const dir = copy('planted');
    const data = join(dir, 'devicemapper', 'devicemapper', 'data');
    rmSync(data);
    symlinkSync(join(good, 'devicemapper', 'devicemapper', 'data'), data);
    const r = runCli(['--root', dir, 'diff', layers[1].chainId, '-o', join(work, 'planted.tar')], env);
    t.equal(r.status, 1);
    t.match(r.stderr, /devicemapper\/data: is a symbolic link \(not followed\)/);
    const meta = join(dir, 'devicemapper', 'devicemapper', 'metadata');
    rmSync(meta);
    execFileSync('mkfifo', [meta]);
    const f = runCli(['--root', dir, 'changes', 'dm:1', '--layer', '-1'], env);
    t.equal(f.status, 1);
    t.match(f.stderr, /devicemapper\/metadata: not a regular file/);
    t.same(leftovers(tmp), []);
  });

  t.test('--storage-opt: unknown keys and direct-lvm refused in one line', async (t) => {
    const bad = runCli(['--root', good, '--storage-opt', 'dm.basesize=20G', 'images'], env);
    t.equal(bad.status, 1);
    t.match(bad.stderr, /--storage-opt dm\.basesize=20G: strata knows dm\.datadev=PATH and dm\.metadatadev=PATH/);
    const lvm = runCli(['--root', good, '--storage-opt', 'dm.thinpooldev=/dev/mapper/vg-pool', 'images'], env);
    t.equal(lvm.status, 1);
    t.match(lvm.stderr, /direct-lvm thin pool .* dm\.metadatadev=\/dev\/<vg>\/<pool>_tmeta/);
  });

  t.test('not root: one line naming the device, before any block is copied', async (t) => {
    const dir = copy('as-nobody');
    execFileSync('chmod', ['-R', 'a+rX', dir]);
    const own = join(work, 'nobody-tmp');
    mkdirSync(own, { mode: 0o777 });
    execFileSync('chmod', ['0777', own]);
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--import=tsx', CLI, '--root', dir, 'changes', 'dm:1', '--layer', '-1'], { encoding: 'utf8', cwd: process.cwd(), env: { ...process.env, STRATA_TMPDIR: own, HOME: own, XDG_CACHE_HOME: own } });
    t.equal(r.status, 1, r.stderr);
    t.match(r.stderr, /^strata: error: .*devicemapper\/metadata\/[0-9a-f]{64}: reading a devicemapper layer loop-mounts its device's filesystem read-only, which needs root$/m);
    t.same(readdirSync(own).filter((n) => n.startsWith('strata-dm-')), [], 'no device image made');
  });

  t.test('mount --print prepares nothing', async (t) => {
    const at = join(work, 'print-at');
    mkdirSync(at);
    const r = runCli(['--root', good, 'mount', 'dm:1', at, '--print'], env);
    t.equal(r.status, 0, r.stderr);
    const descs = JSON.parse(r.stdout) as Array<{ type: string; options: string[] }>;
    t.same(descs.map((d) => d.type), ['ext4', 'bind']);
    t.ok(descs[0].options.includes('noload') && descs[0].options.includes('nodev'), 'read-only, no journal replay, no device nodes');
    t.same(leftovers(tmp), [], 'no device image made');
  });

  t.test('layers: no per-layer bytes on disk (the blocks are in the pool)', async (t) => {
    const list = cliJson<Array<{ diskBytes: number | null }>>(['--root', good, 'layers'], env);
    t.ok(list.length === 2 && list.every((l) => l.diskBytes === null));
  });

  t.test('a truncated data file', async (t) => {
    const dir = copy('truncated');
    truncateSync(join(dir, 'devicemapper', 'devicemapper', 'data'), 64 * 1024);
    const r = runCli(['--root', dir, 'diff', layers[1].chainId, '-o', join(work, 'x.tar')], env);
    t.equal(r.status, 1);
    t.match(r.stderr, /^strata: error: .*devicemapper\/devicemapper\/data: truncated: device [0-9a-f]+ maps data block \d+, beyond the file's end \(65536 bytes\)$/m);
    t.notOk(existsSync(join(work, 'x.tar')), 'no partial tar');
    t.same(leftovers(tmp), []);
  });

  t.test('device metadata that does not parse', async (t) => {
    const dir = copy('bad-json');
    writeFileSync(join(dir, 'devicemapper', 'metadata', cacheOf(layers[0].chainId)), '{not json');
    const r = runCli(['--root', dir, 'changes', 'dm:1', '--layer', '1'], env);
    t.equal(r.status, 1);
    t.match(r.stderr, /metadata\/[0-9a-f]{64}: not devicemapper device metadata \(JSON does not parse\)/);
    t.equal(r.stderr.split('\n').filter((l) => l.startsWith('strata: error')).length, 1);
    t.equal(cliJson(['--root', dir, 'images'], env).length, 1, 'listings still answer');
  });

  t.test('thin_dump not installed: the error says what to install', async (t) => {
    const r = runCli(['--root', good, 'verify'], { ...env, PATH: '/usr/bin:/bin' });
    t.equal(r.status, 1);
    t.match(r.stdout + r.stderr, /thin_dump is not installed: reading devicemapper needs thin_dump from Debian's thin-provisioning-tools \(apt-get install thin-provisioning-tools\)/);
    const help = runCli(['--help']);
    t.match(help.stdout.replace(/\s+/g, ' '), /devicemapper is read offline and read-only, as root .* thin-provisioning-tools/, '--help says so too');
  });

  t.test('pool files on block devices: --storage-opt dm.datadev / dm.metadatadev', async (t) => {
    const dir = copy('elsewhere');
    const pool = join(work, 'pool');
    mkdirSync(pool);
    for (const f of ['data', 'metadata']) copyFileSync(join(dir, 'devicemapper', 'devicemapper', f), join(pool, f));
    truncateSync(join(dir, 'devicemapper', 'devicemapper', 'data'), 0);
    const opts = ['--storage-opt', `dm.datadev=${join(pool, 'data')}`, '--storage-opt', `dm.metadatadev=${join(pool, 'metadata')}`];
    const verify = cliJson<Array<{ ok: boolean }>>(['--root', dir, ...opts, 'verify'], env);
    t.ok(verify.length === 2 && verify.every((v) => v.ok), 'read from the named files');
  });
});

t.test('a legacy v1 graph/ store on devicemapper (each v1 id a thin device) reads, verifies and migrates', { skip: !root && 'needs root (loop mounts)' }, async (t) => {
  const vfsV1 = join(t.testdir({}), 'v1-vfs');
  const built = await makeV1Store(vfsV1, 'vfs', [
    ['base', { parent: null, created: '2014-01-01T00:00:00Z', files: [{ name: 'bin', dir: true }, { name: 'bin/sh', content: 'x'.repeat(90_000) }] }],
    ['app', { parent: 'base', created: '2014-02-01T00:00:00Z', files: [{ name: 'app', dir: true }, { name: 'app/run', content: 'run\n' }, { name: 'bin/.wh.sh', marker: true }], tags: ['app:1'] }],
  ]);
  // The same v1 store as the devicemapper driver of that era kept it: graph/ and the tags as they are, the
  // layers as thin devices named by their v1 ids.
  const v1 = join(t.testdirName, 'v1-dm');
  mkdirSync(v1);
  cpSync(join(vfsV1, 'graph'), join(v1, 'graph'), { recursive: true });
  copyFileSync(join(vfsV1, 'repositories-vfs'), join(v1, 'repositories-devicemapper'));
  const devices = [...built.values()].map((b) => ({ hash: b.id, parentHash: b.parent, rootfs: join(vfsV1, 'vfs', 'dir', b.id) }));
  buildDevicemapperPool(join(v1, 'devicemapper'), devices, { fs: 'ext4', deviceBytes: 64 << 20 });
  const tmp = join(t.testdirName, 'tmp');
  mkdirSync(tmp);
  const env = { STRATA_TMPDIR: tmp };
  const tree = runCli(['--root', v1, 'images', '--tree'], env);
  t.equal(tree.status, 0, tree.stderr);
  t.match(tree.stdout, new RegExp(`└─${built.get('app')!.id.slice(0, 12)} Virtual Size: .* Tags: app:1`));
  const verify = cliJson<Array<{ ok: boolean }>>(['--root', v1, 'verify'], env);
  t.ok(verify.length === 2 && verify.every((v) => v.ok), 'every v1 layer checks against its tar-data');
  const out = join(t.testdirName, 'top.tar');
  t.equal(runCli(['--root', v1, 'diff', built.get('app')!.id, '-o', out], env).status, 0);
  t.equal(sha(readFileSync(out)), built.get('app')!.diffId, 'the exact tar of the v1 layer, from its device');
  const migrated = join(t.testdirName, 'migrated');
  const m = runCli(['--root', v1, 'migrate', '--to', 'overlay2', '--out', migrated], env);
  t.equal(m.status, 0, m.stderr);
  const layers = cliJson<Array<{ diffId: string }>>(['--root', migrated, 'layers'], env);
  t.same(layers.map((l) => l.diffId).sort(), [...built.values()].map((b) => b.diffId).sort(), 'the v1 layers, with the DiffIDs their content gives');
  t.same(leftovers(tmp), []);
});
