// strata load against a real dockerd: images saved from one daemon are loaded offline into an empty
// data-root, then a daemon started on it lists them with the same ids and tags, runs them, and saves
// layers with the original DiffIDs; layer sizes equal what `docker load` itself records. overlay2, vfs,
// and an OCI layout with gzip layers.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import t from 'tap';
import { startDockerd, type StorageDriverName } from '../helpers/dockerd.js';
import { cliJson, runCli } from '../helpers/run-cli.js';
import { buildScenario, VERSION_NEW } from '../helpers/scenario.js';
import { listMounted, listTar, sortedEntries } from '../helpers/tree-listing.js';

const REFS = ['base:1', 'example.com/team/base:v1', 'solo:1', 'app:1', 'app:2', 'mid:tagged'];
const sha = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

interface ApiImage {
  Id: string;
  RepoTags: string[] | null;
  Size: number;
}

const summary = (list: ApiImage[]) =>
  list
    .map((i) => ({ id: i.Id, tags: [...(i.RepoTags ?? [])].sort(), size: i.Size }))
    .sort((a, b) => (a.id < b.id ? -1 : 1));

/** layerdb ChainID → size, as a daemon (or strata) recorded it. */
function layerSizes(root: string, driver: string): Record<string, string> {
  const dir = join(root, 'image', driver, 'layerdb', 'sha256');
  return Object.fromEntries(readdirSync(dir).map((c) => [c, readFileSync(join(dir, c, 'size'), 'utf8')]));
}

/** An OCI image layout (gzip layers) of one image from a docker save archive. */
function toOciLayout(saveDir: string, out: string, tag: string): void {
  const manifest = JSON.parse(readFileSync(join(saveDir, 'manifest.json'), 'utf8')).find((m: { RepoTags: string[] }) => m.RepoTags?.includes(tag));
  const dir = mkdtempSync(join(tmpdir(), 'strata-oci-'));
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const blob = (data: Buffer) => {
    const digest = sha(data);
    writeFileSync(join(dir, 'blobs', 'sha256', digest.slice(7)), data);
    return { digest, size: data.length };
  };
  const config = blob(readFileSync(join(saveDir, manifest.Config)));
  const layers = manifest.Layers.map((l: string) => blob(gzipSync(readFileSync(join(saveDir, l)))));
  const m = blob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: layers.map((l: object) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...l })),
      }),
    ),
  );
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m, annotations: { 'io.containerd.image.name': `docker.io/library/${tag}`, 'org.opencontainers.image.ref.name': tag.split(':')[1] } }] }),
  );
  execFileSync('tar', ['-C', dir, '-cf', out, '.']);
  rmSync(dir, { recursive: true, force: true });
}

