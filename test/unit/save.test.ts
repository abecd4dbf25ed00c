// strata save against a real `docker save` archive: the demo images (saved by dockerd 20.10) loaded into
// a fresh store and saved again must give the same archive byte for byte; name resolution as docker's;
// the OCI layout's digests; refusals and --allow-fresh on damaged layers; the DiffID check while writing.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { demoArchivePath, buildDemoStore } from '../../inspect/demo.js';
import { openStore } from '../../inspect/open-store.js';
import { fdSink } from '../../inspect/output-file.js';
import { exactHelpers } from '../../drivers/archive/assemble.js';
import { dockerArchiveEntries, fullName, ociArchiveEntries, planSave, resolveSaveNames, rewriteDiffIds, writeArchive, type ArchiveEntry } from '../../inspect/save.js';
import { containerConfigJson, goString, goTime } from '../../inspect/save-v1.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const demoTar = () => Buffer.from(readFileSync(demoArchivePath(), 'utf8').replace(/\s+/g, ''), 'base64');
const tarMember = (tar: string, name: string) => execFileSync('tar', ['-xOf', tar, name], { maxBuffer: 1 << 28 });

/** The writers: JavaScript hashing inline or on a worker thread, and the native helpers (when built). */
type Writer = 'inline' | 'worker' | 'native';
const WRITERS: Writer[] = exactHelpers() ? ['inline', 'worker', 'native'] : ['inline', 'worker'];

async function writeTo(file: string, entries: ArchiveEntry[], writer: Writer | boolean = 'inline'): Promise<void> {
  const how = writer === true ? 'worker' : writer === false ? 'inline' : writer;
  const fd = openSync(file, 'w');
  try {
    // fdSink has no descriptor of its own to show: given one, writeArchive writes natively.
    await writeArchive(fdSink(fd, file), entries, { parallelHash: how === 'worker', fd: how === 'native' ? fd : undefined });
  } finally {
    closeSync(fd);
  }
}

/** A demo store (vfs, loaded offline from the docker save archive strata ships). */
async function demoStore(t: Tap.Test) {
  const dir = t.testdir({});
  const { root } = await buildDemoStore(join(dir, 'root'));
  const demo = join(dir, 'demo.tar');
  writeFileSync(demo, demoTar());
  return { dir, root, demo };
}

t.test("load records manifest.json's Parent as docker load does", async (t) => {
  const { root, demo } = await demoStore(t);
  const manifest = JSON.parse(tarMember(demo, 'manifest.json').toString()) as Array<{ Config: string; Parent?: string }>;
  const withParent = manifest.filter((m) => m.Parent);
  t.ok(withParent.length > 0, 'the demo archive records parents');
  for (const m of withParent) {
    const file = join(root, 'image', 'vfs', 'imagedb', 'metadata', 'sha256', m.Config.replace(/\.json$/, ''), 'parent');
    t.equal(readFileSync(file, 'utf8'), m.Parent, `${m.Config} has its parent recorded`);
  }
  const { model } = await openStore({ root });
  for (const m of withParent) t.equal(model.images.get(`sha256:${m.Config.replace(/\.json$/, '')}`)?.parent, m.Parent, 'the model reads it');
});

t.test("saving the demo images again gives docker save's archive byte for byte", async (t) => {
  const { dir, root, demo } = await demoStore(t);
  const manifest = JSON.parse(tarMember(demo, 'manifest.json').toString()) as Array<{ Config: string; RepoTags: string[] | null }>;
  // docker wrote the images in Go map order; named in that order, strata writes the same archive.
  const names = manifest.map((m) => m.RepoTags?.[0] ?? m.Config.replace(/\.json$/, ''));
  const { model, driver } = await openStore({ root });
  const plan = await planSave(model, driver!, resolveSaveNames(model, names));
  t.same(plan.warnings, []);
  // Directories of layers whose DiffID was written already carry the time of the save: the demo's.
  const listing = execFileSync('tar', ['--full-time', '--utc', '-tvf', demo]).toString();
  const linked = /(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) \S+\/layer\.tar -> /.exec(listing);
  t.ok(linked, 'the demo archive has a layer saved as a symlink');
  const now = Date.parse(`${linked![1].replace(' ', 'T')}Z`) / 1000;
  const theirs = readFileSync(demo);
  for (const writer of WRITERS) {
    const out = join(dir, `strata-${writer}.tar`);
    await writeTo(out, dockerArchiveEntries(plan, now), writer);
    const ours = readFileSync(out);
    t.equal(ours.length, theirs.length, 'same size');
    t.ok(ours.equals(theirs), `identical bytes: v1 ids, json, configs, layer tars, manifest.json, repositories, headers (the ${writer} writer)`);
  }
  plan.cleanup();
});

