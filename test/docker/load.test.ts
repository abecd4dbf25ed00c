// strata load against a real dockerd: images saved from one daemon are loaded offline into an empty
// data-root, then a daemon started on it lists them with the same ids and tags, runs them, and saves
// layers with the original DiffIDs; layer sizes equal what `docker load` itself records. overlay2, vfs,
// and an OCI layout with gzip layers. `docker save | gzip | strata load` through stdin and an OCI layout
// directory podman wrote (`podman save --format oci-dir`) load into one stopped store, and a daemon started
// on it lists and runs both. Layers holding device nodes (as debootstrap and `docker import`ed roots do)
// load by default; a load killed with SIGKILL and run again finishes without leftovers.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import t from 'tap';
import { DOCKER_CLIENT, startDockerd, type Dockerd, type StorageDriverName } from '../helpers/dockerd.js';
import { cliJson, runCli } from '../helpers/run-cli.js';
import { BUSYBOX, buildScenario, VERSION_NEW } from '../helpers/scenario.js';
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

const PODMAN = '/usr/bin/podman';

/**
 * An OCI layout directory as podman writes it (`podman save --format oci-dir`) of a busybox root imported
 * as localhost/hb/app:1, in a private podman root (vfs, no systemd, no events journal); with podman's id.
 */
function podmanOciDir(work: string): { dir: string; id: string } {
  const rootfs = mkdtempSync(join(work, 'podman-rootfs-'));
  mkdirSync(join(rootfs, 'bin'));
  copyFileSync(BUSYBOX, join(rootfs, 'bin', 'busybox'));
  execFileSync('chmod', ['755', join(rootfs, 'bin', 'busybox')]);
  symlinkSync('busybox', join(rootfs, 'bin', 'sh'));
  const tar = join(work, 'podman-rootfs.tar');
  execFileSync('tar', ['-C', rootfs, '-cf', tar, '.']);
  const podman = (args: string[]) =>
    execFileSync(PODMAN, ['--root', join(work, 'podman-root'), '--runroot', join(work, 'podman-run'), '--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file', ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  podman(['import', tar, 'localhost/hb/app:1']);
  const dir = join(work, 'podman-oci');
  podman(['save', '--format', 'oci-dir', '-o', dir, 'localhost/hb/app:1']);
  const id = podman(['image', 'inspect', '--format', '{{.Id}}', 'localhost/hb/app:1']).trim();
  return { dir, id: id.startsWith('sha256:') ? id : `sha256:${id}` };
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
    // `docker save | gzip | strata load`: through stdin, into a stopped store of its own (run at the end)
    const pipedRoot = mkdtempSync(join(tmpdir(), 'strata-root-'));
    t.teardown(() => rmSync(pipedRoot, { recursive: true, force: true }));
    if (driver === 'overlay2') {
      const cli = fileURLToPath(new URL('../../cli/index.ts', import.meta.url));
      const pipe = spawnSync('bash', ['-o', 'pipefail', '-c', `${DOCKER_CLIENT} -H unix://${source.sock} save app:2 | gzip | ${process.execPath} --import=tsx ${cli} load --root ${pipedRoot}`], {
        encoding: 'utf8',
        env: { ...process.env, DOCKER_CONFIG: join(work, 'docker-config') },
      });
      t.equal(pipe.status, 0, `docker save | gzip | strata load: ${pipe.stderr}`);
      t.equal(pipe.stdout, 'Loaded image: app:2\n', "docker load's line");
      t.same(readdirSync(join(pipedRoot, 'image', 'overlay2', 'layerdb', 'tmp')), [], 'the spool of the stream is gone');
    }
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
      t.equal(o.stdout, 'Loaded image: app:2\n', 'the familiar name, as docker prints it');
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

      // 8. the gzip stream loaded in step 1, and podman's OCI layout directory, in one store: a daemon runs both
      const podman = podmanOciDir(work);
      const fromPodman = runCli(['load', '-i', podman.dir, '--root', pipedRoot]);
      t.equal(fromPodman.status, 0, fromPodman.stderr);
      t.equal(fromPodman.stdout, 'Loaded image: localhost/hb/app:1\n');
      const both = await startDockerd({ driver, root: pipedRoot });
      t.teardown(() => both.stop());
      const listed = summary(await both.api<ApiImage[]>('/images/json'));
      t.same(
        listed.map((i) => [i.id, i.tags]),
        [[s.images['app:2'], ['app:2']], [podman.id, ['localhost/hb/app:1']]].sort((a, b) => (a[0] < b[0] ? -1 : 1)),
        'docker images: app:2 from the stream and localhost/hb/app:1 (not normalised away) with podman\'s id',
      );
      t.equal(await both.docker(['run', '--rm', '--network', 'none', '--pull', 'never', 'app:2', 'cat', '/app/v2.txt']), 'two\n', 'docker run of the piped image');
      t.equal(await both.docker(['run', '--rm', '--network', 'none', '--pull', 'never', 'localhost/hb/app:1', '/bin/busybox', 'true']), '', "docker run of podman's image");
      t.match(await both.docker(['images', '--format', '{{.Repository}}:{{.Tag}}']), /^localhost\/hb\/app:1$/m);
      await both.stop();
    }
  });
}

