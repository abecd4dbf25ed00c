// strata load of OCI image layouts, made at run time from the demo archive: directories and archives,
// gzip and zstd layer blobs, a nested index narrowed to this host's platform, tags from
// io.containerd.image.name and org.opencontainers.image.ref.name; the image id is the config's digest,
// every layer is checked against its DiffID and its blob digest; a layout with a bad blob, a blob leading
// out of the directory, or no image for this platform is refused in one line, leaving nothing behind.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import t from 'tap';
import { choosePlatform, formatPlatform, hostPlatform, referenceOf, type Descriptor } from '../../inspect/oci-layout.js';
import { cliJson, runCli } from '../helpers/run-cli.js';

const CLI = fileURLToPath(new URL('../../cli/index.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const sha = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

const base = t.testdir();
const archive = join(base, 'demo.tar');
writeFileSync(archive, Buffer.from(readFileSync(join(REPO, 'inspect', 'demo', 'demo-images.tar.b64'), 'utf8').replace(/\s+/g, ''), 'base64'));
const saved = join(base, 'saved');
mkdirSync(saved);
execFileSync('tar', ['-xf', archive, '-C', saved]);
const manifest = JSON.parse(readFileSync(join(saved, 'manifest.json'), 'utf8')) as Array<{ Config: string; RepoTags: string[] | null; Layers: string[] }>;
const entryOf = (tag: string) => manifest.find((m) => m.RepoTags?.includes(tag))!;
/** What the demo archive's docker save gives as image id for a tag: the config's digest. */
const idOf = (tag: string) => sha(readFileSync(join(saved, entryOf(tag).Config)));

interface ImageOpts {
  tag: string;
  /** Layer blob compression, per layer index (default gzip). */
  compress?: (i: number) => 'gzip' | 'zstd' | 'none';
  annotations?: Record<string, string>;
  /** Wrap the manifest in an index with a decoy for another platform. */
  multiPlatform?: boolean;
}

const HOST = hostPlatform();
const OTHER = { os: 'linux', architecture: HOST.architecture === 's390x' ? 'ppc64le' : 's390x' };

/** An OCI image layout directory of demo images, as podman, skopeo or buildx write them. */
function makeLayout(dir: string, images: ImageOpts[]): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const blob = (data: Buffer, mediaType: string, extra: object = {}) => {
    const digest = sha(data);
    writeFileSync(join(dir, 'blobs', 'sha256', digest.slice(7)), data);
    return { mediaType, digest, size: data.length, ...extra };
  };
  const manifests: object[] = [];
  for (const image of images) {
    const entry = entryOf(image.tag);
    const config = blob(readFileSync(join(saved, entry.Config)), 'application/vnd.oci.image.config.v1+json');
    const layers = entry.Layers.map((l, i) => {
      const tar = readFileSync(join(saved, l));
      const how = image.compress?.(i) ?? 'gzip';
      if (how === 'none') return blob(tar, 'application/vnd.oci.image.layer.v1.tar');
      if (how === 'zstd') return blob(execFileSync('zstd', ['-q', '-c'], { input: tar }), 'application/vnd.oci.image.layer.v1.tar+zstd');
      return blob(gzipSync(tar), 'application/vnd.oci.image.layer.v1.tar+gzip');
    });
    const doc = (c: object, ls: object[]) => Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: c, layers: ls }));
    let top = blob(doc(config, layers), 'application/vnd.oci.image.manifest.v1+json');
    if (image.multiPlatform) {
      // The decoy is another demo image, so that loading it instead would show.
      const other = entryOf('demo/other-base:1');
      const decoyConfig = blob(readFileSync(join(saved, other.Config)), 'application/vnd.oci.image.config.v1+json');
      const decoy = blob(doc(decoyConfig, other.Layers.map((l) => blob(gzipSync(readFileSync(join(saved, l))), 'application/vnd.oci.image.layer.v1.tar+gzip'))), 'application/vnd.oci.image.manifest.v1+json', { platform: OTHER });
      const attestation = blob(Buffer.from('{"schemaVersion":2}'), 'application/vnd.oci.image.manifest.v1+json', {
        platform: { os: 'unknown', architecture: 'unknown' },
        annotations: { 'vnd.docker.reference.type': 'attestation-manifest' },
      });
      const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [decoy, { ...top, platform: HOST }, attestation] }));
      top = blob(index, 'application/vnd.oci.image.index.v1+json');
    }
    manifests.push({ ...top, annotations: image.annotations });
  }
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion": "1.0.0"}');
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests }));
}

