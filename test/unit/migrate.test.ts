// strata migrate --out on stores the tests build: a modern overlay2 store (layers applied by the real
// driver, tar-splits recorded) and a v1 graph/ store with a container. What must hold without a daemon:
// the same image IDs, tags and DiffIDs; every layer rebuilds to its original tar in the target; the
// container's changes; refusals before anything is written; a run interrupted between any two commits and
// run again ends with the files a clean run writes.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { contentFingerprint, fingerprint } from '../helpers/fingerprint.js';
import { layerTar, storeOfTars, type TarSpec } from '../helpers/layer-store.js';
import { cliJson, runCli } from '../helpers/run-cli.js';
import { makeV1Store } from '../helpers/v1-store.js';
import { moveRootPaths } from '../../inspect/migrate.js';

const CLI = new URL('../../cli/index.ts', import.meta.url).pathname;
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const tarOf = (args: string[]): Buffer => {
  const r = spawnSync(process.execPath, ['--import=tsx', CLI, ...args], { maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`strata ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

const LAYERS: TarSpec[][] = [
  [{ name: 'etc', dir: true }, { name: 'etc/os', content: 'base\n' }, { name: 'bin', dir: true }, { name: 'bin/sh', content: 's'.repeat(3000), mode: 0o755 }],
  [{ name: 'app', dir: true }, { name: 'app/a', content: 'a\n', uid: 1000, gid: 1000 }, { name: 'app/link', symlink: 'a' }, { name: 'app/hard', hardlink: 'app/a' }],
  [{ name: 'etc/.wh.os', marker: true }, { name: 'app/.wh..wh..opq', marker: true }, { name: 'app/b', content: 'b\n' }],
];

/** Inode numbers of the non-empty regular files below `dir`, by path below it. */
function fileInodes(dir: string, rel = ''): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const name of readdirSync(join(dir, rel))) {
    const r = rel ? `${rel}/${name}` : name;
    const st = lstatSync(join(dir, r), { bigint: true });
    if (st.isDirectory()) for (const [k, v] of fileInodes(dir, r)) out.set(k, v);
    else if (st.isFile() && st.size > 0n) out.set(r, st.ino);
  }
  return out;
}

t.test('overlay2 → vfs and → aufs: the same IDs, tags and DiffIDs; each layer rebuilds to its original tar', async (t) => {
  const root = join(t.testdir({}), 'src');
  const { imageId } = await storeOfTars(root, 'overlay2', LAYERS, ['app:1', 'app:latest']);
  const tars = LAYERS.map(layerTar);
  const sourcePrint = fingerprint(root, { linked: true });
  // The source layers' files (each layer's diff/), by inode.
  const sourceFiles = [...fileInodes(join(root, 'overlay2'))].filter(([k]) => /^[0-9a-f]{64}\/diff\//.test(k));
  const sourceInodes = new Set(sourceFiles.map(([, ino]) => ino));
  t.equal(sourceInodes.size, 4, 'etc/os, bin/sh, app/a, app/b in the source (app/hard is app/a)');
  // app/a is 1000:1000 in its tar, but the hard link app/hard after it (owner 0:0 in its own header) gave
  // the inode to root, as dockerd's apply does too: on disk it is not what its record says, so it is copied.
  const appA = sourceFiles.find(([k]) => k.endsWith('/diff/app/a'))![1];
  t.equal(lstatSync(join(root, 'overlay2', sourceFiles.find(([k]) => k.endsWith('/diff/app/a'))![0])).uid, 0, 'app/a is root\'s on disk');
  const linkable = new Set([...sourceInodes].filter((ino) => ino !== appA));
  for (const copy of [false, true]) {
  for (const to of ['vfs', 'aufs'] as const) {
    const out = join(t.testdirName, `out-${to}${copy ? '-copy' : ''}`);
    const r = runCli(['--root', root, 'migrate', '--to', to, '--out', out, ...(copy ? ['--copy'] : [])]);
    t.equal(r.status, 0, r.stderr);
    t.match(r.stdout, new RegExp(`^Migrated 3 layers, 1 images and 0 containers from overlay2 to ${to} into ${out}\\n`));
    // Hard-linked unless --copy: every file of an image layer is the source's own inode; aufs' .wh.
    // markers are made, never shared (the source's whiteouts are devices and an xattr).
    const layerFiles = [...fileInodes(join(out, to, to === 'vfs' ? 'dir' : 'diff'))];
    const shared = layerFiles.filter(([, ino]) => sourceInodes.has(ino));
    if (copy) {
      t.equal(shared.length, 0, `${to} --copy: no file shares an inode with the source`);
      t.notMatch(r.stdout, /hard links/);
    } else {
      // vfs layers are full copies: a layer's own files are linked, those it inherits are its parent's copies.
      t.same(new Set(shared.map(([, ino]) => ino)), linkable, `${to}: each file of the source's layers whose metadata is its record's is linked`);
      t.match(r.stdout, /\n3 files of image layers are hard links of the source's/, `${to}: the links are counted (app/hard is the tar's own link)`);
      const copiedA = layerFiles.filter(([k]) => k.endsWith('/app/a')).map(([k]) => lstatSync(join(out, to, to === 'vfs' ? 'dir' : 'diff', k)));
      t.ok(copiedA.length > 0 && copiedA.every((st) => st.ino !== Number(appA) && st.uid === 0), `${to}: app/a is a copy, owned as the source's is (its hard link's header gave it to root here too)`);
      t.notOk(layerFiles.some(([k, ino]) => /\.wh\./.test(k) && sourceInodes.has(ino)), 'no whiteout is shared');
    }
    const images = cliJson<Array<{ id: string; repoTags: string[] }>>(['--root', out, 'images']);
    t.same(images.map((i) => [i.id, i.repoTags]), [[imageId, ['app:1', 'app:latest']]], `${to}: the image keeps its ID and tags`);
    for (let n = 1; n <= 3; n++) t.equal(sha(tarOf(['--root', out, 'diff', 'app:1', '--layer', String(n)])), sha(tars[n - 1]), `${to}: layer ${n} exports the original tar`);
    const verify = cliJson<Array<{ ok: boolean }>>(['--root', out, 'verify']);
    t.same(verify.map((v) => v.ok), [true, true, true]);
    t.notOk(existsSync(join(out, '.strata-migrate')), 'the journal goes once the migration is done');
  }
  }
  t.equal(fingerprint(root, { linked: true }), sourcePrint, 'the source is not written (its files gained links: ctimes and link counts only)');
});

