// `strata save` judged by dockerd: the archive of app:2, base:1 and bk:1 against `docker save` of the same
// images (layer tars compared with cmp, v1 directories, json records, configs, manifest.json and
// repositories); named in the order docker happened to write them (a Go map's order), strata's archive
// is docker's byte for byte but for the times docker stamps on symlinked layers' directories (the moment
// of the save). Then a second, empty dockerd loads strata's archive (and the OCI one): same ids, same
// tags, the images run, and their layer tars hash to the DiffIDs. Offline, strata writes the same bytes.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, lstatSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { startDockerd } from '../../helpers/dockerd.js';
import type { HabitsContext } from '../../helpers/habits-scenario.js';
import { VERSION_NEW } from '../../helpers/scenario.js';

const IMAGES = ['app:2', 'base:1', 'bk:1'];
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface ManifestItem {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
  Parent?: string;
}

function untar(tar: string, dir: string): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('tar', ['-xf', tar, '-C', dir]);
}

/** Each entry of a tar as a comparable line: name, type, mode, owner, size, link and content hash; times apart. */
function entries(tar: string): Array<{ line: string; mtime: number; name: string }> {
  const script = `
import tarfile, hashlib, sys, json
t = tarfile.open(sys.argv[1])
for m in t.getmembers():
    h = hashlib.sha256(t.extractfile(m).read()).hexdigest() if m.isreg() else ''
    print(json.dumps([m.name, m.type.decode(), oct(m.mode), m.uid, m.gid, m.uname, m.gname, m.size, m.linkname, h, m.mtime]))
`;
  const out = execFileSync('python3', ['-c', script, tar], { maxBuffer: 1 << 28 }).toString().trim().split('\n');
  return out.map((l) => {
    const v = JSON.parse(l) as unknown[];
    return { line: JSON.stringify(v.slice(0, 10)), mtime: v[10] as number, name: v[0] as string };
  });
}

/** The bytes a layer.tar entry holds, following docker's symlink to the first copy. */
function layerBytes(dir: string, rel: string): Buffer {
  const p = join(dir, rel);
  return lstatSync(p).isSymbolicLink() ? readFileSync(join(dir, rel, '..', readlinkSync(p))) : readFileSync(p);
}

