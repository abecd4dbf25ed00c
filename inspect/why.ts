// strata why: everything that keeps an image or a layer alive, what each blocker pins, what removing it
// all would free, and the docker commands that remove it (dockerd 20.10's rules: running containers are
// stopped first, child images go before their parents, several repositories need -f, and rmi prunes a
// parent that is left untagged and unused). Layer counts come from LayerRefs only: what a removal frees is
// a release() on a clone, and what one blocker pins is the part of that which its reference keeps.
import { StrataError } from '../native/errors.js';
import { classifyUnusedLayers } from './df.js';
import { hexOf, SHA256_PREFIX } from './digest.js';
import { isRecordedUp } from './containers-list.js';
import { imageSize, sortReferences } from './images.js';
import { LayerRefs } from './layer-refs.js';
import type { Container, ContainerMount, Image, Reference, StoreModel } from './model.js';
import { lookupReference, parseReference, resolveImageId } from './reference.js';
import { predictRmi, type RmiConflict } from './rmi.js';
import { liveMounts } from './unreadable.js';

/** How the argument matched: an image by full id, id prefix or reference; a layer by one of its ids. */
export type WhyMatch = 'id' | 'id-prefix' | 'reference' | 'chain-id' | 'diff-id' | 'cache-id';

export interface WhyTarget {
  kind: 'image' | 'layer';
  /** Image id, or the layer's ChainID. */
  id: string;
  input: string;
  matched: WhyMatch;
  /** Image: the sum of its layers; layer: its own size (layerdb). */
  size: number;
  /** Image: its ChainIDs, base first. Layer: empty. */
  chainIds: string[];
  /** Layer only. */
  diffId?: string | null;
  cacheId?: string | null;
  /** Layer only: no image, layer or container holds it (true), something might that could not be read (null). */
  leaked?: boolean | null;
}

export interface WhyImage {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  parent: string | null;
  /** Bytes of layers only it holds (with its own containers): freed if it alone went. */
  uniqueBytes: number;
  /** Layer case: whether the layer is the image's top layer. */
  top?: boolean;
}

export interface WhyContainer {
  id: string;
  /** Empty for a left-over record. */
  name: string;
  /** Docker's state, or 'left over' for a layerdb/mounts record whose container directory is gone. */
  state: string;
  imageId: string | null;
  /** Bytes in its read-write layer (driver.diffSize); null when not measured. */
  rwBytes: number | null;
  /** rwBytes plus the image layers that would be freed but its record keeps. */
  pinnedBytes: number;
  leftOver: boolean;
}

export interface WhyShare {
  id: string;
  repoTags: string[];
  /** ChainIDs it shares with the target, base first. */
  layers: string[];
  bytes: number;
}

/** Something that could not be read and may keep it alive: never counted as absent. */
export interface WhyUnknown {
  kind: 'container' | 'containers' | 'images' | 'image-parents' | 'mounts' | 'layer';
  id: string;
  file: string;
  reason: string;
}

export interface WhyPin {
  kind: 'tag' | 'child-image' | 'container' | 'left-over-mount' | 'image';
  /** The tag, image id or container id. */
  id: string;
  name: string;
  bytes: number;
}

export interface WhyReport {
  target: WhyTarget;
  /** Image: its tags and digests. */
  tags: string[];
  /** Image: every descendant image (recorded parents), children before grandchildren. */
  children: WhyImage[];
  /** Layer: every image whose chain holds it. */
  images: WhyImage[];
  /** Layer: the ChainIDs of every layer above it. */
  layersAbove: string[];
  /** Containers of the image or its descendants, and read-write records sitting on what would be freed. */
  containers: WhyContainer[];
  /** Image: other images sharing its layers. */
  sharedWith: WhyShare[];
  unknown: WhyUnknown[];
  /** Bytes each blocker keeps (they overlap: each is what would stay if that blocker alone stayed). */
  pinned: WhyPin[];
  freedIfRemoved: {
    bytes: number;
    /** Layer bytes (layerdb sizes) and read-write bytes, apart. */
    layerBytes: number;
    rwBytes: number;
    /** ChainIDs deleted, top first in release order. */
    layers: string[];
    images: string[];
    containers: string[];
  };
  /** Untagged parent images dockerd's rmi deletes with them (its prune of parents). */
  alsoRemoved: string[];
  /** Docker commands, run in order (each must succeed before the next). */
  commands: string[];
  /**
   * The rmi command's answer as `strata rmi --dry-run` predicts it on the store without the containers
   * removed before it (inspect/rmi.ts): its lines, and errors (none when the plan is right). Null without rmi.
   */
  rmiCheck: { args: string[]; force: boolean; lines: string[]; errors: RmiConflict[]; deletedImages: string[]; deletedLayers: string[] } | null;
  /** What docker cannot remove (left-over records, leaked layers), and doubts from unreadable records. */
  notes: string[];
}

