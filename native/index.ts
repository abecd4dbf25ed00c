// Loads strata's optional native helpers (strata-native.c, built into dist/ by `npm run build`). Every
// caller has a JavaScript path for when they are missing or turned off with STRATA_NATIVE=0.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants as osConstants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { fsError, StrataError } from './errors.js';

/** Lstat numbers per entry in scanDir's `stats`, in this order. */
export const SCAN_FIELDS = ['mode', 'nlink', 'uid', 'gid', 'size', 'mtimeSec', 'mtimeNsec', 'rdev', 'dev', 'ino', 'blocks'] as const;
export const SCAN_STRIDE = SCAN_FIELDS.length;
/** Where each of SCAN_FIELDS sits within an entry's SCAN_STRIDE numbers. */
export const SCAN_FIELD = Object.fromEntries(SCAN_FIELDS.map((f, i) => [f, i])) as Record<(typeof SCAN_FIELDS)[number], number>;

export interface ScannedDir {
  /** The entries' names, sorted bytewise, as their bytes one after another (Linux names need not be UTF-8). */
  nameBytes: Buffer;
  /** Where in nameBytes each entry's name ends (it starts where the one before it ends). */
  nameEnds: Uint32Array;
  /** SCAN_STRIDE numbers per entry (SCAN_FIELDS). */
  stats: Float64Array;
  /** Per entry index, its xattrs as [name, value, …] (only entries that have some; only when asked). */
  xattrs?: Array<Array<string | Buffer> | undefined>;
}

/**
 * One op of a plan for writePlan: a Buffer is data, written as it is; a BeneathOp names the layer
 * directory the files after it are opened beneath; a string is a file's name below that directory, as a
 * 'latin1' string of the name's bytes (Buffer.toString('latin1')), and the number after it how many of
 * the file's first bytes to copy.
 */
export type PlanOp = Buffer | BeneathOp | string | number;

/** A directory files are opened beneath: an open descriptor of it (duplicated by writePlan) and its path for messages. */
export interface BeneathOp {
  readonly dirFd: number;
  readonly dir: string;
}

export interface NativeSubtree {
  usage: { apparentBytes: number; allocatedBytes: number; contentBytes: number; entries: number };
  /** The newest mtime (ms, Node's mtimeMs arithmetic) of the walked directory's own entries, any filesystem; 0 for none. */
  newest?: number;
  multiLinked: number[];
  errors: Array<[string, string]>;
  /** Per entry of the walked directory, when walkSubtrees was asked for it (perChild). */
  children?: NativeChildren;
}

/** Numbers per entry in NativeChildren's `below`, in this order. */
export const BELOW_FIELDS = ['apparentBytes', 'allocatedBytes', 'contentBytes', 'entries', 'newest'] as const;
export const BELOW_STRIDE = BELOW_FIELDS.length;

/**
 * What one walk reports of each entry of the directory it walked, sorted by name bytes: its
 * name and lstat, and for a directory on the walk's filesystem the usage below it and the newest mtime
 * of its own entries. Entries whose lstat failed are left out (the walk's errors name them).
 */
export interface NativeChildren {
  nameBytes: Buffer;
  nameEnds: Uint32Array;
  /** SCAN_STRIDE numbers per entry (SCAN_FIELDS). */
  stats: Float64Array;
  /** BELOW_STRIDE numbers per entry (BELOW_FIELDS); zeros for anything not walked into. */
  below: Float64Array;
  /** [entry index, ino, size, blocks] of every multi-linked file below an entry. */
  multiLinked: Float64Array;
  /** [entry index, path, message] of what could not be read below an entry. */
  errors: Array<[number, string, string]>;
}

