// Checks, with docker itself, that the scenario built by test/helpers/scenario.ts
// is what it claims to be, on a private overlay2 daemon and on a private vfs daemon.
// Needs root and /usr/sbin/dockerd; fails (never skips) when the daemon cannot start.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { lstat, mkdtemp, readFile, readdir, readlink, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isDockerdRunning, mountsUnder, startDockerd, type Dockerd } from '../helpers/dockerd.js';
import {
  buildScenario,
  parentChain,
  LONG_NAME_FILE,
  LONG_PATH_FILE,
  VERSION_NEW,
  VERSION_OLD,
  WASTED_DELETED,
  WASTED_DELETED_BYTES,
  WASTED_OVERWRITTEN,
  WASTED_OVERWRITTEN_BYTES,
  type Scenario,
} from '../helpers/scenario.js';

const SHA256_ID = /^sha256:[0-9a-f]{64}$/;
const CONTAINER_ID = /^[0-9a-f]{64}$/;

async function inspect(d: Dockerd, ref: string): Promise<any> {
  return JSON.parse(await d.docker(['image', 'inspect', '--format', '{{json .}}', ref]));
}

/** `docker export` a container into a fresh host directory (GNU tar keeps owners, modes, links, fifos). */
async function exportContainer(d: Dockerd, name: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'strata-export-'));
  const tarball = path.join(dir, '..', path.basename(dir) + '.tar');
  await d.docker(['export', '-o', tarball, name]);
  await new Promise<void>((resolve, reject) => {
    const p = spawn('tar', ['--numeric-owner', '-xpf', tarball, '-C', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (c) => (err += c));
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`tar -x: ${code} ${err}`))));
  });
  await rm(tarball, { force: true });
  return dir;
}

async function exists(p: string): Promise<boolean> {
  return lstat(p).then(
    () => true,
    () => false,
  );
}