export interface WhyOptions {
  /** Bytes in a container's read-write layer (driver.diffSize); null when not measured. */
  rwSize?: (c: Container) => number | null;
}

// --- resolving the argument ------------------------------------------------------------------------

type Resolved = { kind: 'image'; id: string; matched: WhyMatch } | { kind: 'layer'; id: string; matched: WhyMatch };

function describeImage(model: StoreModel, id: string): string {
  const tags = model.images.get(id)?.repoTags ?? [];
  return `image ${hexOf(id).slice(0, 12)}${tags.length ? ` (${tags.join(', ')})` : ''}`;
}

/** Layers whose ChainID, DiffID or cache id starts with the hex given, each once with the first field matched. */
function layerMatches(model: StoreModel, hex: string, exact: boolean): Array<{ id: string; matched: WhyMatch }> {
  const hit = (value: string | null, prefix: string) => value !== null && (exact ? value === prefix : value.startsWith(prefix));
  const out: Array<{ id: string; matched: WhyMatch }> = [];
  for (const l of model.layers.values()) {
    if (hit(l.chainId, SHA256_PREFIX + hex)) out.push({ id: l.chainId, matched: 'chain-id' });
    else if (hit(l.diffId, SHA256_PREFIX + hex)) out.push({ id: l.chainId, matched: 'diff-id' });
    else if (hit(l.cacheId, hex)) out.push({ id: l.chainId, matched: 'cache-id' });
  }
  return out;
}

const MATCH_WORDS: Record<WhyMatch, string> = { id: 'image id', 'id-prefix': 'image id', reference: 'reference', 'chain-id': 'ChainID', 'diff-id': 'DiffID', 'cache-id': 'cache id' };

/**
 * The image or layer `input` names, in docker's order for images (full id, reference, id prefix), then
 * layers by ChainID, DiffID or cache id (full or prefix, with or without sha256:). A prefix matching
 * several things of either kind is an error naming them; nothing matching gets docker's words.
 */
export function resolveWhyTarget(model: StoreModel, input: string): Resolved {
  const text = input.trim();
  if (text === '') throw new StrataError('invalid reference format');
  const hex = /^(?:sha256:)?([0-9a-f]+)$/.exec(text)?.[1] ?? null;
  if (hex !== null && hex.length === 64) {
    if (model.images.has(SHA256_PREFIX + hex)) return { kind: 'image', id: SHA256_PREFIX + hex, matched: 'id' };
    const layers = layerMatches(model, hex, true);
    if (layers.length === 1) return { kind: 'layer', ...layers[0] };
    if (layers.length > 1) throw ambiguous(model, text, [], layers);
  }
  const parsed = parseReference(text);
  if (parsed) {
    const id = lookupReference(model, parsed);
    if (id !== null && model.images.has(id)) return { kind: 'image', id, matched: 'reference' };
  }
  if (hex !== null && hex.length < 64) {
    const images = [...model.images.keys()].filter((id) => id.startsWith(SHA256_PREFIX + hex));
    const layers = layerMatches(model, hex, false);
    if (images.length + layers.length === 1) return images.length ? { kind: 'image', id: images[0], matched: 'id-prefix' } : { kind: 'layer', ...layers[0] };
    if (images.length + layers.length > 1) throw ambiguous(model, text, images, layers);
  }
  resolveImageId(model, text); // throws docker's words (No such image, invalid reference format)
  throw new StrataError(`No such image: ${text}`);
}

