// aufs (moby daemon/graphdriver/aufs, removed in Docker 24): <root>/aufs/diff/<id>/ holds the layer's files
// with whiteouts kept as ".wh.<name>" files and ".wh..wh..opq" marking opaque directories;
// <root>/aufs/layers/<id> lists its ancestors, nearest first; <root>/aufs/mnt/<id>/ is its mount point.
// aufs keeps bookkeeping of its own in every branch (.wh..wh.aufs, .wh..wh.orph/, .wh..wh.plnk/): never content.
import { alwaysThere, checkedContentDir, openViewEntryIn } from './layer-dirs.js';
import { listDirectory, presence, StrataError } from '../native/errors.js';
import { openLayerDir, readStoreFileNoFollow, type LayerFiles, type OpenedEntry } from '../native/open-beneath.js';
import { tempName } from '../native/temp-names.js';
import { chmodSync, existsSync, lstatSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { measureTree } from '../snapshots/measure.js';
import { mergeLayers } from '../snapshots/merge.js';
import { compareSnapshots, snapshotTree, sortChanges, type Change, type SnapshotNode } from '../snapshots/tree.js';
import { byteString, bytesOfByteString, pathBytes } from '../snapshots/walk.js';
import { applyLayerTar } from './archive/apply.js';
import { AUFS_META_PREFIX, OPAQUE_MARKER, WHITEOUT_PREFIX } from './archive/whiteout.js';
import type { TarPiece } from './archive/chunks.js';
import { exportTree, type ExportItem } from './archive/export-tree.js';
import { changeOf, directoryBeneath, readDiskEntries, whiteoutOf } from './list-directory.js';
import { lstat } from 'node:fs/promises';
import type { ApplyLayerOptions, DiffOptions, DirectoryChange, DriverFactory, LayerRef, LayerTarPiece, MaterialisedLayer, MountDescription, MountOptions, StorageDriver } from './types.js';
import { walkTreeWithXattrs } from './xattrs.js';

const isMeta = (name: string) => name.startsWith(AUFS_META_PREFIX);

/** Layer ids as dockerd makes them (hex, "-init"): plain names, safe inside mount options. */
const LAYER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export class AufsDriver implements StorageDriver {
  readonly name = 'aufs';
  readonly home: string;
  readonly capabilities = { nativeDiff: true, fullCopies: false, kernelFilesystem: 'aufs', writable: true, layerDirectories: true };

  get sideDirs(): string[] {
    return [join(this.home, 'layers'), join(this.home, 'mnt')];
  }

  constructor(readonly root: string) {
    this.home = join(root, 'aufs');
  }

  contentDir(cacheId: string): string {
    return join(this.home, 'diff', cacheId);
  }

  materialise(cacheId: string): MaterialisedLayer {
    return alwaysThere(this.checkedContentDir(cacheId));
  }

  close(): void {}

  layerHome(cacheId: string): string {
    return this.contentDir(cacheId);
  }

  /** The layer's branch directory, checked from the data-root down (see StorageDriver.openLayer). */
  openLayer(cacheId: string): LayerFiles {
    return openLayerDir(this.root, ['aufs', 'diff', cacheId]);
  }

  openViewEntry(path: string | Buffer): OpenedEntry {
    return openViewEntryIn(this, path, join(this.home, 'diff'));
  }

  private checkedContentDir(cacheId: string): string {
    return checkedContentDir(this, cacheId);
  }

  exists(cacheId: string): boolean | null {
    return presence(this.contentDir(cacheId));
  }

  listLayerIds(): string[] {
    return listDirectory(join(this.home, 'diff'));
  }

  /** Ancestor ids, nearest parent first, from aufs/layers/<id>; an id that is no plain layer id is refused, naming the file. */
  ancestors(cacheId: string): string[] {
    const file = join(this.home, 'layers', cacheId);
    const text = readStoreFileNoFollow(file);
    if (text === null) return [];
    const ids = text.split('\n').map((l) => l.trim()).filter(Boolean);
    const bad = ids.find((id) => !LAYER_ID.test(id));
    if (bad !== undefined) throw new StrataError(`lists ${JSON.stringify(bad)}, not a layer id in ${join(this.home, 'diff')}`, { file });
    return ids;
  }

  diffSize(layer: LayerRef): number {
    return measureTree(this.contentDir(layer.cacheId)).contentBytes;
  }

  async view(cacheId: string): Promise<SnapshotNode> {
    const branches = [cacheId, ...this.ancestors(cacheId)].reverse();
    return mergeLayers(
      branches.map((id) => snapshotTree(this.checkedContentDir(id))),
      {
        whiteoutOf: (_n, name) => (name.startsWith(WHITEOUT_PREFIX) && !isMeta(name) ? name.slice(WHITEOUT_PREFIX.length) : null),
        isOpaque: (layer, path) => existsSync(Buffer.concat([pathBytes(this.contentDir(branches[layer])), bytesOfByteString(`${path}/${OPAQUE_MARKER}`)])),
        isHidden: (name) => isMeta(name),
      },
    );
  }

  /**
   * One directory of the layer's branch: ".wh.NAME" deletes NAME, a directory holding ".wh..wh..opq" is
   * opaque, aufs bookkeeping (".wh..wh.*") is left out.
   */
  async listDirectory(layer: LayerRef, dir: Buffer): Promise<DirectoryChange[]> {
    const path = await directoryBeneath(this.checkedContentDir(layer.cacheId), dir);
    if (path === null) return [];
    const out: DirectoryChange[] = [];
    for (const e of await readDiskEntries(path, false)) {
      const name = e.name.toString('latin1');
      if (isMeta(name)) continue;
      if (name.startsWith(WHITEOUT_PREFIX)) {
        out.push(whiteoutOf(e.name.subarray(WHITEOUT_PREFIX.length)));
        continue;
      }
      let opaque = false;
      if ((e.mode & 0o170000) === 0o040000) {
        opaque = await lstat(Buffer.concat([path, Buffer.from(`/`), e.name, Buffer.from(`/${OPAQUE_MARKER}`)])).then(
          () => true,
          () => false,
        );
      }
      out.push(await changeOf(path, e, { opaque }));
    }
    // a whiteout sorts by the name it deletes, like every other entry
    return out.sort((a, b) => Buffer.compare(a.name, b.name));
  }

  async changes(layer: LayerRef): Promise<Change[]> {
    const newer = await this.view(layer.cacheId);
    const older = layer.parentCacheId === null ? null : await this.view(layer.parentCacheId);
    return sortChanges(compareSnapshots(older, newer));
  }

  /** moby's aufs Diff: the branch as it is, whiteout files included, aufs bookkeeping left out. */
  async *diff(layer: LayerRef, opts: DiffOptions = {}): AsyncGenerator<TarPiece> {
    const files = this.openLayer(layer.cacheId);
    try {
      const entries = await walkTreeWithXattrs(this.contentDir(layer.cacheId));
      const items = function* (): Generator<ExportItem> {
        for (const e of entries) {
          const slash = e.name.indexOf(0x2f);
          const top = byteString(slash < 0 ? e.name : e.name.subarray(0, slash));
          if (isMeta(top) && top !== OPAQUE_MARKER) continue;
          yield { kind: 'path', name: e.name, source: e.path, stat: e.stat, xattrs: e.xattrs };
        }
      };
      yield* exportTree(items(), files, opts);
    } finally {
      files.close();
    }
  }

  async apply(layer: LayerRef, tar: AsyncIterable<LayerTarPiece>, opts: ApplyLayerOptions = {}): Promise<{ size: number; linked: number }> {
    const { cacheId, parentCacheId } = layer;
    const final = this.contentDir(cacheId);
    if (existsSync(final)) throw new StrataError('a layer directory with this id exists already', { file: final });
    if (parentCacheId && !this.exists(parentCacheId)) throw new StrataError('parent layer missing', { file: this.contentDir(parentCacheId) });
    if (parentCacheId) this.checkedContentDir(parentCacheId);
    for (const d of ['diff', 'layers', 'mnt']) mkdirSync(join(this.home, d), { recursive: true, mode: 0o700 });
    // Built beside its final directory, named for this writer: a killed apply leaves a stale entry the next write removes.
    const temp = join(this.home, 'diff', tempName(cacheId));
    mkdirSync(temp, { mode: 0o755 });
    let linked = 0;
    try {
      linked = (await applyLayerTar(tar, temp, { whiteouts: 'aufs', ...opts })).linked;
      // What the aufs module creates in a branch it has mounted.
      writeFileSync(join(temp, '.wh..wh.aufs'), '');
      chmodSync(join(temp, '.wh..wh.aufs'), 0o444);
      mkdirSync(join(temp, '.wh..wh.orph'), { mode: 0o700 });
      mkdirSync(join(temp, '.wh..wh.plnk'), { mode: 0o700 });
      const ancestry = parentCacheId ? [parentCacheId, ...this.ancestors(parentCacheId)] : [];
      writeFileSync(join(this.home, 'layers', cacheId), ancestry.map((id) => `${id}\n`).join(''));
      mkdirSync(join(this.home, 'mnt', cacheId), { recursive: true, mode: 0o755 });
      renameSync(temp, final);
    } catch (err) {
      rmSync(temp, { recursive: true, force: true });
      rmSync(join(this.home, 'layers', cacheId), { force: true });
      rmSync(join(this.home, 'mnt', cacheId), { recursive: true, force: true });
      throw err;
    }
    return { size: opts.size ?? this.diffSize(layer), linked };
  }

  /** diff/<id>, layers/<id> and mnt/<id>, those that are there. */
  layerPaths(cacheId: string): string[] {
    return [this.contentDir(cacheId), join(this.home, 'layers', cacheId), join(this.home, 'mnt', cacheId)].filter((path) => {
      try {
        lstatSync(path);
        return true;
      } catch {
        return false;
      }
    });
  }

  remove(cacheId: string): void {
    rmSync(this.contentDir(cacheId), { recursive: true, force: true });
    rmSync(join(this.home, 'layers', cacheId), { force: true });
    rmSync(join(this.home, 'mnt', cacheId), { recursive: true, force: true });
  }

  /** An aufs mount of the branches, top first (the mount module falls back to fuse-overlayfs without aufs). */
  mounts(layer: LayerRef, target: string, opts: MountOptions): MountDescription[] {
    // Every branch is a checked directory inside the store, named by an id that holds no separator of the options.
    if (!LAYER_ID.test(layer.cacheId)) throw new StrataError('is not a layer id strata can name in a mount description', { file: layer.cacheId });
    const branches = [layer.cacheId, ...this.ancestors(layer.cacheId)].map((id) => this.checkedContentDir(id));
    const [top, ...lower] = branches;
    const br = [`${top}=${opts.readOnly ? 'ro+wh' : 'rw'}`, ...lower.map((b) => `${b}=ro+wh`)].join(':');
    return [{ type: 'aufs', source: 'none', target, options: [`br:${br}`, 'dio', 'xino=/dev/shm/aufs.xino', ...(opts.readOnly ? ['ro'] : [])] }];
  }
}

export const aufs: DriverFactory = { name: 'aufs', open: (root) => new AufsDriver(root) };
