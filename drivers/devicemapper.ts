// devicemapper (moby daemon/graphdriver/devmapper), read-only and offline: each layer is a thin device of
// Docker's thin pool holding a whole filesystem with the layer's complete root filesystem in /rootfs. No
// device-mapper is needed: thin_dump gives the device's block map, the mapped blocks are copied into a
// sparse image, and the image is loop-mounted read-only without replaying its journal (held-devices.ts).
// Layers being full copies, diffs and changes are the naive ones (naive-diff.ts), as Docker's were.
import { closeSync, existsSync, fstatSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fsError, presence, StrataError } from '../native/errors.js';
import { LayerEntryError, openLayerDir, type LayerFiles, type OpenedEntry } from '../native/open-beneath.js';
import { snapshotTree, type Change, type SnapshotNode } from '../snapshots/tree.js';
import type { TarPiece } from './archive/chunks.js';
import { baseFilesystem, deviceInfoPath, poolFilesOf, readDeviceInfo, SET_FILES, type PoolFiles } from './devicemapper/device-set.js';
import { checkMappingsInside, filesystemOf, readOnlyOptions, writeDeviceImage } from './devicemapper/device-image.js';
import { HeldDevices, imageTempBase, MOUNT_DIR_PREFIX, persistentMountDir } from './devicemapper/held-devices.js';
import { openPoolFile } from './devicemapper/pool-file.js';
import { readThinDevice, ThinPoolError } from './devicemapper/thin-metadata.js';
import { openViewEntryIn } from './layer-dirs.js';
import { naiveChanges, naiveDiff, naiveDiffSize, naiveListDirectory } from './naive-diff.js';
import type { ApplyLayerOptions, DiffOptions, DirectoryChange, DriverFactory, DriverOptions, LayerRef, LayerTarPiece, MaterialisedLayer, MountDescription, MountOptions, StorageDriver } from './types.js';

/** Device hashes as dockerd makes them (hex, "-init"): safe as one path component. */
const DEVICE_HASH = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;


export class ReadOnlyDriverError extends StrataError {
  override name = 'ReadOnlyDriverError';
}

export class DevicemapperDriver implements StorageDriver {
  readonly name = 'devicemapper';
  readonly home: string;
  readonly capabilities = { nativeDiff: false, fullCopies: true, kernelFilesystem: null, writable: false, layerDirectories: false };
  readonly sideDirs: string[] = [];
  readonly pool: PoolFiles;
  private readonly devices = new HeldDevices();

  constructor(
    readonly root: string,
    opts: DriverOptions = {},
  ) {
    this.home = join(root, 'devicemapper');
    this.pool = poolFilesOf(this.home, opts.storageOpts);
  }

  /** Where dockerd mounted the layer (mnt/<hash>/rootfs): a name for messages; the files are reached by materialise(). */
  contentDir(cacheId: string): string {
    return join(this.home, 'mnt', cacheId, 'rootfs');
  }

  /** The layer's metadata file: its blocks lie in the pool's data file, shared with its ancestors. */
  layerHome(cacheId: string): string {
    return deviceInfoPath(this.home, cacheId);
  }

  /** The layer's thin device, assembled and mounted read-only; its /rootfs is the layer. */
  materialise(cacheId: string): MaterialisedLayer {
    if (!DEVICE_HASH.test(cacheId)) throw new LayerEntryError('not a devicemapper device hash', { file: this.layerHome(cacheId) });
    this.checkRoot(cacheId);
    const held = this.devices.acquire(cacheId, (dir, mnt) => this.prepareImage(cacheId, dir, mnt));
    let released = false;
    return {
      dir: join(held.mnt, 'rootfs'),
      release: () => {
        if (!released) this.devices.release(cacheId);
        released = true;
      },
    };
  }

  /** Said before any block is copied: the image could not be mounted anyway. */
  private checkRoot(cacheId: string): void {
    if (process.getuid?.() !== 0) throw new StrataError("reading a devicemapper layer loop-mounts its device's filesystem read-only, which needs root", { file: this.layerHome(cacheId) });
  }

