// vfs (moby daemon/graphdriver/vfs): <root>/vfs/dir/<id>/ is a full copy of the root filesystem at that
// layer, so a layer's own changes are found by comparing it with its parent (the naive diff).
import { checkedContentDir, openViewEntryIn } from './layer-dirs.js';
import { listDirectory, presence, reasonOf, StrataError } from '../native/errors.js';
import { openLayerDir, type LayerFiles, type OpenedEntry } from '../native/open-beneath.js';
import { tempName } from '../native/temp-names.js';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { changesSize, compareSnapshots, snapshotTree, sortChanges, type Change, type SnapshotNode } from '../snapshots/tree.js';
import { byteString } from '../snapshots/walk.js';
import type { TarPiece } from './archive/chunks.js';
import { exportTree, type ExportItem } from './archive/export-tree.js';
import { applyLayerTar } from './archive/apply.js';
import { changeOf, directoryBeneath, linkTargetOf, readDiskEntries, whiteoutOf, type DiskEntry } from './list-directory.js';
import type { ApplyLayerOptions, DiffOptions, DirectoryChange, DriverFactory, LayerRef, MountDescription, StorageDriver } from './types.js';
import { readXattrTree } from './xattrs.js';

export class VfsDriver implements StorageDriver {
  readonly name = 'vfs';
  readonly home: string;
  readonly capabilities = { nativeDiff: false, fullCopies: true, kernelFilesystem: null, writable: true };

  readonly sideDirs: string[] = [];

  constructor(readonly root: string) {
    this.home = join(root, 'vfs');
  }

  contentDir(cacheId: string): string {
    return join(this.home, 'dir', cacheId);
  }

  layerHome(cacheId: string): string {
    return this.contentDir(cacheId);
  }

  /** The layer's full copy, checked from the data-root down (see StorageDriver.openLayer). */
  openLayer(cacheId: string): LayerFiles {
    return openLayerDir(this.root, ['vfs', 'dir', cacheId]);
  }

  openViewEntry(path: string | Buffer): OpenedEntry {
    return openViewEntryIn(this, path, join(this.home, 'dir'));
  }

  private checkedContentDir(cacheId: string): string {
    return checkedContentDir(this, cacheId);
  }

  exists(cacheId: string): boolean | null {
    return presence(this.contentDir(cacheId));
  }

  listLayerIds(): string[] {
    return listDirectory(join(this.home, 'dir'));
  }

  /** A vfs layer directory is the whole root filesystem at that layer. */
  async view(cacheId: string): Promise<SnapshotNode> {
    return snapshotTree(this.checkedContentDir(cacheId));
  }

  /**
   * One directory of the layer compared with the same directory of its parent (the naive diff, one
   * directory at a time): entries new or different are changes, the parent's entries gone are whiteouts,
   * directories alike in both are listed as unchanged so their contents can be compared in turn.
   */
  async listDirectory(layer: LayerRef, dir: Buffer): Promise<DirectoryChange[]> {
    const path = await directoryBeneath(this.checkedContentDir(layer.cacheId), dir);
    if (path === null) return [];
    const parentPath = layer.parentCacheId === null ? null : await directoryBeneath(this.checkedContentDir(layer.parentCacheId), dir);
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

  /** Naive changes: compare the layer's full copy with its parent's, sorted by path. */
  async changes(layer: LayerRef): Promise<Change[]> {
    return sortChanges(this.naiveChanges(layer));
  }

  private naiveChanges(layer: LayerRef): Change[] {
    const newer = snapshotTree(this.checkedContentDir(layer.cacheId));
    const older = layer.parentCacheId === null ? null : snapshotTree(this.checkedContentDir(layer.parentCacheId));
    return compareSnapshots(older, newer);
  }

  /** Naive DiffSize: the bytes of added and changed files. */
  diffSize(layer: LayerRef): number {
    return changesSize(this.naiveChanges(layer));
  }

  /** A full copy of the parent (cp -a keeps owners, modes, times to the nanosecond, hardlinks, xattrs), then the tar applied to it. */
  async apply(layer: LayerRef, tar: AsyncIterable<Buffer>, opts: ApplyLayerOptions = {}): Promise<{ size: number }> {
    const final = this.contentDir(layer.cacheId);
    if (existsSync(final)) throw new StrataError('a layer directory with this id exists already', { file: final });
    mkdirSync(join(this.home, 'dir'), { recursive: true, mode: 0o700 });
    // Built beside its final directory, named for this writer: a killed apply leaves a stale entry the next write removes.
    const temp = join(this.home, 'dir', tempName(layer.cacheId));
    try {
      if (layer.parentCacheId) {
        if (!this.exists(layer.parentCacheId)) throw new StrataError('parent layer missing', { file: this.contentDir(layer.parentCacheId) });
        // The parent is copied from inside (its "." into a new directory): a planted symlink in its place is
        // refused by the check, and cp never copies a link that the tar would then be applied through.
        const parent = this.checkedContentDir(layer.parentCacheId);
        mkdirSync(temp, { mode: 0o700 });
        try {
          execFileSync('cp', ['-a', `${parent}/.`, temp], { stdio: ['ignore', 'ignore', 'pipe'] });
        } catch (err) {
          const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim().split('\n')[0];
          throw new StrataError(`copying the parent layer failed: ${stderr || reasonOf(err)}`, { file: parent, cause: err });
        }
      } else mkdirSync(temp, { mode: 0o755 });
      const result = await applyLayerTar(tar, temp, { whiteouts: 'naive', ...opts });
      renameSync(temp, final);
      return { size: result.size };
    } catch (err) {
      rmSync(temp, { recursive: true, force: true });
      throw err;
    }
  }

  /** dir/<id>, when it is there (a symlink planted in its place is named too: it is what is there). */
  layerPaths(cacheId: string): string[] {
    const dir = this.contentDir(cacheId);
    try {
      lstatSync(dir);
      return [dir];
    } catch {
      return [];
    }
  }

  remove(cacheId: string): void {
    rmSync(this.contentDir(cacheId), { recursive: true, force: true });
  }

  /** vfs has nothing to stack: a bind mount of the layer's full copy. */
  mounts(layer: LayerRef, target: string, opts: { readOnly: boolean }): MountDescription[] {
    return [{ type: 'bind', source: this.checkedContentDir(layer.cacheId), target, options: [opts.readOnly ? 'ro' : 'rw', 'rbind'] }];
  }

  /** Naive diff (moby ExportChanges): changed entries sorted by path, deletions as whiteouts. */
  async *diff(layer: LayerRef, opts: DiffOptions = {}): AsyncGenerator<TarPiece> {
    const files = this.openLayer(layer.cacheId);
    try {
      const changes = await this.changes(layer); // sorted by path, as moby's ExportChanges sorts them
      const xattrs = await readXattrTree(this.contentDir(layer.cacheId));
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
}

export const vfs: DriverFactory = { name: 'vfs', open: (root) => new VfsDriver(root) };

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