type Listed = Array<{ id: string; repoTags: string[] }>;
const listing = (root: string) => (cliJson(['images', '-a', '--root', root]) as Listed).map((i) => [i.id, [...i.repoTags].sort()] as [string, string[]]).sort();

const layout = join(base, 'layout');
makeLayout(layout, [
  { tag: 'demo/app:2', compress: (i) => (i % 2 ? 'zstd' : 'gzip'), annotations: { 'io.containerd.image.name': 'docker.io/demo/app:2', 'org.opencontainers.image.ref.name': '2' }, multiPlatform: true },
  { tag: 'demo/tools:1', compress: () => 'none', annotations: { 'org.opencontainers.image.ref.name': 'localhost/hb/tools:1' } },
]);

t.test('an OCI layout directory: image ids are the configs\' digests, tags from the annotations, the host platform chosen', async (t) => {
  const root = join(base, 'dir-root');
  const r = runCli(['load', '-i', layout, '--root', root, '--driver', 'vfs']);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, 'Loaded image: demo/app:2\nLoaded image: localhost/hb/tools:1\n');
  t.same(listing(root), [[idOf('demo/app:2'), ['demo/app:2']], [idOf('demo/tools:1'), ['localhost/hb/tools:1']]].sort(), 'docker.io/ dropped, localhost/ kept');
  const verify = cliJson(['verify', '--root', root]) as Array<{ ok: boolean }>;
  t.ok(verify.length >= 3 && verify.every((v) => v.ok), 'every layer (gzip, zstd and plain blobs) rebuilds to its DiffID');
  // the same image from the docker save archive: same layers, so loading it adds no layer
  const again = runCli(['load', archive, '--root', root, '--json']);
  t.equal(again.status, 0, again.stderr);
  const app2 = (JSON.parse(again.stdout) as Array<{ id: string; layersApplied: number }>).find((i) => i.id === idOf('demo/app:2'))!;
  t.equal(app2.layersApplied, 0, 'the OCI load made the very layers docker save describes');
});

t.test('an OCI archive: from a file, and from stdin gzip-compressed', async (t) => {
  const tarball = join(base, 'layout.tar');
  execFileSync('tar', ['-C', layout, '-cf', tarball, '.']);
  const a = runCli(['load', '-i', tarball, '--root', join(base, 'archive-root')]);
  t.equal(a.status, 0, a.stderr);
  t.equal(a.stdout, 'Loaded image: demo/app:2\nLoaded image: localhost/hb/tools:1\n');
  const s = spawnSync(process.execPath, ['--import=tsx', CLI, 'load', '--root', join(base, 'stdin-root')], { input: gzipSync(readFileSync(tarball)), encoding: 'utf8' });
  t.equal(s.status, 0, s.stderr);
  t.equal(s.stdout, a.stdout);
  t.same(listing(join(base, 'stdin-root')), listing(join(base, 'archive-root')));
});

t.test('names: a bare ref name alone loads untagged with a warning; an image name without tag takes the bare tag', async (t) => {
  const dir = join(base, 'names');
  makeLayout(dir, [
    { tag: 'demo/base:1', annotations: { 'org.opencontainers.image.ref.name': 'latest' } },
    { tag: 'demo/app:1', annotations: { 'io.containerd.image.name': 'example.com/team/app', 'org.opencontainers.image.ref.name': '7' } },
    { tag: 'demo/other-base:1' },
  ]);
  const root = join(base, 'names-root');
  const r = runCli(['load', dir, '--root', root]);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, `Loaded image ID: ${idOf('demo/base:1')}\nLoaded image: example.com/team/app:7\nLoaded image ID: ${idOf('demo/other-base:1')}\n`);
  t.match(r.stderr, /^strata: warning: .*names: index\.json: sha256:[0-9a-f]{64} is named only by the tag "latest" \(org\.opencontainers\.image\.ref\.name, no io\.containerd\.image\.name\); loaded untagged\n$/);
});

