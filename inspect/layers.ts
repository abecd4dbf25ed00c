// Layers as a question of the model: each layer with who uses it and what the driver holds for it.
import type { StorageDriver } from '../drivers/types.js';
import { measureTree } from '../snapshots/measure.js';
import { tarSplitPath } from './tar-split-path.js';
import type { Image, LayerField, StoreModel } from './model.js';

export interface LayerReport {
  chainId: string;
  diffId: string | null;
  cacheId: string | null;
  parent: string | null;
  /** Bytes from layerdb's size file. */
  size: number | null;
  /** Bytes the driver directory takes, measured (du -sb of the layer's directory); null when not measured. */
  diskBytes: number | null;
  /** Images whose chain contains this layer. */
  images: number;
  /** Containers whose image contains this layer. */
  containers: number;
  /** null when the driver cannot be read by strata. */
  directoryExists: boolean | null;
  contentDir: string | null;
  hasTarSplit: boolean;
  /** Fields that could not be read (their null is unknown, not absent); the warnings name the files. */
  unread: LayerField[];
}

export interface LayerUsage {
  images: Map<string, number>;
  containers: Map<string, number>;
}

export function layerUsage(model: StoreModel): LayerUsage {
  const images = new Map<string, number>();
  const containers = new Map<string, number>();
  for (const img of model.images.values()) for (const c of img.chainIds) images.set(c, (images.get(c) ?? 0) + 1);
  for (const ctr of model.containers) {
    const img = model.images.get(ctr.imageId);
    for (const c of img?.chainIds ?? []) containers.set(c, (containers.get(c) ?? 0) + 1);
  }
  return { images, containers };
}

/** Layers of one image (base first), or every layer in layerdb ordered parents before children. */
export function selectLayers(model: StoreModel, image?: Image): string[] {
  if (image) return image.chainIds;
  const depth = new Map<string, number>();
  const depthOf = (chainId: string, guard = 0): number => {
    const known = depth.get(chainId);
    if (known !== undefined) return known;
    const parent = model.layers.get(chainId)?.parent ?? null;
    const d = parent && model.layers.has(parent) && guard < 10_000 ? depthOf(parent, guard + 1) + 1 : 0;
    depth.set(chainId, d);
    return d;
  };
  return [...model.layers.keys()].sort((a, b) => depthOf(a) - depthOf(b) || (a < b ? -1 : 1));
}

export function reportLayers(
  model: StoreModel,
  driver: StorageDriver | null,
  chainIds: string[],
  opts: { measure: boolean },
): LayerReport[] {
  const usage = layerUsage(model);
  return chainIds.map((chainId) => {
    const layer = model.layers.get(chainId);
    const cacheId = layer?.cacheId ?? null;
    const exists = driver && cacheId ? driver.exists(cacheId) : null;
    return {
      chainId,
      diffId: layer?.diffId ?? null,
      cacheId,
      parent: layer?.parent ?? null,
      size: layer?.size ?? null,
      diskBytes: opts.measure && driver?.capabilities.layerDirectories && cacheId && exists ? measureTree(driver.layerHome(cacheId)).apparentBytes : null,
      images: usage.images.get(chainId) ?? 0,
      containers: usage.containers.get(chainId) ?? 0,
      directoryExists: exists,
      contentDir: driver && cacheId ? driver.contentDir(cacheId) : null,
      hasTarSplit: layer ? tarSplitPath(model, chainId) !== null : false,
      unread: layer?.unread ?? [],
    };
  });
}
