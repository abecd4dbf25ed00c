// The storage driver interface. A driver knows where a layer lives and how its bytes are represented;
// it never prints, never mounts (it describes mounts as data) and never reaches into another driver.
import type { Change, SnapshotNode } from '../snapshots/tree.js';

export interface DriverCapabilities {
  /** The driver records changes itself (overlay2 upper dirs, aufs branches); otherwise diffs compare with the parent. */
  nativeDiff: boolean;
  /** Each layer directory holds the complete root filesystem at that layer (vfs, devicemapper). */
  fullCopies: boolean;
  /** Filesystem type the kernel must offer to mount a layer stack ("overlay", "aufs"), or null for bind mounts. */
  kernelFilesystem: string | null;
  /** apply/load can create layers in this driver. */
  writable: boolean;
}

/** A mount as plain data, in the shape of mount(8) arguments; one module in strata executes these. */
export interface MountDescription {
  type: string;
  source: string;
  target: string;
  options: string[];
}

export interface LayerRef {
  /** The driver's directory id (layerdb cache-id, or a container's mount-id). */
  cacheId: string;
  /** The parent's driver id, nearest first is not needed: the driver reads its own chain. */
  parentCacheId: string | null;
}

export interface StorageDriver {
  readonly name: string;
  /** The data-root this driver instance reads. */
  readonly root: string;
  /** <root>/<driver>: everything the driver owns. */
  readonly home: string;
  readonly capabilities: DriverCapabilities;
  /** Directory with the layer's files as the driver keeps them. */
  contentDir(cacheId: string): string;
  /** Everything the driver keeps for one layer, for measuring it on disk. */
  layerHome(cacheId: string): string;
  /** Whether the driver's directory for the layer exists. */
  exists(cacheId: string): boolean;
  /** Ids of the layer directories present on disk. */
  listLayerIds(): string[];
  /** Bytes of a layer's own content as Docker's DiffSize counts them (containers' SizeRw). */
  diffSize(layer: LayerRef): number;
  /** The layer's changes against its parent as a fresh uncompressed tar (whiteouts as .wh. entries). */
  diff(layer: LayerRef): AsyncIterable<Buffer>;
  /** The layer's changes against its parent, as `docker diff` lists them. */
  changes(layer: LayerRef): Promise<Change[]>;
  /** The whole root filesystem at this layer, as a mount of it would show it — read without mounting. */
  view(cacheId: string): Promise<SnapshotNode>;
  /** Mount descriptions for a layer stack, top layer first (later issue: mount). */
  mounts?(layer: LayerRef, target: string, readOnly: boolean): MountDescription[];
}

export interface DriverFactory {
  readonly name: string;
  open(root: string): StorageDriver;
}