t.test('a v1 graph/ store with a container → vfs: the IDs Docker 1.10 would give, tags, history, the container', async (t) => {
  const root = join(t.testdir({}), 'src');
  const built = await makeV1Store(root, 'aufs', [
    ['base', { parent: null, created: '2014-01-01T00:00:00Z', files: [{ name: 'bin', dir: true }, { name: 'bin/sh', content: 'x'.repeat(100) }] }],
    ['app', { parent: 'base', created: '2014-02-01T00:00:00Z', files: [{ name: 'app', dir: true }, { name: 'app/run', content: 'run\n' }], tags: ['app:1'] }],
  ]);
  const [base, app] = ['base', 'app'].map((k) => built.get(k)!);
  const cid = randomBytes(32).toString('hex');
  mkdirSync(join(root, 'aufs', 'diff', cid), { recursive: true });
  mkdirSync(join(root, 'aufs', 'diff', `${cid}-init`), { recursive: true });
  writeFileSync(join(root, 'aufs', 'diff', cid, 'hello'), 'hi\n');
  writeFileSync(join(root, 'aufs', 'diff', cid, '.wh.bin'), '');
  writeFileSync(join(root, 'aufs', 'layers', `${cid}-init`), `${app.id}\n${base.id}\n`);
  writeFileSync(join(root, 'aufs', 'layers', cid), `${cid}-init\n${app.id}\n${base.id}\n`);
  mkdirSync(join(root, 'containers', cid), { recursive: true });
  writeFileSync(join(root, 'containers', cid, 'config.json'), JSON.stringify({ ID: cid, Name: '/web', Image: app.id, Driver: 'aufs', Created: '2015-01-01T00:00:00Z', Path: 'sh', Args: [], Config: { Image: 'app:1' }, State: { StartedAt: '2015-01-01T00:00:01Z', FinishedAt: '2015-01-01T00:00:02Z' } }));
  writeFileSync(join(root, 'containers', cid, 'hostconfig.json'), '{}');
  const out = join(t.testdirName, 'out');
  const r = runCli(['--root', root, 'migrate', '--to', 'vfs', '--out', out]);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /^Migrated 2 layers, 2 images and 1 containers from aufs \(v1 graph\/\) to vfs/);
  const images = cliJson<Array<{ id: string; repoTags: string[]; parent: string | null }>>(['--root', out, 'images', '-a']);
  t.equal(images.length, 2);
  const migrated = images.find((i) => i.repoTags.includes('app:1'))!;
  const config = readFileSync(join(out, 'image', 'vfs', 'imagedb', 'content', 'sha256', migrated.id.slice(7)));
  t.equal(sha(config), migrated.id, 'a content-addressed config');
  t.same(JSON.parse(config.toString()).rootfs, { type: 'layers', diff_ids: [base.diffId, app.diffId] }, 'rootfs: the v1 layers\' DiffIDs');
  t.notOk('id' in JSON.parse(config.toString()), 'the v1 id is gone from the config');
  t.equal(migrated.parent, images.find((i) => i !== migrated)!.id, 'the v1 parent is the parent');
  const history = runCli(['--root', out, 'history', 'app:1']);
  t.equal(history.stdout.trim().split('\n').length, 3, 'two steps of history');
  const ps = cliJson<Array<{ id: string; name: string; imageId: string }>>(['--root', out, 'ps', '-a']);
  t.same(ps.map((c) => [c.id, c.name, c.imageId]), [[cid, 'web', migrated.id]], 'the container, on the migrated image');
  const changes = runCli(['--root', out, 'changes', 'web']);
  t.equal(changes.stdout, 'D /bin\nA /hello\n', changes.stderr);
  const v2 = JSON.parse(readFileSync(join(out, 'containers', cid, 'config.v2.json'), 'utf8'));
  t.equal(v2.Driver, 'vfs');
  t.equal(v2.Image, migrated.id);
});

