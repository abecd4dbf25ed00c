// The layer index cache (inspect/layer-index-cache.ts): a tar-split's file index kept outside the store,
// served only while the tar-split there is the one that was read.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { indexFromTarSplit, layerChanges, type LayerFilesSource } from '../../inspect/layer-files.js';
import { indexFromTarSplitCached, lastLayerIndexOutcome, layerIndexWritesDone } from '../../inspect/layer-index-cache.js';
import { readStore } from '../../inspect/docker/read-store.js';
import { openDriver } from '../../drivers/index.js';
import { storeOfTars, type TarSpec } from '../helpers/layer-store.js';

const entries = (n: number): TarSpec[] => {
  const out: TarSpec[] = [{ name: 'usr', dir: true }, { name: 'usr/lib', dir: true }, { name: 'etc', dir: true }];
  for (let i = 0; i < n; i++) out.push({ name: `usr/lib/f${i}`, content: 'x'.repeat(i % 50) });
  out.push({ name: 'etc/.wh.gone', marker: true }, { name: 'etc/link', symlink: '../usr/lib/f1' }, { name: Buffer.from('caf\xe9', 'latin1'), content: 'latin1 name' });
  return out;
};

/** A store of one layer, its tar-split, and a cache directory of the test's own. */
async function setup(t: Tap.Test, n = 200) {
  const dir = t.testdir({ cache: {} });
  const root = join(dir, 'root');
  await storeOfTars(root, 'vfs', [entries(n)]);
  const sha = join(root, 'image', 'vfs', 'layerdb', 'sha256');
  const split = join(sha, readdirSync(sha)[0], 'tar-split.json.gz');
  const saved = process.env.XDG_CACHE_HOME;
  process.env.XDG_CACHE_HOME = join(dir, 'cache');
  t.teardown(() => {
    if (saved === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = saved;
  });
  await sleep(150); // the tar-split's ctime well before the reads below: trusted
  const layers = join(dir, 'cache', 'strata', 'layers');
  return { dir, root, split, layers, cacheFiles: () => (existsSync(layers) ? readdirSync(layers) : []) };
}

const read = (split: string) => indexFromTarSplitCached(split, () => indexFromTarSplit(split));
const shape = (i: Awaited<ReturnType<typeof indexFromTarSplit>>) => ({ dirs: [...i.dirs].map(([d, m]) => [d, [...m]]), below: [...i.dirs.keys()].map((d) => i.below(d)) });

t.test('read once from the tar-split, then served from the cache: the same index', async (t) => {
  const s = await setup(t);
  const fresh = await indexFromTarSplit(s.split);
  const first = await read(s.split);
  t.equal(lastLayerIndexOutcome(), 'miss');
  await layerIndexWritesDone();
  t.equal(s.cacheFiles().length, 1, 'one file kept');
  const second = await read(s.split);
  t.equal(lastLayerIndexOutcome(), 'hit');
  t.same(shape(first), shape(fresh));
  t.same(shape(second), shape(fresh), 'the cached index is the one read: entries, whiteouts, links, latin1 names, sizes below');
  t.ok(second.entry('caf\xe9'), 'a name that is not UTF-8 kept by its bytes');
  t.same(second.entry('etc/link')?.link, Buffer.from('../usr/lib/f1'));
});

t.test('a tar-split replaced (or touched) is read again, never served stale', async (t) => {
  const s = await setup(t);
  await read(s.split);
  await layerIndexWritesDone();
  const otherRoot = join(s.dir, 'other');
  await storeOfTars(otherRoot, 'vfs', [entries(7)]);
  const sha = join(otherRoot, 'image', 'vfs', 'layerdb', 'sha256');
  writeFileSync(s.split, readFileSync(join(sha, readdirSync(sha)[0], 'tar-split.json.gz'))); // rewritten in place: size and ctime move
  const after = await read(s.split);
  t.equal(lastLayerIndexOutcome(), 'miss');
  t.equal(after.below('').files, 7 + 2, 'the new content');
  await layerIndexWritesDone();
  t.equal(s.cacheFiles().length, 1, 'the old file is still the only one kept: changed within the read’s trust window, the new one is not written');
  const served = await read(s.split);
  t.equal(lastLayerIndexOutcome(), 'miss', 'and the old one is not served for it');
  t.equal(served.below('').files, 9);
});

t.test('a corrupt cache file is read past and written again; STRATA_NO_CACHE leaves the cache alone', async (t) => {
  const s = await setup(t);
  await read(s.split);
  await layerIndexWritesDone();
  const [name] = s.cacheFiles();
  const file = join(s.layers, name);
  writeFileSync(file, 'not an index');
  const again = await read(s.split);
  t.equal(lastLayerIndexOutcome(), 'miss');
  t.equal(again.below('').files, 200 + 2, 'its 200 files, the symlink and the latin1-named file');
  await layerIndexWritesDone();
  t.not(readFileSync(file, 'latin1'), 'not an index', 'written anew');
  process.env.STRATA_NO_CACHE = '1';
  t.teardown(() => delete process.env.STRATA_NO_CACHE);
  await read(s.split);
  t.equal(lastLayerIndexOutcome(), 'off');
});

t.test('the files pane lists a layer through the cache; the store is not written', async (t) => {
  const s = await setup(t);
  const model = readStore({ root: s.root, driver: 'vfs' });
  const image = [...model.images.values()][0];
  const list = async () => {
    const src: LayerFilesSource = { model: readStore({ root: s.root, driver: 'vfs' }), driver: openDriver('vfs', s.root), warnings: [] };
    const entries = await layerChanges(src, [...src.model.images.values()][0], 0).list(Buffer.alloc(0));
    return entries.map((e) => [e.name.toString('latin1'), e.kind, e.size, e.mark]);
  };
  const before = readdirSync(s.root, { recursive: true }).sort();
  const first = await list();
  await layerIndexWritesDone();
  const second = await list();
  t.equal(lastLayerIndexOutcome(), 'hit', 'a second model of the same store: served from the cache');
  t.same(second, first);
  t.same(first.map((r) => r[0]), ['caf\xe9', 'etc', 'usr']);
  t.ok(image);
  t.same(readdirSync(s.root, { recursive: true }).sort(), before, 'nothing written into the store');
});
