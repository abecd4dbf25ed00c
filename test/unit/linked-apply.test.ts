// Files linked instead of copied (migrate between directory drivers on one filesystem): the tar-split
// stream with each file's content left on disk (linkedFromTarSplit), the tar reader that reads such a
// content only when asked (readTar), and apply's linkFiles, which links a file only when the inode on disk
// already carries every bit of metadata its entry gives — never changing the source's file.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { applyLayerTar } from '../../drivers/archive/apply.js';
import { assembleFromTarSplit, linkedFromTarSplit } from '../../drivers/archive/assemble.js';
import { bytesOf } from '../../drivers/archive/chunks.js';
import { readTar } from '../../drivers/archive/tar-reader.js';
import { contentPadding, encodeHeader, END_OF_ARCHIVE, TYPE } from '../../drivers/archive/tar-header.js';
import { TarSplitWriter } from '../../drivers/archive/tar-split-writer.js';
import { openLayerDir } from '../../native/open-beneath.js';
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
/** The native batches (linkFiles): the path a migration takes on this machine. */
const canBatch = typeof nativeHelpers()?.linkFiles === 'function';

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

// Tar-splits no real layer would have (the source may be hostile): recorded from a tar the test writes,
// replayed over a directory holding the files the test puts there.
const MTIME = 1_700_000_000;
const fileHeader = (name: string, body: string, more: { mode?: number; mtime?: number } = {}) => [
  encodeHeader({ name: Buffer.from(name), type: TYPE.file, mode: 0o100000 | (more.mode ?? 0o644), uid: 0, gid: 0, size: body.length, mtime: more.mtime ?? MTIME }),
  Buffer.from(body),
  contentPadding(body.length),
];

async function replay(dir: string, tar: Buffer[], files: Array<[string, string]>, opts: { whiteouts?: 'aufs' | 'overlay'; impliedTimes?: boolean; prepare?: (layer: string) => void } = {}) {
  mkdirSync(dir, { recursive: true });
  const scratch = join(dir, 'scratch');
  mkdirSync(scratch);
  const writer = new TarSplitWriter();
  await applyLayerTar([Buffer.concat([...tar, END_OF_ARCHIVE])], scratch, { whiteouts: 'aufs', tarSplit: writer });
  writeFileSync(join(dir, 'tar-split.json.gz'), writer.finish());
  const layer = join(dir, 'layer');
  mkdirSync(layer);
  for (const [name, body] of files) {
    mkdirSync(join(layer, name, '..'), { recursive: true });
    writeFileSync(join(layer, name), body);
    chmodSync(join(layer, name), 0o644);
    utimesSync(join(layer, name), MTIME, MTIME);
  }
  opts.prepare?.(layer);
  const dest = join(dir, 'dest');
  mkdirSync(dest);
  const opened = openLayerDir(layer, []);
  try {
    const r = await applyLayerTar(linkedFromTarSplit(join(dir, 'tar-split.json.gz'), opened), dest, { whiteouts: opts.whiteouts ?? 'aufs', linkFiles: true, impliedTimes: opts.impliedTimes });
    return { r, layer, dest };
  } finally {
    opened.close();
  }
}

t.test('a hard link to a linked file whose header says other metadata: the layer gets a copy, the source keeps its own', { skip: !canLink && 'native helpers without linkFd' }, async (t) => {
  const dir = t.testdir();
  const tar = [...fileHeader('f', 'x'), encodeHeader({ name: Buffer.from('h'), type: TYPE.hardlink, mode: 0o104755, uid: 0, gid: 0, size: 0, mtime: 5, linkname: Buffer.from('f') })];
  const { r, layer, dest } = await replay(dir, tar, [['f', 'x']]);
  t.equal(r.linked, 1, 'f was linked first');
  const src = lstatSync(join(layer, 'f'));
  t.same([src.mode & 0o7777, src.mtimeMs], [0o644, MTIME * 1000], 'the source file keeps its mode and mtime');
  t.not(lstatSync(join(dest, 'f')).ino, src.ino, "f is now the layer's own copy");
  t.equal(lstatSync(join(dest, 'h')).ino, lstatSync(join(dest, 'f')).ino, 'h is a link of that copy');
  t.equal(lstatSync(join(dest, 'h')).mode & 0o7777, 0o4755, "with h's header's mode, as dockerd's apply gives it");
});