export interface NativeHelpers {
  /**
   * Writes a plan (PlanOp[]) in order on a libuv thread: small files through a staging buffer, large ones
   * spliced into a pipe or sent into a file; waits whenever a non-blocking pipe is full. A file is opened
   * beneath the directory of the last BeneathOp before it, following no symlink, and only when it is a
   * regular file at least as long as planned (nothing of it is written otherwise). Rejects with an Error
   * carrying `path` (Buffer), `errno`, and `missing` (a file that shrank) or `mode` (not a regular file).
   */
  writePlan(fd: number, ops: PlanOp[]): Promise<number>;
  /**
   * An O_PATH descriptor of directory `rel` (bytes, "a/b") below `anchor`, following no symlink in `rel`
   * (`anchor` itself is the store the user named, and is followed). Throws an Error with `errno`.
   */
  openDirBeneath(anchor: string | Buffer, rel: Buffer): number;
  /**
   * Opens entry `name` (bytes, relative) beneath directory `dirFd` with openat2 RESOLVE_BENEATH |
   * RESOLVE_NO_SYMLINKS (per-component O_NOFOLLOW where the kernel lacks openat2), first as O_PATH: returns
   * a descriptor open for reading when it is a regular file, else -1; `stat` (SCAN_STRIDE numbers) gets its
   * fstat either way. Throws an Error with `errno` (ELOOP: a symlink on the way; EXDEV: a ".." component).
   */
  openBeneath(dirFd: number, name: Buffer, stat: Float64Array): number;
  /** Test hook: turns openat2 off (the per-component fallback) or on; returns whether it was on. */
  useOpenat2(on: boolean): boolean;
  /** Grows a pipe's buffer to `bytes` where allowed; returns its capacity, or 0 when fd is no pipe. */
  growPipe(fd: number, bytes: number): number;
  /** One directory's entries with their lstat numbers (and xattrs when asked); `dir` as bytes or a string. */
  scanDir(dir: Buffer | string, withXattrs: boolean): ScannedDir;
  walkSubtree(dir: string, device: number): NativeSubtree;
  /** walkSubtree of each dir on `threads` threads; `perChild[i]`: also report dirs[i]'s entries one by one (`children`). */
  walkSubtrees(dirs: string[], device: number, threads: number, perChild?: boolean[]): Promise<NativeSubtree[]>;
  /**
   * Reads many small files on `threads` threads (native/small-files.ts is its interface and JavaScript
   * twin): file k = i * fileNames.length + j is `base`/names[i]/fileNames[j] (`base`/names[i] when
   * fileNames[j] is ""), opened O_NONBLOCK | O_NOCTTY | O_NOFOLLOW, read only when it is a regular file. SmallFilesRaw
   * says what became of each. Rejects with an Error carrying `errno` when `base` cannot be opened.
   */
  readSmallFiles(base: string, names: readonly string[], fileNames: readonly string[], maxBytes: number, threads: number): Promise<SmallFilesRaw>;
  /**
   * The lstat numbers of the same files (readSmallFiles' order) on `threads` threads, nothing opened: six
   * per file, st_mode (minus the errno when lstat failed, the rest 0), size, mtime and ctime in ms (as
   * Node's mtimeMs), ino, dev. Rejects with an Error carrying `errno` when `base` cannot be opened.
   * (Absent from helpers built from older sources.)
   */
  statFiles?(base: string, names: readonly string[], fileNames: readonly string[], threads: number): Promise<Float64Array>;
  /**
   * The targets of the same files (readSmallFiles' order and shape), each a symbolic link read with
   * readlinkat, nothing followed: status EINVAL where there is no symlink, -1 for a target longer than
   * maxBytes. (Absent from helpers built from older sources.)
   */
  readLinks?(base: string, names: readonly string[], fileNames: readonly string[], maxBytes: number, threads: number): Promise<SmallFilesRaw>;
  /**
   * A read ahead of a gzipped tar-split: a thread inflates it (with Node's own zlib) into line-aligned
   * chunks while tarSplitNext parses the chunk before. Null when Node's zlib cannot be reached or the path
   * is no regular file; throws an Error with `errno` when it cannot be opened. (Absent from helpers built
   * from older sources.)
   */
  tarSplitOpen?(path: string): unknown;
  /**
   * The next chunk's lines, parsed as parseTarSplitLines parses them (`position`: the entries given so
   * far): [segments, names, table, rows, bytes, entries, lines]; false after the last chunk; null when the
   * caller must read the tar-split itself, from its start (not one plain gzip member, a line the parser
   * leaves, an error). One call at a time.
   */
  tarSplitNext?(handle: unknown, position: number): Promise<[Buffer, Buffer, Float64Array, number, number, number, number] | null | false>;
  /** Stops a read ahead (not while a tarSplitNext runs). */
  tarSplitClose?(handle: unknown): void;
  /**
   * Makes `path` (bytes, created, never replaced) a hard link of the file open as `fd`: the inode that was
   * opened and checked, not whatever a path names by now. Throws an Error with `errno` (EXDEV across
   * filesystems, EPERM where the kernel refuses to link another user's file). Absent in older builds.
   */
  linkFd?(fd: number, path: Buffer): void;
  /** The length of an open file's list of extended attribute names (flistxattr): 0 when it has none. */
  xattrBytes?(fd: number): number;
  /**
   * Links or copies a batch of a layer's files into the tree at `destRoot` (and makes its new
   * directories), on the thread pool, in the order given: row i of `table` (LINK_COLUMNS numbers a row)
   * gives its kind (0 a file to link, 1 a directory to make, 2 a file to copy), its source and destination
   * name lengths (the next bytes of `srcNames`, below `layerFd`, and of `dstNames`, below `destRoot`),
   * then mode bits, uid, gid (-1: not chowned), size, mtime seconds and nanoseconds, and for a copy the
   * atime and mtime to set, in seconds as utimes takes them. A file is linked only when it is a regular
   * file with exactly that metadata and no extended attribute (the new name checked to be the inode
   * looked at); a copy's source must be a regular file of that size. One status a row: 0 done, 1 to be
   * done by the caller instead, 2 not a regular file, -errno (-18, EXDEV: no link can be made here).
   * Absent in older builds.
   */
  linkFiles?(layerFd: number, destRoot: Buffer, srcNames: Buffer, dstNames: Buffer, table: Float64Array, rows: number): Promise<Int32Array>;
}