t.test('refused before anything is written', async (t) => {
  const root = join(t.testdir({}), 'src');
  await storeOfTars(root, 'overlay2', LAYERS.slice(0, 2));
  const busy = join(t.testdirName, 'busy');
  mkdirSync(busy);
  writeFileSync(join(busy, 'something'), 'x');
  const notEmpty = runCli(['--root', root, 'migrate', '--to', 'vfs', '--out', busy]);
  t.equal(notEmpty.status, 1);
  t.match(notEmpty.stderr, /busy: not empty, and no migration of this source was started there/);
  t.same(readdirSync(busy), ['something']);
  const self = runCli(['--root', root, 'migrate', '--to', 'vfs', '--out', root]);
  t.match(self.stderr, /--out is the source itself/);
  const both = runCli(['--root', root, 'migrate', '--to', 'vfs', '--in-place', '--out', join(t.testdirName, 'y')]);
  t.match(both.stderr, /--in-place and --out: choose one/);
  const neither = runCli(['--root', root, 'migrate', '--to', 'vfs']);
  t.match(neither.stderr, /migrate needs --out DIR \(a new data-root\) or --in-place/);
  writeFileSync(join(t.testdirName, 'a-file'), 'x');
  const file = runCli(['--root', root, 'migrate', '--to', 'vfs', '--out', join(t.testdirName, 'a-file')]);
  t.equal(file.stderr, `strata: error: ${join(t.testdirName, 'a-file')}: not a directory (--out takes a new directory)\n`, '--out a file: one line');
  const proc = runCli(['--root', root, 'migrate', '--to', 'vfs', '--out', '/proc/strata-no-such-dir']);
  t.equal(proc.status, 1, '--out where the kernel makes no directory: an error, not a hang');
  t.match(proc.stderr, /^strata: error: \/proc\/strata-no-such-dir: /);
  const nested = join(t.testdirName, 'new', 'parents', 'root');
  t.equal(runCli(['--root', root, 'migrate', '--to', 'vfs', '--out', nested]).status, 0, 'missing parents of --out are made');
  t.ok(existsSync(join(nested, 'image', 'vfs')));
  const badTo = runCli(['--root', root, 'migrate', '--to', 'zfs', '--out', join(t.testdirName, 'x')]);
  t.equal(badTo.status, 2, 'an unknown target driver is a usage error');

  // A layer whose tar-split is gone cannot keep its DiffID: nothing is written.
  const layerdb = join(root, 'image', 'overlay2', 'layerdb', 'sha256');
  rmSync(join(layerdb, readdirSync(layerdb)[0], 'tar-split.json.gz'));
  const out = join(t.testdirName, 'never');
  const broken = runCli(['--root', root, 'migrate', '--to', 'vfs', '--out', out]);
  t.equal(broken.status, 1);
  t.match(broken.stderr, /tar-split\.json\.gz: missing — without its tar-split the layer cannot be rebuilt with its DiffID — nothing was written/);
  t.notOk(existsSync(out), '--out is not even created');
});