function ambiguous(model: StoreModel, text: string, images: string[], layers: Array<{ id: string; matched: WhyMatch }>): StrataError {
  const names = [
    ...images.sort().map((id) => describeImage(model, id)),
    ...layers.sort((a, b) => (a.id < b.id ? -1 : 1)).map((l) => `layer ${hexOf(l.id).slice(0, 12)} (by ${MATCH_WORDS[l.matched]})`),
  ];
  const shown = names.length > 6 ? [...names.slice(0, 6), `${names.length - 6} more`] : names;
  return new StrataError(`ambiguous prefix ${text}: matches ${shown.join(', ')}; give more characters`);
}

// --- layer arithmetic on LayerRefs ---------------------------------------------------------------

interface Release {
  mounts: ContainerMount[];
  images: Image[];
}

/** Releases, on `copy`, what a removal releases (dockerd's order: containers' records, then images); returns the ChainIDs deleted. */
function releaseOn(copy: LayerRefs, r: Release): string[] {
  const deleted: string[] = [];
  for (const m of r.mounts) if (m.parentChainId !== null) deleted.push(...copy.release(m.parentChainId, { mount: m.containerId }));
  for (const img of r.images) {
    const top = img.chainIds.at(-1);
    if (top !== undefined) deleted.push(...copy.release(top, { image: img.id }));
  }
  return deleted;
}

/** Bytes a reference left after the removal (`after`) alone keeps: up its chain while each layer has no other holder. */
function soleHeldBytes(model: StoreModel, after: LayerRefs, from: string | null): number {
  let bytes = 0;
  for (let id = from, guard = 0; id !== null && after.count(id) === 1 && guard < 100_000; guard++) {
    const layer = model.layers.get(id);
    bytes += layer?.size ?? 0;
    id = layer?.parent ?? null;
  }
  return bytes;
}

/** Bytes of the freed layers a reference on `from` keeps: its chain down to the first layer not freed. */
function keptBytes(model: StoreModel, freed: Set<string>, from: string | null): number {
  let bytes = 0;
  for (let id = from, guard = 0; id !== null && freed.has(id) && guard < 100_000; guard++) {
    const layer = model.layers.get(id);
    bytes += layer?.size ?? 0;
    id = layer?.parent ?? null;
  }
  return bytes;
}

function layerBytes(model: StoreModel, ids: Iterable<string>): number {
  let n = 0;
  for (const id of ids) n += model.layers.get(id)?.size ?? 0;
  return n;
}

/**
 * Bytes freed were `img` and its own containers' records released alone: the release walk of LayerRefs,
 * read off its counts (a layer goes when the references dropped on it are all it has).
 */
function aloneFreedBytes(model: StoreModel, refs: LayerRefs, img: Image, own: ContainerMount[]): number {
  let bytes = 0;
  const top = img.chainIds.at(-1) ?? null;
  let childFreed = false;
  for (let id = top, guard = 0; id !== null && guard < 100_000; guard++) {
    const dropped = (id === top ? 1 : 0) + own.filter((m) => m.parentChainId === id).length + (childFreed ? 1 : 0);
    if (!refs.has(id) || refs.count(id) !== dropped) break;
    bytes += model.layers.get(id)?.size ?? 0;
    childFreed = true;
    id = model.layers.get(id)?.parent ?? null;
  }
  return bytes;
}

// --- the removal plan ----------------------------------------------------------------------------

function referencesOf(model: StoreModel): Map<string, Reference[]> {
  const out = new Map<string, Reference[]>();
  for (const r of model.references) {
    let list = out.get(r.imageId);
    if (!list) out.set(r.imageId, (list = []));
    list.push(r);
  }
  return out;
}

/** moby's isSingleReference: at most one tag, and every digest in that tag's repository (by id, rmi then untags them all). */
export function isSingleReference(refs: Reference[]): boolean {
  if (refs.length <= 1) return refs.length === 1;
  const tags = refs.filter((r) => r.digest === null);
  if (tags.length > 1) return false;
  const digestRepos = new Set(refs.filter((r) => r.digest !== null).map((r) => r.name));
  const name = (tags[0] ?? refs[0]).name;
  return digestRepos.size === 1 && digestRepos.has(name);
}

/** The shortest unique id prefix (at least 12 hex) that no repository name shadows. */
export function shortImageId(model: StoreModel, id: string): string {
  const hex = hexOf(id);
  const names = new Set(model.references.map((r) => r.name));
  for (let n = 12; n < 64; n++) {
    const p = hex.slice(0, n);
    if (names.has(p)) continue;
    let clash = false;
    for (const other of model.images.keys()) if (other !== id && other.startsWith(SHA256_PREFIX + p)) { clash = true; break; }
    if (!clash) return p;
  }
  return hex;
}

