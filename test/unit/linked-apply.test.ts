// Files linked instead of copied (migrate between directory drivers on one filesystem): the tar-split
// stream with each file's content left on disk (linkedFromTarSplit), the tar reader that reads such a
// content only when asked (readTar), and apply's linkFiles, which links a file only when the inode on disk
// already carries every bit of metadata its entry gives — never changing the source's file.
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { applyLayerTar } from '../../drivers/archive/apply.js';
import { assembleFromTarSplit, linkedFromTarSplit } from '../../drivers/archive/assemble.js';
import { bytesOf } from '../../drivers/archive/chunks.js';
import { readTar } from '../../drivers/archive/tar-reader.js';
import { openDriver } from '../../drivers/index.js';
import { nativeHelpers } from '../../native/index.js';
import { storeOfTars, type TarSpec } from '../helpers/layer-store.js';

const LAYER: TarSpec[] = [
  { name: 'etc', dir: true },
  { name: 'etc/os', content: 'base\n' },
  { name: 'bin', dir: true },
  // Over a MiB: read out in several pieces when its bytes are asked for.
  { name: 'bin/big', content: 'x'.repeat(1_500_000), mode: 0o755 },
  { name: 'bin/empty', content: '' },
  { name: 'bin/sh', symlink: 'big' },
];
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const canLink = typeof nativeHelpers()?.linkFd === 'function';

async function layerOf(root: string) {
  const { layers } = await storeOfTars(root, 'overlay2', [LAYER]);
  const [layer] = layers;
  const driver = openDriver('overlay2', root)!;
  const tarSplit = join(root, 'image', 'overlay2', 'layerdb', 'sha256', layer.chainId.slice(7), 'tar-split.json.gz');
  return { driver, layer, tarSplit, diff: join(root, 'overlay2', layer.cacheId, 'diff') };
}

/** The layer's linked stream applied into a new directory `dir/dest` (aufs whiteouts). */
async function applyLinked(dir: string, l: Awaited<ReturnType<typeof layerOf>>, linkFiles: boolean) {
  const dest = join(dir, 'dest');
  mkdirSync(dest);
  const files = l.driver.openLayer(l.layer.cacheId);
  try {
    return { dest, r: await applyLayerTar(linkedFromTarSplit(l.tarSplit, files), dest, { whiteouts: 'aufs', linkFiles }) };
  } finally {
    files.close();
  }
}

t.test('read through: each content of the linked stream reads as the exact rebuild gives it', async (t) => {
  const { driver, layer, tarSplit } = await layerOf(join(t.testdir(), 'src'));
  const exact: Buffer[] = [];
  for await (const p of assembleFromTarSplit(tarSplit, driver.openLayer(layer.cacheId))) exact.push(...bytesOf(p));
  const fromExact = new Map<string, string>();
  for await (const item of readTar(exact)) {
    const parts: Buffer[] = [];
    for await (const b of item.content) parts.push(b);
    fromExact.set(item.entry.name, sha(Buffer.concat(parts)));
  }
  const files = driver.openLayer(layer.cacheId);
  const fromLinked = new Map<string, string>();
  const linkedNames: string[] = [];
  for await (const item of readTar(linkedFromTarSplit(tarSplit, files))) {
    if (item.linked) linkedNames.push(item.entry.name);
    const parts: Buffer[] = [];
    for await (const b of item.content) parts.push(b);
    fromLinked.set(item.entry.name, sha(Buffer.concat(parts)));
  }
  files.close();
  t.same(fromLinked, fromExact, 'the same entries, the same bytes');
  t.same(linkedNames.sort(), ['bin/big', 'etc/os'], 'the non-empty regular files come as files on disk');
});

t.test('skipped: a content nobody reads is not read, and what follows still parses', async (t) => {
  const { driver, layer, tarSplit } = await layerOf(join(t.testdir(), 'src'));
  const files = driver.openLayer(layer.cacheId);
  const names: string[] = [];
  for await (const item of readTar(linkedFromTarSplit(tarSplit, files))) names.push(item.entry.name);
  files.close();
  t.same(names, ['etc/', 'etc/os', 'bin/', 'bin/big', 'bin/empty', 'bin/sh']);
});

t.test('apply with linkFiles: the source files themselves, their metadata untouched', { skip: !canLink && 'native helpers without linkFd' }, async (t) => {
  const dir = t.testdir();
  const src = layerOf(join(dir, 'src'));
  const { diff } = await src;
  const before = ['etc/os', 'bin/big'].map((n) => lstatSync(join(diff, n), { bigint: true }));
  const { dest, r } = await applyLinked(dir, await src, true);
  t.equal(r.linked, 2, 'two files linked');
  for (const [k, n] of ['etc/os', 'bin/big'].entries()) {
    const st = lstatSync(join(dest, n), { bigint: true });
    t.equal(st.ino, before[k].ino, `${n}: the source's inode`);
    t.equal(st.nlink, before[k].nlink + 1n, `${n}: one more link`);
    t.same([st.mode, st.uid, st.gid, st.mtimeNs], [before[k].mode, before[k].uid, before[k].gid, before[k].mtimeNs], `${n}: mode, owner and mtime as they were`);
  }
  t.not(lstatSync(join(dest, 'bin/empty')).ino, lstatSync(join(diff, 'bin/empty')).ino, 'an empty file is made, not linked');
  t.ok(lstatSync(join(dest, 'bin/sh')).isSymbolicLink(), 'a symlink is made');
});

t.test('apply with linkFiles: a file whose metadata is not its record is copied, the source left as it is', { skip: !canLink && 'native helpers without linkFd' }, async (t) => {
  const dir = t.testdir();
  const src = layerOf(join(dir, 'src'));
  const { diff } = await src;
  // Touched after it was applied: the inode no longer has its entry's mtime.
  utimesSync(join(diff, 'etc/os'), 1_800_000_000, 1_800_000_000);
  const { dest, r } = await applyLinked(dir, await src, true);
  t.equal(r.linked, 1, 'only bin/big linked');
  const copy = lstatSync(join(dest, 'etc/os'));
  t.not(copy.ino, lstatSync(join(diff, 'etc/os')).ino, 'etc/os is a copy');
  t.equal(copy.mtimeMs, 1_700_000_000_000, 'with its record’s mtime');
  t.equal(readFileSync(join(dest, 'etc/os'), 'utf8'), 'base\n', 'and its bytes');
  t.equal(lstatSync(join(diff, 'etc/os')).mtimeMs, 1_800_000_000_000, 'the source keeps its own');
});

t.test('apply without linkFiles: the linked stream is copied, byte for byte', async (t) => {
  const dir = t.testdir();
  const src = layerOf(join(dir, 'src'));
  const { diff } = await src;
  const { dest, r } = await applyLinked(dir, await src, false);
  t.equal(r.linked, 0);
  t.not(lstatSync(join(dest, 'bin/big')).ino, lstatSync(join(diff, 'bin/big')).ino, 'a copy');
  t.equal(sha(readFileSync(join(dest, 'bin/big'))), sha(Buffer.from('x'.repeat(1_500_000))), 'every byte');
});