  /** Writes the device's image into `dir` and says how to mount it read-only at `mnt`. */
  private prepareImage(hash: string, dir: string, mnt: string): MountDescription {
    const info = readDeviceInfo(this.home, hash);
    if (info.deleted) throw new ThinPoolError('the device was deleted (deferred deletion): it is no layer any more', { file: this.layerHome(hash) });
    const map = readThinDevice(this.pool.metadata, info.deviceId, imageTempBase());
    const image = join(dir, 'device.img');
    writeDeviceImage(this.pool.data, map, info.size, image, hash);
    const fs = filesystemOf(image);
    if (!fs) throw new ThinPoolError(`thin device ${info.deviceId} holds no xfs or ext4 filesystem`, { file: this.layerHome(hash) });
    return { type: fs, source: image, target: mnt, options: readOnlyOptions(fs) };
  }

  close(): void {
    this.devices.closeAll();
  }

  /** The layer's /rootfs opened beneath its mount (no symlink in its place); the mount is let go with close(). */
  openLayer(cacheId: string): LayerFiles {
    const m = this.materialise(cacheId);
    let files: LayerFiles;
    try {
      files = openLayerDir(join(m.dir, '..'), ['rootfs']);
    } catch (err) {
      m.release();
      if (err instanceof StrataError && !existsSync(m.dir)) throw new LayerEntryError('the device holds no /rootfs (not a Docker layer)', { file: this.layerHome(cacheId) });
      throw err;
    }
    return {
      get dirFd() {
        return files.dirFd;
      },
      dir: files.dir,
      openEntry: (name) => files.openEntry(name),
      close: () => {
        files.close();
        m.release();
      },
    };
  }

  /** A path view() handed out: <session>/<hash>/mnt/rootfs/<entry>. */
  openViewEntry(path: string | Buffer): OpenedEntry {
    const session = this.devices.sessionDir();
    if (!session) throw new LayerEntryError('not inside a materialised devicemapper layer', { file: path });
    return openViewEntryIn(this, path, session, ['mnt', 'rootfs']);
  }

  /** The layer materialised, its /rootfs checked to be a real directory (let go again when it is not). */
  private checkedRootfs(cacheId: string): MaterialisedLayer {
    const m = this.materialise(cacheId);
    try {
      openLayerDir(join(m.dir, '..'), ['rootfs']).close();
    } catch (err) {
      m.release();
      throw err;
    }
    return m;
  }

  checkedContentDir(cacheId: string): string {
    // Held until close(): a path handed out must stay valid for as long as the caller may read it.
    return this.checkedRootfs(cacheId).dir;
  }

  exists(cacheId: string): boolean | null {
    if (!DEVICE_HASH.test(cacheId)) return false;
    const there = presence(this.layerHome(cacheId));
    if (there !== true) return there;
    try {
      return !readDeviceInfo(this.home, cacheId).deleted;
    } catch {
      return null;
    }
  }

  /** The device's record, its block map and its blocks' place in the data file, checked without copying any. */
  layerProblem(cacheId: string): StrataError | null {
    try {
      if (!DEVICE_HASH.test(cacheId)) throw new LayerEntryError('not a devicemapper device hash', { file: this.layerHome(cacheId) });
      const info = readDeviceInfo(this.home, cacheId);
      if (info.deleted) throw new ThinPoolError('the device was deleted (deferred deletion): it is no layer any more', { file: this.layerHome(cacheId) });
      const map = readThinDevice(this.pool.metadata, info.deviceId, imageTempBase());
      const fd = openPoolFile(this.pool.data);
      try {
        const st = fstatSync(fd);
        checkMappingsInside(map, st.isFile() ? st.size : map.nrDataBlocks * map.blockBytes, this.pool.data.path, cacheId);
      } finally {
        closeSync(fd);
      }
      return null;
    } catch (err) {
      if (err instanceof StrataError) return err;
      throw err;
    }
  }