t.test('names resolve as docker save resolves them', async (t) => {
  const { root } = await demoStore(t);
  const { model } = await openStore({ root });
  const idOf = (ref: string) => model.references.find((r) => r.ref === ref)!.imageId;
  const app = resolveSaveNames(model, ['demo/app']);
  t.same(
    app.map((s) => s.tags.map((x) => `${x.name}:${x.tag}`)),
    [['demo/app:1'], ['demo/app:2']],
    'a bare name saves every tag of it, lexically',
  );
  const byId = resolveSaveNames(model, [idOf('demo/app:1').slice(7, 19)]);
  t.same(byId, [{ imageId: idOf('demo/app:1'), tags: [] }], 'an id prefix saves the image without tags');
  const twice = resolveSaveNames(model, ['demo/app:1', 'demo/app:1', idOf('demo/app:1')]);
  t.same(twice, [{ imageId: idOf('demo/app:1'), tags: [{ name: 'demo/app', tag: '1' }] }], 'an image named twice is saved once, its tag once');
  t.throws(() => resolveSaveNames(model, ['demo/app:9']), /No such image: demo\/app:9/);
  t.throws(() => resolveSaveNames(model, ['nosuch']), /No such image: nosuch:latest/);
  t.equal(fullName('busybox'), 'docker.io/library/busybox');
  t.equal(fullName('team/app'), 'docker.io/team/app');
  t.equal(fullName('example.com/team/app'), 'example.com/team/app');
  t.equal(fullName('localhost/app'), 'localhost/app');
});

t.test("Go's encodings of the v1 records", async (t) => {
  t.equal(goString('a<b>&c"\\\n\t\u0001\u2028'), '"a\\u003cb\\u003e\\u0026c\\"\\\\\\n\\t\\u0001\\u2028"');
  t.equal(goTime('2026-12-01T23:59:28.297473700Z')!.text, '2026-12-01T23:59:28.2974737Z', 'trailing zeros of the fraction dropped');
  t.equal(goTime('2026-12-01T23:59:28.000Z')!.text, '2026-12-01T23:59:28Z');
  t.equal(goTime('2026-12-01T23:59:28+00:00')!.text, '2026-12-01T23:59:28Z', 'a zero offset is Z');
  t.same(goTime('2026-12-02T01:59:28.5+02:00'), { text: '2026-12-02T01:59:28.5+02:00', seconds: Date.UTC(2026, 11, 1, 23, 59, 28) / 1000 });
  t.equal(goTime('yesterday'), null);
  t.equal(
    containerConfigJson(undefined),
    '{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":null,"Image":"","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":null}',
    "the zero Config as dockerd writes it",
  );
  const full = JSON.parse(
    containerConfigJson({ Cmd: 'echo hi', Shell: [], ExposedPorts: { '80/tcp': {}, '443/tcp': {} }, Healthcheck: { Test: ['CMD', 'true'], Interval: 30e9 }, Labels: { b: '1', a: '2' }, StopTimeout: 5, Unknown: 1 }),
  );
  t.same(full.Cmd, ['echo hi'], 'a string command is a one-element StrSlice');
  t.notOk('Shell' in full, 'an empty Shell is omitted');
  t.same(Object.keys(full.ExposedPorts), ['443/tcp', '80/tcp'], 'map keys sorted');
  t.same(full.Healthcheck, { Test: ['CMD', 'true'], Interval: 30000000000 });
  t.same(Object.keys(full.Labels), ['a', 'b']);
  t.equal(full.StopTimeout, 5);
  t.notOk('Unknown' in full, 'fields Go does not know are dropped');
});

