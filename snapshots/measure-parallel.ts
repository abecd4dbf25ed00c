// Measures a large tree on several threads: the tree is cut into subtrees that worker threads walk while
// the main thread does other work (reading the store); hardlinked inodes are merged so each counts once.
import * as fs from 'node:fs';
import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { availableParallelism } from 'node:os';
import { nativeHelpers } from '../native/index.js';
import { displayPath, isUtf8 } from '../native/names.js';
import { runWorker } from '../native/workers.js';
import { countEntry, emptyUsage, mergeSubtree, walkSubtree, type MeasureOptions, type SubtreeResult, type TreeUsage } from './measure.js';
import { childPath, pathBytes } from './walk.js';

// Workers (measure-worker.ts) take subtrees from one shared list through an atomic counter, so no thread
// idles while another still has work; the main thread can join in (help) once its own work is done.

/** Subtrees walked so far of all there are (for a progress bar); called on the main thread. */
export type MeasureProgress = (done: number, total: number) => void;

export interface ParallelMeasure {
  /** Resolves once every subtree is measured. */
  result: Promise<TreeUsage>;
  /** Walks remaining subtrees on this thread too, until none is left (call when otherwise idle). */
  help(): void;
}

/**
 * Starts measuring `root` (like measureTree: du -sb semantics, one filesystem) on worker threads and
 * returns at once; the caller awaits `result` after doing its own work.
 */
export function measureTreeInBackground(root: string, opts: MeasureOptions & { threads?: number; onProgress?: MeasureProgress } = {}): ParallelMeasure {
  const threads = Math.max(1, Math.min(opts.threads ?? availableParallelism(), 4));
  const usage = emptyUsage();
  const seen = opts.seenInodes ?? new Set<number>();
  let top: Stats;
  try {
    top = lstatSync(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') opts.onError?.(root, err);
    return { result: Promise.resolve(usage), help() {} };
  }
  countEntry(usage, top, seen);
  if (!top.isDirectory()) return { result: Promise.resolve(usage), help() {} };

  // Cut the tree: expand directories breadth-first until there are enough subtrees to share out.
  // Paths are bytes: a directory whose name is not UTF-8 is measured like any other.
  let frontier = [pathBytes(root)];
  const subtrees: Buffer[] = [];
  for (let depth = 0; depth < 3 && frontier.length > 0 && frontier.length < threads * 64; depth++) {
    const next: Buffer[] = [];
    for (const dir of frontier) {
      let names: Buffer[];
      try {
        names = readdirSync(dir, { encoding: 'buffer' });
      } catch (err) {
        opts.onError?.(displayPath(dir), err);
        continue;
      }
      for (const name of names) {
        const p = childPath(dir, name);
        let st: Stats;
        try {
          st = lstatSync(p);
        } catch (err) {
          opts.onError?.(displayPath(p), err);
          continue;
        }
        if (st.dev !== top.dev) continue;
        countEntry(usage, st, seen);
        if (st.isDirectory()) next.push(p);
      }
    }
    frontier = next;
  }
  subtrees.push(...frontier);
  const total = subtrees.length;
  const progress = opts.onProgress ?? (() => {});
  // A small tree is walked here: starting threads would cost more than they save.
  if (subtrees.length < threads * 16) {
    subtrees.forEach((dir, i) => {
      mergeSubtree(usage, walkSubtree(fs, dir, top.dev), seen, opts.onError);
      progress(i + 1, total);
    });
    return { result: Promise.resolve(usage), help() {} };
  }

  const merge = (results: SubtreeResult[]) => {
    for (const r of results) mergeSubtree(usage, r, seen, opts.onError);
  };
  // The native walker runs its own threads (fstatat relative to each directory, no JavaScript per entry).
  // It takes its directories as UTF-8 strings: one whose path is not UTF-8 is walked here instead.
  const native = nativeHelpers();
  if (native) {
    const here = subtrees.filter((dir) => !isUtf8(dir));
    const there = subtrees.filter((dir) => isUtf8(dir)).map((dir) => dir.toString('utf8'));
    // The native walk reports only when done: with a progress callback it is asked for in batches.
    const batch = opts.onProgress ? Math.max(threads * 8, Math.ceil(there.length / 32)) : there.length;
    const walkBatches = async () => {
      for (let i = 0; i < there.length; i += batch) {
        merge(await native.walkSubtrees(there.slice(i, i + batch), top.dev, threads));
        progress(Math.min(i + batch, there.length), total);
      }
      merge(here.map((dir) => walkSubtree(fs, dir, top.dev)));
      progress(total, total);
      return usage;
    };
    return { help() {}, result: walkBatches() };
  }
  const counter = new SharedArrayBuffer(4);
  const next = new Int32Array(counter);
  const device = top.dev;
  const jobs = Array.from(
    { length: threads },
    () =>
      runWorker<SubtreeResult[]>('measure-worker', { dirs: subtrees, device, counter }),
  );
  const mine: SubtreeResult[] = [];
  // The shared counter says how many subtrees were taken: close enough to done for a progress bar.
  const taken = () => Math.min(Atomics.load(next, 0), total);
  const ticker = opts.onProgress ? setInterval(() => progress(taken(), total), 100) : null;
  return {
    help() {
      for (let i = Atomics.add(next, 0, 1); i < subtrees.length; i = Atomics.add(next, 0, 1)) {
        mine.push(walkSubtree(fs, subtrees[i], device));
        progress(taken(), total);
      }
    },
    result: Promise.all(jobs).then((all) => {
      all.forEach(merge);
      merge(mine);
      progress(total, total);
      return usage;
    }).finally(() => {
      if (ticker) clearInterval(ticker);
    }),
  };
}
