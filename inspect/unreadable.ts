// What questions ask of the model's record of what could not be read (StoreModel.unreadable): which
// container records are live, which driver directories belong to an unreadable container, and what keeps
// a question from calling a directory orphaned or a layer leaked. Conservative by construction: prune
// deletes what df calls orphaned, so "could be someone's" is never "no one's".
import { PERMISSION_HINT } from '../native/errors.js';
import type { ContainerMount, LayerField, StoreModel, Unreadable } from './model.js';
import type { Warning } from './warnings.js';

const PERMISSION_PROBLEM = /permission denied|operation not permitted/;

/** Gives the hint that Docker's files are root's once: on the first permission problem, unless one has it. */
export function hintPermissionOnce(warnings: Warning[]): void {
  if (warnings.some((w) => w.message.includes(PERMISSION_HINT))) return;
  const first = warnings.find((w) => PERMISSION_PROBLEM.test(w.message));
  if (first) first.message = `${first.message} (${PERMISSION_HINT})`;
}

/** One entry per file, in order. */
function distinct(list: Unreadable[]): Unreadable[] {
  const seen = new Set<string>();
  return list.filter((u) => !seen.has(u.file) && (seen.add(u.file), true)).map(({ file, reason }) => ({ file, reason }));
}

/** Container ids known to exist: read or unreadable; null when containers/ could not be listed. */
function existingContainers(model: StoreModel): Set<string> | null {
  if (model.unreadable.parts.some((p) => p.part === 'containers')) return null;
  return new Set([...model.containers.map((c) => c.id), ...model.unreadable.containers.map((c) => c.id)]);
}

/**
 * Read-write layer records of containers that exist (their config read or not). A record whose container
 * directory is gone is a leftover; when containers/ could not be listed, every record counts as live.
 */
export function liveMounts(model: StoreModel): ContainerMount[] {
  const existing = existingContainers(model);
  return [...model.mounts.values()].filter((m) => existing === null || existing.has(m.containerId));
}

/** Driver directories of containers whose config could not be read, each with the file that blocked it. */
export function directoriesOfUnreadableContainers(model: StoreModel): Map<string, Unreadable> {
  const dirs = new Map<string, Unreadable>();
  for (const c of model.unreadable.containers) {
    const mount = model.mounts.get(c.id);
    for (const id of [mount?.mountId, mount?.initId]) if (id) dirs.set(id, { file: c.file, reason: c.reason });
  }
  return dirs;
}

/** Why a layer field is unknown: the unreadable record naming its file, else "not read" for this question. */
export function unreadFieldOf(model: StoreModel, chainId: string, field: LayerField): Unreadable {
  const found = model.unreadable.layers.find((l) => l.chainId === chainId && l.field === field);
  return found ? { file: found.file, reason: found.reason } : { file: `layer ${chainId}`, reason: `${field} not read` };
}

/** What keeps any unreferenced driver directory from being called an orphan: records that might reference it. */
export function orphanBlockers(model: StoreModel): Unreadable[] {
  const u = model.unreadable;
  const blockers: Unreadable[] = u.parts.filter((p) => p.part === 'layers' || p.part === 'mounts');
  const failed = u.layers.filter((l) => l.field === 'cacheId');
  blockers.push(...failed);
  const failedIds = new Set(failed.map((l) => l.chainId));
  for (const l of model.layers.values()) if (l.unread.includes('cacheId') && !failedIds.has(l.chainId)) blockers.push(unreadFieldOf(model, l.chainId, 'cacheId'));
  const live = new Set(liveMounts(model).map((m) => m.containerId));
  blockers.push(...u.mounts.filter((m) => (m.field === 'mountId' || m.field === 'initId') && live.has(m.containerId)));
  blockers.push(...unreadableContainersWithoutMounts(model));
  return distinct(blockers);
}

/** What keeps any unused layer from being called leaked (beyond unreadable parents met on a chain). */
export function leakBlockers(model: StoreModel): Unreadable[] {
  const u = model.unreadable;
  const blockers: Unreadable[] = u.parts.filter((p) => p.part === 'images' || p.part === 'mounts');
  blockers.push(...u.images);
  const live = new Set(liveMounts(model).map((m) => m.containerId));
  blockers.push(...u.mounts.filter((m) => m.field === 'parentChainId' && live.has(m.containerId)));
  blockers.push(...unreadableContainersWithoutMounts(model));
  return distinct(blockers);
}

/** Unreadable containers with no read-write layer record: nothing says which directories and layers are theirs. */
function unreadableContainersWithoutMounts(model: StoreModel): Unreadable[] {
  if (model.unreadable.parts.some((p) => p.part === 'mounts')) return [];
  return model.unreadable.containers.filter((c) => !model.mounts.has(c.id));
}