t.test('interrupted between any two commits and run again: the files of a clean run', async (t) => {
  const root = join(t.testdir({}), 'src');
  await storeOfTars(root, 'overlay2', LAYERS);
  const clean = join(t.testdirName, 'clean');
  t.equal(runCli(['--root', root, 'migrate', '--to', 'overlay2', '--out', clean]).status, 0);
  const print = (dir: string) => contentFingerprint(dir, { mtimes: (rel) => /^overlay2\/[0-9a-f]{64}\/diff\/./.test(rel) });
  const want = print(clean);
  t.ok(want.some((l) => l.startsWith('overlay2/l/')), 'short links are part of what is compared');
  for (const undone of [1, 2, 3]) {
    const out = join(t.testdirName, `resumed-${undone}`);
    t.equal(runCli(['--root', root, 'migrate', '--to', 'overlay2', '--out', out]).status, 0);
    // As a kill leaves it: the journal back, the last `undone` layers' layerdb entries never committed
    // (their directories applied or half-applied), the image metadata not yet written.
    mkdirSync(join(out, '.strata-migrate'));
    writeFileSync(join(out, '.strata-migrate', 'journal.json'), readJournalOf(root, 'overlay2'));
    const layerdb = join(out, 'image', 'overlay2', 'layerdb', 'sha256');
    const byDepth = readdirSync(layerdb).sort((a, b) => depth(layerdb, a) - depth(layerdb, b));
    for (const hex of byDepth.slice(-undone)) rmSync(join(layerdb, hex), { recursive: true });
    rmSync(join(out, 'image', 'overlay2', 'repositories.json'));
    rmSync(join(out, 'image', 'overlay2', 'imagedb'), { recursive: true });
    const again = runCli(['--root', root, 'migrate', '--to', 'overlay2', '--out', out]);
    t.equal(again.status, 0, again.stderr);
    if (undone < 3) t.match(again.stdout, new RegExp(`\\(${3 - undone} found done by an earlier run\\)`));
    else t.notMatch(again.stdout, /found done/, 'nothing was done: nothing said of it');
    t.same(print(out), want, `${undone} layer(s) undone: the same files as a clean run`);
  }
});

