// `docker system df -v` offline (moby daemon/disk_usage.go, daemon/images/images.go, 20.10), plus what
// the daemon does not tell: driver directories nothing references, leaked layers, and the real on-disk total.
import type { StorageDriver } from '../drivers/types.js';
import { measureTree, type TreeUsage } from '../snapshots/measure.js';
import { measureTreeInBackground, type ParallelMeasure } from '../snapshots/measure-parallel.js';
import { hexOf } from './digest.js';
import { listImages } from './images.js';
import type { Container, StoreModel } from './model.js';
import { lookupReference, parseReference } from './reference.js';
import type { Warning } from './warnings.js';
import { errorMessage } from './warnings.js';

export interface DfImage {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  created: string;
  size: number;
  sharedSize: number;
  uniqueSize: number;
  containers: number;
}

export interface DfContainer {
  id: string;
  name: string;
  /** What docker shows: the reference the container was created with while it still names the same image, else the image id. */
  image: string;
  imageId: string;
  command: string;
  created: string;
  state: string;
  exitCode: number;
  startedAt: string;
  finishedAt: string;
  /** Bytes in the container's read-write layer (null when its layer could not be measured). */
  sizeRw: number | null;
  /** sizeRw plus the image's size. */
  sizeRootFs: number | null;
}

export interface DfOrphan {
  /** Path of the driver directory. */
  path: string;
  id: string;
  bytes: number;
}

export interface DiskUsageReport {
  /** Docker's LayersSize: layerdb sizes of the layers the listed images use. */
  layersSize: number;
  images: DfImage[];
  containers: DfContainer[];
  /** Driver directories that no layer, container or init layer references. */
  orphans: DfOrphan[];
  /** layerdb layers no image and no container uses (dockerd logs these as leaked). */
  leakedLayers: Array<{ chainId: string; size: number | null }>;
  /** The data-root measured on disk, each inode once, not crossing into mounts. */
  dataRoot: { path: string; apparentBytes: number; allocatedBytes: number };
}

/** How many listed images use each layer (moby getLayerRefs). */
function layerRefCounts(images: ReturnType<typeof listImages>): Map<string, number> {
  const refs = new Map<string, number>();
  for (const img of images) for (const c of img.chainIds) refs.set(c, (refs.get(c) ?? 0) + 1);
  return refs;
}

/** Size of a layer and all its parents, following layerdb parent links (roLayer.Size). */
export function chainSizeFrom(model: StoreModel, chainId: string | null): number {
  let size = 0;
  for (let guard = 0; chainId !== null && guard < 100_000; guard++) {
    const layer = model.layers.get(chainId);
    if (!layer) break;
    size += layer.size ?? 0;
    chainId = layer.parent;
  }
  return size;
}

/** Docker keeps the original reference in listings while it still resolves to the container's image. */
export function displayImageOf(model: StoreModel, c: Container): string {
  if (c.imageRef === c.imageId) return c.imageId;
  const parsed = parseReference(c.imageRef);
  const resolved = parsed ? lookupReference(model, parsed) : null;
  const byPrefix = /^[0-9a-f]+$/.test(c.imageRef) && hexOf(c.imageId).startsWith(c.imageRef);
  return resolved === c.imageId || (resolved === null && byPrefix) ? c.imageRef : c.imageId;
}

export function containerSizes(
  model: StoreModel,
  driver: StorageDriver | null,
  c: Container,
  warnings: Warning[],
): { sizeRw: number | null; sizeRootFs: number | null } {
  if (!driver || !c.mountId) return { sizeRw: null, sizeRootFs: null };
  let sizeRw: number | null = null;
  try {
    const parentCacheId = c.initId ?? (c.parentChainId ? model.layers.get(c.parentChainId)?.cacheId ?? null : null);
    sizeRw = driver.diffSize({ cacheId: c.mountId, parentCacheId });
  } catch (err) {
    warnings.push({ file: driver.contentDir(c.mountId), message: `read-write layer of container ${c.id.slice(0, 12)}: ${errorMessage(err)}` });
  }
  // docker: SizeRootFs is the image's size plus SizeRw, and 0 for a container without an image layer.
  const sizeRootFs = c.parentChainId === null ? 0 : sizeRw === null ? null : chainSizeFrom(model, c.parentChainId) + sizeRw;
  return { sizeRw, sizeRootFs };
}

export function findOrphans(model: StoreModel, driver: StorageDriver): DfOrphan[] {
  const referenced = new Set<string>();
  for (const l of model.layers.values()) if (l.cacheId) referenced.add(l.cacheId);
  for (const c of model.containers) {
    if (c.mountId) referenced.add(c.mountId);
    if (c.initId) referenced.add(c.initId);
  }
  return driver
    .listLayerIds()
    .filter((id) => !referenced.has(id))
    .sort()
    .map((id) => ({ id, path: driver.layerHome(id), bytes: measureTree(driver.layerHome(id)).apparentBytes }));
}

export function findLeakedLayers(model: StoreModel): DiskUsageReport['leakedLayers'] {
  const used = new Set<string>();
  for (const img of model.images.values()) for (const c of img.chainIds) used.add(c);
  for (const c of model.containers) {
    for (let id = c.parentChainId, guard = 0; id && !used.has(id) && guard < 100_000; guard++) {
      used.add(id);
      id = model.layers.get(id)?.parent ?? null;
    }
  }
  return [...model.layers.values()].filter((l) => !used.has(l.chainId)).map((l) => ({ chainId: l.chainId, size: l.size }));
}

/** Starts measuring the data-root on worker threads, so it runs while the store is being read. */
export function startMeasuringDataRoot(root: string, warnings: Warning[]): ParallelMeasure {
  return measureTreeInBackground(root, { onError: (path, err) => warnings.push({ file: path, message: errorMessage(err) }) });
}

export async function diskUsage(
  model: StoreModel,
  driver: StorageDriver | null,
  warnings: Warning[],
  dataRoot: ParallelMeasure = startMeasuringDataRoot(model.root, warnings),
): Promise<DiskUsageReport> {
  const top = listImages(model);
  const refs = layerRefCounts(top);
  let layersSize = 0;
  for (const layer of model.layers.values()) if (refs.has(layer.chainId)) layersSize += layer.size ?? 0;

  const images: DfImage[] = top.map((img) => {
    let sharedSize = 0;
    for (const c of img.chainIds) if ((refs.get(c) ?? 0) > 1) sharedSize += model.layers.get(c)?.size ?? 0;
    return {
      id: img.id,
      repoTags: img.repoTags,
      repoDigests: img.repoDigests,
      created: img.created,
      size: img.size,
      sharedSize,
      uniqueSize: img.size - sharedSize,
      containers: img.containers,
    };
  });

  const containers: DfContainer[] = model.containers
    .map((c) => ({
      id: c.id,
      name: c.name,
      image: displayImageOf(model, c),
      imageId: c.imageId,
      command: c.command,
      created: c.created,
      state: c.state,
      exitCode: c.exitCode,
      startedAt: c.startedAt,
      finishedAt: c.finishedAt,
      ...containerSizes(model, driver, c, warnings),
    }))
    .sort((a, b) => (a.created < b.created ? 1 : a.created > b.created ? -1 : 0));

  dataRoot.help();
  const rootUsage: TreeUsage = await dataRoot.result;
  return {
    layersSize,
    images,
    containers,
    orphans: driver ? findOrphans(model, driver) : [],
    leakedLayers: findLeakedLayers(model),
    dataRoot: { path: model.root, apparentBytes: rootUsage.apparentBytes, allocatedBytes: rootUsage.allocatedBytes },
  };
}
