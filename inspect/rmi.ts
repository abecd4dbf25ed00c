// `docker rmi` as a question asked of the model: what dockerd 20.10 would answer for the same arguments
// on the same store (daemon/images/image_delete.go ImageDelete, image/store.go Delete, layer/layer_store.go
// releaseLayer), line for line, and what it would remove. Several REFs are answered in turn on a copy of
// the store's state as each earlier one leaves it. Nothing here touches a file.
import { PERMISSION_HINT } from '../native/errors.js';
import { isRecordedUp } from './containers-list.js';
import { hexOf } from './digest.js';
import { qualifiedReference } from './images.js';
import { LayerRefs } from './layer-refs.js';
import type { Reference, StoreModel } from './model.js';
import { lookupAsDaemon, parseReference, taggedReferenceString } from './reference.js';
import type { Warning } from './warnings.js';

export interface RmiOptions {
  force?: boolean;
  noPrune?: boolean;
}

export type RmiConflictKind =
  | 'child-images'
  | 'running-container'
  | 'stopped-container'
  | 'multiple-repositories'
  | 'repository-reference'
  | 'no-such-image'
  | 'invalid-reference'
  /** dockerd failed midway (a parent record naming an image it does not hold): its lines are lost, its removals done. */
  | 'daemon-error';

export interface RmiConflict {
  ref: string;
  /** docker's daemon message without "Error response from daemon: " (for no-such-image: "No such image: REF" as the CLI words it). */
  message: string;
  kind: RmiConflictKind;
  /** Everything that keeps the image (docker names only the first): child images, containers using it, its references. */
  blockers: { images: string[]; containers: Array<{ id: string; name: string; state: string }>; tags: string[] };
}

export interface RmiPrediction {
  /** "Untagged: …", "Deleted: sha256:…" in docker's order. */
  lines: string[];
  errors: RmiConflict[];
  untagged: string[];
  deletedImages: string[];
  /** ChainIDs. */
  deletedLayers: string[];
}

/** One image dockerd's rmi deletes: its config and metadata, the layers released with it, and the children whose parent record goes. */
export interface RmiImageRemoval {
  id: string;
  layers: string[];
  orphanedChildren: string[];
}

/** What one REF does, in order: references removed (repositories.json keys), then images deleted. */
export interface RmiStep {
  ref: string;
  lines: string[];
  /** repositories.json keys removed ("busybox:latest", "busybox@sha256:…"). */
  untaggedKeys: string[];
  /** The same references as docker names them in its "Untagged:" lines. */
  untagged: string[];
  images: RmiImageRemoval[];
  error: RmiConflict | null;
}

export interface RmiPlan extends RmiPrediction {
  steps: RmiStep[];
}

interface ImageNode {
  parent: string | null;
  top: string | null;
}

interface KnownContainer {
  id: string;
  name: string;
  state: string;
  imageId: string;
  running: boolean;
}

/** The parts of a daemon's state an rmi reads and changes, copied from the model. */
interface DaemonState {
  images: Map<string, ImageNode>;
  children: Map<string, Set<string>>;
  references: Reference[];
  containers: KnownContainer[];
  layers: LayerRefs;
}

const CONFLICT_CHILD = 1;
const CONFLICT_RUNNING = 2;
const CONFLICT_REFERENCE = 4;
const CONFLICT_STOPPED = 8;
const CONFLICT_HARD = CONFLICT_CHILD | CONFLICT_RUNNING;
const CONFLICT_SOFT = CONFLICT_REFERENCE | CONFLICT_STOPPED;

/** docker's stringid.TruncateID: the hex without its algorithm, 12 characters. */
function truncateId(id: string): string {
  return hexOf(id.includes(':') ? id : `sha256:${id}`).slice(0, 12);
}

/** Whether dockerd restores the image: it drops one whose top layer its layer store does not hold. */
function daemonHoldsImage(model: StoreModel, top: string | null): boolean {
  return top === null || model.layers.has(top) || model.unreadable.parts.some((p) => p.part === 'layers');
}

/** Whether the mounts part could be listed (else every container is taken to have its record). */
function mountsKnown(model: StoreModel): boolean {
  return !model.unreadable.parts.some((p) => p.part === 'mounts');
}

/**
 * Whether dockerd loads the container (daemon.go restore): it skips those created with another storage
 * driver, and those without a read-write layer record (layerdb/mounts/<id>).
 */
function daemonLoadsContainer(model: StoreModel, c: { id: string; driver: string | null }): boolean {
  const sameDriver = c.driver === null || c.driver === model.driver || (c.driver === '' && model.driver === 'aufs');
  return sameDriver && (model.mounts.has(c.id) || !mountsKnown(model));
}

