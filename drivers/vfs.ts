// vfs (moby daemon/graphdriver/vfs): <root>/vfs/dir/<id>/ is a full copy of the root filesystem at that
// layer, so a layer's own changes are found by comparing it with its parent (the naive diff).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { changesSize, compareSnapshots, snapshotTree, sortChanges, type Change, type SnapshotNode } from '../snapshots/tree.js';
import { exportTree, type ExportItem } from './archive/export-tree.js';
import type { DriverFactory, LayerRef, StorageDriver } from './types.js';
import { readXattrTree } from './xattrs.js';

export class VfsDriver implements StorageDriver {
  readonly name = 'vfs';
  readonly home: string;
  readonly capabilities = { nativeDiff: false, fullCopies: true, kernelFilesystem: null, writable: false };

  constructor(readonly root: string) {
    this.home = join(root, 'vfs');
  }

  contentDir(cacheId: string): string {
    return join(this.home, 'dir', cacheId);
  }

  layerHome(cacheId: string): string {
    return this.contentDir(cacheId);
  }

  exists(cacheId: string): boolean {
    return existsSync(this.contentDir(cacheId));
  }

  listLayerIds(): string[] {
    try {
      return readdirSync(join(this.home, 'dir'));
    } catch {
      return [];
    }
  }

  /** A vfs layer directory is the whole root filesystem at that layer. */
  async view(cacheId: string): Promise<SnapshotNode> {
    return snapshotTree(this.contentDir(cacheId));
  }

  /** Naive changes: compare the layer's full copy with its parent's, sorted by path. */
  async changes(layer: LayerRef): Promise<Change[]> {
    const newer = snapshotTree(this.contentDir(layer.cacheId));
    const older = layer.parentCacheId === null ? null : snapshotTree(this.contentDir(layer.parentCacheId));
    return sortChanges(compareSnapshots(older, newer));
  }

  /** Naive DiffSize: the bytes of added and changed files. */
  diffSize(layer: LayerRef): number {
    const newer = snapshotTree(this.contentDir(layer.cacheId));
    const older = layer.parentCacheId === null ? null : snapshotTree(this.contentDir(layer.parentCacheId));
    return changesSize(compareSnapshots(older, newer));
  }

  /** Naive diff (moby ExportChanges): changed entries sorted by path, deletions as whiteouts. */
  async *diff(layer: LayerRef): AsyncGenerator<Buffer> {
    const dir = this.contentDir(layer.cacheId);
    const changes = await this.changes(layer); // sorted by path, as moby's ExportChanges sorts them
    const xattrs = await readXattrTree(dir);
    const items = changes.map((c): ExportItem =>
      c.kind === 'D' ? { kind: 'whiteout', name: c.path.slice(1) } : { kind: 'path', name: c.path.slice(1), source: join(dir, c.path) },
    );
    yield* exportTree(items, { xattrs });
  }
}

export const vfs: DriverFactory = { name: 'vfs', open: (root) => new VfsDriver(root) };
