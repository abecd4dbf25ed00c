// Measures a directory tree the way `du -sb` and Docker's directory.Size do, in one walk.
// Stays on one filesystem (a running container's merged/ mount or a shm tmpfs is not store data).
import { lstatSync, readdirSync, type Stats } from 'node:fs';

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

function count(usage: TreeUsage, st: Stats, seen: Set<number>): void {
  if (st.nlink > 1 && !st.isDirectory()) {
    if (seen.has(st.ino)) return;
    seen.add(st.ino);
  }
  usage.entries++;
  usage.apparentBytes += st.size;
  usage.allocatedBytes += st.blocks * 512;
  if (!st.isDirectory()) usage.contentBytes += st.size;
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
  count(usage, top, seen);
  if (!top.isDirectory()) return usage;
  const device = top.dev;
  const stack = [path];
  while (stack.length > 0) {
    const dir = stack.pop()!;
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
      if (st.dev !== device) continue;
      count(usage, st, seen);
      if (st.isDirectory()) stack.push(p);
    }
  }
  return usage;
}
