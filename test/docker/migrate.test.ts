// strata migrate judged by a real dockerd: a scenario store built by dockerd on overlay2 is migrated offline
// to vfs, then on to aufs and back to overlay2; a dockerd started on each overlay2/vfs result lists the same
// image IDs, tags and containers, runs an image, shows the same `docker diff` of a changed container and
// saves every layer with its original DiffID. A migration killed with SIGKILL and run again ends as a clean
// run does, file by file. A v1 graph/ store migrated to overlay2 is listed by dockerd with the tags and
// DiffIDs the v1 layers hold; devicemapper stores (xfs and ext4 thin devices of a real thin pool, made
// from the judged vfs store) migrated to overlay2 and vfs are judged the same way.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { startDockerd, type Dockerd } from '../helpers/dockerd.js';
import { contentFingerprint, fingerprint } from '../helpers/fingerprint.js';
import { cliJson, runCli } from '../helpers/run-cli.js';
import { buildScenario } from '../helpers/scenario.js';
import { makeV1Store } from '../helpers/v1-store.js';
import { convertToV1 } from '../helpers/to-v1.js';
import { convertVfsToDevicemapper } from '../helpers/to-devicemapper.js';

const sha = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

/** Inode numbers of the non-empty regular files below `dir`. */
function fileInodes(dir: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = lstatSync(p);
    if (st.isDirectory()) out.push(...fileInodes(p));
    else if (st.isFile() && st.size > 0) out.push(st.ino);
  }
  return out;
}

interface ApiImage {
  Id: string;
  RepoTags: string[] | null;
  ParentId: string;
  Size: number;
}

const imageSummary = (list: ApiImage[]) => list.map((i) => ({ id: i.Id, tags: [...(i.RepoTags ?? [])].sort(), parent: i.ParentId, size: i.Size })).sort((a, b) => (a.id < b.id ? -1 : 1));

/** What dockerd says of a store: images, containers (id, name, image), each container's diff, each image's DiffIDs. */
type Observed = Awaited<ReturnType<typeof observe>>;

async function observe(d: Dockerd) {
  const images = imageSummary(await d.api<ApiImage[]>('/images/json?all=1'));
  const containers = (await d.api<Array<{ Id: string; Names: string[]; ImageID: string }>>('/containers/json?all=1')).map((c) => ({ id: c.Id, names: c.Names, image: c.ImageID })).sort((a, b) => (a.id < b.id ? -1 : 1));
  const diffs: Record<string, string[]> = {};
  for (const c of containers) diffs[c.names[0]] = (await d.docker(['diff', c.id])).split('\n').filter(Boolean).sort();
  const rootfs: Record<string, string[]> = {};
  for (const i of images) rootfs[i.id] = (await d.api<{ RootFS: { Layers: string[] } }>(`/images/${i.id}/json`)).RootFS.Layers;
  return { images, containers, diffs, rootfs };
}

/** What dockerd says of a migrated store against what it said of the original, field by field. */
function sameStore(t: Test, seen: Observed, expected: Observed, what = ''): void {
  const say = (words: string) => (what ? `${what}: ${words}` : words);
  t.same(seen.images, expected.images, say('the same image IDs, tags, parents and sizes'));
  t.same(seen.containers, expected.containers, say('the same containers, names and images'));
  t.same(seen.diffs, expected.diffs, say('docker diff of every container unchanged'));
  t.same(seen.rootfs, expected.rootfs, say('the same DiffIDs'));
}

