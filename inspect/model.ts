// The store model: plain data read once from a data-root; every question in inspect/ is asked of it.
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
}

export interface Layer {
  chainId: string;
  diffId: string | null;
  /** Parent ChainID from layerdb (null for a base layer). */
  parent: string | null;
  /** Bytes of this layer's own content, from layerdb's size file. */
  size: number | null;
  /** The driver's directory id for this layer. */
  cacheId: string | null;
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
  /** From layerdb/mounts/<id>: the read-write layer's driver id, its -init layer, and the image's top ChainID. */
  mountId: string | null;
  initId: string | null;
  parentChainId: string | null;
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
  driver: string;
  images: Map<string, Image>;
  layers: Map<string, Layer>;
  containers: Container[];
  references: Reference[];
  /** Image id → ids of images that record it as their parent. */
  children: Map<string, string[]>;
  warnings: Warning[];
}