t.test('a resumed run makes the kind of layers the first run made: --copy is kept in the journal', async (t) => {
  const root = join(t.testdir({}), 'src');
  await storeOfTars(root, 'overlay2', LAYERS);
  const sourceInodes = new Set([...fileInodes(join(root, 'overlay2'))].filter(([k]) => /^[0-9a-f]{64}\/diff\//.test(k)).map(([, ino]) => ino));
  for (const first of [true, false]) {
    const out = join(t.testdirName, `started-${first ? 'copy' : 'links'}`);
    // The journal as a run killed after writing it leaves it (no layer committed yet).
    mkdirSync(join(out, '.strata-migrate'), { recursive: true });
    const journal = { ...JSON.parse(readJournalOf(root, 'vfs')), copy: first };
    writeFileSync(join(out, '.strata-migrate', 'journal.json'), JSON.stringify(journal));
    const other = runCli(['--root', root, 'migrate', '--to', 'vfs', '--out', out, ...(first ? [] : ['--copy'])]);
    t.equal(other.status, 1, 'the other choice is refused');
    t.match(other.stderr, first ? /journal\.json: this migration was started with --copy: run it again with --copy/ : /journal\.json: this migration was started without --copy \(hard links\): run it again without --copy/);
    t.equal(other.stderr.trim().split('\n').length, 1, 'in one line');
    t.notOk(existsSync(join(out, 'vfs')), 'nothing was written');
    const same = runCli(['--root', root, 'migrate', '--to', 'vfs', '--out', out, ...(first ? ['--copy'] : [])]);
    t.equal(same.status, 0, same.stderr);
    const shared = [...fileInodes(join(out, 'vfs', 'dir'))].filter(([, ino]) => sourceInodes.has(ino));
    if (first) t.equal(shared.length, 0, 'started with --copy: finished with copies');
    else t.ok(shared.length > 0, 'started with links: finished with links');
  }
  // A journal written before the choice was kept names none: a resumed run takes either.
  const old = join(t.testdirName, 'started-before');
  mkdirSync(join(old, '.strata-migrate'), { recursive: true });
  writeFileSync(join(old, '.strata-migrate', 'journal.json'), readJournalOf(root, 'vfs'));
  const resumed = runCli(['--root', root, 'migrate', '--to', 'vfs', '--out', old, '--copy']);
  t.equal(resumed.status, 0, resumed.stderr);
});

/** How many parents a layerdb entry has. */
function depth(layerdb: string, hex: string): number {
  let n = 0;
  for (let p = join(layerdb, hex, 'parent'); existsSync(p); n++) p = join(layerdb, readFileSync(p, 'utf8').trim().slice(7), 'parent');
  return n;
}

/** The journal a migration of `root` to `to` writes (its id derived from the drivers). */
function readJournalOf(root: string, to: string): string {
  return JSON.stringify({ version: 1, command: 'migrate', started: '2026-01-01T00:00:00Z', from: 'overlay2', to, source: realpathSync(root), id: createHash('sha256').update(`overlay2\0${to}`).digest('hex').slice(0, 32), directories: [to] });
}

t.test('--in-place: the new driver beside the old, verified, then the only image metadata; resumed where it stopped', async (t) => {
  const base = t.testdir({});
  const src = join(base, 'src');
  const { imageId } = await storeOfTars(src, 'overlay2', LAYERS, ['app:1']);
  const copy = (name: string) => {
    const dir = join(base, name);
    const cp = spawnSync('cp', ['-a', src, dir]);
    if (cp.status !== 0) throw new Error(String(cp.stderr));
    return dir;
  };
  const a = copy('a');
  const r = runCli(['--root', a, 'migrate', '--to', 'vfs', '--in-place']);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /Every migrated layer verified; the vfs store is now the only image metadata of /);
  t.match(r.stdout, /"storage-driver": "vfs"/);
  t.match(r.stdout, new RegExp(`rm -rf ${a}/overlay2 ${a}/image-overlay2\\.pre-migrate\\n`), 'prints the removal, does not do it');
  t.ok(existsSync(join(a, 'overlay2')), "the old driver's directories stay");
  t.same(readdirSync(join(a, 'image')), ['vfs'], 'the old metadata is out of image/');
  t.same(cliJson<Array<{ id: string }>>(['--root', a, 'images']).map((i) => i.id), [imageId]);
  t.same(cliJson<Array<{ ok: boolean }>>(['--root', a, 'verify']).map((v) => v.ok), [true, true, true]);
  const again = runCli(['--root', a, 'migrate', '--to', 'vfs', '--in-place']);
  t.match(again.stderr, /is a vfs store already/, 'a second run has nothing to migrate');

  // Stopped after every layer was committed, before the verification and the switch: run again, it finishes.
  const b = copy('b');
  for (const part of ['vfs', join('image', 'vfs')]) spawnSync('cp', ['-a', join(a, part), join(b, part)]);
  rmSync(join(b, 'image', 'vfs', 'repositories.json'));
  mkdirSync(join(b, '.strata-migrate'));
  writeFileSync(join(b, '.strata-migrate', 'journal.json'), JSON.stringify({ ...JSON.parse(readJournalOf(b, 'vfs')), inPlace: true, directories: ['vfs', 'image/vfs'] }));
  const resumed = runCli(['--root', b, 'migrate', '--to', 'vfs', '--in-place']);
  t.equal(resumed.status, 0, resumed.stderr);
  t.match(resumed.stdout, /\(3 found done by an earlier run\)/);
  const print = (dir: string) => contentFingerprint(dir, { mtimes: (rel) => /^vfs\/dir\/[^/]+\/./.test(rel), ignore: (rel) => rel.startsWith('overlay2') || rel.startsWith('image-overlay2') });
  t.same(print(b), print(a), 'the same files as the run that was not stopped');

  // Stopped after the switch, before the journal went: the next run only removes the journal.
  mkdirSync(join(a, '.strata-migrate'));
  writeFileSync(join(a, '.strata-migrate', 'journal.json'), JSON.stringify({ ...JSON.parse(readJournalOf(a, 'vfs')), inPlace: true }));
  const last = runCli(['--root', a, 'migrate', '--to', 'vfs', '--in-place']);
  t.equal(last.status, 0, last.stderr);
  t.match(last.stdout, /was complete; its journal is removed/);
  t.notOk(existsSync(join(a, '.strata-migrate')));
});

t.test('--skip-broken: what cannot be carried is left behind with everything built on it, each listed', async (t) => {
  const base = t.testdir({});
  const root = join(base, 'src');
  const { layers } = await storeOfTars(root, 'overlay2', LAYERS, ['app:1']);
  rmSync(join(root, 'image', 'overlay2', 'layerdb', 'sha256', layers[1].chainId.slice(7), 'tar-split.json.gz'));
  const out = join(base, 'out');
  const refused = runCli(['--root', root, 'migrate', '--to', 'vfs', '--out', out]);
  t.match(refused.stderr, /nothing was written \(--skip-broken leaves such items behind\)/);
  const r = runCli(['--root', root, 'migrate', '--to', 'vfs', '--out', out, '--skip-broken']);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /^Migrated 1 layers, 0 images and 0 containers/);
  t.match(r.stderr, new RegExp(`--skip-broken: image ${layers[2].chainId.slice(7, 19)}|--skip-broken: image [0-9a-f]{12} left behind: its layer ${layers[1].chainId.slice(7, 19)} is left behind`));
  t.match(r.stderr, new RegExp(`--skip-broken: layer ${layers[1].chainId.slice(7, 19)} left behind: .*tar-split\\.json\\.gz: missing`));
  t.match(r.stderr, new RegExp(`--skip-broken: layer ${layers[2].chainId.slice(7, 19)} left behind: built on layer ${layers[1].chainId.slice(7, 19)}`));
  const migrated = cliJson<Array<{ chainId: string }>>(['--root', out, 'layers']);
  t.same(migrated.map((l) => l.chainId), [layers[0].chainId], 'the base layer, which is sound, is migrated');
  t.same(cliJson(['--root', out, 'images', '-a']), [], 'the image is left behind');
});

