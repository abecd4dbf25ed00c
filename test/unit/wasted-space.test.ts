// Wasted space (inspect/wasted-space.ts): files of lower layers a later layer overwrote, deleted by whiteout,
// replaced a directory above, or hid under an opaque directory; summed per image, largest first.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { nativeHelpers } from '../../native/index.js';
import { openStore } from '../../inspect/open-store.js';
import type { LayerFilesSource } from '../../inspect/layer-files.js';
import { wastedSpace, type WastedFile } from '../../inspect/wasted-space.js';
import { storeOfTars, type TarSpec } from '../helpers/layer-store.js';

const LAYERS: TarSpec[][] = [
  [
    { name: 'big', content: 'x'.repeat(5000) },
    { name: 'del', content: 'y'.repeat(3000) },
    { name: 'dir', dir: true },
    { name: 'dir/a', content: 'a'.repeat(100) },
    { name: 'dir2', dir: true },
    { name: 'dir2/b', content: 'b'.repeat(50) },
    { name: 'keep', content: 'k' },
    { name: 'hard', hardlink: 'keep' },
    { name: 'name\xff', content: 'zz' },
  ],
  [
    { name: 'big', content: 'X'.repeat(10) },
    { name: 'dir2', content: 'now a file' },
    { name: 'hard', content: 'h' },
  ],
  [
    { name: '.wh.del', marker: true },
    { name: 'big', content: 'Y' },
    { name: 'dir', dir: true },
    { name: 'dir/.wh..wh..opq', marker: true },
    { name: 'dir/new', content: 'n' },
    { name: 'name\xff', content: 'ZZZ' },
  ],
];

const row = (f: WastedFile) => `${f.bytes} ${f.path.toString('hex')} ${f.layerIndex} ${f.by} ${f.byLayerIndex}`;
const hex = (s: string) => Buffer.from(s, 'latin1').toString('hex');

const EXPECTED = [
  `5000 ${hex('big')} 0 overwritten 1`,
  `3000 ${hex('del')} 0 deleted 2`,
  `100 ${hex('dir/a')} 0 deleted 2`,
  `50 ${hex('dir2/b')} 0 deleted 1`,
  `10 ${hex('big')} 1 overwritten 2`,
  `2 ${hex('name\xff')} 0 overwritten 2`,
];

async function open(t: Tap.Test, driver: 'overlay2' | 'vfs') {
  const root = t.testdir({});
  const built = await storeOfTars(root, driver, LAYERS);
  const { model, driver: drv } = await openStore({ root });
  const src: LayerFilesSource = { model, driver: drv, warnings: [] };
  const split = (i: number) => join(root, 'image', driver, 'layerdb', 'sha256', built.layers[i].chainId.slice(7), 'tar-split.json.gz');
  return { src, image: model.images.get(built.imageId)!, split };
}

for (const driver of ['overlay2', 'vfs'] as const) {
  t.test(`${driver}: overwritten, whited out, under a replaced directory, under an opaque one; largest first`, async (t) => {
    const { src, image } = await open(t, driver);
    const report = await wastedSpace(src, image);
    t.equal(report.imageId, image.id);
    t.same(report.files.map(row), EXPECTED, 'a hard link counts nothing (its bytes are its target\'s), a file still seen counts nothing');
    t.equal(report.bytes, 5000 + 3000 + 100 + 50 + 10 + 2);
    t.same(report.unread, []);
  });

  t.test(`${driver}: the same from the driver's listings when no layer has a tar-split`, async (t) => {
    if (driver === 'overlay2' && nativeHelpers() === null) return t.pass('overlay2 without the native scan cannot tell opaque directories');
    const { src, image, split } = await open(t, driver);
    for (let i = 0; i < LAYERS.length; i++) rmSync(split(i));
    const report = await wastedSpace(src, image);
    // Read from disk a hard link is a file like any other: on overlay2 `hard` (1 byte) counts once layer 1
    // overwrites it; vfs's comparison (like dockerd's naive diff) sees the same size and mtime, so no change.
    t.same(report.files.map(row), driver === 'overlay2' ? [...EXPECTED, `1 ${hex('hard')} 0 overwritten 1`] : EXPECTED);
    t.same(report.unread, []);
  });

  t.test(`${driver}: an unreadable layer is named, the rest still counted`, async (t) => {
    const { src, image, split } = await open(t, driver);
    writeFileSync(split(1), 'garbage');
    const report = await wastedSpace(src, image);
    t.same(report.unread.map((u) => u.layerIndex), [1]);
    t.match(report.unread[0].reason, /unreadable tar-split/);
    t.same(report.files.map(row), [`5000 ${hex('big')} 0 overwritten 2`, `3000 ${hex('del')} 0 deleted 2`, `100 ${hex('dir/a')} 0 deleted 2`, `2 ${hex('name\xff')} 0 overwritten 2`], 'what layer 1 did is unknown; layer 2 still overwrote and deleted');
    t.equal(src.warnings.length, 1);
  });
}
