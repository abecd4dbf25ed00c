// The files pane's data (inspect/layer-files.ts): a layer's own changes and the merged view up to it, one
// directory at a time, from tar-splits and from the drivers' per-directory listings; names as bytes.
import { rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { StrataError } from '../../native/errors.js';
import { nativeHelpers } from '../../native/index.js';
import { openStore } from '../../inspect/open-store.js';
import { layerChanges, mergedView, type FileEntry, type LayerFilesSource } from '../../inspect/layer-files.js';
import { storeOfTars, type TarSpec } from '../helpers/layer-store.js';

const B = (s: string) => Buffer.from(s, 'latin1');

const BASE: TarSpec[] = [
  { name: 'bin', dir: true },
  { name: 'bin/sh', content: 'shell' },
  { name: 'bin/link', symlink: 'sh' },
  { name: 'bin/hard', hardlink: 'bin/sh' },
  { name: 'caf\xe9.txt', content: 'latin' },
  { name: 'cache', dir: true },
  { name: 'cache/a', content: 'aaaa' },
  { name: 'cache/b', content: 'bb' },
  { name: 'd\xff', dir: true },
  { name: 'd\xff/inner', content: 'inner\n' },
  { name: 'data', dir: true, mode: 0o750, uid: 12345, gid: 54321 },
  { name: 'data/big', content: 'x'.repeat(1000) },
  { name: 'data/sub', dir: true },
  { name: 'data/sub/deep', content: 'deep' },
  { name: 'etc', dir: true },
  { name: 'etc/conf', content: 'a=1\n' },
];

const CHANGES: TarSpec[] = [
  { name: '.wh.d\xff', marker: true },
  { name: 'cache', dir: true },
  { name: 'cache/.wh..wh..opq', marker: true },
  { name: 'cache/c', content: 'c' },
  { name: 'data', dir: true, mode: 0o750, uid: 12345, gid: 54321 },
  { name: 'data/.wh.big', marker: true },
  { name: 'etc', dir: true },
  { name: 'etc/conf', content: 'a=2\nb=3\n' },
  { name: 'etc/new', content: 'new' },
  { name: 'new\xfe', dir: true },
  { name: 'new\xfe/f', content: 'ff' },
];

/** One entry as a line: mark, kind, size, name bytes (hex where not ASCII), and flags. */
function line(e: FileEntry): string {
  const mark = { added: 'A', changed: 'C', deleted: 'D' }[e.mark ?? ''] ?? '-';
  const name = [...e.name].map((c) => (c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : `\\x${c.toString(16)}`)).join('');
  const flags = `${e.opaque ? ' opaque' : ''}${e.hasChildren ? ' +' : ''}${e.linkTarget ? ` -> ${e.linkTarget.toString('latin1')}` : ''}`;
  return `${mark} ${e.kind} ${e.size} ${name}${flags}`;
}

async function open(t: Tap.Test, driver: 'overlay2' | 'vfs', layers: TarSpec[][] = [BASE, CHANGES]) {
  const root = t.testdir({});
  const built = await storeOfTars(root, driver, layers);
  const { model, driver: drv } = await openStore({ root });
  const src: LayerFilesSource = { model, driver: drv, warnings: [] };
  const image = model.images.get(built.imageId)!;
  return { root, built, src, image, model };
}

const LAYER_ROOT = ['C dir 1 cache opaque +', 'C dir 0 data +', 'D dir 6 d\\xff +', 'C dir 11 etc +', 'A dir 2 new\\xfe +'];
const MERGED_ROOT = ['- dir 5 bin +', 'C dir 1 cache opaque +', '- file 5 caf\\xe9.txt', 'C dir 4 data +', 'D dir 6 d\\xff +', 'C dir 11 etc +', 'A dir 2 new\\xfe +'];

async function checkViews(t: Tap.Test, src: LayerFilesSource, image: Parameters<typeof layerChanges>[1], opts: { opaque: boolean }) {
  const strip = (lines: string[]) => (opts.opaque ? lines : lines.map((l) => l.replace(' opaque', '')));
  const layer = layerChanges(src, image, 1);
  t.same((await layer.list(B(''))).map(line), strip(LAYER_ROOT), 'layer view, root');
  t.same((await layer.list(B('cache'))).map(line), ['D file 4 a', 'D file 2 b', 'A file 1 c'], 'opaque dir: lower entries deleted, its own added');
  t.same((await layer.list(B('data'))).map(line), ['D file 1000 big'], 'a whiteout deletes the file');
  t.same((await layer.list(B('d\xff'))).map(line), ['D file 6 inner'], 'under a deleted directory everything is deleted');
  t.same((await layer.list(B('etc'))).map(line), ['C file 8 conf', 'A file 3 new'], 'changed and added by whether the path exists below');
  t.same((await layer.list(B('bin'))).map(line), [], 'a directory the layer does not touch has nothing in the layer view');
  t.same(await layer.totals(), { files: 4, bytes: 1 + 8 + 3 + 2 }, 'layer totals: its own files');

  const merged = mergedView(src, image, 1);
  t.same((await merged.list(B(''))).map(line), strip(MERGED_ROOT), 'merged view, root');
  t.same((await merged.list(B('data'))).map(line), ['D file 1000 big', '- dir 4 sub +'], 'merged: untouched entries unmarked, deleted ones listed');
  t.same((await merged.list(B('data/sub'))).map(line), ['- file 4 deep']);
  t.same((await merged.list(B('cache'))).map(line), ['D file 4 a', 'D file 2 b', 'A file 1 c']);
  t.same(await merged.totals(), { files: 9, bytes: 5 + 5 + 1 + 4 + 8 + 3 + 2 });

  const [data] = (await merged.list(B(''))).filter((e) => e.name.equals(B('data')));
  t.same([data.mode, data.uid, data.gid], [0o40750, 12345, 54321], 'mode, uid, gid of a directory');
  const caf = (await merged.list(B(''))).find((e) => e.kind === 'file')!; // 'cache' sorts before 'caf\xe9.txt': bytes, not locale
  t.ok(caf.name.equals(Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x2e, 0x74, 0x78, 0x74])), 'a non-UTF-8 name comes as its bytes');
  t.ok(caf.path.equals(caf.name), 'a root entry has its name as path');
  const [inner] = await layer.list(B('d\xff'));
  t.ok(inner.path.equals(Buffer.from([0x64, 0xff, 0x2f, 0x69, 0x6e, 0x6e, 0x65, 0x72])), 'paths are bytes');
}