t.test("a container's recorded paths move to the new data-root; binds and other paths stay", async (t) => {
  const id = 'c'.repeat(64);
  const config: Record<string, unknown> = {
    ResolvConfPath: `/var/lib/docker/containers/${id}/resolv.conf`,
    HostnamePath: `/var/lib/docker/containers/${id}/hostname`,
    HostsPath: `/var/lib/docker/containers/${id}/hosts`,
    LogPath: `/var/lib/docker/containers/${id}/${id}-json.log`,
    MountPoints: {
      '/data': { Type: 'volume', Name: 'v', Source: '/var/lib/docker/volumes/v/_data' },
      '/host': { Type: 'bind', Source: '/var/lib/docker/volumes/not-a-volume' },
    },
  };
  moveRootPaths(config, id, '/srv/new');
  t.equal(config.ResolvConfPath, `/srv/new/containers/${id}/resolv.conf`);
  t.equal(config.LogPath, `/srv/new/containers/${id}/${id}-json.log`);
  const mp = config.MountPoints as Record<string, { Source: string }>;
  t.equal(mp['/data'].Source, '/srv/new/volumes/v/_data', "a volume's source moves");
  t.equal(mp['/host'].Source, '/var/lib/docker/volumes/not-a-volume', 'a bind stays as the user made it');
  const none: Record<string, unknown> = { LogPath: '' };
  moveRootPaths(none, id, '/srv/new');
  t.same(none, { LogPath: '' }, 'nothing recorded: nothing moved');
});