t.test('the OCI layout archive: index, manifests and blobs named by their digests', async (t) => {
  const { dir, root } = await demoStore(t);
  const { model, driver } = await openStore({ root });
  const plan = await planSave(model, driver!, resolveSaveNames(model, ['demo/app:2', 'demo/base:1']));
  const out = join(dir, 'oci.tar');
  await writeTo(out, ociArchiveEntries(plan));
  const x = join(dir, 'oci');
  mkdirSync(x);
  execFileSync('tar', ['-xf', out, '-C', x]);
  t.same(JSON.parse(readFileSync(join(x, 'oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' });
  for (const blob of readdirSync(join(x, 'blobs', 'sha256'))) t.equal(sha(readFileSync(join(x, 'blobs', 'sha256', blob))), blob, `blob ${blob.slice(0, 12)} is named by its digest`);
  const index = JSON.parse(readFileSync(join(x, 'index.json'), 'utf8'));
  t.equal(index.mediaType, 'application/vnd.oci.image.index.v1+json');
  t.same(
    index.manifests.map((m: { annotations: Record<string, string> }) => m.annotations),
    [
      { 'io.containerd.image.name': 'docker.io/demo/app:2', 'org.opencontainers.image.ref.name': '2' },
      { 'io.containerd.image.name': 'docker.io/demo/base:1', 'org.opencontainers.image.ref.name': '1' },
    ],
  );
  for (const [i, ref] of ['demo/app:2', 'demo/base:1'].entries()) {
    const d = index.manifests[i];
    const m = JSON.parse(readFileSync(join(x, 'blobs', 'sha256', d.digest.slice(7)), 'utf8'));
    const image = model.images.get(model.references.find((r) => r.ref === ref)!.imageId)!;
    t.equal(m.config.digest, image.id, `${ref}: the config blob is the image`);
    t.same(m.layers.map((l: { digest: string }) => l.digest), image.diffIds, `${ref}: layer blobs are the DiffIDs`);
    for (const l of m.layers) t.equal(readFileSync(join(x, 'blobs', 'sha256', l.digest.slice(7))).length, l.size);
    t.equal(d.platform.os, 'linux');
  }
  const legacy = JSON.parse(readFileSync(join(x, 'manifest.json'), 'utf8'));
  t.same(legacy[0].RepoTags, ['demo/app:2'], "docker's manifest.json is there too, for docker load");
  t.match(legacy[0].Layers[0], /^blobs\/sha256\/[0-9a-f]{64}$/);
  plan.cleanup();
});

/** The demo store's demo/base:1 layer: its layerdb entry and its files. */
function baseLayer(root: string, model: Awaited<ReturnType<typeof openStore>>['model']) {
  const image = model.images.get(model.references.find((r) => r.ref === 'demo/base:1')!.imageId)!;
  const layer = model.layers.get(image.chainIds[0])!;
  return { image, layer, entry: join(root, 'image', 'vfs', 'layerdb', 'sha256', layer.chainId.slice(7)), dir: join(root, 'vfs', 'dir', layer.cacheId!) };
}

/** A regular file of the layer, found on disk. */
function someFile(dir: string): string {
  const found = execFileSync('find', [dir, '-type', 'f', '-size', '+0']).toString().trim().split('\n')[0];
  return found;
}

t.test('a layer without its tar-split is refused, naming it; --allow-fresh saves a fresh diff', async (t) => {
  const { root } = await demoStore(t);
  let { model, driver } = await openStore({ root });
  const { layer, entry } = baseLayer(root, model);
  rmSync(join(entry, 'tar-split.json.gz'));
  ({ model, driver } = await openStore({ root }));
  await t.rejects(planSave(model, driver!, resolveSaveNames(model, ['demo/base:1'])), { message: new RegExp(`layer 1 of demo/base:1 \\(${layer.chainId.slice(7, 19)}\\) has no tar-split.json.gz.*--allow-fresh`) });
  const plan = await planSave(model, driver!, resolveSaveNames(model, ['demo/base:1']), { allowFresh: true });
  t.equal(plan.warnings.length >= 1, true);
  t.match(plan.warnings[0].message, /saved as a fresh diff/);
  const body = plan.bodies.get(layer.chainId)!;
  t.equal(body.exact, false);
  t.equal(plan.images[0].diffIds[0], body.diffId, "the saved config names the fresh tar's digest");
  if (body.diffId !== layer.diffId) t.not(plan.images[0].id, plan.images[0].storeId, 'a new DiffID makes a new image id');
  plan.cleanup();
});

t.test('a damaged layer fails the save where its file is met, naming it; --allow-fresh replaces it and rewrites the config', async (t) => {
  const { dir, root } = await demoStore(t);
  const { model, driver } = await openStore({ root });
  const { layer, dir: layerDir } = baseLayer(root, model);
  const victim = someFile(layerDir);
  truncateSync(victim, 1);
  // The layers' files are checked while they are written (one pass over the tar-split), not before.
  const exact = await planSave(model, driver!, resolveSaveNames(model, ['demo/base:1']));
  for (const writer of WRITERS) {
    await t.rejects(writeTo(join(dir, `damaged-${writer}.tar`), dockerArchiveEntries(exact, 0), writer), {
      name: 'LayerRefusedError',
      message: new RegExp(`cannot be rebuilt exactly: ${layerDir}/(\\./)?${victim.slice(layerDir.length + 1)}: is 1 bytes, the tar-split recorded \\d+; --allow-fresh`),
    }, `the ${writer} writer names the file`);
  }
  const plan = await planSave(model, driver!, resolveSaveNames(model, ['demo/base:1']), { allowFresh: true });
  const img = plan.images[0];
  t.not(img.diffIds[0], layer.diffId, 'the fresh diff has another DiffID');
  t.not(img.id, img.storeId, 'so the image is saved under a new id');
  t.match(plan.warnings.map((w) => w.message).join('\n'), /new|not/);
  t.same(JSON.parse(img.config.toString()).rootfs.diff_ids, img.diffIds, 'the config names the new DiffID');
  const out = join(dir, 'fresh.tar');
  await writeTo(out, dockerArchiveEntries(plan, 0));
  const manifest = JSON.parse(tarMember(out, 'manifest.json').toString());
  t.equal(manifest[0].Config, `${img.id.slice(7)}.json`);
  t.equal(`sha256:${sha(tarMember(out, manifest[0].Layers[0]))}`, img.diffIds[0], 'the layer tar hashes to the DiffID its config names');
  plan.cleanup();
});

t.test('a layer whose content changed (same size) fails the save while it is written', async (t) => {
  const { dir, root } = await demoStore(t);
  const { model, driver } = await openStore({ root });
  const { dir: layerDir } = baseLayer(root, model);
  const victim = someFile(layerDir);
  const content = readFileSync(victim);
  content[0] ^= 0xff;
  writeFileSync(victim, content);
  const plan = await planSave(model, driver!, resolveSaveNames(model, ['demo/base:1']));
  for (const writer of WRITERS) {
    await t.rejects(writeTo(join(dir, `bad-${writer}.tar`), dockerArchiveEntries(plan, 0), writer), { name: 'SavedDigestError', message: /hashes to sha256:[0-9a-f]{64}, not its DiffID/ }, `the ${writer} writer`);
  }
});

t.test('rewriteDiffIds touches only rootfs.diff_ids', async (t) => {
  const a = `sha256:${'a'.repeat(64)}`;
  const b = `sha256:${'b'.repeat(64)}`;
  const config = Buffer.from(`{"comment":"${a}","rootfs":{"type":"layers","diff_ids":["${a}","sha256:${'c'.repeat(64)}"]}}`);
  t.equal(rewriteDiffIds(config, new Map([[a, b]])).toString(), `{"comment":"${a}","rootfs":{"type":"layers","diff_ids":["${b}","sha256:${'c'.repeat(64)}"]}}`);
});

t.test('strata save refuses a terminal in one line and streams to a pipe', async (t) => {
  const { root } = await demoStore(t);
  const cli = join(import.meta.dirname, '..', '..', 'cli', 'index.ts');
  const cmd = `${process.execPath} --import=tsx ${cli} --root ${root} save demo/base:1`;
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8' });
  t.equal(r.status, 1);
  t.match(r.stdout, /^strata: error: stdout: cowardly refusing to save to a terminal\. Use the -o flag or redirect\s*$/);
  const piped = spawnSync('bash', ['-o', 'pipefail', '-c', `${cmd} | tar -t`], { encoding: 'utf8' });
  t.equal(piped.status, 0, piped.stderr);
  t.match(piped.stdout, /manifest\.json/);
  t.match(piped.stdout, /repositories/);
});
