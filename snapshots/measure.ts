// Measures a directory tree the way `du -sb` and Docker's directory.Size do, in one walk.
// Stays on one filesystem (a running container's merged/ mount or a shm tmpfs is not store data).
import * as fs from 'node:fs';
import { lstatSync, type Stats } from 'node:fs';

export interface TreeUsage {
  /** Sum of st_size over every entry, directories included, each inode once (du -sb). */
  apparentBytes: number;
  /** Allocated blocks × 512, each inode once (du -s --block-size=1). */
  allocatedBytes: number;
  /** Docker's directory.Size: non-directory entries with size > 0, each inode once. */
  contentBytes: number;
  entries: number;
}

export interface MeasureOptions {
  /** Inodes already counted, shared across calls so a hardlink between two trees counts once. */
  seenInodes?: Set<number>;
  /** Called for an entry that could not be read; the walk goes on. */
  onError?: (path: string, err: unknown) => void;
}

export function emptyUsage(): TreeUsage {
  return { apparentBytes: 0, allocatedBytes: 0, contentBytes: 0, entries: 0 };
}

export function addUsage(into: TreeUsage, more: TreeUsage): TreeUsage {
  into.apparentBytes += more.apparentBytes;
  into.allocatedBytes += more.allocatedBytes;
  into.contentBytes += more.contentBytes;
  into.entries += more.entries;
  return into;
}

export interface SubtreeResult {
  usage: TreeUsage;
  /** [ino, size, blocks] of every non-directory with more than one link, to count once across subtrees. */
  multiLinked: number[];
  errors: Array<[string, string]>;
}

/**
 * Walks the entries below `dir` (not `dir` itself) staying on `device`; multi-linked files are returned
 * apart, for the caller to count once. Self-contained — no imports, no closures — because its source is
 * also what the measuring worker threads run (measure-parallel.ts).
 */
export function walkSubtree(fs: typeof import('node:fs'), dir: string, device: number): SubtreeResult {
  const usage = { apparentBytes: 0, allocatedBytes: 0, contentBytes: 0, entries: 0 };
  const multiLinked: number[] = [];
  const errors: Array<[string, string]> = [];
  // fs.lstatSync builds a Stats object with four Dates per call; the fs binding under it hands back the
  // raw numbers [dev, mode, nlink, uid, gid, rdev, blksize, ino, size, blocks, …], a third cheaper. It is
  // Node's internal API, so it is used only when present and when it agrees with lstatSync on `dir`.
  let raw: ((path: string) => ArrayLike<number>) | null = null;
  // Where process.binding would print a deprecation warning, the public API is used instead.
  const warns = process.execArgv.includes('--pending-deprecation') || /pending-deprecation/.test(process.env.NODE_OPTIONS ?? '') || process.env.NODE_PENDING_DEPRECATION === '1';
  if (!warns) try {
    const binding = (process as unknown as { binding(name: string): { lstat?: (...args: unknown[]) => ArrayLike<number> } }).binding('fs');
    const lstat = binding.lstat;
    if (typeof lstat === 'function') {
      const probe = lstat.call(binding, dir, false, undefined, true);
      const known = fs.lstatSync(dir);
      if (probe[7] === known.ino && probe[8] === known.size && probe[1] === known.mode && probe[0] === known.dev) {
        raw = (path: string) => lstat.call(binding, path, false, undefined, true);
      }
    }
  } catch {
    raw = null;
  }
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
      let dev: number, mode: number, nlink: number, ino: number, size: number, blocks: number;
      try {
        if (raw) {
          const st = raw(p);
          dev = st[0];
          mode = st[1];
          nlink = st[2];
          ino = st[7];
          size = st[8];
          blocks = st[9];
        } else {
          const st = fs.lstatSync(p);
          ({ dev, mode, nlink, ino, size, blocks } = st);
        }
      } catch (err) {
        errors.push([p, (err as Error).message]);
        continue;
      }
      if (dev !== device) continue;
      const isDir = (mode & 0o170000) === 0o040000;
      if (!isDir && nlink > 1) {
        multiLinked.push(ino, size, blocks);
        continue;
      }
      usage.entries++;
      usage.apparentBytes += size;
      usage.allocatedBytes += blocks * 512;
      if (isDir) stack.push(p);
      else usage.contentBytes += size;
    }
  }
  return { usage, multiLinked, errors };
}

/** Adds one entry; a file with several links only the first time its inode is met. */
export function countEntry(usage: TreeUsage, st: { ino: number; nlink: number; size: number; blocks: number; isDirectory(): boolean }, seen: Set<number>): void {
  const isDir = st.isDirectory();
  if (st.nlink > 1 && !isDir) {
    if (seen.has(st.ino)) return;
    seen.add(st.ino);
  }
  usage.entries++;
  usage.apparentBytes += st.size;
  usage.allocatedBytes += st.blocks * 512;
  if (!isDir) usage.contentBytes += st.size;
}

/** Folds a subtree's result in, counting its multi-linked files once against `seen`. */
export function mergeSubtree(usage: TreeUsage, r: SubtreeResult, seen: Set<number>, onError?: (path: string, err: unknown) => void): void {
  addUsage(usage, r.usage);
  for (let i = 0; i < r.multiLinked.length; i += 3) {
    const [ino, size, blocks] = [r.multiLinked[i], r.multiLinked[i + 1], r.multiLinked[i + 2]];
    countEntry(usage, { ino, nlink: 2, size, blocks, isDirectory: () => false }, seen);
  }
  for (const [p, message] of r.errors) onError?.(p, new Error(message));
}

/** Measures `path` (file or directory). A missing path measures as empty. */
export function measureTree(path: string, opts: MeasureOptions = {}): TreeUsage {
  const usage = emptyUsage();
  const seen = opts.seenInodes ?? new Set<number>();
  let top: Stats;
  try {
    top = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') opts.onError?.(path, err);
    return usage;
  }
  countEntry(usage, top, seen);
  if (top.isDirectory()) mergeSubtree(usage, walkSubtree(fs, path, top.dev), seen, opts.onError);
  return usage;
}