t.test('v1: two empty layers on one parent are one layer in the target; a child of an image that cannot be migrated is left out', async (t) => {
  const base = t.testdir({});
  const root = join(base, 'src');
  const built = await makeV1Store(root, 'vfs', [
    ['base', { parent: null, created: '2014-01-01T00:00:00Z', files: [{ name: 'bin', dir: true }, { name: 'bin/sh', content: 'sh' }] }],
    ['env1', { parent: 'base', created: '2014-02-01T00:00:00Z', files: [], tags: ['one:1'] }],
    ['env2', { parent: 'base', created: '2014-03-01T00:00:00Z', files: [], tags: ['two:1'], cmd: ['/bin/sh', '-c', '#(nop) ENV A=2'] }],
  ]);
  t.equal(built.get('env1')!.diffId, built.get('env2')!.diffId, 'the same (empty) layer twice');
  const out = join(base, 'out');
  const r = runCli(['--root', root, 'migrate', '--to', 'vfs', '--out', out]);
  t.equal(r.status, 0, r.stderr);
  t.equal(cliJson<unknown[]>(['--root', out, 'layers']).length, 2, 'base and one empty layer');
  const images = cliJson<Array<{ repoTags: string[] }>>(['--root', out, 'images']);
  t.same(images.flatMap((i) => i.repoTags).sort(), ['one:1', 'two:1'], 'both images, with their own configs and IDs');

  // A parent whose JSON Docker 1.10 could not convert: it and its children stay behind, with warnings.
  const root2 = join(base, 'src2');
  const b2 = await makeV1Store(root2, 'vfs', [
    ['base', { parent: null, created: 'yesterday', files: [{ name: 'x', content: 'x' }] }],
    ['child', { parent: 'base', created: '2014-02-01T00:00:00Z', files: [{ name: 'y', content: 'y' }], tags: ['c:1'] }],
  ]);
  const out2 = join(base, 'out2');
  const r2 = runCli(['--root', root2, 'migrate', '--to', 'vfs', '--out', out2]);
  t.equal(r2.status, 0, r2.stderr);
  t.match(r2.stderr, new RegExp(`graph/${b2.get('base')!.id}/json: not migrated: created "yesterday" is not an RFC 3339 time`));
  t.match(r2.stderr, new RegExp(`graph/${b2.get('child')!.id}/json: not migrated: its parent ${b2.get('base')!.id.slice(0, 12)} was not`));
  t.same(cliJson(['--root', out2, 'images', '-a']), []);
});