/** Numbers per row of linkFiles' table. */
export const LINK_COLUMNS = 11;

/** What readSmallFiles read: every file's bytes one after another in `bytes`, and per file its outcome. */
export interface SmallFilesRaw {
  bytes: Buffer;
  /** Where in `bytes` each file's bytes end (they start where the file before it ends). */
  ends: Uint32Array;
  /**
   * Per file: 0 read; an errno (EISDIR for a directory); -1 a regular file larger than maxBytes (not
   * read); any other negative number minus the st_mode of what is there instead (a FIFO, a device; not read).
   */
  status: Int32Array;
}

let loaded: NativeHelpers | null | undefined;

/** Where the built helpers may be: next to the bundle, one level up from a chunk, or the repo's dist/ (from native/ in the sources). */
function candidates(): string[] {
  return ['./strata-native.node', '../strata-native.node', '../dist/strata-native.node'].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));
}

/** The native helpers, or null when they are not built or STRATA_NATIVE=0. */
export function nativeHelpers(): NativeHelpers | null {
  if (process.env.STRATA_NATIVE === '0') return null; // read each time, so tests can compare both paths
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (process.platform !== 'linux') return loaded;
  const file = candidates().find((f) => existsSync(f));
  if (!file) return loaded;
  try {
    const raw = createRequire(import.meta.url)(file) as NativeHelpers;
    // Helpers built from older sources lack the beneath-opening calls: they are not used.
    if (typeof raw.openBeneath === 'function' && typeof raw.openDirBeneath === 'function') loaded = withPlanErrors(raw);
  } catch {
    loaded = null; // built for another Node: the JavaScript paths still work
  }
  return loaded;
}

const FILE_TYPES: Record<number, string> = {
  0o040000: 'a directory',
  0o120000: 'a symbolic link',
  0o010000: 'a FIFO',
  0o140000: 'a socket',
  0o020000: 'a character device',
  0o060000: 'a block device',
};

/** What a file mode says a file is, in words ("a FIFO"). */
export function fileTypeWords(mode: number): string {
  return (mode & 0o170000) === 0o100000 ? 'a regular file' : FILE_TYPES[mode & 0o170000] ?? 'not a regular file';
}

/** The errno name (ENOENT) of an errno number, as node:fs errors carry it in `code`. */
export function errnoCode(errno: number): string | undefined {
  for (const [name, n] of Object.entries(osConstants.errno)) if (n === errno) return name;
  return undefined;
}

/** writePlan's rejections become StrataErrors naming the file that failed. */
function withPlanErrors(raw: NativeHelpers): NativeHelpers {
  const helpers = Object.create(raw) as NativeHelpers;
  Object.defineProperty(helpers, 'writePlan', {
    value: (fd: number, ops: PlanOp[]) =>
      raw.writePlan(fd, ops).catch((err: Error & { path?: Buffer; errno?: number; missing?: number; mode?: number }) => {
        if (!Buffer.isBuffer(err.path)) throw err;
        if (err.missing) throw new StrataError(`shrank while being read (${err.missing} bytes missing)`, { file: err.path, cause: err });
        if (err.mode) throw new StrataError(`is ${fileTypeWords(err.mode)}, not a regular file (not read)`, { file: err.path, cause: err });
        throw fsError(err.path, Object.assign(err, { code: errnoCode(err.errno ?? 0) }));
      }),
  });
  return helpers;
}