/** The DiffIDs `docker save` gives for an image, checked against the layers it writes. */
async function savedDiffIds(d: Dockerd, ref: string, work: string): Promise<{ config: string[]; layers: string[] }> {
  const dir = mkdtempSync(join(work, 'saved-'));
  await d.docker(['save', '-o', join(dir, 'image.tar'), ref]);
  execFileSync('tar', ['-xf', join(dir, 'image.tar'), '-C', dir]);
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'))[0];
  const config = JSON.parse(readFileSync(join(dir, m.Config), 'utf8')).rootfs.diff_ids;
  return { config, layers: m.Layers.map((l: string) => sha(readFileSync(join(dir, l)))) };
}

/** A root filesystem (busybox, and what `extra` adds) imported into `d` with GNU tar and docker import. */
async function importRoot(d: Dockerd, work: string, ref: string, extra: (dir: string) => void): Promise<void> {
  const dir = mkdtempSync(join(work, 'rootfs-'));
  mkdirSync(join(dir, 'bin'));
  copyFileSync(BUSYBOX, join(dir, 'bin', 'busybox'));
  execFileSync('chmod', ['755', join(dir, 'bin', 'busybox')]);
  for (const applet of ['sh', 'stat', 'ls', 'wc', 'cat']) symlinkSync('busybox', join(dir, 'bin', applet));
  extra(dir);
  const tar = join(work, `${ref.replace(/[:/]/g, '-')}.tar`);
  execFileSync('tar', ['-C', dir, '-cf', tar, '.']);
  await d.docker(['import', tar, ref]);
}

