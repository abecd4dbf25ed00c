// The storage driver interface. A driver knows where a layer lives and how its bytes are represented;
// it never prints, never mounts (it describes mounts as data) and never reaches into another driver.
import type { LayerFiles, OpenedEntry } from '../native/open-beneath.js';
import type { Change, SnapshotNode } from '../snapshots/tree.js';
import type { TarPiece } from './archive/chunks.js';
import type { StrataError } from '../native/errors.js';
import type { TarSplitWriter } from './archive/tar-split-writer.js';
import type { LinkedContent, PieceRun } from './archive/tar-reader.js';

/** What apply reads: tar bytes, and (from migrate) files whose content stays on disk to be linked, one at a time or in runs. */
export type LayerTarPiece = Buffer | LinkedContent | PieceRun;

export interface DriverCapabilities {
  /** The driver records changes itself (overlay2 upper dirs, aufs branches); otherwise diffs compare with the parent. */
  nativeDiff: boolean;
  /** Each layer directory holds the complete root filesystem at that layer (vfs, devicemapper). */
  fullCopies: boolean;
  /** Filesystem type the kernel must offer to mount a layer stack ("overlay", "aufs"), or null for bind mounts. */
  kernelFilesystem: string | null;
  /** apply/load can create layers in this driver. */
  writable: boolean;
  /** Each layer is a directory of its own on disk (layerHome measures it); devicemapper's share the pool's data file. */
  layerDirectories: boolean;
}

/** A mount as plain data, in the shape of mount(8) arguments; one module in strata executes these. */
export interface MountDescription {
  type: string;
  source: string;
  target: string;
  options: string[];
  /** Directory the mount is made from, when options hold relative paths (overlay2's short l/ links). */
  cwd?: string;
}

export interface MountOptions {
  readOnly: boolean;
  /** Only to be shown (mount --print): nothing is prepared (devicemapper otherwise assembles the device's image). */
  describeOnly?: boolean;
}

export interface LayerRef {
  /** The driver's directory id (layerdb cache-id, or a container's mount-id). */
  cacheId: string;
  /** The parent layer's driver id; the driver finds the rest of the chain itself. */
  parentCacheId: string | null;
}

export interface ApplyLayerOptions {
  /** Bytes the tar source holds, when known (entries claiming more are refused). */
  sourceBytes?: number;
  allowDevices?: boolean;
  /** Records the tar-split while applying. */
  tarSplit?: TarSplitWriter;
  /** The layer's short link name (overlay2's l/<name>), when the caller derives it: a resumed migration makes the same one. */
  linkName?: string;
  /** Entries the tar implies get its own times, not the time of applying (see archive/apply.ts). */
  impliedTimes?: boolean;
  /**
   * Files whose content comes as a LinkedContent are hard-linked in where their metadata already is the
   * entry's and the kernel allows it (one filesystem); the rest are written (see archive/apply.ts).
   */
  linkFiles?: boolean;
  /** Files whose content comes as a LinkedContent are copied from their files natively (see archive/apply.ts). */
  copyFiles?: boolean;
  /** The size Docker records for the layer, known already (migrate keeps layerdb's): not measured again. */
  size?: number;
}

export interface DiffOptions {
  /** Regular files' contents may stay on disk, in TarPlans (archive/chunks.ts), instead of coming as bytes. */
  passFiles?: boolean;
}

/**
 * One entry of a layer directory as the layer itself records it, for listDirectory: plain data, names as
 * bytes, the driver's whiteout and opaque representation already understood.
 */
export interface DirectoryChange {
  /** Base name, bytes (for a whiteout: the name it deletes). */
  name: Buffer;
  kind: 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket' | 'whiteout';
  /** st_mode (type and permission bits); 0 for a whiteout. */
  mode: number;
  uid: number;
  gid: number;
  /** A regular file's bytes; 0 for everything else. */
  size: number;
  /** A symlink's target. */
  linkTarget: Buffer | null;
  /**
   * A directory this layer made opaque (the lower layers' contents of it hidden); null when the driver
   * cannot tell (overlay2 without the native scan, which reads its xattr: getfattr is never run per directory).
   */
  opaque: boolean | null;
  /** Inode number and link count (0 for a whiteout): the names of one hard-linked file share an inode. */
  ino: number;
  nlink: number;
  /**
   * A directory whose own metadata is the parent layer's (drivers without native diff list these so that
   * their contents can be compared in turn); it is no change of itself.
   */
  unchanged: boolean;
}

/** A layer's content as a directory, for as long as it is used. */
export interface MaterialisedLayer {
  /** The directory holding the layer's files (the driver's own directory, or a read-only mount of a device). */
  readonly dir: string;
  /** Lets go of it (a no-op where the directory is always there). */
  release(): void;
}