t.test('a hard link to a linked file whose header says the same: another name of the source file, nothing set', { skip: !canLink && 'native helpers without linkFd' }, async (t) => {
  const dir = t.testdir();
  const tar = [...fileHeader('f', 'x'), encodeHeader({ name: Buffer.from('h'), type: TYPE.hardlink, mode: 0o100644, uid: 0, gid: 0, size: 0, mtime: MTIME, linkname: Buffer.from('f') })];
  const { layer, dest } = await replay(dir, tar, [['f', 'x']]);
  const src = lstatSync(join(layer, 'f'));
  t.equal(lstatSync(join(dest, 'h')).ino, src.ino, 'h is the source file');
  t.same([src.mode & 0o7777, src.mtimeMs, src.nlink], [0o644, MTIME * 1000, 3], 'its metadata as it was, three names');
});

t.test('a directory implied, then replaced by a linked file: its directory times go nowhere', { skip: !canLink && 'native helpers without linkFd' }, async (t) => {
  const dir = t.testdir();
  // a/b (empty) implies a directory a, stamped with a/b's mtime under impliedTimes; then a is a file.
  const tar = [...fileHeader('a/b', '', { mtime: 5 }), ...fileHeader('a', 'x')];
  const two = await replay(dir, tar, [['a', 'x']], { impliedTimes: true });
  t.equal(two.r.linked, 1, 'a was linked');
  t.equal(lstatSync(join(two.layer, 'a')).mtimeMs, MTIME * 1000, "the source file's mtime is its own");
  t.ok(lstatSync(join(two.dest, 'a')).isFile(), 'a is a file in the layer');
});

t.test('aufs: a whiteout with content is made, never linked', { skip: !canLink && 'native helpers without linkFd' }, async (t) => {
  const dir = t.testdir();
  const { r, layer, dest } = await replay(dir, fileHeader('.wh.x', 'zz'), [['.wh.x', 'zz']]);
  t.equal(r.linked, 0);
  t.not(lstatSync(join(dest, '.wh.x')).ino, lstatSync(join(layer, '.wh.x')).ino, 'a file of its own');
});

t.test('a file with an extended attribute its record does not name: copied', { skip: !canLink && 'native helpers without linkFd' }, async (t) => {
  const dir = t.testdir();
  const probe = join(dir, 'probe');
  writeFileSync(probe, '');
  if (spawnSync('setfattr', ['-n', 'user.strata', '-v', '1', probe]).status !== 0) return t.skip('user xattrs unsupported here');
  const { r } = await replay(join(dir, 'plain'), fileHeader('f', 'x'), [['f', 'x']]);
  t.equal(r.linked, 1, 'without the attribute it links');
  const setAttr = (layer: string) => t.equal(spawnSync('setfattr', ['-n', 'user.strata', '-v', '1', join(layer, 'f')]).status, 0, 'user.strata set on the source file');
  const withAttr = await replay(join(dir, 'xattr'), fileHeader('f', 'x'), [['f', 'x']], { prepare: setAttr });
  t.equal(withAttr.r.linked, 0, 'with it, copied');
  t.not(lstatSync(join(withAttr.dest, 'f')).ino, lstatSync(join(withAttr.layer, 'f')).ino);
});