  /** Every device hash in metadata/ but the base device, the set's own files and deleted devices. */
  listLayerIds(): string[] {
    const dir = join(this.home, 'metadata');
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw fsError(dir, err);
    }
    return names.filter((n) => n !== 'base' && !SET_FILES.has(n) && !n.startsWith('.') && this.exists(n) !== false);
  }

  async view(cacheId: string): Promise<SnapshotNode> {
    return snapshotTree(this.checkedContentDir(cacheId));
  }

  async listDirectory(layer: LayerRef, dir: Buffer): Promise<DirectoryChange[]> {
    const layers = this.leased();
    try {
      return await naiveListDirectory(layers, layer, dir);
    } finally {
      layers.releaseAll();
    }
  }

  async changes(layer: LayerRef): Promise<Change[]> {
    const layers = this.leased();
    try {
      return naiveChanges(layers, layer);
    } finally {
      layers.releaseAll();
    }
  }

  diffSize(layer: LayerRef): number {
    const layers = this.leased();
    try {
      return naiveDiffSize(layers, layer);
    } finally {
      layers.releaseAll();
    }
  }

  async *diff(layer: LayerRef, opts: DiffOptions = {}): AsyncGenerator<TarPiece> {
    const layers = this.leased();
    try {
      yield* naiveDiff(layers, layer, opts);
    } finally {
      layers.releaseAll();
    }
  }

  /**
   * The layer and its parent for one naive comparison: materialised on first use, released together
   * afterwards (a few stay mounted for the next one; see held-devices.ts).
   */
  private leased() {
    const taken: MaterialisedLayer[] = [];
    const seen = new Map<string, string>();
    return {
      checkedContentDir: (cacheId: string) => {
        let dir = seen.get(cacheId);
        if (dir === undefined) {
          const m = this.checkedRootfs(cacheId);
          taken.push(m);
          dir = m.dir;
          seen.set(cacheId, dir);
        }
        return dir;
      },
      openLayer: (cacheId: string) => this.openLayer(cacheId),
      releaseAll: () => taken.splice(0).forEach((m) => m.release()),
    };
  }

  apply(_layer: LayerRef, _tar: AsyncIterable<LayerTarPiece>, _opts?: ApplyLayerOptions): Promise<{ size: number }> {
    return Promise.reject(new ReadOnlyDriverError('the devicemapper driver is read-only in strata (strata migrate moves its layers to another driver)', { file: this.home }));
  }

  remove(cacheId: string): void {
    throw new ReadOnlyDriverError('the devicemapper driver is read-only in strata', { file: this.layerHome(cacheId) });
  }

  /** The device's metadata file (its blocks are inside the pool's data file, which is never removed per layer). */
  layerPaths(cacheId: string): string[] {
    return presence(this.layerHome(cacheId)) === true ? [this.layerHome(cacheId)] : [];
  }

  /**
   * A read-only mount of the layer: its device image assembled now in a directory of the temp directory
   * and mounted there (first description), then its /rootfs bound at `target`. `strata umount` undoes both.
   */
  mounts(layer: LayerRef, target: string, opts: MountOptions): MountDescription[] {
    if (!opts.readOnly) throw new ReadOnlyDriverError('the devicemapper driver is read-only in strata: a layer can be mounted read-only only', { file: this.layerHome(layer.cacheId) });
    if (!DEVICE_HASH.test(layer.cacheId)) throw new LayerEntryError('not a devicemapper device hash', { file: this.layerHome(layer.cacheId) });
    if (opts.describeOnly) {
      const dir = join(imageTempBase(), `${MOUNT_DIR_PREFIX}${layer.cacheId.slice(0, 12)}-XXXXXX`);
      const fs = baseFilesystem(this.home);
      return [
        { type: fs, source: join(dir, 'device.img'), target: join(dir, 'mnt'), options: readOnlyOptions(fs) },
        { type: 'bind', source: join(dir, 'mnt', 'rootfs'), target, options: ['ro'] },
      ];
    }
    this.checkRoot(layer.cacheId);
    const dir = persistentMountDir(layer.cacheId);
    try {
      const device = this.prepareImage(layer.cacheId, dir, join(dir, 'mnt'));
      return [device, { type: 'bind', source: join(dir, 'mnt', 'rootfs'), target, options: ['ro'] }];
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }
}

export const devicemapper: DriverFactory = { name: 'devicemapper', open: (root, opts) => new DevicemapperDriver(root, opts) };