export interface StorageDriver {
  readonly name: string;
  /** The data-root this driver instance reads. */
  readonly root: string;
  /** <root>/<driver>: everything the driver owns. */
  readonly home: string;
  readonly capabilities: DriverCapabilities;
  /**
   * Directory with the layer's files as the driver keeps them. A driver whose layers are not directories
   * (devicemapper) materialises the layer here and holds it until close().
   */
  contentDir(cacheId: string): string;
  /**
   * The layer's content as a directory for the duration of one use: directory drivers hand out their own
   * directory; devicemapper mounts the layer's thin device read-only and undoes that on release().
   */
  materialise(cacheId: string): MaterialisedLayer;
  /** Lets go of every layer the driver still holds materialised; directory drivers hold none. */
  close(): void;
  /**
   * The one way to a layer's content: its files, each opened beneath the layer directory following no
   * symlink in any component, after the directory itself was checked to be a real directory inside the
   * driver's home (a planted symlink is a LayerEntryError naming it). A driver whose layers are not plain
   * directories materialises one here and lets go of it on close().
   */
  openLayer(cacheId: string): LayerFiles;
  /**
   * Opens a file its views hand out (an EntryMeta path of view() or changes()) through openLayer, beneath
   * the layer it lies in; a path outside every layer directory is refused.
   */
  openViewEntry(path: string | Buffer): OpenedEntry;
  /** Everything the driver keeps for one layer, for measuring it on disk. */
  layerHome(cacheId: string): string;
  /** Whether the driver's directory for the layer exists; null when that cannot be told (permission denied). */
  exists(cacheId: string): boolean | null;
  /**
   * What would keep the layer's content from being read, found without reading it (devicemapper: a device
   * record that does not parse, a device missing from the pool, blocks beyond the data file); null when
   * nothing does. Drivers whose layers are plain directories need not have it (exists() says enough).
   */
  layerProblem?(cacheId: string): StrataError | null;
  /** Ids of the layer directories present on disk; throws a StrataError naming the directory it cannot list. */
  listLayerIds(): string[];
  /** Bytes of a layer's own content as Docker's DiffSize counts them (containers' SizeRw). */
  diffSize(layer: LayerRef): number;
  /** The layer's changes against its parent as a fresh uncompressed tar (whiteouts as .wh. entries). */
  diff(layer: LayerRef, opts?: DiffOptions): AsyncIterable<TarPiece>;
  /** The layer's changes against its parent, as `docker diff` lists them. */
  changes(layer: LayerRef): Promise<Change[]>;
  /**
   * The layer's own entries in directory `dir` (bytes, relative to the layer root, '' for the root): what
   * it added, changed or deleted there, one directory at a time (never a walk of the layer), sorted by name
   * bytes. A `dir` the layer does not have as a directory gives []. Throws a StrataError naming the
   * directory it cannot read.
   */
  listDirectory(layer: LayerRef, dir: Buffer): Promise<DirectoryChange[]>;
  /** The whole root filesystem at this layer, as a mount of it would show it — read without mounting. */
  view(cacheId: string): Promise<SnapshotNode>;
  /**
   * Creates layer `layer.cacheId` on its parent from an uncompressed tar; returns the size Docker records
   * for it (and how many files were hard-linked in, with linkFiles). Built in a temporary directory and renamed into place: a failure leaves no layer behind.
   */
  apply(layer: LayerRef, tar: AsyncIterable<LayerTarPiece>, opts?: ApplyLayerOptions): Promise<{ size: number; linked?: number }>;
  /** Removes a layer's directories (and links the driver keeps for it). */
  remove(cacheId: string): void;
  /**
   * Every path the driver keeps for one layer that exists now (directories, side files, short links), so
   * that a removal can move them all away as one; [] when it has none. Never follows a symlink.
   */
  layerPaths(cacheId: string): string[];
  /**
   * layerPaths of many layers at once, read on the native helpers' threads where the driver has a faster
   * way than one at a time: each id it could answer maps to what layerPaths gives; the rest are left out
   * (asked one by one). Drivers whose layerPaths is a stat or two need not have it.
   */
  layerPathsOf?(cacheIds: readonly string[]): Promise<Map<string, string[]>>;
  /**
   * Directories besides the layers' own that hold an entry per layer (overlay2's l/ links, aufs' layers/
   * and mnt/): df's walk reports their entries one by one for the plan's items (layerPaths names them).
   */
  readonly sideDirs: readonly string[];
  /** How to mount the layer stack at `target`, top layer first, as data for the mount module. */
  mounts(layer: LayerRef, target: string, opts: MountOptions): MountDescription[];
}

export type { LayerFiles, OpenedEntry } from '../native/open-beneath.js';

export interface DriverOptions {
  /** dockerd's --storage-opt values ("dm.datadev=/dev/sdb1"), for drivers that take any. */
  storageOpts?: readonly string[];
}

export interface DriverFactory {
  readonly name: string;
  open(root: string, opts?: DriverOptions): StorageDriver;
}
