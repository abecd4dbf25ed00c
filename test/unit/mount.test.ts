// Mounts as data, carried out by the one mount module: a read-only overlay of a chain as deep as Docker
// allows (128 layers) fits the kernel's option limit through the short l/ links; vfs bind mounts.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import t from 'tap';
import { contentPadding, encodeHeader, END_OF_ARCHIVE, TYPE } from '../../drivers/archive/tar-header.js';
import { openDriver } from '../../drivers/index.js';
import { aufsAsFuseOverlay, executeMount, unmount } from '../../drivers/mount.js';

function layerTar(i: number): Buffer {
  const body = Buffer.from(`layer ${i}\n`);
  return Buffer.concat([
    encodeHeader({ name: `layers/${i}.txt`, type: TYPE.file, mode: 0o100644, uid: 0, gid: 0, size: body.length, mtime: 1_700_000_000 }),
    body,
    contentPadding(body.length),
    END_OF_ARCHIVE,
  ]);
}

t.test('overlay2: a 128-layer image mounts read-only with every layer visible', async (t) => {
  const root = t.testdir({ mnt: {} });
  const driver = openDriver('overlay2', root)!;
  let parent: string | null = null;
  for (let i = 0; i < 128; i++) {
    const cacheId = `${i}`.padStart(64, '0');
    await driver.apply({ cacheId, parentCacheId: parent }, Readable.from([layerTar(i)]));
    parent = cacheId;
  }
  const target = join(root, 'mnt');
  const [desc, ...rest] = driver.mounts({ cacheId: parent!, parentCacheId: null }, target, { readOnly: true });
  t.same(rest, []);
  t.equal(desc.type, 'overlay');
  t.ok(desc.options.join(',').length < 4096, `options fit a page (${desc.options.join(',').length} bytes)`);
  executeMount(desc);
  t.teardown(() => existsSync(join(target, 'layers')) && unmount(target));
  t.equal(readdirSync(join(target, 'layers')).length, 128, 'all 128 layers merged');
  t.equal(readFileSync(join(target, 'layers', '0.txt'), 'utf8'), 'layer 0\n');
  t.throws(() => writeFileSync(join(target, 'x'), ''), /EROFS|read-only/i);
  unmount(target);
  t.same(readdirSync(target), [], 'unmounted');
});

t.test('vfs: a read-only bind mount', async (t) => {
  const root = t.testdir({ mnt: {} });
  const driver = openDriver('vfs', root)!;
  await driver.apply({ cacheId: 'a'.repeat(64), parentCacheId: null }, Readable.from([layerTar(1)]));
  const target = join(root, 'mnt');
  const descs = driver.mounts({ cacheId: 'a'.repeat(64), parentCacheId: null }, target, { readOnly: true });
  t.same(descs, [{ type: 'bind', source: join(root, 'vfs', 'dir', 'a'.repeat(64)), target, options: ['ro', 'rbind'] }]);
  executeMount(descs[0]);
  t.equal(readFileSync(join(target, 'layers', '1.txt'), 'utf8'), 'layer 1\n');
  t.throws(() => writeFileSync(join(target, 'x'), ''), /EROFS|read-only/i);
  unmount(target);
});

t.test('aufs descriptions become fuse-overlayfs options when the kernel has no aufs', async (t) => {
  t.same(aufsAsFuseOverlay({ type: 'aufs', source: 'none', target: '/m', options: ['br:/s/aufs/diff/top=ro+wh:/s/aufs/diff/low=ro+wh', 'ro'] }), ['lowerdir=/s/aufs/diff/top:/s/aufs/diff/low']);
  t.same(aufsAsFuseOverlay({ type: 'aufs', source: 'none', target: '/m', options: ['br:/s/aufs/diff/top=rw:/s/aufs/diff/low=ro+wh'] }), [
    'lowerdir=/s/aufs/diff/low',
    'upperdir=/s/aufs/diff/top',
    'workdir=/s/aufs/mnt/top-work',
  ]);
});
