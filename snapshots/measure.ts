// Measures a directory tree the way `du -sb` and Docker's directory.Size do, in one walk.
// Stays on one filesystem (a running container's merged/ mount or a shm tmpfs is not store data).
import * as fs from 'node:fs';
import { lstatSync, type Stats } from 'node:fs';
import { displayPath } from '../native/names.js';
import { childPath, pathBytes } from './walk.js';

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
  /** [path as displayed, message] of every entry that could not be read. */
  errors: Array<[string, string]>;
}

/**
 * Walks the entries below `dir` (not `dir` itself) staying on `device`; multi-linked files are returned
 * apart, for the caller to count once. Directories are listed as bytes, so an entry whose name is not
 * UTF-8 is measured like any other. The measuring worker threads run it too (measure-worker.ts).
 */
export function walkSubtree(fs: typeof import('node:fs'), dir: string | Uint8Array, device: number): SubtreeResult {
  const usage = { apparentBytes: 0, allocatedBytes: 0, contentBytes: 0, entries: 0 };
  const multiLinked: number[] = [];
  const errors: Array<[string, string]> = [];
  const stack = [pathBytes(dir)];
  while (stack.length > 0) {
    const d = stack.pop()!;
    let names: Buffer[];
    try {
      names = fs.readdirSync(d, { encoding: 'buffer' });
    } catch (err) {
      errors.push([displayPath(d), (err as Error).message]);
      continue;
    }
    for (let i = 0; i < names.length; i++) {
      const p = childPath(d, names[i]);
      let st: import('node:fs').Stats;
      try {
        st = fs.lstatSync(p);
      } catch (err) {
        errors.push([displayPath(p), (err as Error).message]);
        continue;
      }
      if (st.dev !== device) continue;
      const isDir = (st.mode & 0o170000) === 0o040000;
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
  // countEntry for a file with several links, without an object for each (a store holds many).
  const m = r.multiLinked;
  for (let i = 0; i < m.length; i += 3) {
    if (seen.has(m[i])) continue;
    seen.add(m[i]);
    usage.entries++;
    usage.apparentBytes += m[i + 1];
    usage.allocatedBytes += m[i + 2] * 512;
    usage.contentBytes += m[i + 1];
  }
  for (const [p, message] of r.errors) onError?.(p, new Error(message));
}

/**
 * One entry as measureTree sees it: its own lstat numbers and, for a directory, what lies below it (its
 * multi-linked files apart), so that a caller can count it later against its own set of seen inodes and
 * get exactly what measureTree would give (data-root walks keep these for the entries they are asked about).
 */
export interface EntryUsage {
  ino: number;
  nlink: number;
  size: number;
  blocks: number;
  dir: boolean;
  /** Everything below a directory (null for anything else, and for a directory nothing was found below yet). */
  below: SubtreeResult | null;
}

export function emptySubtree(): SubtreeResult {
  return { usage: emptyUsage(), multiLinked: [], errors: [] };
}

/** An entry's own numbers from its lstat (`below` set by whoever walks it). */
export function entryOf(st: { ino: number; nlink: number; size: number; blocks: number; isDirectory(): boolean }): EntryUsage {
  const dir = st.isDirectory();
  return { ino: st.ino, nlink: st.nlink, size: st.size, blocks: st.blocks, dir, below: null };
}

/** What is below an entry, made when something is first found there. */
export function belowOf(e: EntryUsage): SubtreeResult {
  return (e.below ??= emptySubtree());
}

/** Adds what lies below an entry, as walkSubtree would have found it, to `into` (a subtree result being built). */
export function addBelow(into: SubtreeResult, st: { ino: number; nlink: number; size: number; blocks: number; isDirectory(): boolean }): void {
  const isDir = st.isDirectory();
  if (!isDir && st.nlink > 1) {
    into.multiLinked.push(st.ino, st.size, st.blocks);
    return;
  }
  into.usage.entries++;
  into.usage.apparentBytes += st.size;
  into.usage.allocatedBytes += st.blocks * 512;
  if (!isDir) into.usage.contentBytes += st.size;
}

/** Folds a subtree result into another (both still uncounted against any set of seen inodes). */
export function addSubtree(into: SubtreeResult, more: SubtreeResult): void {
  addUsage(into.usage, more.usage);
  for (const x of more.multiLinked) into.multiLinked.push(x);
  for (const e of more.errors) into.errors.push(e);
}

/** Counts an entry (EntryUsage) into `usage` against `seen`, as measureTree counts the path it measures. */
export function countEntryUsage(usage: TreeUsage, e: EntryUsage, seen: Set<number>, onError?: (path: string, err: unknown) => void): void {
  countEntry(usage, { ino: e.ino, nlink: e.nlink, size: e.size, blocks: e.blocks, isDirectory: () => e.dir }, seen);
  if (e.below) mergeSubtree(usage, e.below, seen, onError);
}

/** The entry at `path` walked (see EntryUsage); null when it is missing, or unreadable (reported to onError). */
export function measureEntry(path: string, onError?: (path: string, err: unknown) => void): EntryUsage | null {
  let top: Stats;
  try {
    top = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') onError?.(path, err);
    return null;
  }
  const e = entryOf(top);
  if (e.dir) e.below = walkSubtree(fs, path, top.dev);
  return e;
}

/** Measures `path` (file or directory). A missing path measures as empty. */
export function measureTree(path: string, opts: MeasureOptions = {}): TreeUsage {
  const usage = emptyUsage();
  const e = measureEntry(path, opts.onError);
  if (e) countEntryUsage(usage, e, opts.seenInodes ?? new Set<number>(), opts.onError);
  return usage;
}