/** How rmi names one image so it deletes it: its only tag (name alone for :latest), else its id, with -f when it has several repositories. */
function rmiArgument(model: StoreModel, id: string, refs: Reference[]): { arg: string; force: boolean } {
  if (refs.length === 0) return { arg: shortImageId(model, id), force: false };
  if (isSingleReference(refs)) {
    const tag = refs.find((r) => r.digest === null);
    if (tag) return { arg: tag.tag === 'latest' ? tag.name : tag.ref, force: false };
    return { arg: shortImageId(model, id), force: false };
  }
  return { arg: shortImageId(model, id), force: true };
}

/** Images in the set, each after all its descendants in the set (rmi refuses a parent before its children). */
function childrenFirst(model: StoreModel, set: Set<string>): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const visit = (id: string) => {
    if (seen.has(id)) return;
    seen.add(id);
    for (const c of model.children.get(id) ?? []) if (set.has(c)) visit(c);
    out.push(id);
  };
  for (const id of [...set].sort()) {
    const parent = model.images.get(id)?.parent ?? null;
    if (parent === null || !set.has(parent)) visit(id);
  }
  for (const id of [...set].sort()) visit(id); // a parent cycle in damaged metadata: still every image once
  return out;
}

interface RmiPlan {
  /** rmi's arguments, in order. */
  args: string[];
  force: boolean;
  /** Every image the rmi step deletes (named, or pruned as untagged parents), in order. */
  deleted: string[];
  /** Images outside the set that rmi's prune of parents deletes. */
  alsoRemoved: string[];
}

/**
 * The rmi step after the containers are gone: images named children first; an untagged image whose last
 * child goes is deleted by rmi's prune of parents (naming it after would fail with No such image).
 */
function planRmi(model: StoreModel, set: Set<string>, removedContainers: Set<string>): RmiPlan {
  const refs = referencesOf(model);
  const deleted = new Set<string>();
  const plan: RmiPlan = { args: [], force: false, deleted: [], alsoRemoved: [] };
  // Containers docker cannot load (their config unreadable) do not stop its prune, as rmi --dry-run has it.
  const usedByContainer = (id: string) => model.containers.some((c) => c.imageId === id && !removedContainers.has(c.id));
  const remove = (id: string) => {
    deleted.add(id);
    plan.deleted.push(id);
  };
  for (const id of childrenFirst(model, set)) {
    if (deleted.has(id)) continue;
    const { arg, force } = rmiArgument(model, id, refs.get(id) ?? []);
    plan.args.push(arg);
    plan.force ||= force;
    remove(id);
    // dockerd 20.10 imageDeleteHelper: with prune, the parent goes too while it is untagged, childless and unused.
    for (let parent = model.images.get(id)?.parent ?? null, guard = 0; parent !== null && guard < 100_000; guard++) {
      const p = model.images.get(parent);
      if (!p || deleted.has(parent) || (refs.get(parent)?.length ?? 0) > 0 || usedByContainer(parent)) break;
      if ((model.children.get(parent) ?? []).some((c) => !deleted.has(c))) break;
      remove(parent);
      if (!set.has(parent)) plan.alsoRemoved.push(parent);
      parent = p.parent;
    }
  }
  return plan;
}

/** `docker stop` for the containers that are up, then `docker rm`, then one rmi naming the images. */
function dockerCommands(containers: Container[], rmi: RmiPlan): string[] {
  const name = (c: Container) => c.name || c.id.slice(0, 12);
  const commands: string[] = [];
  const up = containers.filter((c) => isRecordedUp(c.state));
  if (up.length) commands.push(`docker stop ${up.map(name).join(' ')}`);
  if (containers.length) commands.push(`docker rm ${containers.map(name).join(' ')}`);
  if (rmi.args.length) commands.push(`docker rmi ${rmi.force ? '-f ' : ''}${rmi.args.join(' ')}`);
  return commands;
}

// --- the question --------------------------------------------------------------------------------

