import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { openDriver } from '../../drivers/index.js';
import { listImages } from '../../inspect/images.js';
import { reportLayers, selectLayers } from '../../inspect/layers.js';
import { LAYERDB_CHUNK, readLayerFiles, readLayerFilesInBackground, type RawLayer } from '../../inspect/docker/layerdb.js';
import { readStore, readStoreAsync } from '../../inspect/docker/read-store.js';
import { runWorker } from '../../native/workers.js';
import { buildSampleStore } from '../helpers/sample-store.js';

t.test('each problem is one warning naming its file; everything else is still read', async (t) => {
  const s = buildSampleStore(t.testdir());
  const meta = join(s.root, 'image', 'overlay2');
  const I = s.images;
  const contentOf = (id: string) => join(meta, 'imagedb', 'content', 'sha256', id.slice(7));
  // 1. an image config whose bytes no longer match its digest
  writeFileSync(contentOf(I.p3), '{"corrupt": true}');
  // 2. a size file that cannot be read as a file
  const l6 = join(meta, 'layerdb', 'sha256', s.layers.L6.chainId.slice(7));
  rmSync(join(l6, 'size'));
  mkdirSync(join(l6, 'size'));
  // 3. a layer whose parent does not match its ChainID
  writeFileSync(join(meta, 'layerdb', 'sha256', s.layers.L3.chainId.slice(7), 'parent'), s.layers.L1.chainId);
  // 4. a container config that is not JSON
  writeFileSync(join(s.root, 'containers', s.containers.c3, 'config.v2.json'), '{not json');
  // 5. a layer directory that is gone
  rmSync(join(s.root, 'overlay2', s.layers.K1.cacheId), { recursive: true });

  const model = readStore({ root: s.root, driver: 'overlay2' });
  const files = model.warnings.map((w) => w.file);
  t.ok(files.includes(contentOf(I.p3)), 'corrupt config named');
  t.match(model.warnings.find((w) => w.file === contentOf(I.p3))!.message, /does not match its digest/);
  t.ok(files.includes(join(l6, 'size')), 'unreadable size file named');
  t.match(model.warnings.find((w) => w.file === join(l6, 'size'))!.message, /is a directory/);
  t.match(model.warnings.find((w) => w.file.endsWith(s.layers.L3.chainId.slice(7)))!.message, /ChainID does not match/);
  t.match(model.warnings.find((w) => w.file.endsWith('config.v2.json'))!.message, /corrupt JSON/);
  t.equal(model.warnings.length, 4, 'one warning per problem');

  t.equal(model.images.size, 8, 'only the corrupt image is missing');
  t.equal(model.containers.length, 2);
  t.equal(listImages(model).find((i) => i.id === I.p2)!.size, 5600, 'a layer without a readable size counts 0');
  const layers = reportLayers(model, openDriver('overlay2', s.root), selectLayers(model), { measure: true });
  const k1 = layers.find((l) => l.chainId === s.layers.K1.chainId)!;
  t.equal(k1.directoryExists, false, 'missing layer directory reported');
  t.equal(k1.diskBytes, null);
  t.equal(layers.find((l) => l.chainId === s.layers.L1.chainId)!.directoryExists, true);
});

t.test('missing files referenced across parts are reported', async (t) => {
  const s = buildSampleStore(t.testdir());
  const meta = join(s.root, 'image', 'overlay2');
  rmSync(join(meta, 'layerdb', 'sha256', s.layers.L7.chainId.slice(7)), { recursive: true });
  writeFileSync(join(meta, 'repositories.json'), '{"Repositories": {"gone": {"gone:1": "sha256:' + 'a'.repeat(64) + '"}}}');
  const model = readStore({ root: s.root, driver: 'overlay2' });
  t.match(model.warnings.map((w) => w.message).join('\n'), /layer 2 \(ChainID sha256:[0-9a-f]{64}\) is missing from layerdb/);
  t.match(model.warnings.map((w) => w.message).join('\n'), /gone:1 points to missing image/);
  t.equal(model.images.get(s.images.app)!.repoTags.length, 0, 'tags gone with repositories.json');
});

