// `strata rmi` without --dry-run: docker rmi carried out on a store whose daemon cannot start. The plan is
// the prediction's (inspect/rmi.ts), so the lines printed are the ones dockerd would have printed; each
// deleted image is one removal group (inspect/store-remove.ts): its config, its metadata, the layerdb
// entries and driver directories of the layers released with it, and the parent records of its children,
// renamed away all or nothing; the REF's untagging is written to repositories.json as the group's commit.
import { join } from 'node:path';
import type { StorageDriver } from '../drivers/types.js';
import { StrataError } from '../native/errors.js';
import { hexOf } from './digest.js';
import type { StoreModel } from './model.js';
import { planRmi, type RmiConflict, type RmiOptions, type RmiPlan, type RmiStep } from './rmi.js';
import { removeGroups, type RemovalGroup } from './store-remove.js';
import type { StoreWriter } from './write-store.js';
import type { Warning } from './warnings.js';

export interface OfflineRmiResult {
  /** The prediction the removal carried out (errors are docker's, for the REFs it refused). */
  plan: RmiPlan;
  /** Lines of what was done, as docker prints them. */
  lines: string[];
  /** Images removed, layers removed, references removed. */
  deletedImages: string[];
  deletedLayers: string[];
  untagged: string[];
  /** The removal that failed (nothing of its group was removed), and the REFs not attempted after it. */
  failure: { ref: string; label: string; reason: string; notAttempted: string[] } | null;
  bytesFreed: number;
  warnings: Warning[];
}

/** The paths one image's removal renames away: metadata first, so that an interruption leaves only data nothing names. */
export function imageRemovalPaths(model: StoreModel, meta: string, driver: StorageDriver, removal: RmiStep['images'][number]): string[] {
  const imagedb = join(meta, 'imagedb');
  const paths = [join(imagedb, 'content', 'sha256', hexOf(removal.id)), join(imagedb, 'metadata', 'sha256', hexOf(removal.id))];
  for (const child of removal.orphanedChildren) paths.push(join(imagedb, 'metadata', 'sha256', hexOf(child), 'parent'));
  for (const chainId of removal.layers) {
    const layer = model.layers.get(chainId);
    // Without its cache id the layer's driver directory is unknown: removing its metadata alone would leak it.
    if (!layer || layer.cacheId === null) throw new StrataError(`the cache-id of layer ${chainId} could not be read; image ${removal.id} was not removed`, { file: join(meta, 'layerdb', 'sha256', hexOf(chainId), 'cache-id') });
    paths.push(join(meta, 'layerdb', 'sha256', hexOf(chainId)), ...driver.layerPaths(layer.cacheId));
  }
  return paths;
}

function imageLines(removal: RmiStep['images'][number]): string[] {
  return [`Deleted: ${removal.id}`, ...removal.layers.map((l) => `Deleted: ${l}`)];
}

/**
 * Carries out `docker rmi refs` on the model's store. The caller holds the write session (the write lock,
 * no dockerd) and has checked that nothing uses the root. REFs docker would refuse change nothing; a
 * group that cannot be removed stops the run there (later REFs were planned on its removal).
 */
export function removeImagesOffline(model: StoreModel, writer: StoreWriter, driver: StorageDriver, refs: string[], opts: RmiOptions): OfflineRmiResult {
  const plan = planRmi(model, refs, opts);
  const result: OfflineRmiResult = { plan, lines: [], deletedImages: [], deletedLayers: [], untagged: [], failure: null, bytesFreed: 0, warnings: [] };
  for (let s = 0; s < plan.steps.length; s++) {
    const step = plan.steps[s];
    const stop = (label: string, reason: string) => {
      result.failure = { ref: step.ref, label, reason, notAttempted: plan.steps.slice(s + 1).map((x) => x.ref) };
    };
    // dockerd prints nothing for a REF it failed midway (daemon-error), though what it did stays done.
    const print = (lines: string[]) => {
      if (step.error === null) result.lines.push(...lines);
    };
    let untagPending = step.untaggedKeys.length > 0;
    const untag = () => {
      if (!untagPending) return;
      writer.untag(step.untaggedKeys);
      untagPending = false;
      result.untagged.push(...step.untagged);
      print(step.untagged.map((r) => `Untagged: ${r}`));
    };
    if (step.images.length === 0) {
      try {
        untag();
      } catch (err) {
        stop('repositories.json', err instanceof Error ? err.message : String(err));
        return result;
      }
      continue;
    }
    for (const removal of step.images) {
      let group: RemovalGroup;
      try {
        group = { label: `image ${removal.id}`, paths: imageRemovalPaths(model, writer.meta, driver, removal) };
      } catch (err) {
        stop(`image ${removal.id}`, err instanceof Error ? err.message : String(err));
        return result;
      }
      // The REF's untagging is the commit of its first image: an image that stays keeps its tags.
      const removed = removeGroups(model.root, [group], { commit: () => untag() });
      result.bytesFreed += removed.bytesFreed;
      if (removed.trashLeft) result.warnings.push({ file: removed.trashLeft.path, message: `could not be deleted (${removed.trashLeft.reason}); the next strata write removes it` });
      if (removed.failed.length > 0) {
        stop(group.label, removed.failed[0].reason);
        return result;
      }
      result.deletedImages.push(removal.id);
      result.deletedLayers.push(...removal.layers);
      print(imageLines(removal));
    }
  }
  return result;
}

/** The REFs whose errors docker reports, as the offline run reached them. */
export function reachedErrors(result: OfflineRmiResult): RmiConflict[] {
  const reached = result.failure ? new Set(result.plan.steps.slice(0, result.plan.steps.length - result.failure.notAttempted.length - 1)) : new Set(result.plan.steps);
  return result.plan.steps.filter((s) => reached.has(s) && s.error !== null).map((s) => s.error!);
}
