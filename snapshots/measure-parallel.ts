// Measures a large tree on several threads: the tree is cut into subtrees that worker threads walk while
// the main thread does other work (reading the store); hardlinked inodes are merged so each counts once.
import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { emptyUsage, type MeasureOptions, type TreeUsage } from './measure.js';

interface SubtreeResult {
  usage: TreeUsage;
  /** [ino, size, blocks] of every non-directory with more than one link, to count once across subtrees. */
  multiLinked: number[];
  errors: Array<[string, string]>;
}

/**
 * Walks the entries below `dir` (not `dir` itself) staying on `device`. Self-contained — no imports, no
 * closures — because its source is what the worker threads run.
 */
function walkSubtree(fs: typeof import('node:fs'), dir: string, device: number): SubtreeResult {
  const usage = { apparentBytes: 0, allocatedBytes: 0, contentBytes: 0, entries: 0 };
  const multiLinked: number[] = [];
  const errors: Array<[string, string]> = [];
  const stack = [dir];
  while (stack.length > 0) {
    const d = stack.pop()!;
    let names: string[];
    try {
      names = fs.readdirSync(d);
    } catch (err) {
      errors.push([d, (err as Error).message]);
      continue;
    }
    for (let i = 0; i < names.length; i++) {
      const p = d + '/' + names[i];
      let st;
      try {
        st = fs.lstatSync(p);
      } catch (err) {
        errors.push([p, (err as Error).message]);
        continue;
      }
      if (st.dev !== device) continue;
      const isDir = st.isDirectory();
      if (!isDir && st.nlink > 1) {
        multiLinked.push(st.ino, st.size, st.blocks);
        continue;
      }
      usage.entries++;
      usage.apparentBytes += st.size;
      usage.allocatedBytes += st.blocks * 512;
      if (isDir) stack.push(p);
      else usage.contentBytes += st.size;
    }
  }
  return { usage, multiLinked, errors };
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const walkSubtree = ${walkSubtree.toString()};
const fs = require('node:fs');
const results = workerData.dirs.map((dir) => walkSubtree(fs, dir, workerData.device));
parentPort.postMessage(results);
`;

function countEntry(usage: TreeUsage, st: Stats): void {
  usage.entries++;
  usage.apparentBytes += st.size;
  usage.allocatedBytes += st.blocks * 512;
  if (!st.isDirectory()) usage.contentBytes += st.size;
}

export interface ParallelMeasure {
  /** Resolves once every worker has finished. */
  result: Promise<TreeUsage>;
}

/**
 * Starts measuring `root` (like measureTree: du -sb semantics, one filesystem) on worker threads and
 * returns at once; the caller awaits `result` after doing its own work.
 */
export function measureTreeInBackground(root: string, opts: MeasureOptions & { threads?: number } = {}): ParallelMeasure {
  const threads = Math.max(1, Math.min(opts.threads ?? availableParallelism(), 4));
  const usage = emptyUsage();
  const seen = opts.seenInodes ?? new Set<number>();
  const countMulti = (list: number[]) => {
    for (let i = 0; i < list.length; i += 3) {
      if (seen.has(list[i])) continue;
      seen.add(list[i]);
      usage.entries++;
      usage.apparentBytes += list[i + 1];
      usage.allocatedBytes += list[i + 2] * 512;
      usage.contentBytes += list[i + 1];
    }
  };
  let top: Stats;
  try {
    top = lstatSync(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') opts.onError?.(root, err);
    return { result: Promise.resolve(usage) };
  }
  countEntry(usage, top);
  if (!top.isDirectory()) return { result: Promise.resolve(usage) };

  // Cut the tree: expand directories breadth-first until there are enough subtrees to share out.
  let frontier = [root];
  const subtrees: string[] = [];
  for (let depth = 0; depth < 3 && frontier.length > 0 && frontier.length < threads * 64; depth++) {
    const next: string[] = [];
    for (const dir of frontier) {
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch (err) {
        opts.onError?.(dir, err);
        continue;
      }
      for (const name of names) {
        const p = `${dir}/${name}`;
        let st: Stats;
        try {
          st = lstatSync(p);
        } catch (err) {
          opts.onError?.(p, err);
          continue;
        }
        if (st.dev !== top.dev) continue;
        if (!st.isDirectory() && st.nlink > 1) countMulti([st.ino, st.size, st.blocks]);
        else countEntry(usage, st);
        if (st.isDirectory()) next.push(p);
      }
    }
    frontier = next;
  }
  subtrees.push(...frontier);
  if (subtrees.length === 0) return { result: Promise.resolve(usage) };

  const merge = (results: SubtreeResult[]) => {
    for (const r of results) {
      usage.entries += r.usage.entries;
      usage.apparentBytes += r.usage.apparentBytes;
      usage.allocatedBytes += r.usage.allocatedBytes;
      usage.contentBytes += r.usage.contentBytes;
      countMulti(r.multiLinked);
      for (const [p, message] of r.errors) opts.onError?.(p, new Error(message));
    }
  };
  // Round-robin shares: neighbouring directories are alike in size, so the shares come out even.
  const shares: string[][] = Array.from({ length: threads }, () => []);
  subtrees.forEach((dir, i) => shares[i % threads].push(dir));
  const jobs = shares
    .filter((s) => s.length > 0)
    .map(
      (dirs) =>
        new Promise<SubtreeResult[]>((resolve, reject) => {
          const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { dirs, device: top.dev } });
          worker.once('message', resolve);
          worker.once('error', reject);
          worker.once('exit', (code) => code !== 0 && reject(new Error(`measuring thread exited with ${code}`)));
        }),
    );
  return {
    result: Promise.all(jobs).then((all) => {
      all.forEach(merge);
      return usage;
    }),
  };
}