t.test('corrupt repositories.json: images still listed, untagged', async (t) => {
  const s = buildSampleStore(t.testdir());
  const file = join(s.root, 'image', 'overlay2', 'repositories.json');
  writeFileSync(file, '{"Repositories": ');
  const model = readStore({ root: s.root, driver: 'overlay2' });
  t.same(model.warnings.map((w) => w.file), [file]);
  t.same(listImages(model).map((i) => i.id).sort(), [s.images.old, s.images.app, s.images.p1, s.images.p2, s.images.p3, s.images.x].sort(), 'untagged: the images without children');
});

t.test('a store with nothing readable is an error', async (t) => {
  const root = t.testdir({ image: { overlay2: { imagedb: 'not a dir', layerdb: 'not a dir' } } });
  t.throws(() => readStore({ root, driver: 'overlay2' }), { name: 'StoreReadError', message: /nothing could be read/ });
});

t.test('an empty store is no error', async (t) => {
  const root = t.testdir({ image: { overlay2: { imagedb: { content: { sha256: {} } }, layerdb: { sha256: {} } } } });
  const model = readStore({ root, driver: 'overlay2' });
  t.equal(model.images.size, 0);
  t.same(model.warnings, []);
});

t.test('reading layerdb on a worker thread gives the same model and the same warnings', async (t) => {
  const s = buildSampleStore(t.testdir());
  const l6 = join(s.root, 'image', 'overlay2', 'layerdb', 'sha256', s.layers.L6.chainId.slice(7));
  writeFileSync(join(l6, 'size'), 'lots');
  rmSync(join(l6, 'cache-id'));
  for (const layerFields of ['sizes', 'usage', 'all'] as const) {
    const here = readStore({ root: s.root, driver: 'overlay2', layerFields });
    const there = await readStoreAsync({ root: s.root, driver: 'overlay2', layerFields, parallelLayers: 1 });
    t.same([...there.layers.entries()], [...here.layers.entries()], `${layerFields}: same layers`);
    t.same(there.warnings, here.warnings, `${layerFields}: same warnings`);
  }
  const all = await readStoreAsync({ root: s.root, driver: 'overlay2', parallelLayers: 1 });
  const lines = all.warnings.map((w) => `${w.file}: ${w.message}`);
  t.ok(lines.some((l) => l === `${l6}/size: not a byte count: "lots"`), 'the bad size is named');
  t.ok(lines.some((l) => l === `${l6}/cache-id: missing`), 'the missing cache-id is named');
});

t.test("the layerdb worker runs its own entry file and reads every piece it takes", async (t) => {
  const s = buildSampleStore(t.testdir());
  const base = join(s.root, 'image', 'overlay2', 'layerdb', 'sha256');
  // Enough names for several pieces (an entry may be read more than once: reading is all that is asked).
  const names = Array.from({ length: Math.ceil((LAYERDB_CHUNK * 2.5) / 10) }, () => readdirSync(base)).flat();
  const expected = readLayerFiles(base, names, 'sizes');
  const pieces = await runWorker<Array<[number, RawLayer[]]>>('layerdb-worker', { base, names, fields: 'sizes', counter: new SharedArrayBuffer(4) });
  t.same(pieces.map(([i]) => i), [0, 1, 2], 'the worker alone takes every piece');
  t.same(pieces.flatMap(([, raw]) => raw), expected, 'and reads them as this thread does');
  for (const delay of [0, 2000]) {
    const shared = readLayerFilesInBackground(base, names, 'sizes');
    await new Promise((resolve) => setTimeout(resolve, delay));
    shared.help();
    t.same(await shared.result, expected, `shared out (this thread joins after ${delay} ms): every entry, in order`);
  }
});