function stateOf(model: StoreModel): DaemonState {
  const images = new Map<string, ImageNode>();
  for (const image of model.images.values()) {
    const top = image.chainIds.at(-1) ?? null;
    if (daemonHoldsImage(model, top)) images.set(image.id, { parent: image.parent, top });
  }
  const children = new Map<string, Set<string>>();
  for (const [id, node] of images) {
    if (node.parent === null || !images.has(node.parent)) continue;
    let set = children.get(node.parent);
    if (!set) children.set(node.parent, (set = new Set()));
    set.add(id);
  }
  const containers = model.containers
    .filter((c) => daemonLoadsContainer(model, c))
    .map((c) => ({ id: c.id, name: c.name, state: c.state, imageId: c.imageId, running: isRecordedUp(c.state) }));
  return { images, children, references: [...model.references], containers, layers: LayerRefs.of(model) };
}

/** The reference store's References(id): sorted by the fully qualified string. */
function referencesOf(state: DaemonState, imageId: string): Reference[] {
  return state.references
    .filter((r) => r.imageId === imageId)
    .sort((a, b) => {
      const qa = qualifiedReference(a.ref);
      const qb = qualifiedReference(b.ref);
      return qa < qb ? -1 : qa > qb ? 1 : 0;
    });
}

/** docker's isSingleReference: all references in one repository, and at most one of them a tag. */
function isSingleReference(refs: Reference[]): boolean {
  if (refs.length <= 1) return refs.length === 1;
  let single: Reference | null = null;
  const digestNames = new Set<string>();
  for (const r of refs) {
    if (r.digest !== null) digestNames.add(r.name);
    else if (single === null) single = r;
    else return false;
  }
  single ??= refs[0];
  return digestNames.size === 1 && digestNames.has(single.name);
}

function childrenOf(state: DaemonState, imageId: string): string[] {
  return [...(state.children.get(imageId) ?? [])].sort();
}