/** sha256 of every layer tar in a `docker save` of `ref`, in the manifest's order. */
async function savedDiffIds(d: Dockerd, ref: string): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'strata-mig-save-'));
  try {
    await d.docker(['save', '-o', join(dir, 'image.tar'), ref]);
    execFileSync('tar', ['-xf', join(dir, 'image.tar'), '-C', dir]);
    const [manifest] = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Array<{ Layers: string[] }>;
    return manifest.Layers.map((l) => sha(readFileSync(join(dir, l))));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function migrate(from: string, to: string, driver: string, extra: string[] = []) {
  const r = runCli(['--root', from, ...extra, 'migrate', '--to', driver, '--out', to]);
  return r;
}

const newDir = (name: string) => {
  const dir = mkdtempSync(join(tmpdir(), `strata-mig-${name}-`));
  return dir;
};

t.test('overlay2 → vfs → aufs → overlay2, each dockerd-readable result judged by a dockerd', async (t) => {
  const src = await startDockerd({ driver: 'overlay2' });
  t.teardown(() => src.remove());
  await buildScenario(src);
  const before = await observe(src);
  const appDiffIds = await savedDiffIds(src, 'app:1');
  await src.stop();
  const sourcePrint = fingerprint(src.root, { linked: true });
  const sourceInodes = new Set(readdirSync(join(src.root, 'overlay2')).filter((id) => existsSync(join(src.root, 'overlay2', id, 'diff'))).flatMap((id) => fileInodes(join(src.root, 'overlay2', id, 'diff'))));

  const vfsRoot = newDir('vfs');
  t.teardown(() => rmSync(vfsRoot, { recursive: true, force: true }));
  const r1 = migrate(src.root, vfsRoot, 'vfs');
  t.equal(r1.status, 0, r1.stderr);
  t.match(r1.stdout, /^Migrated \d+ layers, \d+ images and \d+ containers from overlay2 to vfs into /);
  t.match(r1.stdout, /"storage-driver": "vfs"/, 'prints the daemon.json change');
  t.equal(fingerprint(src.root, { linked: true }), sourcePrint, 'the source is not written (its image layers\' files gained links only)');
  // One filesystem: image layers' files are the source's inodes; containers' read-write layers never are.
  t.match(r1.stdout, /\n\d+ files of image layers are hard links of the source's/, 'files were hard-linked');
  const mountIds = readdirSync(join(vfsRoot, 'image', 'vfs', 'layerdb', 'mounts')).flatMap((c) => ['mount-id', 'init-id'].map((f) => readFileSync(join(vfsRoot, 'image', 'vfs', 'layerdb', 'mounts', c, f), 'utf8').trim()));
  t.ok(mountIds.length > 0, 'the scenario has containers');
  const sharedIn = (id: string) => fileInodes(join(vfsRoot, 'vfs', 'dir', id)).filter((ino) => sourceInodes.has(ino)).length;
  t.same(mountIds.filter((id) => sharedIn(id) > 0), [], "no container's read-write (or init) layer shares a file with the source");
  const imageDirs = readdirSync(join(vfsRoot, 'vfs', 'dir')).filter((id) => !mountIds.includes(id));
  t.ok(imageDirs.filter((id) => sharedIn(id) > 0).length > 0, 'image layers share their files with the source');

  const v = await startDockerd({ driver: 'vfs', root: vfsRoot });
  t.teardown(() => v.stop());
  const onVfs = await observe(v);
  sameStore(t, onVfs, before);
  t.same(await savedDiffIds(v, 'app:1'), appDiffIds, 'docker save exports the original layer tars');
  t.equal((await v.docker(['run', '--rm', '--network', 'none', 'app:1', 'cat', '/app/data/one.txt'])).trim(), 'one', 'an image runs');
  const paths = JSON.parse(await v.docker(['inspect', '--format', '{{json .}}', 'c-exited']));
  t.ok([paths.ResolvConfPath, paths.HostnamePath, paths.HostsPath, paths.LogPath].every((p: string) => p.startsWith(`${vfsRoot}/containers/`)), "the container's files are the new root's");
  await v.docker(['start', 'c-exited']);
  await v.docker(['wait', 'c-exited']);
  t.equal((await v.docker(['inspect', '--format', '{{.State.Status}}', 'c-exited'])).trim(), 'exited', 'a migrated container starts (and ends) again');
  const vfsFinal = await observe(v);
  await v.stop();

  // devicemapper: no engine here writes it, so the vfs store dockerd just judged becomes one (each layer and
  // container device a thin snapshot of a real pool, test/helpers/to-devicemapper.ts), read back offline.
  for (const [fs, to] of [['xfs', 'overlay2'], ['ext4', 'vfs']] as const) {
    await t.test(`devicemapper (${fs}) → ${to}: dockerd on the result sees the store dockerd left on vfs`, async (t) => {
      const dmRoot = newDir(`dm-${fs}`);
      t.teardown(() => rmSync(dmRoot, { recursive: true, force: true }));
      convertVfsToDevicemapper(vfsRoot, dmRoot, { fs, deviceBytes: fs === 'xfs' ? 512 << 20 : 256 << 20 });
      const dmPrint = fingerprint(dmRoot);
      const verify = cliJson<Array<{ ok: boolean }>>(['--root', dmRoot, 'verify']);
      t.ok(verify.length > 0 && verify.every((x) => x.ok), 'every layer rebuilds to its DiffID from the thin devices');
      for (const name of Object.keys(vfsFinal.diffs)) {
        const changes = runCli(['--root', dmRoot, 'changes', name.slice(1)]);
        t.same(changes.stdout.split('\n').filter(Boolean).sort(), vfsFinal.diffs[name], `strata changes ${name.slice(1)} on devicemapper = docker diff`);
      }
      const out = newDir(`dm-${fs}-${to}`);
      t.teardown(() => rmSync(out, { recursive: true, force: true }));
      const r = migrate(dmRoot, out, to);
      t.equal(r.status, 0, r.stderr);
      t.match(r.stdout, new RegExp(`^Migrated \\d+ layers, \\d+ images and \\d+ containers from devicemapper to ${to} into `));
      t.equal(fingerprint(dmRoot), dmPrint, 'the devicemapper store is not written');
      t.notOk(readFileSync('/proc/self/mountinfo', 'utf8').includes('strata-dm-'), 'no device left mounted');
      const d = await startDockerd({ driver: to, root: out });
      t.teardown(() => d.stop());
      const seen = await observe(d);
      sameStore(t, seen, vfsFinal);
      t.same(await savedDiffIds(d, 'app:1'), appDiffIds, 'docker save exports the original layer tars');
      t.equal((await d.docker(['run', '--rm', '--network', 'none', 'app:1', 'cat', '/app/data/one.txt'])).trim(), 'one', 'an image runs');
      await d.stop();
    });
  }

  const aufsRoot = newDir('aufs');
  t.teardown(() => rmSync(aufsRoot, { recursive: true, force: true }));
  const r2 = migrate(vfsRoot, aufsRoot, 'aufs');
  t.equal(r2.status, 0, r2.stderr);
  const verify = cliJson<Array<{ ok: boolean }>>(['--root', aufsRoot, 'verify']);
  t.ok(verify.length > 0 && verify.every((x) => x.ok), 'every layer of the aufs store rebuilds to its DiffID');

  const backRoot = newDir('back');
  t.teardown(() => rmSync(backRoot, { recursive: true, force: true }));
  const r3 = migrate(aufsRoot, backRoot, 'overlay2');
  t.equal(r3.status, 0, r3.stderr);
  const back = await startDockerd({ driver: 'overlay2', root: backRoot });
  t.teardown(() => back.stop());
  const onBack = await observe(back);
  sameStore(t, onBack, before, 'overlay2 → vfs → aufs → overlay2');
  await back.stop();

  t.test('killed with SIGKILL at several points and run again: the result of a clean run', async (t) => {
    // Layer contents keep the tar's mtimes; metadata files are stamped when written. dockerd ran on
    // vfsRoot (its own files), so the clean run compared with is made again here.
    // A container's config names the root it lives in: compared with that root's path taken out.
    const print = (root: string) => [
      ...contentFingerprint(root, { mtimes: (rel) => /^vfs\/dir\/[^/]+\/./.test(rel), ignore: (rel) => rel.endsWith('/config.v2.json') }),
      ...readdirSync(join(root, 'containers')).sort().map((id) => `${id} ${readFileSync(join(root, 'containers', id, 'config.v2.json'), 'utf8').split(root).join('<ROOT>')}`),
    ];
    const cleanRoot = newDir('clean');
    t.teardown(() => rmSync(cleanRoot, { recursive: true, force: true }));
    const cleanRun = migrate(src.root, cleanRoot, 'vfs');
    t.equal(cleanRun.status, 0, cleanRun.stderr);
    const clean = print(cleanRoot);
    const cli = fileURLToPath(new URL('../../cli/index.ts', import.meta.url));
    let interrupted = 0;
    const layers = readdirSync(join(src.root, 'image', 'overlay2', 'layerdb', 'sha256')).length;
    // Killed once the target holds 1, half and all but one of the layers: mid-migration each time.
    for (const committed of [1, Math.floor(layers / 2), layers - 1]) {
      const out = newDir('killed');
      t.teardown(() => rmSync(out, { recursive: true, force: true }));
      const child = spawn(process.execPath, ['--import=tsx', cli, '--root', src.root, 'migrate', '--to', 'vfs', '--out', out], { stdio: 'ignore' });
      const exited = new Promise((r) => child.once('exit', r));
      const layerdb = join(out, 'image', 'vfs', 'layerdb', 'sha256');
      const deadline = Date.now() + 60_000;
      while (child.exitCode === null && Date.now() < deadline && (existsSync(layerdb) ? readdirSync(layerdb).length : 0) < committed) await new Promise((r) => setTimeout(r, 2));
      child.kill('SIGKILL');
      await exited;
      if (existsSync(join(out, '.strata-migrate'))) interrupted++;
      const again = migrate(src.root, out, 'vfs');
      t.equal(again.status, 0, `${committed}: ${again.stderr}`);
      t.same(print(out), clean, `killed with ${committed} of ${layers} layers committed and run again: the same files, metadata included, as a clean run`);
    }
    t.equal(interrupted, 3, 'every kill interrupted a migration halfway');
    t.equal(fingerprint(src.root, { linked: true }), sourcePrint, 'the source untouched');
  });
  t.test('a v1 aufs store converted from this store (test/helpers/to-v1.ts) reads, reassembles and migrates back', async (t) => {
    const v1 = newDir('to-v1');
    t.teardown(() => rmSync(v1, { recursive: true, force: true }));
    const { tags } = await convertToV1(src.root, v1);
    const tagged = new Map(before.images.flatMap((i) => i.tags.map((tag) => [tag, i.id] as const)));
    const listed = cliJson<Array<{ id: string; repoTags: string[] }>>(['--root', v1, 'images']);
    t.same(listed.flatMap((i) => i.repoTags).sort(), [...tags.keys()].sort(), 'every tag, on the v1 images');
    const verify = cliJson<Array<{ chainId: string; ok: boolean; actual: string }>>(['--root', v1, 'verify']);
    t.ok(verify.length > 0 && verify.every((v) => v.ok), 'every v1 layer reassembles from its tar-data, every file matching its record');
    const layers = cliJson<Array<{ chainId: string; diffId: string }>>(['--root', v1, 'layers', 'app:1']);
    t.same(layers.map((l) => l.diffId), before.rootfs[tagged.get('app:1')!], "app:1's v1 layers have the original DiffIDs");
    const out = newDir('from-v1');
    t.teardown(() => rmSync(out, { recursive: true, force: true }));
    const r = migrate(v1, out, 'overlay2');
    t.equal(r.status, 0, r.stderr);
    const d = await startDockerd({ driver: 'overlay2', root: out });
    t.teardown(() => d.stop());
    for (const tag of ['app:1', 'base:1', 'solo:1']) t.same(await savedDiffIds(d, tag), before.rootfs[tagged.get(tag)!], `${tag}: docker save gives the original layer tars`);
    t.equal((await d.docker(['run', '--rm', '--network', 'none', 'app:1', 'cat', '/app/data/one.txt'])).trim(), 'one', 'a migrated v1 image runs');
  });

  t.test('--in-place on a copy of the store: dockerd on the new driver sees the same store', async (t) => {
    const root = newDir('in-place');
    t.teardown(() => rmSync(root, { recursive: true, force: true }));
    execFileSync('cp', ['-a', `${src.root}/.`, root]);
    const r = runCli(['--root', root, 'migrate', '--to', 'vfs', '--in-place']);
    t.equal(r.status, 0, r.stderr);
    t.match(r.stdout, /Every migrated layer verified/);
    const d = await startDockerd({ driver: 'vfs', root });
    t.teardown(() => d.stop());
    const seen = await observe(d);
    sameStore(t, seen, before);
  });
});

t.test('a v1 graph/ store → overlay2: dockerd lists the migrated images with their tags and the v1 layers\' DiffIDs', async (t) => {
  const root = newDir('v1');
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const built = await makeV1Store(root, 'aufs', [
    ['base', { parent: null, created: '2014-01-01T00:00:00Z', files: [{ name: 'bin', dir: true }, { name: 'bin/sh', content: 'x'.repeat(1000) }] }],
    ['app', { parent: 'base', created: '2014-02-01T00:00:00.5Z', files: [{ name: 'app', dir: true }, { name: 'app/run', content: 'run <me> & go\n' }], tags: ['app:1', 'ubuntu:saucy'] }],
  ]);
  const out = newDir('v1-out');
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const r = migrate(root, out, 'overlay2');
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /from aufs \(v1 graph\/\) to overlay2/);
  const d = await startDockerd({ driver: 'overlay2', root: out });
  t.teardown(() => d.stop());
  const images = imageSummary(await d.api<ApiImage[]>('/images/json?all=1'));
  t.equal(images.length, 2, 'every v1 image');
  const app = images.find((i) => i.tags.includes('app:1'))!;
  t.same(app.tags, ['app:1', 'ubuntu:saucy']);
  const base = images.find((i) => i.id === app.parent);
  t.ok(base, "the v1 parent is the migrated image's parent");
  t.same(await savedDiffIds(d, 'app:1'), [built.get('base')!.diffId, built.get('app')!.diffId], 'docker save gives the v1 layers\' tars');
  const history = JSON.parse(await d.docker(['history', '--no-trunc', '--format', '{{json .}}', 'app:1']).then((s) => `[${s.trim().split('\n').join(',')}]`));
  t.equal(history.length, 2, 'one history step per v1 ancestor');
  void readdirSync;
});