t.test('linked in batches: more files than one batch, each the source inode; a file that changed is copied; later entries see every earlier file', { skip: !canBatch && 'native helpers without linkFiles' }, async (t) => {
  const dir = t.testdir();
  const names = Array.from({ length: 1300 }, (_, i) => `d${i % 3}/f${String(i).padStart(4, '0')}`);
  const dirs = ['d0', 'd1', 'd2'].map((d) => encodeHeader({ name: Buffer.from(`${d}/`), type: TYPE.dir, mode: 0o40755, uid: 0, gid: 0, size: 0, mtime: MTIME }));
  const tar = [
    ...dirs,
    ...names.flatMap((n) => fileHeader(n, `${n}\n`)),
    // After them all: a hard link to the first file (same metadata: another name of the source inode), a
    // whiteout of another (overlay: the file goes, a 0:0 device takes its place) and a symlink.
    encodeHeader({ name: Buffer.from('d0/hard'), type: TYPE.hardlink, mode: 0o100644, uid: 0, gid: 0, size: 0, mtime: MTIME, linkname: Buffer.from(names[0]) }),
    ...fileHeader(`d1/.wh.${names[1].slice(3)}`, ''),
    encodeHeader({ name: Buffer.from('d2/link'), type: TYPE.symlink, mode: 0o120777, uid: 0, gid: 0, size: 0, mtime: MTIME, linkname: Buffer.from(names[2].slice(3)) }),
  ];
  const files: Array<[string, string]> = names.map((n) => [n, `${n}\n`]);
  const changed = names[700];
  // Touched after the layer was made: no longer what its record says.
  const { r: result, layer, dest: again } = await replay(dir, tar, files, { whiteouts: 'overlay', prepare: (l) => utimesSync(join(l, changed), MTIME + 1, MTIME + 1) });
  t.equal(result.linked, names.length - 1, 'every file but the changed one linked (the whited-out one too, before its whiteout came)');
  const src = (n: string) => lstatSync(join(layer, n));
  const got = (n: string) => lstatSync(join(again, n));
  const wrong = names.filter((n) => n !== changed && n !== names[1] && got(n).ino !== src(n).ino);
  t.same(wrong, [], 'each linked file is the source inode');
  t.not(got(changed).ino, src(changed).ino, 'the changed file is a copy');
  t.equal(got(changed).mtimeMs, MTIME * 1000, 'with its record’s mtime');
  t.equal(readFileSync(join(again, changed), 'utf8'), `${changed}\n`, 'and its bytes');
  t.equal(src(changed).mtimeMs, (MTIME + 1) * 1000, 'the source keeps its own');
  t.equal(got('d0/hard').ino, src(names[0]).ino, 'the hard link after them found its target linked');
  const wh = got(names[1]);
  t.ok(wh.isCharacterDevice() && wh.rdev === 0, 'the whiteout replaced the file it names (after that file landed)');
  t.equal(src(names[1]).nlink, 1, 'and the source file it named was not left linked');
  t.ok(got('d2/link').isSymbolicLink());
});

t.test('linked in batches: a file gone from the source layer is named as the unbatched path names it', { skip: !canBatch && 'native helpers without linkFiles' }, async (t) => {
  const dir = t.testdir();
  const names = Array.from({ length: 900 }, (_, i) => `f${String(i).padStart(4, '0')}`);
  const gone = names[600];
  await t.rejects(
    replay(dir, names.flatMap((n) => fileHeader(n, 'x')), names.filter((n) => n !== gone).map((n) => [n, 'x'])),
    { message: new RegExp(`layer/${gone}: missing \\(the layer's tar-split lists it with 1 bytes\\)$`) },
  );
});

/** Every entry below `dir`: name, type, mode, owner, size, mtime (ns), and a file's bytes or a link's target. */
function treeOf(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(dir, rel)).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    const st = lstatSync(join(dir, r), { bigint: true });
    const what = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? `-> ${readlinkSync(join(dir, r))}` : st.isFile() ? sha(readFileSync(join(dir, r))) : `dev ${st.rdev}`;
    out.push(`${r} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.isDirectory() ? '' : st.size} ${st.mtimeNs} ${what}`);
    if (st.isDirectory()) out.push(...treeOf(dir, r));
  }
  return out;
}