async function checkScenario(t: Test, d: Dockerd, s: Scenario): Promise<void> {
  // --- ids ------------------------------------------------------------------------------
  t.same(Object.keys(s.images).sort(), ['app:1', 'app:2', 'base:1', 'dangling', 'mid:tagged', 'solo:1', 'wasted:1'], 'image keys');
  t.same(Object.keys(s.containers).sort(), ['c-created', 'c-dangling', 'c-exited', 'c-running'], 'container keys');
  for (const [k, id] of Object.entries(s.images)) t.match(id, SHA256_ID, `image ${k} is a full sha256 id`);
  for (const [k, id] of Object.entries(s.containers)) t.match(id, CONTAINER_ID, `container ${k} is a full id`);
  t.equal(new Set(Object.values(s.images)).size, 7, 'seven distinct images');
  for (const ref of ['base:1', 'solo:1', 'app:1', 'app:2', 'mid:tagged', 'wasted:1']) {
    t.equal((await inspect(d, ref)).Id, s.images[ref], `${ref} resolves to the reported id`);
  }

  // --- tags -----------------------------------------------------------------------------
  const base = await inspect(d, s.images['base:1']);
  t.same([...base.RepoTags].sort(), ['base:1', 'base:latest', 'example.com/team/base:v1'], 'base has three tags');
  t.equal(base.Parent, '', 'imported base has no parent');
  t.equal(base.RootFS.Layers.length, 1, 'imported base has one layer');
  const solo = await inspect(d, s.images['solo:1']);
  t.same(solo.RepoTags, ['solo:1'], 'solo tags');
  t.equal(solo.Parent, '', 'solo has no parent');
  t.not(solo.RootFS.Layers[0], base.RootFS.Layers[0], 'solo and base have different layers');

  // --- wasted:1: several MB in its layers that its later layers overwrite and delete -------
  const wasted = await inspect(d, s.images['wasted:1']);
  t.same(wasted.RootFS.Layers.slice(0, 1), base.RootFS.Layers, 'wasted:1 starts with the base layer');
  t.equal(wasted.RootFS.Layers.length, 4, 'wasted:1: base + files + overwrite + delete layers');
  t.ok(
    wasted.Size >= base.Size + WASTED_OVERWRITTEN_BYTES + WASTED_DELETED_BYTES,
    `wasted:1's size (${wasted.Size}) counts the overwritten and the deleted file`,
  );
  const wastedLs = await d.docker(['run', '--rm', '--network', 'none', 'wasted:1', 'sh', '-c', `wc -c /${WASTED_OVERWRITTEN}; ls /wasted`]);
  t.match(wastedLs, /^29 \/wasted\/overwritten\.bin\n/, 'the later layer overwrote the big file with a short one');
  t.notOk(wastedLs.includes(path.basename(WASTED_DELETED)), 'the later layer deleted the other big file');
  t.match(wastedLs, /kept\.txt/, 'the small file is kept');

  // --- dangling -------------------------------------------------------------------------
  const danglingList = (await d.docker(['images', '-f', 'dangling=true', '-q', '--no-trunc'])).split('\n').filter(Boolean);
  t.same(danglingList, [s.images['dangling']], 'exactly the old app:1 is dangling');
  const dangling = await inspect(d, s.images['dangling']);
  t.same(dangling.RepoTags, [], 'dangling image has no tags');
  t.same(dangling.RepoDigests, [], 'dangling image has no digests');

  // --- parent chains ----------------------------------------------------------------------
  const app1 = await inspect(d, 'app:1');
  const app2 = await inspect(d, 'app:2');
  const mid = await inspect(d, 'mid:tagged');
  const chain1 = await parentChain(d, s.images['app:1']);
  const chainOld = await parentChain(d, s.images['dangling']);
  t.equal(chain1[chain1.length - 1], s.images['base:1'], 'app:1 chain ends at base:1');
  t.equal(chainOld[chainOld.length - 1], s.images['base:1'], 'dangling chain ends at base:1');
  t.ok(chain1.length > 10, `app:1 has a long chain of legacy-builder parents (${chain1.length})`);
  const midIdx = chain1.indexOf(s.images['mid:tagged']);
  t.ok(midIdx > 0, 'mid:tagged is an ancestor of app:1');
  t.ok(chainOld.includes(s.images['mid:tagged']), 'mid:tagged is also an ancestor of the dangling image');
  const midChild = chain1[midIdx - 1];
  t.equal((await inspect(d, midChild)).Parent, s.images['mid:tagged'], "mid:tagged's child records it as Parent");
  t.same(mid.RepoTags, ['mid:tagged'], 'mid carries only its new tag');
  t.match(mid.ContainerConfig.Cmd.join(' '), /strata-step:links/, 'mid:tagged is the links step');
  t.equal(app2.Parent, s.images['app:1'], 'app:2 Parent is app:1');
  t.equal(app2.RootFS.Layers.length, app1.RootFS.Layers.length + 1, 'app:2 adds one layer');
  t.same(app2.RootFS.Layers.slice(0, -1), app1.RootFS.Layers, 'app:2 layers extend app:1');
  t.ok(app1.RootFS.Layers.length > base.RootFS.Layers.length, 'app:1 has more layers than base:1');
  t.same(app1.RootFS.Layers.slice(0, 1), base.RootFS.Layers, 'app:1 starts with the base layer');
  t.same(mid.RootFS.Layers, app1.RootFS.Layers.slice(0, mid.RootFS.Layers.length), 'mid layers are a prefix of app:1');
  // the rebuild changed only the COPY step: same number of layers, same prefix, different top layers
  t.equal(dangling.RootFS.Layers.length, app1.RootFS.Layers.length, 'old and new app:1 have as many layers');
  t.same(dangling.RootFS.Layers.slice(0, -1), app1.RootFS.Layers.slice(0, -1), 'old and new app:1 share all but the COPY layer');
  t.not(dangling.RootFS.Layers.at(-1), app1.RootFS.Layers.at(-1), 'COPY layer differs');

  // empty layers: history has more entries than there are layers (ENV, LABEL, WORKDIR, CMD)
  const history = await d.api<any[]>(`/images/${s.images['app:1']}/history`);
  t.ok(history.length > app1.RootFS.Layers.length, `app:1 history (${history.length}) > layers (${app1.RootFS.Layers.length})`);
  t.same(app1.Config.Cmd, ['/bin/sh', '-c', 'cat /app/version.txt'], 'CMD recorded');
  t.equal(app1.Config.Labels['org.example.version'], '1', 'LABEL recorded');
  t.equal(app1.Config.WorkingDir, '/app', 'WORKDIR recorded');
  t.ok(app1.Config.Env.includes('GREETING=hello strata'), 'ENV recorded');

  // --- containers ------------------------------------------------------------------------
  const ps = (await d.docker(['ps', '-a', '--no-trunc', '--format', '{{.ID}}\t{{.Names}}\t{{.State}}\t{{.Image}}']))
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t'));
  const byName = Object.fromEntries(ps.map(([id, name, state, image]) => [name, { id, state, image }]));
  t.equal(ps.length, 4, 'four containers');
  const expected: Record<string, string> = {
    'c-created': 'created',
    'c-exited': 'exited',
    'c-running': 'running',
    'c-dangling': 'created',
  };
  for (const [name, state] of Object.entries(expected)) {
    t.equal(byName[name]?.id, s.containers[name], `${name} id`);
    t.equal(byName[name]?.state, state, `${name} is ${state}`);
  }
  const cDangling = JSON.parse(await d.docker(['inspect', '--format', '{{json .}}', 'c-dangling']));
  t.equal(cDangling.Image, s.images['dangling'], 'c-dangling uses the dangling image');
  const cExited = JSON.parse(await d.docker(['inspect', '--format', '{{json .}}', 'c-exited']));
  t.equal(cExited.State.ExitCode, 0, 'c-exited exited 0');
  t.equal(cExited.Image, s.images['app:1'], 'c-exited uses app:1');
  t.equal(cExited.HostConfig.NetworkMode, 'none', 'no network');
  const cRunning = JSON.parse(await d.docker(['inspect', '--format', '{{json .}}', 'c-running']));
  t.equal(cRunning.Image, s.images['base:1'], 'c-running uses base:1');
  t.same(cRunning.Config.Cmd, ['sleep', '100000'], 'c-running runs sleep');
  const diff = (await d.docker(['diff', 'c-exited'])).split('\n').filter(Boolean);
  for (const line of ['A /app/new-in-container.txt', 'C /app/data/one.txt', 'D /app/data/nested/two.txt']) {
    t.ok(diff.includes(line), `docker diff c-exited: ${line}`);
  }
  const apiContainers = await d.api<any[]>('/containers/json?all=1');
  t.equal(apiContainers.length, 4, 'API lists four containers');

  // --- content of app:1 (through docker export of the never-started c-created) ---------------
  const fs = await exportContainer(d, 'c-created');
  t.teardown(() => rm(fs, { recursive: true, force: true }));
  const p = (rel: string) => path.join(fs, rel);
  t.equal(await readFile(p('app/version.txt'), 'utf8'), VERSION_NEW, 'current app:1 has the rebuilt version.txt');
  t.not(VERSION_NEW, VERSION_OLD);
  t.equal(await readFile(p('app/data/nested/deep/three.txt'), 'utf8'), 'three\n', 'nested file');
  t.equal(await exists(p('app/old/remove-me.txt')), false, 'deleted file is gone');
  t.equal(await exists(p('app/old/sub')), false, 'deleted directory is gone');
  t.equal(await readFile(p('app/old/keep.txt'), 'utf8'), 'kept\n', 'sibling of deleted entries survives');
  t.same((await readdir(p('app/opaque'))).sort(), ['c.txt', 'new'], 'recreated directory only has new content');
  const [tgt, h1, h2] = await Promise.all(['target.txt', 'hard1', 'hard2'].map((n) => lstat(p(`app/links/${n}`))));
  t.equal(h1.ino, tgt.ino, 'hard1 shares the inode');
  t.equal(h2.ino, tgt.ino, 'hard2 shares the inode');
  t.equal(tgt.nlink, 3, 'three names');
  t.equal(await readlink(p('app/links/rel')), 'target.txt', 'relative symlink');
  t.equal(await readlink(p('app/links/abs')), '/app/links/target.txt', 'absolute symlink');
  t.equal(await readlink(p('app/links/dangling')), '../does/not/exist', 'dangling symlink');
  const sparse = await readFile(p('app/sparse.bin'));
  t.equal(sparse.length, 4 * 1024 * 1024, 'sparse file size');
  t.equal(sparse.subarray(2097152, 2097152 + 13).toString(), 'STRATA-MIDDLE', 'sparse file payload');
  t.equal(sparse[0], 0, 'sparse file hole');
  const big = await readFile(p('app/big.bin'));
  t.equal(big.length, 3145728, 'big file size');
  t.notOk(big.includes(0), 'big file has no zero bytes');
  t.ok(Buffer.byteLength(LONG_PATH_FILE) > 100, 'long path is > 100 bytes');
  t.ok(Buffer.byteLength(path.basename(LONG_NAME_FILE)) > 100, 'long name is > 100 bytes');
  t.equal(await readFile(p(LONG_PATH_FILE), 'utf8'), 'long-path\n', 'long path file');
  t.equal(await readFile(p(LONG_NAME_FILE), 'utf8'), 'long-name\n', 'long name file');
  t.equal(await readFile(p('app/café/naïve.txt'), 'utf8'), 'naive\n', 'non-ASCII names');
  t.equal(await readFile(p('app/日本/ファイル.txt'), 'utf8'), 'nihon\n', 'CJK names');
  t.equal((await lstat(p('app/suid.sh'))).mode & 0o7777, 0o4755, 'setuid file');
  t.equal((await lstat(p('app/sticky'))).mode & 0o7777, 0o1777, 'sticky dir');
  const owned = await lstat(p('app/owned/file.txt'));
  t.same([owned.uid, owned.gid], [12345, 54321], 'numeric owner without passwd entry');
  t.equal((await lstat(p('app/empty'))).size, 0, 'empty file');
  t.ok((await lstat(p('app/fifo'))).isFIFO(), 'fifo');
  t.ok((await lstat(p('bin/busybox'))).isFile(), 'busybox from base');
  t.equal(await readlink(p('bin/sh')), 'busybox', 'sh -> busybox');
}

for (const driver of ['overlay2', 'vfs'] as const) {
  t.test(`scenario on ${driver}`, async (t) => {
    const t0 = Date.now();
    const d = await startDockerd({ driver });
    // remove() is idempotent: the teardown only matters when something below throws.
    t.teardown(() => d.remove());
    const tStarted = Date.now();
    const info = await d.api<{ Driver: string; ServerVersion: string }>('/info');
    t.equal(info.Driver, driver, `daemon runs ${driver}`);
    const s = await buildScenario(d);
    const tBuilt = Date.now();
    t.comment(`${driver}: dockerd start ${tStarted - t0} ms, scenario build ${tBuilt - tStarted} ms`);
    await checkScenario(t, d, s);

    const tStop = Date.now();
    await d.remove();
    t.comment(`${driver}: stop + remove ${Date.now() - tStop} ms`);
    t.equal(await isDockerdRunning(d), false, 'daemon is gone');
    t.same(await mountsUnder([d.root, d.execRoot]), [], 'nothing left mounted');
    t.equal(await exists(d.root), false, 'data-root removed');
    t.equal(await exists(d.execRoot), false, 'exec-root removed');
  });
}