function blockersOf(state: DaemonState, imageId: string | null): RmiConflict['blockers'] {
  if (imageId === null) return { images: [], containers: [], tags: [] };
  return {
    images: childrenOf(state, imageId),
    containers: state.containers
      .filter((c) => c.imageId === imageId)
      .sort((a, b) => Number(b.running) - Number(a.running) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map(({ id, name, state: s }) => ({ id, name, state: s })),
    tags: referencesOf(state, imageId).map((r) => r.ref),
  };
}

interface DeleteConflict {
  kind: RmiConflictKind;
  message: string;
  /** A container uses the image (docker's `used`): a quiet delete stays quiet about it. */
  used: boolean;
}

/** docker's checkImageDeleteConflict: the first conflict in its order (children, running, references, stopped). */
function deleteConflict(state: DaemonState, imageId: string, mask: number): DeleteConflict | null {
  const unable = (hard: boolean, why: string) =>
    `conflict: unable to delete ${truncateId(imageId)} (${hard ? 'cannot be forced' : 'must be forced'}) - ${why}`;
  if (mask & CONFLICT_CHILD && (state.children.get(imageId)?.size ?? 0) > 0) {
    return { kind: 'child-images', message: unable(true, 'image has dependent child images'), used: false };
  }
  if (mask & CONFLICT_RUNNING) {
    const c = state.containers.find((c) => c.imageId === imageId && c.running);
    if (c) return { kind: 'running-container', message: unable(true, `image is being used by running container ${truncateId(c.id)}`), used: true };
  }
  if (mask & CONFLICT_REFERENCE && state.references.some((r) => r.imageId === imageId)) {
    return { kind: 'multiple-repositories', message: unable(false, 'image is referenced in multiple repositories'), used: false };
  }
  if (mask & CONFLICT_STOPPED) {
    const c = state.containers.find((c) => c.imageId === imageId && !c.running);
    if (c) return { kind: 'stopped-container', message: unable(false, `image is being used by stopped container ${truncateId(c.id)}`), used: true };
  }
  return null;
}

function isDangling(state: DaemonState, imageId: string): boolean {
  return !state.references.some((r) => r.imageId === imageId) && (state.children.get(imageId)?.size ?? 0) === 0;
}

/** Removes one reference store key; returns whether it was there. */
function removeReference(state: DaemonState, key: string): boolean {
  const i = state.references.findIndex((r) => r.ref === key);
  if (i < 0) return false;
  state.references.splice(i, 1);
  return true;
}

/** The key the reference store deletes for a parsed reference (a digest wins over a tag, as favorDigest). */
function storeKeyOf(parsed: { name: string; tag: string | null; digest: string | null }): string {
  return parsed.digest !== null ? `${parsed.name}@${parsed.digest}` : `${parsed.name}:${parsed.tag ?? 'latest'}`;
}

class StepError extends Error {
  constructor(readonly conflict: DeleteConflict, readonly imageId: string | null) {
    super(conflict.message);
  }
}

/** One REF's run of ImageDelete, on `state`. */
class StepRun {
  readonly lines: string[] = [];
  readonly untaggedKeys: string[] = [];
  readonly untagged: string[] = [];
  readonly images: RmiImageRemoval[] = [];

  constructor(
    private readonly state: DaemonState,
    private readonly prune: boolean,
  ) {}

  untag(key: string, shown: string): void {
    removeReference(this.state, key);
    this.untaggedKeys.push(key);
    this.untagged.push(shown);
    this.lines.push(`Untagged: ${shown}`);
  }

  /** docker's imageDeleteHelper. */
  deleteImage(imageId: string, force: boolean, quiet: boolean): void {
    const state = this.state;
    const conflict = deleteConflict(state, imageId, force ? CONFLICT_HARD : CONFLICT_HARD | CONFLICT_SOFT);
    if (conflict) {
      // A quiet delete (after an untag, or of a parent) says nothing unless the image is dangling and unused.
      if (quiet && (!isDangling(state, imageId) || conflict.used)) return;
      throw new StepError(conflict, imageId);
    }
    const node = state.images.get(imageId);
    if (!node) {
      // A parent record naming an image dockerd does not hold: image/store.go Delete fails.
      throw new StepError({ kind: 'daemon-error', message: `unrecognized image ID ${imageId}`, used: false }, null);
    }
    for (const r of referencesOf(state, imageId)) this.untag(r.ref, r.ref);
    const orphaned = childrenOf(state, imageId);
    for (const child of orphaned) {
      const c = state.images.get(child);
      if (c) c.parent = null;
    }
    state.children.delete(imageId);
    if (node.parent !== null) state.children.get(node.parent)?.delete(imageId);
    state.images.delete(imageId);
    const layers = node.top !== null ? state.layers.release(node.top, { image: imageId }) : [];
    this.images.push({ id: imageId, layers, orphanedChildren: orphaned });
    this.lines.push(`Deleted: ${imageId}`, ...layers.map((l) => `Deleted: ${l}`));
    if (this.prune && node.parent !== null) this.deleteImage(node.parent, false, true);
  }
}

/** docker's ImageDelete for one REF. */
function runStep(state: DaemonState, ref: string, opts: RmiOptions): RmiStep {
  const force = opts.force ?? false;
  const run = new StepRun(state, !(opts.noPrune ?? false));
  const step = (error: RmiConflict | null): RmiStep => ({
    ref,
    lines: error ? [] : run.lines,
    untaggedKeys: run.untaggedKeys,
    untagged: run.untagged,
    images: run.images,
    error,
  });
  const lookup = lookupAsDaemon(state, ref);
  if ('invalid' in lookup) return step({ ref, kind: 'invalid-reference', message: lookup.invalid, blockers: blockersOf(state, null) });
  if ('notFound' in lookup) return step({ ref, kind: 'no-such-image', message: `No such image: ${ref}`, blockers: blockersOf(state, null) });
  const imageId = lookup.found.id;
  const conflictOf = (c: DeleteConflict, id: string | null) => ({ ref, kind: c.kind, message: c.message, blockers: blockersOf(state, id) });
  try {
    let removedRepositoryRef = false;
    let refs = referencesOf(state, imageId);
    if (!lookup.found.idPrefix) {
      if (!force && isSingleReference(refs)) {
        const c = state.containers.find((c) => c.imageId === imageId);
        if (c) {
          const message = `conflict: unable to remove repository reference "${ref}" (must force) - container ${truncateId(c.id)} is using its referenced image ${truncateId(imageId)}`;
          return step(conflictOf({ kind: 'repository-reference', message, used: true }, imageId));
        }
      }
      const parsed = parseReference(ref)!;
      run.untag(storeKeyOf(parsed), taggedReferenceString(parsed));
      refs = referencesOf(state, imageId);
      // A tag gone and no other tag of its repository left: the repository's digests go with it.
      if (parsed.digest === null && !refs.some((r) => r.digest === null && r.name === parsed.name)) {
        const remaining: Reference[] = [];
        for (const r of refs) {
          if (r.digest !== null && r.name === parsed.name) run.untag(r.ref, r.ref);
          else remaining.push(r);
        }
        refs = remaining;
      }
      if (refs.length > 0) return step(null);
      removedRepositoryRef = true;
    } else if (isSingleReference(refs)) {
      const conflict = deleteConflict(state, imageId, force ? CONFLICT_HARD : CONFLICT_HARD | CONFLICT_STOPPED);
      if (conflict) return step(conflictOf(conflict, imageId));
      for (const r of refs) run.untag(r.ref, r.ref);
    }
    run.deleteImage(imageId, force, removedRepositoryRef);
    return step(null);
  } catch (err) {
    if (err instanceof StepError) return step(conflictOf(err.conflict, err.imageId));
    throw err;
  }
}

/** predictRmi with each REF's removals, for the offline rmi that carries them out. */
export function planRmi(model: StoreModel, refs: string[], opts: RmiOptions): RmiPlan {
  const state = stateOf(model);
  const steps = refs.map((ref) => runStep(state, ref, opts));
  // A failed step changed nothing, except one dockerd failed midway (daemon-error): what it did stays done.
  return {
    steps,
    lines: steps.flatMap((s) => s.lines),
    errors: steps.flatMap((s) => (s.error ? [s.error] : [])),
    untagged: steps.flatMap((s) => s.untagged),
    deletedImages: steps.flatMap((s) => s.images.map((i) => i.id)),
    deletedLayers: steps.flatMap((s) => s.images.flatMap((i) => i.layers)),
  };
}

/** docker rmi's answer for `refs` on this store, each REF on the state the earlier ones leave. */
export function predictRmi(model: StoreModel, refs: string[], opts: RmiOptions): RmiPrediction {
  const { lines, errors, untagged, deletedImages, deletedLayers } = planRmi(model, refs, opts);
  return { lines, errors, untagged, deletedImages, deletedLayers };
}

/** Whether the CLI exits 1: any failure, except that with -f only "No such image" ones are printed and forgiven. */
export function rmiFails(prediction: RmiPrediction, opts: RmiOptions): boolean {
  if (prediction.errors.length === 0) return false;
  return !opts.force || prediction.errors.some((e) => e.kind !== 'no-such-image');
}

/** The docker CLI's stderr text for an error ("Error: No such image: x", else "Error response from daemon: …"). */
export function rmiErrorText(error: RmiConflict): string {
  return error.kind === 'no-such-image' ? `Error: ${error.message}` : `Error response from daemon: ${error.message}`;
}

/**
 * What may make the prediction differ from dockerd's own answer: parts of the store that could not be
 * read, and containers whose config could not be read (dockerd skips them too, so its answer ignores
 * them, but they may well use the image).
 */
export function rmiWarnings(model: StoreModel): Warning[] {
  const out: Warning[] = [];
  for (const p of model.unreadable.parts) {
    out.push({ file: p.file, message: `${p.reason}: the ${p.part} could not be read, so this prediction of docker rmi may be wrong` });
  }
  for (const c of model.unreadable.containers) {
    // A config strata may not read is one root's dockerd reads: then docker's answer may well count it.
    const denied = /permission denied|operation not permitted/i.test(c.reason);
    out.push({
      file: c.file,
      message: denied
        ? `${c.reason}: container ${truncateId(c.id)} could not be read, but dockerd (as root) reads it: it may be using the image, and this prediction may be wrong (${PERMISSION_HINT})`
        : `${c.reason}: container ${truncateId(c.id)} could not be read; dockerd skips it too, so the answer ignores it, but it may be using the image`,
    });
  }
  for (const c of model.containers) {
    if (daemonLoadsContainer(model, c)) continue;
    const why = model.mounts.has(c.id) ? `was created with the ${c.driver} driver` : 'has no read-write layer record (layerdb/mounts)';
    out.push({ file: `container ${truncateId(c.id)} (${c.name})`, message: `${why}: dockerd does not load it, so it keeps no image from docker rmi` });
  }
  for (const i of model.unreadable.images) {
    out.push({ file: i.file, message: `${i.reason}: image ${truncateId(i.id)} could not be read; dockerd skips it too (it may be a parent or child of what is removed)` });
  }
  for (const l of model.unreadable.layers) {
    if (l.field === 'parent') out.push({ file: l.file, message: `${l.reason}: layer ${truncateId(l.chainId)}'s parent is unknown, so the layers deleted with it may differ` });
  }
  for (const m of model.unreadable.mounts) {
    if (m.field === 'parentChainId') out.push({ file: m.file, message: `${m.reason}: the layer container ${truncateId(m.containerId)}'s read-write layer holds is unknown, so the layers deleted may differ` });
  }
  for (const image of model.images.values()) {
    if (image.unread.includes('parent')) out.push({ file: `image ${truncateId(image.id)}`, message: 'its parent record could not be read, so its place among child images is unknown' });
  }
  return out;
}

/** The model's warnings and rmiWarnings, each file once (rmi's own text repeats the reason it was unreadable). */
export function predictionWarnings(model: StoreModel): Warning[] {
  const extra = rmiWarnings(model);
  const named = new Set(extra.map((w) => w.file));
  return [...model.warnings.filter((w) => !named.has(w.file)), ...extra];
}