t.test('linked in batches: the tree the unbatched apply makes (directory modes and owners, files and links inside queued directories), for every whiteout format', { skip: (!canBatch || process.getuid?.() !== 0) && 'needs linkFiles and root (owners)' }, async (t) => {
  const dir = t.testdir();
  const d = (name: string, mode: number, uid = 0) => encodeHeader({ name: Buffer.from(name), type: TYPE.dir, mode: 0o40000 | mode, uid, gid: uid, size: 0, mtime: MTIME - 7 });
  const globalBody = Buffer.from('17 comment=hello\n');
  const tar = [
    d('a/', 0o2775, 1000),
    ...fileHeader('a/f', 'one'),
    d('a/b/', 0o555),
    ...fileHeader('a/b/g', 'two', { mode: 0o4755 }),
    ...fileHeader('a/b/empty', ''),
    encodeHeader({ name: Buffer.from('a/b/sym'), type: TYPE.symlink, mode: 0o120777, uid: 0, gid: 0, size: 0, mtime: MTIME, linkname: Buffer.from('g') }),
    d('t/', 0o1777),
    d('t/p/', 0o700, 1000),
    ...fileHeader('t/p/q', 'three'),
    // A PAX global header named below a queued directory (UnpackLayer still makes its parents).
    encodeHeader({ name: Buffer.from('t/p/x/gh'), type: 'g' as '0', mode: 0o644, uid: 0, gid: 0, size: globalBody.length, mtime: MTIME }),
    globalBody,
    contentPadding(globalBody.length),
    ...fileHeader('implied/deep/file', 'four'),
  ];
  const files: Array<[string, string]> = [['a/f', 'one'], ['a/b/g', 'two'], ['t/p/q', 'three'], ['implied/deep/file', 'four']];
  for (const whiteouts of ['aufs', 'overlay', 'naive'] as const) {
    const base = join(dir, whiteouts);
    const { r, layer, dest } = await replay(base, tar, files, { whiteouts, impliedTimes: true, prepare: (l) => chmodSync(join(l, 'a/b/g'), 0o4755) });
    t.equal(r.linked, 4, `${whiteouts}: the four files linked`);
    const plain = join(base, 'plain');
    mkdirSync(plain);
    const opened = openLayerDir(layer, []);
    try {
      await applyLayerTar(linkedFromTarSplit(join(base, 'tar-split.json.gz'), opened), plain, { whiteouts, linkFiles: false, impliedTimes: true });
    } finally {
      opened.close();
    }
    t.same(treeOf(dest), treeOf(plain), `${whiteouts}: the same names, types, modes, owners, sizes, times and contents as an apply without links`);
    // copyFiles: the same files written by the native batches, none of them the source's inode.
    const copied = join(base, 'copied');
    mkdirSync(copied);
    const again = openLayerDir(layer, []);
    let c;
    try {
      c = await applyLayerTar(linkedFromTarSplit(join(base, 'tar-split.json.gz'), again), copied, { whiteouts, copyFiles: true, impliedTimes: true });
    } finally {
      again.close();
    }
    t.equal(c.linked, 0, `${whiteouts}: copyFiles links nothing`);
    t.equal(c.copied, files.length, `${whiteouts}: every file copied by the native batches (none redone by JavaScript)`);
    t.same(treeOf(copied), treeOf(plain), `${whiteouts}: copyFiles makes the tree an apply of the bytes makes`);
    const sourceInodes = new Set(files.map(([n]) => lstatSync(join(layer, n)).ino));
    t.notOk(files.some(([n]) => sourceInodes.has(lstatSync(join(copied, n)).ino)), `${whiteouts}: no copied file is a source inode`);
    t.match(treeOf(dest).find((l) => l.startsWith('a ')), /^a 42775 1000:1000 /, `${whiteouts}: a directory made in a batch has its mode and owner`);
  }
});

t.test('copyFiles: a source file that is not what its record says is named as the unbatched path names it', { skip: !canBatch && 'native helpers without linkFiles' }, async (t) => {
  const dir = t.testdir();
  const names = Array.from({ length: 700 }, (_, i) => `f${String(i).padStart(4, '0')}`);
  mkdirSync(join(dir, 'rec'));
  // The layer as recorded, then its file 650 cut short on disk.
  const writer = new TarSplitWriter();
  await applyLayerTar([Buffer.concat([...names.flatMap((n) => fileHeader(n, 'xyz')), END_OF_ARCHIVE])], join(dir, 'rec'), { whiteouts: 'aufs', tarSplit: writer });
  writeFileSync(join(dir, 'tar-split.json.gz'), writer.finish());
  writeFileSync(join(dir, 'rec', names[650]), 'x');
  const dest = join(dir, 'dest');
  mkdirSync(dest);
  const opened = openLayerDir(join(dir, 'rec'), []);
  try {
    await t.rejects(applyLayerTar(linkedFromTarSplit(join(dir, 'tar-split.json.gz'), opened), dest, { whiteouts: 'aufs', copyFiles: true }), { message: new RegExp(`rec/${names[650]}: is 1 bytes, the tar-split recorded 3$`) });
  } finally {
    opened.close();
  }
});
