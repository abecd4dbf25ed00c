// vfs (moby daemon/graphdriver/vfs): <root>/vfs/dir/<id>/ is a full copy of the root filesystem at that
// layer, so a layer's own changes are found by comparing it with its parent (the naive diff).
import { alwaysThere, checkedContentDir, openViewEntryIn } from './layer-dirs.js';
import { listDirectory, presence, reasonOf, StrataError } from '../native/errors.js';
import { openLayerDir, type LayerFiles, type OpenedEntry } from '../native/open-beneath.js';
import { tempName } from '../native/temp-names.js';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { snapshotTree, type Change, type SnapshotNode } from '../snapshots/tree.js';
import type { TarPiece } from './archive/chunks.js';
import { applyLayerTar } from './archive/apply.js';
import { naiveChanges, naiveDiff, naiveDiffSize, naiveListDirectory } from './naive-diff.js';
import type { ApplyLayerOptions, DiffOptions, DirectoryChange, DriverFactory, LayerRef, LayerTarPiece, MaterialisedLayer, MountDescription, MountOptions, StorageDriver } from './types.js';

export class VfsDriver implements StorageDriver {
  readonly name = 'vfs';
  readonly home: string;
  readonly capabilities = { nativeDiff: false, fullCopies: true, kernelFilesystem: null, writable: true, layerDirectories: true };

  readonly sideDirs: string[] = [];

  constructor(readonly root: string) {
    this.home = join(root, 'vfs');
  }

  contentDir(cacheId: string): string {
    return join(this.home, 'dir', cacheId);
  }

  materialise(cacheId: string): MaterialisedLayer {
    return alwaysThere(this.checkedContentDir(cacheId));
  }

  close(): void {}

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

  checkedContentDir(cacheId: string): string {
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

  listDirectory(layer: LayerRef, dir: Buffer): Promise<DirectoryChange[]> {
    return naiveListDirectory(this, layer, dir);
  }

  async changes(layer: LayerRef): Promise<Change[]> {
    return naiveChanges(this, layer);
  }

  diffSize(layer: LayerRef): number {
    return naiveDiffSize(this, layer);
  }

  /** A full copy of the parent (cp -a keeps owners, modes, times to the nanosecond, hardlinks, xattrs), then the tar applied to it. */
  async apply(layer: LayerRef, tar: AsyncIterable<LayerTarPiece>, opts: ApplyLayerOptions = {}): Promise<{ size: number; linked: number }> {
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
      return { size: result.size, linked: result.linked };
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
  mounts(layer: LayerRef, target: string, opts: MountOptions): MountDescription[] {
    return [{ type: 'bind', source: this.checkedContentDir(layer.cacheId), target, options: [opts.readOnly ? 'ro' : 'rw', 'rbind'] }];
  }

  diff(layer: LayerRef, opts: DiffOptions = {}): AsyncGenerator<TarPiece> {
    return naiveDiff(this, layer, opts);
  }
}

export const vfs: DriverFactory = { name: 'vfs', open: (root) => new VfsDriver(root) };