t.test('a layout is checked before anything is kept: bad blobs, escapes, platforms, missing files', async (t) => {
  const cases: Array<{ what: string; spoil: (dir: string) => void; error: RegExp }> = [
    {
      what: 'a layer blob that decompresses to another DiffID',
      spoil: (dir) => {
        const m = JSON.parse(readFileSync(join(dir, 'blobs', 'sha256', topManifest(dir).slice(7)), 'utf8'));
        const last = m.layers[m.layers.length - 1].digest.slice(7);
        writeFileSync(join(dir, 'blobs', 'sha256', last), gzipSync(Buffer.alloc(1024)));
      },
      error: /: blobs\/sha256\/[0-9a-f]{64} hashes to sha256:[0-9a-f]{64}, but the image config says sha256:/,
    },
    {
      what: 'a layer blob recompressed: the right DiffID, but not the blob its digest names',
      spoil: (dir) => {
        const m = JSON.parse(readFileSync(join(dir, 'blobs', 'sha256', topManifest(dir).slice(7)), 'utf8'));
        const file = join(dir, 'blobs', 'sha256', m.layers[0].digest.slice(7));
        writeFileSync(file, gzipSync(gunzipSync(readFileSync(file)), { level: 1 }));
      },
      error: /: blobs\/sha256\/[0-9a-f]{64} hashes to sha256:[0-9a-f]{64}, not to the digest it is named by$/,
    },
    {
      what: 'a config that is not the blob its digest names',
      spoil: (dir) => {
        const m = JSON.parse(readFileSync(join(dir, 'blobs', 'sha256', topManifest(dir).slice(7)), 'utf8'));
        const file = join(dir, 'blobs', 'sha256', m.config.digest.slice(7));
        writeFileSync(file, readFileSync(file, 'utf8').replace('"os":"linux"', '"os":"linux" '));
      },
      error: /: blobs\/sha256\/[0-9a-f]{64} hashes to sha256:[0-9a-f]{64}, not to the digest it is named by$/,
    },
    {
      what: 'a blob that is a symbolic link out of the layout',
      spoil: (dir) => {
        const m = JSON.parse(readFileSync(join(dir, 'blobs', 'sha256', topManifest(dir).slice(7)), 'utf8'));
        const file = join(dir, 'blobs', 'sha256', m.layers[0].digest.slice(7));
        writeFileSync(join(base, 'outside'), readFileSync(file));
        rmSync(file);
        symlinkSync(join(base, 'outside'), file);
      },
      error: /blobs\/sha256\/[0-9a-f]{64}: leads out of the layout \(to .*outside\)$/,
    },
    {
      what: 'a missing blob',
      spoil: (dir) => rmSync(join(dir, 'blobs', 'sha256', topManifest(dir).slice(7))),
      error: /blobs\/sha256\/[0-9a-f]{64}: no such file or directory$/,
    },
    {
      what: 'no oci-layout file',
      spoil: (dir) => rmSync(join(dir, 'oci-layout')),
      error: /: has index\.json but no oci-layout file: not an OCI image layout$/,
    },
    {
      what: 'an index with no image for this platform',
      spoil: (dir) => {
        const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
        const nested = join(dir, 'blobs', 'sha256', index.manifests[0].digest.slice(7));
        const doc = JSON.parse(readFileSync(nested, 'utf8'));
        doc.manifests = doc.manifests.filter((d: Descriptor) => formatPlatform(d.platform) !== formatPlatform(HOST));
        const bytes = Buffer.from(JSON.stringify(doc));
        writeFileSync(join(dir, 'blobs', 'sha256', sha(bytes).slice(7)), bytes);
        index.manifests[0].digest = sha(bytes);
        writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
      },
      error: new RegExp(`: blobs/sha256/[0-9a-f]{64} has no image for ${formatPlatform(HOST)} \\(it has ${formatPlatform(OTHER)}\\)$`),
    },
  ];
  const good = join(base, 'good');
  makeLayout(good, [{ tag: 'demo/app:2', annotations: { 'org.opencontainers.image.ref.name': 'demo/app:2' } }]);
  const store = join(base, 'checked-root');
  t.equal(runCli(['load', archive, '--root', store]).status, 0);
  const before = listing(store);
  for (const c of cases) {
    const dir = join(base, `spoiled-${c.what.replace(/\W+/g, '-')}`);
    makeLayout(dir, [{ tag: 'demo/app:2', annotations: { 'org.opencontainers.image.ref.name': 'demo/app:2' }, multiPlatform: c.what.includes('platform') }]);
    c.spoil(dir);
    const fresh = join(base, `fresh-${c.what.replace(/\W+/g, '-')}`);
    const r = runCli(['load', '-i', dir, '--root', fresh]);
    t.equal(r.status, 1, `${c.what}: refused`);
    t.equal(r.stderr.split('\n').length, 2, `${c.what}: one line`);
    t.match(r.stderr.trim(), c.error, c.what);
    t.notOk(existsSync(fresh), `${c.what}: the new root is gone again`);
  }
  // into a store holding its layers already (so the layer blobs are not read): a spoiled config changes nothing
  const spoiled = join(base, 'spoiled-existing');
  makeLayout(spoiled, [{ tag: 'demo/app:2', annotations: { 'org.opencontainers.image.ref.name': 'new/app:2' } }]);
  cases.find((c) => c.what.startsWith('a config'))!.spoil(spoiled);
  const r = runCli(['load', '-i', spoiled, '--root', store]);
  t.equal(r.status, 1);
  t.same(listing(store), before, 'no tag moved, no image added');
  t.same(readdirSync(join(store, 'image', 'overlay2', 'layerdb', 'tmp')), []);
});