for (const driver of ['overlay2', 'vfs'] as StorageDriverName[]) {
  t.test(`strata load makes a store dockerd accepts (${driver})`, async (t) => {
    const work = mkdtempSync(join(tmpdir(), 'strata-load-'));
    t.teardown(() => rmSync(work, { recursive: true, force: true }));
    const archive = join(work, 'images.tar');

    // 1. a daemon builds the scenario and saves it
    const source = await startDockerd({ driver });
    const s = await buildScenario(source);
    await source.docker(['save', '-o', archive, ...REFS]);
    const wanted = REFS.map((r) => ({ ref: r, id: s.images[r] ?? '' }));
    const sourceImages = summary((await source.api<ApiImage[]>('/images/json')).filter((i) => wanted.some((w) => w.id === i.Id) || i.RepoTags?.some((tag) => REFS.includes(tag))));
    await source.remove();

    // 2. the oracle: docker load into an empty root
    const oracle = await startDockerd({ driver });
    await oracle.docker(['load', '-i', archive]);
    const oracleImages = summary(await oracle.api<ApiImage[]>('/images/json'));
    await oracle.stop();
    const oracleSizes = layerSizes(oracle.root, driver);
    await oracle.remove();

    // 3. strata load into another empty root, offline
    const root = mkdtempSync(join(tmpdir(), 'strata-root-'));
    t.teardown(() => rmSync(root, { recursive: true, force: true }));
    const r = runCli(['load', archive, '--root', root, '--driver', driver]);
    t.equal(r.status, 0, `strata load exits 0 ${r.stderr}`);
    t.match(r.stdout, /Loaded image: app:2\n/);
    t.same(layerSizes(root, driver), oracleSizes, 'every layer recorded with the size docker load records');
    const verify = cliJson(['verify', '--root', root]);
    t.ok(verify.length > 5 && verify.every((v: { ok: boolean }) => v.ok === true), 'every loaded layer rebuilds to its DiffID from the recorded tar-split');

    // 4. a daemon on strata's store
    const d = await startDockerd({ driver, root });
    t.teardown(() => d.stop());
    const loaded = summary(await d.api<ApiImage[]>('/images/json'));
    t.same(loaded, oracleImages, 'docker images: same ids, tags and sizes as after docker load');
    t.same(loaded.map((i) => i.id), sourceImages.map((i) => i.id), 'the same image ids as in the daemon that built them');
    const out = await d.docker(['run', '--rm', '--network', 'none', '--pull', 'never', 'app:2', 'sh', '-c', 'cat /app/version.txt /app/v2.txt; ls /app/data; readlink /app/links/rel; stat -c %s /app/big.bin']);
    // app:2 deleted /app/data/one.txt, so only nested/ is left in /app/data
    t.equal(out, `${VERSION_NEW}two\nnested\ntarget.txt\n3145728\n`, 'docker run sees the loaded files');
    const saved = join(work, 'resaved');
    mkdirSync(saved);
    await d.docker(['save', '-o', join(saved, 'app2.tar'), 'app:2']);
    execFileSync('tar', ['-xf', join(saved, 'app2.tar'), '-C', saved]);
    const m = JSON.parse(readFileSync(join(saved, 'manifest.json'), 'utf8'))[0];
    const config = JSON.parse(readFileSync(join(saved, m.Config), 'utf8'));
    t.same(m.Layers.map((l: string) => sha(readFileSync(join(saved, l)))), config.rootfs.diff_ids, 'docker save of a loaded image gives the original DiffIDs');

    // 5. no writes while a daemon runs on the root
    const refused = runCli(['load', archive, '--root', root]);
    t.equal(refused.status, 1);
    t.match(refused.stderr, /dockerd \(pid \d+\) is running on .*; stop it first/);

    // 6. an OCI layout with gzip layers, into a fresh root
    if (driver === 'overlay2') {
      const oci = join(work, 'oci.tar');
      const extracted = join(work, 'extracted');
      mkdirSync(extracted);
      execFileSync('tar', ['-xf', archive, '-C', extracted]);
      toOciLayout(extracted, oci, 'app:2');
      const ociRoot = mkdtempSync(join(tmpdir(), 'strata-root-'));
      t.teardown(() => rmSync(ociRoot, { recursive: true, force: true }));
      const o = runCli(['load', oci, '--root', ociRoot]);
      t.equal(o.status, 0, o.stderr);
      t.match(o.stdout, /Loaded image: docker.io\/library\/app:2/);
      const images = cliJson(['images', '--root', ociRoot]);
      t.same(images.map((i: { id: string; repoTags: string[] }) => [i.id, i.repoTags]), [[s.images['app:2'], ['app:2']]], 'OCI layout: same image id, tag normalised');

      // 7. aufs, which this kernel lacks: load into an aufs store, rebuild every DiffID, mount with fuse-overlayfs
      const aufsRoot = mkdtempSync(join(tmpdir(), 'strata-root-'));
      t.teardown(() => rmSync(aufsRoot, { recursive: true, force: true }));
      t.equal(runCli(['load', archive, '--root', aufsRoot, '--driver', 'aufs']).status, 0);
      t.same(summary(cliJson(['images', '--root', aufsRoot]).map((i: any) => ({ Id: i.id, RepoTags: i.repoTags, Size: i.size }))), loaded, 'aufs store: the same images and sizes');
      const aufsVerify = cliJson(['verify', '--root', aufsRoot]);
      t.ok(aufsVerify.length > 5 && aufsVerify.every((v: { ok: boolean }) => v.ok), 'aufs store: every layer rebuilds to its DiffID');
      const freshTop = join(work, 'aufs-top.tar');
      t.equal(runCli(['diff', 'app:1', '--layer', '4', '--fresh', '-o', freshTop, '--root', aufsRoot]).status, 0);
      const exactTop = join(work, 'overlay-top.tar');
      t.equal(runCli(['diff', 'app:1', '--layer', '4', '-o', exactTop, '--root', root]).status, 0);
      t.same(sortedEntries(await listTar(freshTop)), sortedEntries(await listTar(exactTop)), 'aufs fresh diff of the opaque-dir layer = the exact layer');
      await d.stop();
      const aufsMnt = mkdtempSync(join(tmpdir(), 'strata-mnt-'));
      const ovlMnt = mkdtempSync(join(tmpdir(), 'strata-mnt-'));
      t.equal(runCli(['mount', 'app:2', aufsMnt, '--root', aufsRoot]).status, 0, 'aufs image mounted (fuse-overlayfs)');
      t.equal(runCli(['mount', 'app:2', ovlMnt, '--root', root]).status, 0);
      const aufsView = listMounted(aufsMnt);
      const ovlView = listMounted(ovlMnt);
      runCli(['umount', aufsMnt]);
      runCli(['umount', ovlMnt]);
      t.same(sortedEntries(aufsView), sortedEntries(ovlView), 'the aufs mount shows what the overlay2 mount shows');
      t.notOk([...aufsView.keys()].some((p) => p.includes('.wh.')), 'no whiteout or aufs bookkeeping visible');
    }
  });
}
