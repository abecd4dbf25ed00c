// `docker images` as a question asked of the model (moby daemon/images/images.go, 20.10).
import type { Image, StoreModel } from './model.js';

export interface ImageSummary {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  parent: string | null;
  created: string;
  /** Sum of layerdb size files along the image's chain (docker's Size / VirtualSize). */
  size: number;
  diffIds: string[];
  chainIds: string[];
  dangling: boolean;
  /** Containers created from this image. */
  containers: number;
}

/** Docker's reference sort key: the fully qualified name (docker.io/library/busybox:1). */
export function qualifiedReference(familiar: string): string {
  const slash = familiar.indexOf('/');
  const first = slash < 0 ? '' : familiar.slice(0, slash);
  if (slash >= 0 && (/[.:]/.test(first) || first === 'localhost')) return familiar;
  return slash < 0 ? `docker.io/library/${familiar}` : `docker.io/${familiar}`;
}

export function sortReferences(refs: string[]): string[] {
  return [...refs].sort((a, b) => {
    const qa = qualifiedReference(a);
    const qb = qualifiedReference(b);
    return qa < qb ? -1 : qa > qb ? 1 : 0;
  });
}

/** Sum of the layerdb sizes along the image's chain; missing layers count 0 (a warning was given when reading). */
export function imageSize(model: StoreModel, image: Image): number {
  let size = 0;
  for (const chainId of image.chainIds) size += model.layers.get(chainId)?.size ?? 0;
  return size;
}

export function hasChildren(model: StoreModel, imageId: string): boolean {
  return (model.children.get(imageId)?.length ?? 0) > 0;
}

export function isTagged(image: Image): boolean {
  return image.repoTags.length > 0 || image.repoDigests.length > 0;
}

/** Images `docker images` shows without -a: referenced ones, and unreferenced ones without children. */
export function isTopImage(model: StoreModel, image: Image): boolean {
  return isTagged(image) || !hasChildren(model, image.id);
}

/** Whether the tags could be read: without them no image is known to be dangling. */
export function tagsKnown(model: StoreModel): boolean {
  return !model.unreadable.parts.some((p) => p.part === 'references');
}

/** Images `docker images -f dangling=true` shows: no tag and no child images (never when the tags could not be read). */
export function isDangling(model: StoreModel, image: Image): boolean {
  return image.repoTags.length === 0 && !hasChildren(model, image.id) && tagsKnown(model);
}

/** How many containers each image has, counted in one pass. */
export function containerCounts(model: StoreModel): Map<string, number> {
  const counts = new Map<string, number>();
  for (const c of model.containers) counts.set(c.imageId, (counts.get(c.imageId) ?? 0) + 1);
  return counts;
}

export function summarizeImage(model: StoreModel, image: Image, containers: Map<string, number>): ImageSummary {
  return {
    id: image.id,
    repoTags: sortReferences(image.repoTags),
    repoDigests: sortReferences(image.repoDigests),
    parent: image.parent,
    created: image.created,
    size: imageSize(model, image),
    diffIds: image.diffIds,
    chainIds: image.chainIds,
    dangling: isDangling(model, image),
    containers: containers.get(image.id) ?? 0,
  };
}

/** Newest first, as the daemon sorts them; ties by id so output is stable. */
export function byCreatedDesc(a: { created: string; id: string }, b: { created: string; id: string }): number {
  const ta = Date.parse(a.created) || 0;
  const tb = Date.parse(b.created) || 0;
  if (ta !== tb) return tb - ta;
  // Date.parse drops sub-millisecond digits; RFC 3339 strings of one zone compare as text.
  if (a.created !== b.created) return a.created < b.created ? 1 : -1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export interface ListImagesOptions {
  /** -a: intermediate images too. */
  all?: boolean;
  /** -f dangling=true */
  danglingOnly?: boolean;
}

export function listImages(model: StoreModel, opts: ListImagesOptions = {}): ImageSummary[] {
  const out: ImageSummary[] = [];
  const containers = containerCounts(model);
  for (const image of model.images.values()) {
    if (opts.danglingOnly ? !isDangling(model, image) : !(opts.all || isTopImage(model, image))) continue;
    out.push(summarizeImage(model, image, containers));
  }
  return out.sort(byCreatedDesc);
}
