// The store model: plain data read once from a data-root; every question in inspect/ is asked of it.
// Whatever a reader could not read is kept apart from what is absent: a field a reader left unread is
// named in the record's `unread` list (its null then means "unknown", never "none"), and the model's
// `unreadable` record names every file that blocked a reading, with the reason.
import type { Warning } from './warnings.js';

/** An image config as Docker stores it (imagedb/content); only the fields strata reads are typed. */
export interface ImageConfig {
  created?: string;
  author?: string;
  architecture?: string;
  os?: string;
  config?: Record<string, unknown> | null;
  container_config?: Record<string, unknown> | null;
  rootfs?: { type?: string; diff_ids?: string[] };
  history?: Array<{ created?: string; created_by?: string; empty_layer?: boolean; comment?: string }>;
  [key: string]: unknown;
}

export interface Image {
  /** sha256:<hex> — the sha256 of the config bytes. */
  id: string;
  config: ImageConfig;
  created: string;
  diffIds: string[];
  /** ChainIDs recomputed from diffIds, base layer first. */
  chainIds: string[];
  /** Parent image recorded in imagedb/metadata (only for locally built or committed images). */
  parent: string | null;
  /** Familiar references, as docker prints them. */
  repoTags: string[];
  repoDigests: string[];
  /** 'parent' when the parent record could not be read: `parent: null` is then unknown. */
  unread: ImageField[];
}

export type ImageField = 'parent';

/** A layer field a reader may leave unread: not asked for (see LayerFields), or unreadable. */
export type LayerField = 'diffId' | 'size' | 'cacheId' | 'parent';

export interface Layer {
  /** The engine's own id for the layer (Docker: its ChainID; other engines number or name layers themselves). */
  id: string;
  chainId: string;
  diffId: string | null;
  /** Parent ChainID from layerdb (null for a base layer, unless 'parent' is unread). */
  parent: string | null;
  /** Bytes of this layer's own content, from layerdb's size file. */
  size: number | null;
  /** The driver's directory id for this layer. */
  cacheId: string | null;
  /**
   * Fields whose value is unknown: not read for this question (see LayerFields) or unreadable (then named
   * in StoreModel.unreadable.layers). A null in such a field is "not read", never "absent".
   */
  unread: LayerField[];
}

export type ContainerState = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface Container {
  id: string;
  /** Without the leading slash docker keeps on disk. */
  name: string;
  /** sha256:<hex> of the image the container was created from. */
  imageId: string;
  /** The reference the container was created with (Config.Image). */
  imageRef: string;
  state: ContainerState;
  exitCode: number;
  startedAt: string;
  finishedAt: string;
  created: string;
  driver: string | null;
  command: string;
  /** From layerdb/mounts/<id> (see ContainerMount): the read-write layer's driver id, its -init layer, and the image's top ChainID. */
  mountId: string | null;
  initId: string | null;
  parentChainId: string | null;
  /** Config.Labels. */
  labels: Record<string, string>;
  /** MountPoints of config.v2.json, keyed by destination as docker keeps them (volumes, binds, tmpfs). */
  mountPoints: ContainerMountPoint[];
  /** NetworkSettings.Ports as recorded ("80/tcp" → host bindings, or null when not published). */
  ports: Record<string, Array<{ HostIp?: string; HostPort?: string }> | null>;
  /** Config.Hostname, Config.Env and the rest of the container's Config, as recorded. */
  config: Record<string, unknown>;
  /** Names of the networks in NetworkSettings.Networks (docker ps's Networks), sorted. */
  networks?: string[];
  /** State.Health.Status ("starting", "healthy", "unhealthy") when the container has a healthcheck, else null. */
  health?: string | null;
}

/** One entry of a container's MountPoints (container/mounts.go MountPoint as stored on disk). */
export interface ContainerMountPoint {
  /** 'volume' | 'bind' | 'tmpfs' | 'npipe'. */
  type: string;
  /** The volume's name (volumes only). */
  name: string;
  source: string;
  destination: string;
  /** The volume driver ('local'), empty for binds. */
  driver: string;
  rw: boolean;
  mode: string;
  propagation: string;
}

export type MountField = 'mountId' | 'initId' | 'parentChainId';

/**
 * A container's read-write layer record (Docker: layerdb/mounts/<container id>/{mount-id,init-id,parent}),
 * read on its own: it still counts when the container's config cannot be read, or is gone.
 */
export interface ContainerMount {
  containerId: string;
  mountId: string | null;
  initId: string | null;
  parentChainId: string | null;
  /** Fields that could not be read (named in StoreModel.unreadable.mounts); their null is unknown. */
  unread: MountField[];
}

/** A file that could not be read, and why in words ("permission denied", "corrupt JSON (…)"). */
export interface Unreadable {
  file: string;
  reason: string;
}

/** Parts of a store a reader reads as a whole: a directory it lists, or one file holding them all. */
export type StorePart = 'layers' | 'mounts' | 'images' | 'image-parents' | 'containers' | 'references';

/** What could not be read, by kind; each entry names the file that blocked it. */
export interface Unreadables {
  /** Whole parts that could not be listed or read: nothing in them is known. */
  parts: Array<Unreadable & { part: StorePart }>;
  /** Containers whose config could not be read (the id comes from the directory's name); they still exist. */
  containers: Array<Unreadable & { id: string }>;
  /** Image configs that exist but could not be read or did not match their digest. */
  images: Array<Unreadable & { id: string }>;
  /** Layer fields that could not be read (the layer's `unread` names them too). */
  layers: Array<Unreadable & { chainId: string; field: LayerField }>;
  /** Fields of containers' read-write layer records that could not be read. */
  mounts: Array<Unreadable & { containerId: string; field: MountField }>;
  /** Every file above, once, and any other that could not be read. */
  files: Unreadable[];
}

/** A repositories.json entry: familiar reference → image id. */
export interface Reference {
  /** e.g. "busybox:latest" or "busybox@sha256:…" */
  ref: string;
  /** Familiar repository name, e.g. "busybox" or "example.com/team/base". */
  name: string;
  tag: string | null;
  digest: string | null;
  imageId: string;
}

export interface StoreModel {
  root: string;
  /** The store layout it was read from (inspect/store-layout.ts), e.g. 'docker' for image/<driver>/. */
  layout: string;
  driver: string;
  images: Map<string, Image>;
  /** By ChainID. */
  layers: Map<string, Layer>;
  /** Containers whose config could be read (the others are in unreadable.containers). */
  containers: Container[];
  /** Read-write layer records by container id, whether or not the container's config could be read. */
  mounts: Map<string, ContainerMount>;
  references: Reference[];
  /** Image id → ids of images that record it as their parent. */
  children: Map<string, string[]>;
  unreadable: Unreadables;
  warnings: Warning[];
}
