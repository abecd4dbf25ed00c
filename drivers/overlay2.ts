// overlay2 (moby daemon/graphdriver/overlay2): <root>/overlay2/<id>/{diff,link,lower,work,committed},
// short names in <root>/overlay2/l/. Whiteouts are 0:0 char devices, opaque dirs carry trusted.overlay.opaque=y.
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, statSync, type Stats } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { measureTree } from '../snapshots/measure.js';
import { mergeLayers } from '../snapshots/merge.js';
import { compareSnapshots, snapshotTree, sortChanges, type Change, type SnapshotNode } from '../snapshots/tree.js';
import { walkTree } from '../snapshots/walk.js';
import { exportTree, type ExportItem } from './archive/export-tree.js';
import type { DriverFactory, LayerRef, StorageDriver } from './types.js';
import { isOpaque, readXattrTree } from './xattrs.js';

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

  /** The content dirs below a layer, nearest parent first, from its lower file ("l/A:l/B"). */
  lowerDirs(cacheId: string): string[] {
    let lower: string;
    try {
      lower = readFileSync(join(this.home, cacheId, 'lower'), 'utf8').trim();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return lower
      .split(':')
      .filter(Boolean)
      .map((link) => {
        const linkPath = join(this.home, link);
        return resolve(dirname(linkPath), readlinkSync(linkPath));
      });
  }

  /** Native diff: the upper directory holds exactly the layer's changes (DiffSize = directory.Size of diff/). */
  diffSize(layer: LayerRef): number {
    return measureTree(this.contentDir(layer.cacheId)).contentBytes;
  }

  async *diff(layer: LayerRef): AsyncGenerator<Buffer> {
    const dir = this.contentDir(layer.cacheId);
    const xattrs = await readXattrTree(dir);
    const items = function* (): Generator<ExportItem> {
      for (const e of walkTree(dir)) yield { kind: 'path', name: e.name, source: e.path, opaque: e.stat.isDirectory() && isOpaque(xattrs.get(e.path)) };
    };
    yield* exportTree(items(), { xattrs });
  }

  /** The merged view of a layer stack (the layer and all below it), as the overlay mount would show it. */
  async view(cacheId: string): Promise<SnapshotNode> {
    const dirs = [this.contentDir(cacheId), ...this.lowerDirs(cacheId)].reverse();
    const opaque: Array<Set<string>> = [];
    const snapshots: SnapshotNode[] = [];
    for (const dir of dirs) {
      const marked = new Set<string>();
      for (const [path, attrs] of await readXattrTree(dir)) if (isOpaque(attrs)) marked.add(path.slice(dir.length));
      opaque.push(marked);
      snapshots.push(snapshotTree(dir));
    }
    return mergeLayers(snapshots, {
      isWhiteout: (n) => (n.meta.mode & 0o170000) === 0o020000 && n.meta.rdev === 0,
      isOpaque: (layer, path) => opaque[layer].has(path),
    });
  }

  /**
   * What dockerd 20.10 answers for `docker diff`: its naive differ run on the mounted layer and its parent
   * (it walks a Go map, so docker's own order varies; strata sorts by path).
   */
  async changes(layer: LayerRef): Promise<Change[]> {
    const newer = await this.view(layer.cacheId);
    const older = layer.parentCacheId === null ? null : await this.view(layer.parentCacheId);
    return sortChanges(compareSnapshots(older, newer));
  }
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

export const overlay2: DriverFactory = { name: 'overlay2', open: (root) => new Overlay2Driver(root) };
