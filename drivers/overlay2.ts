// overlay2 (moby daemon/graphdriver/overlay2): <root>/overlay2/<id>/{diff,link,lower,work,committed},
// short names in <root>/overlay2/l/. Whiteouts are 0:0 char devices, opaque dirs carry trusted.overlay.opaque=y.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { measureTree } from '../snapshots/measure.js';
import type { DriverFactory, LayerRef, StorageDriver } from './types.js';

/** Entries of <root>/overlay2 that are not layer directories. */
const RESERVED = new Set(['l']);

export class Overlay2Driver implements StorageDriver {
  readonly name = 'overlay2';
  readonly home: string;
  readonly capabilities = { nativeDiff: true, fullCopies: false, kernelFilesystem: 'overlay', writable: false };

  constructor(readonly root: string) {
    this.home = join(root, 'overlay2');
  }

  contentDir(cacheId: string): string {
    return join(this.home, cacheId, 'diff');
  }

  layerHome(cacheId: string): string {
    return join(this.home, cacheId);
  }

  exists(cacheId: string): boolean {
    return existsSync(this.contentDir(cacheId));
  }

  listLayerIds(): string[] {
    try {
      return readdirSync(this.home).filter((name) => !RESERVED.has(name));
    } catch {
      return [];
    }
  }

  /** Native diff: the upper directory holds exactly the layer's changes (DiffSize = directory.Size of diff/). */
  diffSize(layer: LayerRef): number {
    return measureTree(this.contentDir(layer.cacheId)).contentBytes;
  }
}

export const overlay2: DriverFactory = { name: 'overlay2', open: (root) => new Overlay2Driver(root) };
