import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { openDriver } from '../../drivers/index.js';
import { listImages } from '../../inspect/images.js';
import { reportLayers, selectLayers } from '../../inspect/layers.js';
import { LAYERDB_CHUNK, readLayerFiles, readLayerFilesInBackground, type RawLayer } from '../../inspect/docker/layerdb.js';
import { readStore, readStoreAsync } from '../../inspect/docker/read-store.js';
import { SMALL_FILE_BYTES } from '../../native/small-files.js';
import { runWorker } from '../../native/workers.js';
import { buildSampleStore, type SampleStore } from '../helpers/sample-store.js';

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

t.test('layerdb and imagedb read natively, on a worker thread or on this one: the same model and the same warnings', async (t) => {
  const dir = t.testdir({ 'host-secret': 'SECRET of the machine strata runs on' });
  const s = buildSampleStore(join(dir, 'store'));
  const meta = join(s.root, 'image', 'overlay2');
  const entry = (layer: keyof SampleStore['layers']) => join(meta, 'layerdb', 'sha256', s.layers[layer].chainId.slice(7));
  const l6 = entry('L6');
  writeFileSync(join(l6, 'size'), 'lots');
  rmSync(join(l6, 'cache-id'));
  // What stands where a small file should be: a FIFO (never to block), a directory, bytes that are not
  // UTF-8, a file past the bulk reader's limit, a parent that makes another ChainID.
  rmSync(join(entry('L2'), 'parent'));
  execFileSync('mkfifo', [join(entry('L2'), 'parent')]);
  rmSync(join(entry('L4'), 'diff'));
  mkdirSync(join(entry('L4'), 'diff'));
  const notUtf8 = Buffer.from([0x73, 0x68, 0xe9, 0xff]);
  writeFileSync(join(entry('L5'), 'diff'), notUtf8);
  writeFileSync(join(entry('L7'), 'size'), `8${' '.repeat(SMALL_FILE_BYTES)}\n`);
  writeFileSync(join(entry('K1'), 'parent'), s.layers.Z.chainId);
  rmSync(join(entry('M1'), 'size'));
  symlinkSync(join(dir, 'host-secret'), join(entry('M1'), 'size'));
  const config = join(meta, 'imagedb', 'content', 'sha256', s.images.x.slice(7));
  rmSync(config);
  execFileSync('mkfifo', [config]);
  const recordedParent = join(meta, 'imagedb', 'metadata', 'sha256', s.images.i1.slice(7), 'parent');
  rmSync(recordedParent);
  mkdirSync(recordedParent);

  const ways = { native: { STRATA_NATIVE: undefined }, worker: { STRATA_NATIVE: '0' } } as const;
  for (const layerFields of ['sizes', 'usage', 'all'] as const) {
    const here = readStore({ root: s.root, driver: 'overlay2', layerFields });
    for (const [way, env] of Object.entries(ways)) {
      const saved = process.env.STRATA_NATIVE;
      if (env.STRATA_NATIVE === undefined) delete process.env.STRATA_NATIVE;
      else process.env.STRATA_NATIVE = env.STRATA_NATIVE;
      try {
        const there = await readStoreAsync({ root: s.root, driver: 'overlay2', layerFields, parallelLayers: 1 });
        t.same([...there.layers.entries()], [...here.layers.entries()], `${layerFields}, ${way}: same layers`);
        t.same([...there.images.entries()], [...here.images.entries()], `${layerFields}, ${way}: same images`);
        t.same(there.warnings, here.warnings, `${layerFields}, ${way}: same warnings`);
        t.same(there.unreadable, here.unreadable, `${layerFields}, ${way}: same record of what could not be read`);
      } finally {
        if (saved === undefined) delete process.env.STRATA_NATIVE;
        else process.env.STRATA_NATIVE = saved;
      }
    }
  }
  const all = await readStoreAsync({ root: s.root, driver: 'overlay2', parallelLayers: 1 });
  const lines = all.warnings.map((w) => `${w.file}: ${w.message}`);
  const expectedK1 = `sha256:${createHash('sha256').update(`${s.layers.Z.chainId} ${s.layers.K1.diffId}`).digest('hex')}`;
  for (const line of [
    `${l6}/size: not a byte count: "lots"`,
    `${l6}/cache-id: missing`,
    `${entry('L2')}/parent: is a FIFO, not a regular file (not read)`,
    `${entry('L4')}/diff: is a directory, expected a file`,
    `${entry('L5')}/diff: not a sha256 digest: ${JSON.stringify(notUtf8.toString('utf8'))}`,
    `${entry('K1')}: ChainID does not match its parent and diff (expected ${expectedK1})`,
    `${config}: is a FIFO, not a regular file (not read)`,
    `${recordedParent}: is a directory, expected a file`,
    `${entry('M1')}/size: is a symbolic link (not followed)`,
  ]) {
    t.ok(lines.includes(line), line);
  }
  t.notOk(lines.some((l) => l.includes('SECRET')), 'a symlinked layerdb file is not followed');
  t.equal(all.layers.get(s.layers.L7.chainId)!.size, 8, 'a size file past the limit is read whole');
  t.notOk(all.images.has(s.images.x), 'the image whose config is a FIFO is not listed');
  t.same(all.images.get(s.images.i1)!.unread, ['parent'], 'the recorded parent that is a directory is unread');
  t.notOk(lines.some((l) => l.startsWith(`${entry('L4')}:`) || l.startsWith(`${entry('L5')}:`) || l.startsWith(`${entry('L2')}:`)), 'no ChainID warning where diff or parent is no digest');
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
