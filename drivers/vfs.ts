// vfs (moby daemon/graphdriver/vfs): <root>/vfs/dir/<id>/ is a full copy of the root filesystem at that
// layer, so a layer's own changes are found by comparing it with its parent (the naive diff).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { changesSize, compareSnapshots, snapshotTree } from '../snapshots/tree.js';
import type { DriverFactory, LayerRef, StorageDriver } from './types.js';

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

  /** Naive DiffSize: compare with the parent's full copy, sum the added and changed files. */
  diffSize(layer: LayerRef): number {
    const newer = snapshotTree(this.contentDir(layer.cacheId));
    const older = layer.parentCacheId === null ? null : snapshotTree(this.contentDir(layer.parentCacheId));
    return changesSize(compareSnapshots(older, newer));
  }
}

export const vfs: DriverFactory = { name: 'vfs', open: (root) => new VfsDriver(root) };