/** Every image recorded as a descendant of `id` (imagedb parents), nearest first. */
function descendants(model: StoreModel, id: string): string[] {
  const out: string[] = [];
  const seen = new Set([id]);
  for (let i = -1, current = id; i < out.length; current = out[++i]) {
    for (const c of model.children.get(current) ?? []) if (!seen.has(c)) (seen.add(c), out.push(c));
  }
  return out;
}

/** Every layer above `chainId` (layers whose parent chain reaches it), nearest first. */
function layersAbove(refs: LayerRefs, chainId: string): string[] {
  const out: string[] = [];
  const seen = new Set([chainId]);
  for (let i = -1, current = chainId; i < out.length; current = out[++i]) {
    for (const c of refs.holdersOf(current).children) if (!seen.has(c)) (seen.add(c), out.push(c));
  }
  return out;
}

function unreadableUnknowns(model: StoreModel, parts: Array<WhyUnknown['kind']>): WhyUnknown[] {
  return model.unreadable.parts
    .filter((p) => (parts as string[]).includes(p.part))
    .map((p) => ({ kind: p.part as WhyUnknown['kind'], id: '', file: p.file, reason: p.reason }));
}

/** Asks what keeps the image or layer `input` names alive. */
export function why(model: StoreModel, input: string, opts: WhyOptions = {}): WhyReport {
  const resolved = resolveWhyTarget(model, input);
  const refs = LayerRefs.of(model);
  const rwSize = opts.rwSize ?? (() => null);
  const existing = new Set(liveMounts(model).map((m) => m.containerId));
  const readable = new Map(model.containers.map((c) => [c.id, c]));
  const unreadableContainers = new Map(model.unreadable.containers.map((c) => [c.id, c]));

  // The images that go: the image and its descendants, or every image whose chain holds the layer.
  let set: Set<string>;
  let target: WhyTarget;
  const imagesHolding = new Set<string>();
  let above: string[] = [];
  if (resolved.kind === 'image') {
    const img = model.images.get(resolved.id)!;
    set = new Set([img.id, ...descendants(model, img.id)]);
    target = { kind: 'image', id: img.id, input, matched: resolved.matched, size: imageSize(model, img), chainIds: img.chainIds };
  } else {
    const layer = model.layers.get(resolved.id)!;
    for (const img of model.images.values()) if (img.chainIds.includes(layer.chainId)) imagesHolding.add(img.id);
    set = new Set(imagesHolding);
    for (const id of imagesHolding) for (const d of descendants(model, id)) set.add(d);
    above = layersAbove(refs, layer.chainId);
    const unused = classifyUnusedLayers(model);
    const leaked = unused.leaked.some((l) => l.chainId === layer.chainId) ? true : unused.unknown.some((u) => u.id === layer.chainId) ? null : false;
    target = { kind: 'layer', id: layer.chainId, input, matched: resolved.matched, size: layer.size ?? 0, chainIds: [], diffId: layer.diffId, cacheId: layer.cacheId, leaked };
  }
  const setImages = [...set].map((id) => model.images.get(id)!).filter(Boolean);
  const tops = new Set(setImages.map((i) => i.chainIds.at(-1)).filter((c): c is string => c !== undefined));
  const chainsOfSet = new Set(setImages.flatMap((i) => i.chainIds));
  if (target.kind === 'layer') for (const id of [target.id, ...above]) chainsOfSet.add(id);

  // Containers that go: those created from the images, and (layer case) every record on the layer or above it.
  const onLayer = target.kind === 'layer' ? new Set([target.id, ...above]) : null;
  const mountIsOn = (m: ContainerMount) => m.parentChainId !== null && (tops.has(m.parentChainId) || (onLayer?.has(m.parentChainId) ?? false));
  const removedContainers = model.containers.filter((c) => set.has(c.imageId) || (onLayer !== null && model.mounts.has(c.id) && mountIsOn(model.mounts.get(c.id)!)));
  const removedIds = new Set(removedContainers.map((c) => c.id));
  const removedMounts = removedContainers.map((c) => model.mounts.get(c.id)).filter((m): m is ContainerMount => m !== undefined);

  // Unreadable containers: which image they use is unknown; one whose record sits elsewhere does not use these images.
  const unknown: WhyUnknown[] = [];
  const mayUse = (containerId: string, mount: ContainerMount | undefined, on: (m: ContainerMount) => boolean) =>
    !mount || mount.parentChainId === null || mount.unread.includes('parentChainId') || on(mount);
  for (const [id, c] of unreadableContainers) {
    if (mayUse(id, model.mounts.get(id), (m) => mountIsOn(m) || chainsOfSet.has(m.parentChainId!))) unknown.push({ kind: 'container', id, file: c.file, reason: c.reason });
  }
  unknown.push(...unreadableUnknowns(model, ['containers', 'images', 'image-parents', 'mounts']));
  for (const img of setImages) if (img.unread.includes('parent')) unknown.push({ kind: 'image-parents', id: img.id, file: `image ${img.id}`, reason: 'parent record unreadable: child images may be missing' });
  const unknownContainerIds = new Set(unknown.filter((u) => u.kind === 'container').map((u) => u.id));
  const rmi = planRmi(model, set, removedIds);
  const deletedImages = rmi.deleted.map((id) => model.images.get(id)!);
  const after = refs.trial();
  const freedLayers = releaseOn(after, { mounts: removedMounts, images: deletedImages });
  const rmiCheck = checkRmi(model, rmi, removedIds);
  // A leaked layer (and the leaked layers above it) goes by strata prune, not by docker: still freed.
  if (target.kind === 'layer' && target.leaked === true) for (const id of [...above].reverse().concat(target.id)) if (!freedLayers.includes(id)) freedLayers.push(id);
  const freed = new Set(freedLayers);

  // Records that keep freed layers and go by no docker command: left-over records, containers of gone images.
  const containers: WhyContainer[] = [];
  const rwOf = new Map<string, number | null>();
  for (const c of removedContainers) rwOf.set(c.id, rwSize(c));
  const rwTotal = [...rwOf.values()].reduce<number>((n, b) => n + (b ?? 0), 0);
  // What a record pins: the freed layers its reference would keep were it left alone.
  const pinOf = (m: ContainerMount | undefined) => (m ? keptBytes(model, freed, m.parentChainId) : 0);
  for (const c of removedContainers) {
    containers.push({ id: c.id, name: c.name, state: c.state, imageId: c.imageId, rwBytes: rwOf.get(c.id) ?? null, pinnedBytes: (rwOf.get(c.id) ?? 0) + pinOf(model.mounts.get(c.id)), leftOver: false });
  }
  const leftoverPins = new Set(chainsOfSet);
  for (const m of model.mounts.values()) {
    if (removedIds.has(m.containerId) || unreadableContainers.has(m.containerId)) continue;
    if (m.parentChainId === null || !leftoverPins.has(m.parentChainId)) continue;
    const c = readable.get(m.containerId);
    // A record on the image's layers: it keeps part of what rmi would free.
    const kept = soleHeldBytes(model, after, m.parentChainId);
    if (!mountIsOn(m) && kept === 0) continue;
    if (c) containers.push({ id: c.id, name: c.name, state: c.state, imageId: c.imageId, rwBytes: null, pinnedBytes: kept, leftOver: false });
    else if (!existing.has(m.containerId)) containers.push({ id: m.containerId, name: '', state: 'left over', imageId: null, rwBytes: null, pinnedBytes: kept, leftOver: true });
  }

  const byId = (id: string) => model.images.get(id)!;
  const mountsByImage = new Map<string, ContainerMount[]>();
  for (const c of model.containers) {
    const m = model.mounts.get(c.id);
    if (m) mountsByImage.set(c.imageId, [...(mountsByImage.get(c.imageId) ?? []), m]);
  }
  const uniqueOf = (img: Image) => aloneFreedBytes(model, refs, img, mountsByImage.get(img.id) ?? []);
  const imageEntry = (img: Image, top?: boolean): WhyImage => ({
    id: img.id,
    repoTags: sortReferences(img.repoTags),
    repoDigests: sortReferences(img.repoDigests),
    parent: img.parent,
    uniqueBytes: uniqueOf(img),
    ...(top === undefined ? {} : { top }),
  });

  const freedLayerBytes = layerBytes(model, freedLayers);
  const freedBytes = freedLayerBytes + rwTotal;
  const children = target.kind === 'image' ? descendants(model, target.id).map((id) => imageEntry(byId(id))) : [];
  const images = target.kind === 'layer' ? [...imagesHolding].sort().map((id) => imageEntry(byId(id), byId(id).chainIds.at(-1) === target.id)) : [];
  const tags = target.kind === 'image' ? [...sortReferences(byId(target.id).repoTags), ...sortReferences(byId(target.id).repoDigests)] : [];

  const pinned: WhyPin[] = [];
  // A tag left alone keeps the image, so the freed layers of the image's own chain.
  const taggedKeeps = target.kind === 'image' ? keptBytes(model, freed, byId(target.id).chainIds.at(-1) ?? null) : 0;
  for (const tag of tags) pinned.push({ kind: 'tag', id: tag, name: tag, bytes: taggedKeeps });
  for (const ch of children) pinned.push({ kind: 'child-image', id: ch.id, name: ch.repoTags[0] ?? hexOf(ch.id).slice(0, 12), bytes: ch.uniqueBytes });
  for (const img of images) pinned.push({ kind: 'image', id: img.id, name: img.repoTags[0] ?? hexOf(img.id).slice(0, 12), bytes: keptBytes(model, freed, byId(img.id).chainIds.at(-1) ?? null) });
  for (const c of containers) pinned.push({ kind: c.leftOver ? 'left-over-mount' : 'container', id: c.id, name: c.name || c.id.slice(0, 12), bytes: c.pinnedBytes });

  const sharedWith: WhyShare[] = [];
  if (target.kind === 'image') {
    const mine = new Set(target.chainIds);
    for (const img of model.images.values()) {
      if (set.has(img.id)) continue;
      const layers = img.chainIds.filter((c) => mine.has(c));
      if (layers.length) sharedWith.push({ id: img.id, repoTags: sortReferences(img.repoTags), layers, bytes: layerBytes(model, layers) });
    }
    sharedWith.sort((a, b) => b.bytes - a.bytes || (a.id < b.id ? -1 : 1));
  }

  const notes: string[] = [];
  const leftovers = containers.filter((c) => c.leftOver);
  if (leftovers.length) notes.push(`${leftovers.length} left-over read-write record(s) (layerdb/mounts, container directory gone) keep layers no docker command frees: strata prune --apply removes them with dockerd stopped, once older than its --min-age (10m)`);
  const stray = containers.filter((c) => !c.leftOver && !removedIds.has(c.id));
  if (stray.length) notes.push(`container(s) ${stray.map((c) => c.name).join(', ')} of another image keep some of its layers: docker rm them to free those`);
  if (target.kind === 'layer' && target.leaked === true) notes.push('no image, layer or container holds this layer: dockerd never deletes it; strata prune --apply removes it with dockerd stopped, once older than its --min-age (10m)');
  for (const e of rmiCheck?.errors ?? []) notes.push(`rmi --dry-run predicts this rmi fails: ${e.message}`);
  if (unknownContainerIds.size) notes.push(`${unknownContainerIds.size} container(s) could not be read and may use it: if dockerd lists them, docker rm them first; their read-write records keep layers, which the bytes freed leave out`);

  return {
    target,
    tags,
    children,
    images,
    layersAbove: above,
    containers,
    sharedWith,
    unknown,
    pinned,
    freedIfRemoved: { bytes: freedBytes, layerBytes: freedLayerBytes, rwBytes: rwTotal, layers: freedLayers, images: rmi.deleted, containers: removedContainers.map((c) => c.id) },
    alsoRemoved: rmi.alsoRemoved,
    commands: dockerCommands(removedContainers, rmi),
    rmiCheck,
    notes,
  };
}

/** The rmi step asked of inspect/rmi.ts on a what-if store without the containers removed before it. */
function checkRmi(model: StoreModel, rmi: RmiPlan, removed: Set<string>): WhyReport['rmiCheck'] {
  if (rmi.args.length === 0) return null;
  const whatIf: StoreModel = {
    ...model,
    containers: model.containers.filter((c) => !removed.has(c.id)),
    mounts: new Map([...model.mounts].filter(([id]) => !removed.has(id))),
  };
  const p = predictRmi(whatIf, rmi.args, { force: rmi.force });
  return { args: rmi.args, force: rmi.force, lines: p.lines, errors: p.errors, deletedImages: p.deletedImages, deletedLayers: p.deletedLayers };
}
