// Walks a tree in Go's filepath.Walk order (pre-order, names sorted by their bytes), which is the order
// Docker archives and reports changes in. Names are bytes throughout: Buffers, or ByteStrings as keys.
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
  /** Path relative to the walked root, as bytes, no leading slash ("etc/hosts"). */
  name: Buffer;
  /** Where the entry is on disk, as bytes. */
  path: Buffer;
  stat: StatLike;
  /** The entry's extended attributes (only when the walk was asked for them and the entry has some). */
  xattrs?: Map<string, Buffer>;
}

/**
 * A name's bytes held as a string of one char per byte ('latin1'): a lossless key for Maps and Sets whose
 * string order (by UTF-16 code unit) is the bytes' order. Never decoded: a name is not assumed to be UTF-8.
 */
export type ByteString = string;

export function byteString(bytes: Uint8Array): ByteString {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

export function bytesOfByteString(s: ByteString): Buffer {
  return Buffer.from(s, 'latin1');
}

/** A path's bytes: a string is taken as UTF-8 (a path the user typed, or a store path). */
export function pathBytes(p: string | Uint8Array): Buffer {
  return typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p.buffer, p.byteOffset, p.byteLength);
}

/** `dir` + "/" + `name` as bytes (no second slash when `dir` ends in one). */
export function childPath(dir: Buffer, name: Uint8Array): Buffer {
  const slash = dir.length > 0 && dir[dir.length - 1] !== 0x2f ? 1 : 0;
  const out = Buffer.allocUnsafe(dir.length + slash + name.length);
  dir.copy(out, 0);
  if (slash) out[dir.length] = 0x2f;
  out.set(name, dir.length + slash);
  return out;
}

function concat2(a: Buffer, b: Uint8Array): Buffer {
  if (a.length === 0) return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const out = Buffer.allocUnsafe(a.length + b.length);
  a.copy(out, 0);
  out.set(b, a.length);
  return out;
}

const SLASH = Buffer.from('/');

interface Listing {
  names: Buffer[];
  stat(i: number, path: Buffer): StatLike;
  xattrs(i: number): Map<string, Buffer> | undefined;
}

/** One directory's sorted entries: one native call for names, lstat and xattrs, or readdir + lstat. */
function listDir(dir: Buffer, withXattrs: boolean): Listing {
  const native = nativeHelpers();
  if (!native) return { names: readdirSync(dir, { encoding: 'buffer' }).sort(Buffer.compare), stat: (_i, path) => lstatSync(path), xattrs: () => undefined };
  const { nameBytes, nameEnds, stats: s, xattrs } = native.scanDir(dir, withXattrs);
  const names: Buffer[] = new Array(nameEnds.length);
  for (let i = 0, start = 0; i < nameEnds.length; start = nameEnds[i++]) names[i] = nameBytes.subarray(start, nameEnds[i]);
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
 * Every entry below `root` (not the root itself), parents before children, names as bytes. With
 * `xattrs`, entries carry their extended attributes when the native scan is there to read them (see
 * walkTreeWithXattrs).
 */
export function* walkTree(root: string | Buffer, opts: { xattrs?: boolean } = {}): Generator<WalkEntry> {
  const withXattrs = opts.xattrs ?? false;
  const stack: Array<{ dir: Buffer; prefix: Buffer; listing: Listing; i: number }> = [];
  const open = (dir: Buffer, prefix: Buffer) => stack.push({ dir, prefix, listing: listDir(dir, withXattrs), i: 0 });
  open(pathBytes(root), Buffer.alloc(0));
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    if (top.i >= top.listing.names.length) {
      stack.pop();
      continue;
    }
    const i = top.i++;
    const base = top.listing.names[i];
    const path = childPath(top.dir, base);
    const stat = top.listing.stat(i, path);
    const name = concat2(top.prefix, base);
    const xattrs = withXattrs ? top.listing.xattrs(i) : undefined;
    yield xattrs ? { name, path, stat, xattrs } : { name, path, stat };
    if (stat.isDirectory()) open(path, Buffer.concat([name, SLASH]));
  }
}

/** Whether walkTree can hand out xattrs itself (otherwise they come from drivers/xattrs.ts's getfattr pass). */
export function walkReadsXattrs(): boolean {
  return nativeHelpers() !== null;
}
