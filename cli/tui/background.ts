// What the TUI fills in after its first screen, off the key loop: the orphaned directories (the driver's
// directories listed against the model, as df does), the data-root measured on disk (worker threads) and
// what prune could reclaim (prune --dry-run --containers, as df --audit counts it).
import { measureDirectories, sizeFromWalk, startMeasuringDataRoot, storeFindings } from '../../inspect/df.js';
import { planPrune } from '../../inspect/prune.js';
import type { Warning } from '../../inspect/warnings.js';
import type { StorageDriver } from '../../drivers/types.js';
import type { StoreModel } from '../../inspect/model.js';
import { StrataError } from '../../native/errors.js';
import type { OrphanState } from './data.js';

export interface BackgroundState {
  orphans: OrphanState;
  /** The data-root's apparent bytes, each inode once; null until measured. */
  onDisk: number | null;
  reclaimable: number | null;
}

/**
 * `whenIdle` resolves once the user has left the keys alone for a while: each step below holds the main
 * thread for a moment (listing the driver's directories, cutting the data-root into subtrees for the walk's
 * threads, prune's plan), so each waits for a pause rather than delaying a key.
 */
export type StartBackground = (
  model: StoreModel,
  driver: StorageDriver | null,
  warnings: Warning[],
  update: (patch: Partial<BackgroundState>) => void,
  whenIdle?: () => Promise<void>,
) => void | Promise<void>;

const message = (err: unknown) => (err instanceof StrataError ? err.message : err instanceof Error ? err.message : String(err));

export const startBackground: StartBackground = async (model, driver, warnings, update, whenIdle = async () => {}) => {
  await whenIdle();
  let found: ReturnType<typeof storeFindings>;
  try {
    found = storeFindings(model, driver);
  } catch (err) {
    update({ orphans: { error: message(err) } });
    return;
  }
  const dirs = found.dirs;
  if (dirs instanceof StrataError) update({ orphans: { error: dirs.message } });
  else update({ orphans: { list: dirs?.orphans ?? [], measured: dirs === null } });
  await whenIdle();
  const dataRoot = startMeasuringDataRoot(model.root, warnings);
  dataRoot.result.then((usage) => update({ onDisk: usage.apparentBytes }), () => {});
  dataRoot.entries.then((entries) => {
    if (dirs && !(dirs instanceof StrataError)) {
      measureDirectories(dirs, sizeFromWalk(entries));
      update({ orphans: { list: [...dirs.orphans], measured: true } });
    }
  }, () => {});
  await whenIdle();
  planPrune(model, driver, { containers: true, sizes: dataRoot.entries, found }, warnings).then(
    (plan) => update({ reclaimable: plan.bytes }),
    (err) => warnings.push({ file: model.root, message: `reclaimable bytes: ${message(err)}` }),
  );
};