t.test('a directory that is no layout is refused naming it', async (t) => {
  const dir = join(base, 'not-a-layout');
  mkdirSync(dir);
  const r = runCli(['load', '-i', dir, '--root', join(base, 'never')]);
  t.equal(r.stderr, `strata: error: ${dir}: a directory, but neither an OCI image layout (no index.json) nor an extracted docker save archive (no manifest.json)\n`);
  t.notOk(existsSync(join(base, 'never')));
  // an extracted docker save archive loads from its directory
  const s = runCli(['load', '-i', saved, '--root', join(base, 'extracted-root')]);
  t.equal(s.status, 0, s.stderr);
  t.match(s.stdout, /Loaded image: demo\/app:2\n/);
});

function topManifest(dir: string): string {
  return JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')).manifests[0].digest;
}

t.test('referenceOf: which annotation names the image', async (t) => {
  const I = 'io.containerd.image.name';
  const R = 'org.opencontainers.image.ref.name';
  t.same(referenceOf({ [R]: 'localhost/hb/app:1' }), { ref: 'localhost/hb/app:1' }, 'podman: the full name');
  t.same(referenceOf({ [I]: 'docker.io/library/busybox:latest', [R]: 'latest' }), { ref: 'busybox:latest' }, 'docker ≥ 25: the image name, familiar');
  t.same(referenceOf({ [I]: 'docker.io/library/busybox', [R]: '1.36' }), { ref: 'busybox:1.36' }, 'an image name without tag takes the bare ref name');
  t.same(referenceOf({ [I]: 'example.com/x:2', [R]: '1' }), { ref: 'example.com/x:2' }, 'the image name wins');
  t.same(referenceOf({ [R]: 'latest' }), { ref: null, bareTag: 'latest' });
  t.same(referenceOf({ [R]: 'Not/Valid:x' }), { ref: null, invalid: 'Not/Valid:x' });
  t.same(referenceOf({ [R]: 'example.com/app' }), { ref: 'example.com/app:latest' }, 'a name with a slash and no tag: latest');
  t.same(referenceOf(undefined), { ref: null });
});

t.test('choosePlatform and hostPlatform', async (t) => {
  t.same(hostPlatform('x64'), { os: 'linux', architecture: 'amd64' });
  t.same(hostPlatform('arm64'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
  const d = (digest: string, platform?: Descriptor['platform']): Descriptor => ({ digest, platform });
  const want = { os: 'linux', architecture: 'arm64', variant: 'v8' };
  t.equal(choosePlatform([d('a', { os: 'linux', architecture: 'amd64' }), d('b', { os: 'linux', architecture: 'arm64' }), d('c', { os: 'linux', architecture: 'arm64', variant: 'v8' })], want, 'x').digest, 'c', 'exact variant first');
  t.equal(choosePlatform([d('a', { os: 'linux', architecture: 'amd64' }), d('b', { os: 'linux', architecture: 'arm64' })], want, 'x').digest, 'b', 'then no variant');
  t.equal(choosePlatform([d('a', { os: 'linux', architecture: 'amd64' }), d('b')], want, 'x').digest, 'b', 'then no platform');
  t.throws(() => choosePlatform([d('a', { os: 'linux', architecture: 'amd64' })], want, 'x'), /^x has no image for linux\/arm64\/v8 \(it has linux\/amd64\)$/, 'not even a lone one of another platform');
  t.throws(() => choosePlatform([d('a', { os: 'linux', architecture: 'amd64' }), d('b', { os: 'windows', architecture: 'arm64' })], want, 'idx'), /^idx has no image for linux\/arm64\/v8 \(it has linux\/amd64, windows\/arm64\)$/);
});