for (const driver of ['overlay2', 'vfs'] as const) {
  t.test(`${driver}: the views from tar-splits`, async (t) => {
    const { src, image, root, built } = await open(t, driver);
    await checkViews(t, src, image, { opaque: true });
    const base = mergedView(src, image, 0);
    t.same((await base.list(B(''))).map(line), ['A dir 5 bin +', 'A dir 6 cache +', 'A file 5 caf\\xe9.txt', 'A dir 1004 data +', 'A dir 6 d\\xff +', 'A dir 4 etc +'], 'the base layer: everything added');
    t.same((await base.list(B('bin'))).map(line), ['A hardlink 0 hard -> bin/sh', 'A symlink 0 link -> sh', 'A file 5 sh'], 'a hard link counts 0 bytes (its target counts them), links keep their targets');
    t.same(await layerChanges(src, image, 0).totals(), { files: 10, bytes: 5 + 5 + 4 + 2 + 6 + 1000 + 4 + 4 });
    t.same(src.warnings, []);
    // Read once per store: a new source over the same model (the TUI's wasted-space view makes one) reuses it.
    await writeFile(join(root, 'image', driver, 'layerdb', 'sha256', built.layers[1].chainId.slice(7), 'tar-split.json.gz'), 'damaged after it was read');
    const again: LayerFilesSource = { model: src.model, driver: src.driver, warnings: [] };
    t.same((await layerChanges(again, image, 1).list(B('etc'))).map(line), ['C file 8 conf', 'A file 3 new']);
    t.same(again.warnings, []);
  });

  t.test(`${driver}: a layer without tar-split is read through the driver, one directory at a time`, async (t) => {
    const { src, image, built, root } = await open(t, driver);
    rmSync(join(root, 'image', driver, 'layerdb', 'sha256', built.layers[1].chainId.slice(7), 'tar-split.json.gz'));
    if (driver === 'overlay2' && nativeHelpers() === null) {
      // without the native scan overlay2's opaque xattr is not read: said, not guessed
      await layerChanges(src, image, 1).list(B(''));
      t.match(src.warnings.map((w) => w.message), [/opaque directories cannot be told without strata's native helper/]);
      return;
    }
    // vfs keeps full copies: the opaque directory is seen as its lower entries deleted, not as opaque
    await checkViews(t, src, image, { opaque: driver === 'overlay2' });
    t.same(src.warnings, []);
  });

  t.test(`${driver}: read through the driver alone, the totals are the tar-splits' (a hard-linked file counted once)`, async (t) => {
    if (driver === 'overlay2' && nativeHelpers() === null) return t.pass('overlay2 without the native scan cannot tell opaque directories (its warning is checked above)');
    const { src, image, built, root } = await open(t, driver);
    for (const l of built.layers) rmSync(join(root, 'image', driver, 'layerdb', 'sha256', l.chainId.slice(7), 'tar-split.json.gz'));
    t.same(await mergedView(src, image, 1).totals(), { files: 9, bytes: 5 + 5 + 1 + 4 + 8 + 3 + 2 });
    // On disk the two names are one inode; the first in walk order is the file, the other a link to it.
    t.same((await mergedView(src, image, 0).list(B('bin'))).map(line), ['A file 5 hard', 'A symlink 0 link -> sh', 'A hardlink 0 sh -> bin/hard']);
  });

  t.test(`${driver}: a directory the driver cannot list is an error for that directory and a warning`, async (t) => {
    if (driver === 'overlay2' && nativeHelpers() === null) return t.pass('overlay2 without the native scan cannot tell opaque directories (its warning is checked above)');
    const { src, image, built, root } = await open(t, driver);
    rmSync(join(root, 'image', driver, 'layerdb', 'sha256', built.layers[1].chainId.slice(7), 'tar-split.json.gz'));
    const real = src.driver!;
    const failing = Object.create(real) as typeof real;
    failing.listDirectory = async (layer, dir) => {
      if (dir.equals(B('etc'))) throw new StrataError('permission denied', { file: join(real.contentDir(layer.cacheId), 'etc') });
      return real.listDirectory(layer, dir);
    };
    src.driver = failing;
    const layer = layerChanges(src, image, 1);
    await t.rejects(layer.list(B('etc')), { message: /\/etc: permission denied$/ });
    t.same((await layer.list(B('cache'))).map(line), ['D file 4 a', 'D file 2 b', 'A file 1 c'], 'the other directories still list');
    const listed = await layer.list(B(''));
    t.equal(listed.length, LAYER_ROOT.length, 'and so does the root');
    t.ok(listed.find((e) => e.name.equals(B('etc')))?.hasChildren, 'the directory stays, expandable, to show its error');
    t.same(src.warnings.map((w) => w.message), ['permission denied']);
  });

  t.test(`${driver}: an unreadable tar-split is a warning and an error for that layer, not a crash`, async (t) => {
    const { src, image, built, root } = await open(t, driver);
    const split = join(root, 'image', driver, 'layerdb', 'sha256', built.layers[1].chainId.slice(7), 'tar-split.json.gz');
    writeFileSync(split, 'not gzip at all');
    await t.rejects(layerChanges(src, image, 1).list(B('')), { message: new RegExp(`^${split}: unreadable tar-split: `) });
    await t.rejects(mergedView(src, image, 1).totals(), { message: /unreadable tar-split/ });
    t.equal(src.warnings.length, 1, 'one warning for the layer, however many views ask');
    t.equal(src.warnings[0].file, split);
    // Another source over the same store shares what was read, and gets the warning too.
    const other: LayerFilesSource = { model: src.model, driver: src.driver, warnings: [] };
    await t.rejects(mergedView(other, image, 1).list(B('')), { message: /unreadable tar-split/ });
    t.same(other.warnings, src.warnings);
    t.same((await layerChanges(src, image, 0).list(B('etc'))).map(line), ['A file 4 conf'], 'the layer below still lists');
  });
}

t.test('long names: ustar prefix, PAX path and linkpath records', async (t) => {
  const long = `p/${'a'.repeat(120)}`;
  const { src, image } = await open(t, 'overlay2', [
    [
      { name: `${long}/f`, content: 'q' },
      { name: 'l', symlink: 'z'.repeat(150) },
      { name: 'h', hardlink: `${long}/f` },
    ],
  ]);
  const merged = mergedView(src, image, 0);
  t.same((await merged.list(B(''))).map(line), [`A hardlink 0 h -> ${long}/f`, `A symlink 0 l -> ${'z'.repeat(150)}`, 'A dir 1 p +']);
  const [dir] = await merged.list(B('p'));
  t.ok(dir.path.equals(B(long)), 'the prefix and name fields joined');
  const [file] = await merged.list(dir.path);
  t.same([file.name.toString('latin1'), file.size], ['f', 1]);
});

t.test('views of a layer the image does not have are refused', async (t) => {
  const { src, image } = await open(t, 'vfs');
  await t.rejects(mergedView(src, image, 2).list(B('')), { message: /has no layer 2 \(it has 2\)/ });
  await t.rejects(layerChanges(src, image, -1).totals(), { message: /has no layer -1/ });
  t.same((await mergedView(src, image, 1).list(B('d\xff'))).map(line), ['D file 6 inner'], 'a deleted directory lists what it held, deleted');
  t.same((await mergedView(src, image, 1).list(B('etc/conf'))).map(line), [], 'a file lists nothing');
});

