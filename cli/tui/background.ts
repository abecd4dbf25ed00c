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

/** The steps on the calling thread; resolves once every figure is in (or has failed). */
export const startBackground = async (
  model: StoreModel,
  driver: StorageDriver | null,
  warnings: Warning[],
  update: (patch: Partial<BackgroundState>) => void,
  whenIdle: () => Promise<void> = async () => {},
): Promise<void> => {
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
  const onDisk = dataRoot.result.then((usage) => update({ onDisk: usage.apparentBytes }), () => {});
  const orphans = dataRoot.entries.then((entries) => {
    if (dirs && !(dirs instanceof StrataError)) {
      measureDirectories(dirs, sizeFromWalk(entries));
      update({ orphans: { list: [...dirs.orphans], measured: true } });
    }
  }, () => {});
  await whenIdle();
  const reclaimable = planPrune(model, driver, { containers: true, sizes: dataRoot.entries, found }, warnings).then(
    (plan) => update({ reclaimable: plan.bytes }),
    (err) => {
      warnings.push({ file: model.root, message: `reclaimable bytes: ${message(err)}` });
    },
  );
  await Promise.all([onDisk, orphans, reclaimable]);
};

/** What the background thread posts: figures as they come, the warnings met, and when it is done. */
export type BackgroundMessage = { patch: Partial<BackgroundState> } | { warnings: Warning[]; done: true } | { error: string };

/**
 * The same steps in a process of their own (cli/tui/background-worker.ts reads the store again there):
 * prune's plan and the walk's results hold a thread for a second or more on a store of thousands of
 * images, and on the main thread that second would be one in which no key, Ctrl-C included, is read.
 * Quitting kills it (a process exit waits for its own worker threads, not for another process).
 */
export const startBackgroundOnThread: StartBackground = async (model, _driver, warnings, update) => {
  const { fork } = await import('node:child_process');
  const { workerEntry } = await import('../../native/workers.js');
  const { fileURLToPath } = await import('node:url');
  const entry = workerEntry('tui-background-worker');
  const path = fileURLToPath(entry);
  const child = fork(path, [model.root, model.driver], {
    // Never the terminal: the TUI owns it.
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    execArgv: path.endsWith('.ts') ? ['--import=tsx'] : [],
  });
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  await new Promise<void>((resolve) => {
    child.on('message', (m: BackgroundMessage) => {
      if ('patch' in m) update(m.patch);
      else if ('error' in m) {
        update({ orphans: { error: m.error } });
        resolve();
      } else {
        warnings.push(...m.warnings);
        resolve();
      }
    });
    child.once('error', (err) => {
      update({ orphans: { error: message(err) } });
      resolve();
    });
    child.once('exit', () => resolve());
  });
  process.off('exit', kill);
};