export async function live(t: Test, ctx: HabitsContext): Promise<void> {
  const work = mkdtempSync(join(os.tmpdir(), 'strata-habits-save-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const ours = join(work, 'strata.tar');
  const theirs = join(work, 'docker.tar');
  const r = ctx.strata(['save', ...IMAGES, '-o', ours]);
  t.equal(r.code, 0, `strata save succeeds: ${r.stderr}`);
  t.equal(r.stderr, '', 'no warnings');
  await ctx.d.docker(['save', ...IMAGES, '-o', theirs]);
  untar(ours, join(work, 'ours'));
  untar(theirs, join(work, 'theirs'));
  const o = join(work, 'ours');
  const d = join(work, 'theirs');

  await t.test('same v1 directories, json records, configs and layer tars (cmp)', async (t) => {
    const names = (dir: string) => readdirSync(dir).sort();
    t.same(names(o), names(d), 'the same top-level entries (v1 ids, <config>.json, manifest.json, repositories)');
    for (const name of names(d)) {
      if (!/^[0-9a-f]{64}$/.test(name)) continue;
      t.same(readdirSync(join(o, name)).sort(), ['VERSION', 'json', 'layer.tar'], `${name.slice(0, 12)}: VERSION, json, layer.tar`);
      t.ok(readFileSync(join(o, name, 'json')).equals(readFileSync(join(d, name, 'json'))), `${name.slice(0, 12)}/json equal`);
      t.ok(layerBytes(o, `${name}/layer.tar`).equals(layerBytes(d, `${name}/layer.tar`)), `${name.slice(0, 12)}/layer.tar: cmp equal`);
    }
    for (const name of names(d).filter((n) => n.endsWith('.json') && n !== 'manifest.json')) t.ok(readFileSync(join(o, name)).equals(readFileSync(join(d, name))), `config ${name.slice(0, 12)} equal`);
    t.ok(readFileSync(join(o, 'repositories')).equals(readFileSync(join(d, 'repositories'))), 'repositories equal');
  });

  const dockerManifest = JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8')) as ManifestItem[];
  await t.test('manifest.json: the same items (docker writes them in Go map order, strata in argument order)', async (t) => {
    const ourManifest = JSON.parse(readFileSync(join(o, 'manifest.json'), 'utf8')) as ManifestItem[];
    const byConfig = (m: ManifestItem[]) => [...m].sort((a, b) => (a.Config < b.Config ? -1 : 1));
    t.same(byConfig(ourManifest), byConfig(dockerManifest));
    t.same(ourManifest.map((m) => m.RepoTags), IMAGES.map((i) => [i]), "strata's order is the arguments'");
  });

  await t.test("named in docker's order, the archive is docker's byte for byte but for the save's own time", async (t) => {
    const order = join(work, 'ordered.tar');
    const rr = ctx.strata(['save', ...dockerManifest.map((m) => m.RepoTags![0]), '-o', order]);
    t.equal(rr.code, 0, rr.stderr);
    const a = entries(order);
    const b = entries(theirs);
    t.same(a.map((e) => e.line), b.map((e) => e.line), 'same entries in the same order: names, types, modes, owners, sizes, links, contents');
    // Directories whose layer.tar is a symlink carry the moment of the save; every other time is docker's.
    const linked = new Set(b.filter((e) => e.line.includes('"2"') && e.name.endsWith('/layer.tar')).map((e) => e.name.split('/')[0]));
    const times = (list: typeof a) => list.filter((e) => !linked.has(e.name.split('/')[0])).map((e) => `${e.name} ${e.mtime}`);
    t.same(times(a), times(b), 'the same times on every entry but those of symlinked layers');
    t.equal(readFileSync(order).length, readFileSync(theirs).length, 'the same size');
    ctx.saved.saveEntries = entries(ours).map((e) => e.line);
  });

  const oci = join(work, 'oci.tar');
  await t.test('--format oci: an OCI image layout, every blob named by its digest', async (t) => {
    const rr = ctx.strata(['save', '--format', 'oci', 'app:2', 'base:1', '-o', oci]);
    t.equal(rr.code, 0, rr.stderr);
    const x = join(work, 'oci');
    untar(oci, x);
    t.same(JSON.parse(readFileSync(join(x, 'oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' });
    for (const blob of readdirSync(join(x, 'blobs', 'sha256'))) t.equal(sha(readFileSync(join(x, 'blobs', 'sha256', blob))), blob, `blob ${blob.slice(0, 12)}`);
    const index = JSON.parse(readFileSync(join(x, 'index.json'), 'utf8'));
    t.same(index.manifests.map((m: { annotations: Record<string, string> }) => m.annotations['io.containerd.image.name']), ['docker.io/library/app:2', 'docker.io/library/base:1']);
    t.same(index.manifests.map((m: { annotations: Record<string, string> }) => m.annotations['org.opencontainers.image.ref.name']), ['2', '1']);
    for (const [i, ref] of ['app:2', 'base:1'].entries()) {
      const m = JSON.parse(readFileSync(join(x, 'blobs', 'sha256', index.manifests[i].digest.slice(7)), 'utf8'));
      t.equal(m.config.digest, ctx.scenario.images[ref], `${ref}: config blob is the image id`);
      const inspect = JSON.parse(await ctx.d.docker(['image', 'inspect', ref]))[0];
      t.same(m.layers.map((l: { digest: string }) => l.digest), inspect.RootFS.Layers, `${ref}: layer blobs are docker's DiffIDs`);
    }
  });

  await t.test('a second, empty dockerd loads both archives: same ids and tags; the images run', async (t) => {
    const second = await startDockerd({ driver: ctx.driver });
    t.teardown(() => second.remove());
    const loaded = await second.docker(['load', '-i', ours]);
    t.match(loaded, /Loaded image: app:2/);
    const list = async (dd: typeof second, refs: string[]) => (await dd.docker(['image', 'inspect', '--format', '{{.Id}} {{range .RepoTags}}{{.}},{{end}}', ...refs])).trim().split('\n').sort();
    // Each image carries exactly the tags named (base:1's other tags were not saved).
    const expected = (refs: string[]) => refs.map((r) => `${ctx.scenario.images[r]} ${r},`).sort();
    t.same(await list(second, IMAGES), expected(IMAGES), 'docker image inspect: the original ids, with the tags saved');
    // (Run on the second daemon only: the scenario store stays as the other parts read it.)
    for (const [ref, want] of [['app:2', VERSION_NEW], ['bk:1', 'buildkit-one\n']]) {
      t.equal(await second.docker(['run', '--rm', '--network', 'none', ref]), want, `docker run ${ref} prints ${JSON.stringify(want.trim())}`);
    }
    // Layer tars hash to the DiffIDs the loading daemon records.
    for (const m of JSON.parse(readFileSync(join(o, 'manifest.json'), 'utf8')) as ManifestItem[]) {
      const diffIds = JSON.parse(readFileSync(join(o, m.Config), 'utf8')).rootfs.diff_ids as string[];
      t.same(m.Layers.map((l) => `sha256:${sha(layerBytes(o, l))}`), diffIds, `${m.RepoTags}: every layer.tar hashes to its DiffID`);
      const inspect = JSON.parse(await second.docker(['image', 'inspect', m.RepoTags![0]]))[0];
      t.same(inspect.RootFS.Layers, diffIds, `${m.RepoTags}: the loading daemon records those DiffIDs`);
    }
    // The OCI archive carries docker's manifest.json too: docker 20.10 loads it.
    await second.docker(['rmi', '-f', 'app:2', 'base:1', 'bk:1']);
    t.match(await second.docker(['load', '-i', oci]), /Loaded image: app:2/);
    t.same(await list(second, ['app:2', 'base:1']), expected(['app:2', 'base:1']), 'the OCI archive loads with the same ids and tags');
    t.equal(await second.docker(['run', '--rm', '--network', 'none', 'app:2']), VERSION_NEW);
  });

  if (existsSync('/usr/bin/podman')) {
    await t.test('podman loads the OCI archive (optional: podman is installed)', async (t) => {
      const store = mkdtempSync(join(os.tmpdir(), 'strata-podman-'));
      t.teardown(() => rmSync(store, { recursive: true, force: true }));
      const podman = (args: string[]) =>
        execFileSync('podman', ['--root', join(store, 'root'), '--runroot', join(store, 'run'), '--storage-driver', 'vfs', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      try {
        podman(['load', '-i', oci]);
        const ids = podman(['images', '--no-trunc', '--format', '{{.ID}}']).trim().split('\n');
        t.ok(ids.includes(ctx.scenario.images['app:2'].slice(7)) || ids.includes(ctx.scenario.images['app:2']), 'podman lists app:2 under its id');
      } catch (err) {
        t.comment(`podman could not run here: ${String((err as { stderr?: string }).stderr ?? err).split('\n')[0]}`);
      }
    });
  }
}

export async function offline(t: Test, ctx: HabitsContext): Promise<void> {
  const work = mkdtempSync(join(os.tmpdir(), 'strata-habits-save-off-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const out = join(work, 'strata.tar');
  const r = ctx.strata(['save', ...IMAGES, '-o', out]);
  t.equal(r.code, 0, r.stderr);
  t.same(entries(out).map((e) => e.line), ctx.saved.saveEntries, 'with the daemon stopped, the same entries and contents as while it ran');
  const cli = join(import.meta.dirname, '..', '..', '..', 'cli', 'index.ts');
  const piped = execFileSync('bash', ['-o', 'pipefail', '-c', `${process.execPath} --import=tsx ${cli} --root ${ctx.root} save app:2 | tar -t`]).toString();
  t.match(piped, /manifest\.json/, 'streams to a pipe');
}