t.test('device nodes in a layer load as dockerd loads them; a load killed with SIGKILL, run again, finishes', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'strata-load-dev-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));

  // 1. a daemon imports a root with device nodes (as debootstrap leaves them in /dev) and one with a large layer
  const source = await startDockerd({ driver: 'overlay2' });
  await importRoot(source, work, 'devices:1', (dir) => {
    mkdirSync(join(dir, 'dev'));
    mkdirSync(join(dir, 'nodes'));
    // /dev is a tmpfs in a running container: the same nodes under /nodes show that they were loaded
    for (const parent of ['dev', 'nodes']) {
      execFileSync('mknod', ['-m', '666', join(dir, parent, 'null'), 'c', '1', '3']);
      execFileSync('mknod', ['-m', '666', join(dir, parent, 'full'), 'c', '1', '7']);
    }
    execFileSync('mknod', ['-m', '660', join(dir, 'nodes', 'loop9'), 'b', '7', '9']);
  });
  await importRoot(source, work, 'many:1', (dir) => {
    mkdirSync(join(dir, 'many'));
    for (let i = 0; i < 30_000; i++) writeFileSync(join(dir, 'many', `f${i}`), `file ${i}\n`);
  });
  const devArchive = join(work, 'devices.tar');
  const manyArchive = join(work, 'many.tar');
  await source.docker(['save', '-o', devArchive, 'devices:1']);
  await source.docker(['save', '-o', manyArchive, 'many:1']);
  const devDiffIds = (await savedDiffIds(source, 'devices:1', work)).config;
  const manyDiffIds = (await savedDiffIds(source, 'many:1', work)).config;
  await source.remove();

  // 2. overlay2: a load killed while it applies the large layer, then the same load again; then the device image
  const root = mkdtempSync(join(tmpdir(), 'strata-root-'));
  rmSync(root, { recursive: true });
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const cli = fileURLToPath(new URL('../../cli/index.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import=tsx', cli, 'load', manyArchive, '--root', root], { stdio: 'ignore' });
  const exited = new Promise<string | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  const partial = () => {
    try {
      return readdirSync(join(root, 'overlay2')).filter((n) => n.startsWith('.strata-tmp-') && existsSync(join(root, 'overlay2', n, 'diff', 'many', 'f100')));
    } catch {
      return [];
    }
  };
  for (let waited = 0; partial().length === 0 && waited < 120_000; waited += 5) await new Promise((r) => setTimeout(r, 5));
  child.kill('SIGKILL');
  t.equal(await exited, 'SIGKILL', 'killed while applying');
  t.equal(partial().length, 1, 'the killed load left its partial layer');
  const again = runCli(['load', manyArchive, '--root', root]);
  t.equal(again.status, 0, again.stderr);
  t.same(readdirSync(join(root, 'overlay2')).filter((n) => n.startsWith('.strata-tmp-')), [], 'the second load removed the stale partial layer');
  const dev = runCli(['load', devArchive, '--root', root]);
  t.equal(dev.status, 0, `device nodes load by default: ${dev.stderr}`);
  t.match(dev.stdout, /Loaded image: devices:1/);
  const refused = runCli(['load', devArchive, '--root', mkdtempSync(join(work, 'no-devices-')), '--no-devices']);
  t.equal(refused.status, 1);
  t.match(refused.stderr, /^strata: error: .*dev\/(null|full): device node 1:[37]/m, '--no-devices refuses them, naming the entry');

  // 3. vfs: the device image into an empty root
  const vfsRoot = mkdtempSync(join(tmpdir(), 'strata-root-'));
  t.teardown(() => rmSync(vfsRoot, { recursive: true, force: true }));
  t.equal(runCli(['load', devArchive, '--root', vfsRoot, '--driver', 'vfs']).status, 0);

  // 4. a daemon on each store runs the images and saves the original DiffIDs
  for (const [driver, dir] of [['overlay2', root], ['vfs', vfsRoot]] as const) {
    const verify = cliJson(['verify', '--root', dir]);
    t.ok(verify.length > 0 && verify.every((v: { ok: boolean }) => v.ok), `${driver}: every layer rebuilds to its DiffID`);
    const d = await startDockerd({ driver, root: dir });
    t.teardown(() => d.stop());
    const nodes = await d.docker(['run', '--rm', '--network', 'none', '--pull', 'never', 'devices:1', 'stat', '-c', '%n %F %t:%T %a', '/nodes/null', '/nodes/full', '/nodes/loop9']);
    t.equal(nodes, '/nodes/null character special file 1:3 666\n/nodes/full character special file 1:7 666\n/nodes/loop9 block special file 7:9 660\n', `${driver}: docker run sees the device nodes`);
    const saved = await savedDiffIds(d, 'devices:1', work);
    t.same(saved.layers, devDiffIds, `${driver}: docker save of the device image gives the original DiffIDs`);
    if (driver === 'overlay2') {
      const count = await d.docker(['run', '--rm', '--network', 'none', '--pull', 'never', 'many:1', 'sh', '-c', 'ls /many | wc -l']);
      t.equal(count.trim(), '30000', 'the image loaded after the killed run is complete');
      t.same((await savedDiffIds(d, 'many:1', work)).layers, manyDiffIds, 'and saves its original DiffID');
    }
    await d.stop();
  }
});
