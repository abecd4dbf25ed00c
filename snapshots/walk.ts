// Walks a tree in Go's filepath.Walk order (pre-order, names sorted by their bytes), which is the order
// Docker archives and reports changes in.
import { lstatSync, readdirSync } from 'node:fs';
import { nativeHelpers, SCAN_STRIDE } from '../native/index.js';

/** The lstat fields a walk reports: fs.Stats has them all, and so has EntryStat (from the native scan). */
export type StatLike = Pick<
  import('node:fs').Stats,
  'mode' | 'nlink' | 'uid' | 'gid' | 'size' | 'mtimeMs' | 'rdev' | 'dev' | 'ino' | 'blocks' | 'isDirectory' | 'isFile' | 'isSymbolicLink' | 'isCharacterDevice' | 'isBlockDevice' | 'isFIFO' | 'isSocket'
>;

const S_IFMT = 0o170000;

/** An entry's lstat numbers as the native scan returns them, with the fs.Stats type tests. */
export class EntryStat implements StatLike {
  constructor(
    readonly mode: number,
    readonly nlink: number,
    readonly uid: number,
    readonly gid: number,
    readonly size: number,
    readonly mtimeSec: number,
    readonly mtimeNsec: number,
    readonly rdev: number,
    readonly dev: number,
    readonly ino: number,
    readonly blocks: number,
  ) {}
  get mtimeMs(): number {
    return this.mtimeSec * 1000 + this.mtimeNsec / 1e6;
  }
  isDirectory(): boolean {
    return (this.mode & S_IFMT) === 0o040000;
  }
  isFile(): boolean {
    return (this.mode & S_IFMT) === 0o100000;
  }
  isSymbolicLink(): boolean {
    return (this.mode & S_IFMT) === 0o120000;
  }
  isCharacterDevice(): boolean {
    return (this.mode & S_IFMT) === 0o020000;
  }
  isBlockDevice(): boolean {
    return (this.mode & S_IFMT) === 0o060000;
  }
  isFIFO(): boolean {
    return (this.mode & S_IFMT) === 0o010000;
  }
  isSocket(): boolean {
    return (this.mode & S_IFMT) === 0o140000;
  }
}

export interface WalkEntry {
  /** Path relative to the walked root, no leading slash ("etc/hosts"). */
  name: string;
  path: string;
  stat: StatLike;
  /** The entry's extended attributes (only when the walk was asked for them and the entry has some). */
  xattrs?: Map<string, Buffer>;
}

export function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

interface Listing {
  names: string[];
  stat(i: number, path: string): StatLike;
  xattrs(i: number): Map<string, Buffer> | undefined;
}

/** One directory's sorted entries: one native call for names, lstat and xattrs, or readdir + lstat. */
function listDir(dir: string, withXattrs: boolean): Listing {
  const native = nativeHelpers();
  if (!native) return { names: readdirSync(dir).sort(byteOrder), stat: (_i, path) => lstatSync(path), xattrs: () => undefined };
  const { names, stats: s, xattrs } = native.scanDir(dir, withXattrs);
  return {
    names,
    stat(i) {
      const o = i * SCAN_STRIDE;
      return new EntryStat(s[o], s[o + 1], s[o + 2], s[o + 3], s[o + 4], s[o + 5], s[o + 6], s[o + 7], s[o + 8], s[o + 9], s[o + 10]);
    },
    xattrs(i) {
      const list = xattrs?.[i];
      if (!list) return undefined;
      const map = new Map<string, Buffer>();
      for (let k = 0; k + 1 < list.length; k += 2) map.set(list[k] as string, list[k + 1] as Buffer);
      return map;
    },
  };
}

/**
 * Every entry below `root` (not the root itself), parents before children. With `xattrs`, entries carry
 * their extended attributes when the native scan is there to read them (see walkTreeWithXattrs).
 */
export function* walkTree(root: string, opts: { xattrs?: boolean } = {}): Generator<WalkEntry> {
  const withXattrs = opts.xattrs ?? false;
  const stack: Array<{ dir: string; prefix: string; listing: Listing; i: number }> = [];
  const open = (dir: string, prefix: string) => stack.push({ dir, prefix, listing: listDir(dir, withXattrs), i: 0 });
  open(root, '');
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    if (top.i >= top.listing.names.length) {
      stack.pop();
      continue;
    }
    const i = top.i++;
    const base = top.listing.names[i];
    const path = top.dir.endsWith('/') ? top.dir + base : `${top.dir}/${base}`;
    const stat = top.listing.stat(i, path);
    const name = top.prefix + base;
    const xattrs = withXattrs ? top.listing.xattrs(i) : undefined;
    yield xattrs ? { name, path, stat, xattrs } : { name, path, stat };
    if (stat.isDirectory()) open(path, `${name}/`);
  }
}

/** Whether walkTree can hand out xattrs itself (otherwise they come from drivers/xattrs.ts's getfattr pass). */
export function walkReadsXattrs(): boolean {
  return nativeHelpers() !== null;
}
