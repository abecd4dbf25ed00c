// The naive diff (moby's NaiveDiffDriver): for drivers whose layers are complete root filesystems (vfs,
// devicemapper), a layer's own changes are found by comparing it with its parent. Each such driver hands
// in where a layer's files are; the comparison and the export are the same for all of them.
import { changesSize, compareSnapshots, snapshotTree, sortChanges, type Change } from '../snapshots/tree.js';
import { byteString } from '../snapshots/walk.js';
import type { LayerFiles } from '../native/open-beneath.js';
import type { TarPiece } from './archive/chunks.js';
import { exportTree, type ExportItem } from './archive/export-tree.js';
import { changeOf, directoryBeneath, linkTargetOf, readDiskEntries, whiteoutOf, type DiskEntry } from './list-directory.js';
import type { DiffOptions, DirectoryChange, LayerRef } from './types.js';
import { readXattrTree } from './xattrs.js';

export interface FullCopyLayers {
  /** The directory holding the layer's complete root filesystem, checked to be a real one inside the store. */
  checkedContentDir(cacheId: string): string;
  openLayer(cacheId: string): LayerFiles;
}

/**
 * One directory of the layer compared with the same directory of its parent (one directory at a time):
 * entries new or different are changes, the parent's entries gone are whiteouts, directories alike in
 * both are listed as unchanged so their contents can be compared in turn.
 */
export async function naiveListDirectory(layers: FullCopyLayers, layer: LayerRef, dir: Buffer): Promise<DirectoryChange[]> {
  const path = await directoryBeneath(layers.checkedContentDir(layer.cacheId), dir);
  if (path === null) return [];
  const parentPath = layer.parentCacheId === null ? null : await directoryBeneath(layers.checkedContentDir(layer.parentCacheId), dir);
  const older = new Map<string, DiskEntry>();
  if (parentPath) for (const e of await readDiskEntries(parentPath, false)) older.set(e.name.toString('latin1'), e);
  const out: DirectoryChange[] = [];
  for (const e of await readDiskEntries(path, false)) {
    const key = e.name.toString('latin1');
    const before = older.get(key);
    older.delete(key);
    if (before && parentPath && (await sameEntry(path, e, parentPath, before))) {
      if ((e.mode & 0o170000) === 0o040000) out.push(await changeOf(path, e, { unchanged: true }));
      continue;
    }
    out.push(await changeOf(path, e));
  }
  for (const e of older.values()) out.push(whiteoutOf(e.name));
  return out.sort((a, b) => Buffer.compare(a.name, b.name));
}

/** The layer's complete copy compared with its parent's, unsorted. */
function unsortedChanges(layers: FullCopyLayers, layer: LayerRef): Change[] {
  const newer = snapshotTree(layers.checkedContentDir(layer.cacheId));
  const older = layer.parentCacheId === null ? null : snapshotTree(layers.checkedContentDir(layer.parentCacheId));
  return compareSnapshots(older, newer);
}

/** Naive changes, sorted by path as `docker diff` lists them. */
export function naiveChanges(layers: FullCopyLayers, layer: LayerRef): Change[] {
  return sortChanges(unsortedChanges(layers, layer));
}

/** Naive DiffSize: the bytes of added and changed files. */
export function naiveDiffSize(layers: FullCopyLayers, layer: LayerRef): number {
  return changesSize(unsortedChanges(layers, layer));
}

/** Naive diff (moby ExportChanges): changed entries sorted by path, deletions as whiteouts. */
export async function* naiveDiff(layers: FullCopyLayers, layer: LayerRef, opts: DiffOptions = {}): AsyncGenerator<TarPiece> {
  const files = layers.openLayer(layer.cacheId);
  try {
    const changes = naiveChanges(layers, layer);
    const xattrs = await readXattrTree(layers.checkedContentDir(layer.cacheId));
    // Names as bytes: a change's path without its leading "/" (also its name below the layer's directory);
    // its source is where the newer snapshot saw it.
    const items = changes.map((c): ExportItem =>
      c.kind === 'D'
        ? { kind: 'whiteout', name: c.path.subarray(1) }
        : { kind: 'path', name: c.path.subarray(1), source: c.meta!.path, xattrs: xattrs.get(byteString(c.meta!.path)) },
    );
    yield* exportTree(items, files, opts);
  } finally {
    files.close();
  }
}

/**
 * Whether an entry is the parent's, as the naive diff tells: type, permissions, owner and device alike,
 * and for anything but a directory also size, mtime and (for a symlink) the target.
 */
async function sameEntry(dir: Buffer, e: DiskEntry, parentDir: Buffer, p: DiskEntry): Promise<boolean> {
  if (e.mode !== p.mode || e.uid !== p.uid || e.gid !== p.gid || e.rdev !== p.rdev) return false;
  if ((e.mode & 0o170000) === 0o040000) return true;
  if (e.size !== p.size || e.mtimeSec !== p.mtimeSec || e.mtimeNsec !== p.mtimeNsec) return false;
  if ((e.mode & 0o170000) === 0o120000) return (await linkTargetOf(dir, e.name)).equals(await linkTargetOf(parentDir, p.name));
  return true;
}