t.test('refusals the source itself could not show: a missing parent, --out inside the source; a first journal never written', async (t) => {
  const base = t.testdir({});
  const root = join(base, 'src');
  const built = await makeV1Store(root, 'vfs', [
    ['base', { parent: null, created: '2014-01-01T00:00:00Z', files: [{ name: 'x', content: 'x' }] }],
    ['child', { parent: 'base', created: '2014-02-01T00:00:00Z', files: [{ name: 'y', content: 'y' }], tags: ['c:1'] }],
  ]);
  const inside = runCli(['--root', root, 'migrate', '--to', 'vfs', '--out', join(root, 'new')]);
  t.match(inside.stderr, /--out and the source .* hold one another/);
  // A run killed between making DIR/.strata-migrate and writing the journal: DIR counts as new.
  const out = join(base, 'out');
  mkdirSync(join(out, '.strata-migrate'), { recursive: true });
  t.equal(runCli(['--root', root, 'migrate', '--to', 'vfs', '--out', out]).status, 0);
  rmSync(join(root, 'graph', built.get('base')!.id), { recursive: true });
  const missing = runCli(['--root', root, 'migrate', '--to', 'vfs', '--out', join(base, 'out2')]);
  t.equal(missing.status, 1);
  t.match(missing.stderr, new RegExp(`graph/${built.get('child')!.id}/json: its parent ${built.get('base')!.id.slice(0, 12)} is missing: the layer cannot be rebuilt on it`));
});

t.test('a source seen through a bind mount of the same filesystem: the kernel links nothing, every layer is copied and hashed', { skip: process.getuid?.() !== 0 && 'bind mounts need root' }, async (t) => {
  const dir = t.testdir({});
  const root = join(dir, 'src');
  await storeOfTars(root, 'overlay2', LAYERS, ['app:1']);
  const view = join(dir, 'view');
  mkdirSync(view);
  if (spawnSync('mount', ['--bind', root, view]).status !== 0) return t.skip('mount --bind refused here');
  const out = join(dir, 'out');
  try {
    const r = runCli(['--root', view, 'migrate', '--to', 'aufs', '--out', out, '--json']);
    t.equal(r.status, 0, r.stderr);
    t.equal((JSON.parse(r.stdout) as { linkedFiles: number }).linkedFiles, 0, 'nothing linked (EXDEV), and no error');
  } finally {
    // Before the test directory is removed.
    spawnSync('umount', [view]);
  }
  const verify = cliJson<Array<{ ok: boolean }>>(['--root', out, 'verify']);
  t.same(verify.map((v) => v.ok), [true, true, true], 'every layer copied whole');
});

t.test('--copy: a source file whose bytes changed (same size) is caught by the DiffID of the layer copied from it', async (t) => {
  const root = join(t.testdir({}), 'src');
  const { layers } = await storeOfTars(root, 'overlay2', LAYERS);
  writeFileSync(join(root, 'overlay2', layers[0].cacheId, 'diff', 'bin', 'sh'), 'S'.repeat(3000));
  const out = join(t.testdirName, 'out');
  const r = runCli(['--root', root, 'migrate', '--to', 'vfs', '--copy', '--out', out]);
  t.equal(r.status, 1);
  t.match(r.stderr, new RegExp(`^strata: error: .*tar-split\\.json\\.gz: layer ${layers[0].chainId.slice(7, 19)} rebuilds to sha256:[0-9a-f]{64}, not its DiffID ${layers[0].diffId} \\(strata verify names the file that changed\\)\\n$`));
  t.notOk(existsSync(join(out, 'vfs', 'dir', readdirSync(join(out, 'vfs', 'dir'))[0] ?? 'none')), 'no layer was left in the target');
});
