// Reading many small files at once (a store's metadata: tens of thousands of files of a few bytes each).
// The native helpers open, read and close them on a few threads (readSmallFiles in strata-native.c); the
// JavaScript twin reads them one by one into the same shape. Either way every file comes back as its bytes
// or as why not: absent, unreadable (its errno), or not a regular file (never read, and a FIFO never
// blocks: files are opened O_NONBLOCK | O_NOCTTY). A symlink as the file itself is not followed (ELOOP):
// a hostile store's symlink cannot put a file of this machine into strata's warnings.
import { isAscii } from 'node:buffer';
import { closeSync, constants, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { availableParallelism, constants as osConstants } from 'node:os';
import { getSystemErrorMap } from 'node:util';
import { fileTypeWords, nativeHelpers, type SmallFilesRaw } from './index.js';

/** Why a file could not be read: its errno code (ENOENT) and the system's words for it, or code '' and what is there instead. */
export interface FileProblem {
  readonly code: string;
  readonly message: string;
}

/** Files larger than this are read on their own, whole (they are not what this is for). */
export const SMALL_FILE_BYTES = 64 * 1024;

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY | constants.O_NOFOLLOW;
const { EISDIR, EAGAIN } = osConstants.errno;
const TOO_LARGE = -1;

/** Every file's outcome, in names × fileNames order (file k = i * fileNames.length + j). */
export class SmallFiles {
  private readonly problems = new Map<number, FileProblem>();
  /** All the bytes as one string, when they are ASCII (undefined until asked). */
  private ascii: string | null | undefined;

  constructor(
    private readonly raw: SmallFilesRaw,
    /** The files larger than the limit, read on their own. */
    private readonly large: ReadonlyMap<number, Buffer | FileProblem>,
  ) {}

  get count(): number {
    return this.raw.status.length;
  }

  /** What the reader returned (bytes, ends, status), for comparing two reads as a whole (inspect/metadata-index.ts). */
  get whole(): SmallFilesRaw {
    return this.raw;
  }

  /** File k's bytes (a view of a buffer shared by all), or why it could not be read. */
  get(k: number): Buffer | FileProblem {
    const status = this.raw.status[k];
    if (status === 0) return this.raw.bytes.subarray(k === 0 ? 0 : this.raw.ends[k - 1], this.raw.ends[k]);
    return status === TOO_LARGE ? this.large.get(k)! : this.problem(status);
  }

  /** File k's text (UTF-8, as Buffer.toString decodes it), or why it could not be read. */
  text(k: number): string | FileProblem {
    const status = this.raw.status[k];
    if (status === 0) {
      const start = k === 0 ? 0 : this.raw.ends[k - 1];
      // Metadata is ASCII as a rule: then all of it is decoded once, and each file is a slice of that.
      if (this.ascii === undefined) this.ascii = isAscii(this.raw.bytes) ? this.raw.bytes.toString('latin1') : null;
      return this.ascii !== null ? this.ascii.slice(start, this.raw.ends[k]) : this.raw.bytes.toString('utf8', start, this.raw.ends[k]);
    }
    const got = this.get(k);
    return Buffer.isBuffer(got) ? got.toString('utf8') : got;
  }

  private problem(status: number): FileProblem {
    let p = this.problems.get(status);
    if (!p) this.problems.set(status, (p = problemOf(status)));
    return p;
  }
}

/** A status (an errno, or minus the mode of what is not a regular file) in words. */
function problemOf(status: number): FileProblem {
  if (status < 0) return { code: '', message: `is ${fileTypeWords(-status)}, not a regular file (not read)` };
  const [code, message] = getSystemErrorMap().get(-status) ?? [`E${status}`, `error ${status}`];
  return { code, message };
}

/** The status an error of node:fs stands for (its errno, positive). */
function statusOf(err: unknown): number {
  const errno = (err as NodeJS.ErrnoException).errno;
  if (typeof errno !== 'number') throw err;
  return -errno;
}

/**
 * Reads one file as the native reader does: the number of its bytes now in `scratch` (when fewer than
 * scratch.length), the whole file as a Buffer (a larger one), or a status (an errno; minus the mode of
 * what is not a regular file). The type is checked only when the read says something may be odd (no
 * bytes, a full buffer, EAGAIN), so a plain small file costs open, read and close.
 */
function readOne(path: string, scratch: Buffer): number | Buffer | { status: number } {
  let fd: number;
  try {
    fd = openSync(path, OPEN_FLAGS);
  } catch (err) {
    return { status: statusOf(err) };
  }
  try {
    let n = -1;
    try {
      n = readSync(fd, scratch, 0, scratch.length, null); // read(2): a FIFO has no position to read at
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return { status: statusOf(err) };
    }
    if (n > 0 && n < scratch.length) return n;
    const st = fstatSync(fd);
    if (st.isDirectory()) return { status: EISDIR };
    if (!st.isFile()) return { status: -st.mode };
    if (n < 0) return { status: EAGAIN }; // from a regular file: not on Linux, but kept as the read said
    return n < scratch.length ? n : Buffer.concat([scratch, readFileSync(fd)]); // the rest, from where the read left off
  } catch (err) {
    return { status: statusOf(err) };
  } finally {
    closeSync(fd);
  }
}

function pathOf(base: string, name: string, fileName: string): string {
  return fileName ? `${base}/${name}/${fileName}` : `${base}/${name}`;
}

/** The JavaScript twin of the native reader: the same files, one at a time, on this thread. */
export function readSmallFilesSync(base: string, names: readonly string[], fileNames: readonly string[], maxBytes = SMALL_FILE_BYTES): SmallFiles {
  const count = names.length * fileNames.length;
  const scratch = Buffer.allocUnsafe(maxBytes + 1);
  let bytes = Buffer.allocUnsafe(16 * 1024);
  let at = 0;
  const ends = new Uint32Array(count);
  const status = new Int32Array(count);
  const large = new Map<number, Buffer | FileProblem>();
  for (let k = 0; k < count; k++) {
    const got = readOne(pathOf(base, names[Math.floor(k / fileNames.length)], fileNames[k % fileNames.length]), scratch);
    if (typeof got === 'number') {
      if (at + got > bytes.length) {
        const grown = Buffer.allocUnsafe(Math.max(bytes.length * 2, at + got));
        bytes.copy(grown, 0, 0, at);
        bytes = grown;
      }
      at += scratch.copy(bytes, at, 0, got);
    } else if (Buffer.isBuffer(got)) {
      status[k] = TOO_LARGE;
      large.set(k, got);
    } else {
      status[k] = got.status;
    }
    ends[k] = at;
  }
  return new SmallFiles({ bytes: bytes.subarray(0, at), ends, status }, large);
}

/**
 * Reads the files on the native helpers' threads; null when the helpers are missing (or turned off with
 * STRATA_NATIVE=0). `base` that cannot be opened is no error: every file then says why, as the twin's do.
 */
export function readSmallFilesNatively(
  base: string,
  names: readonly string[],
  fileNames: readonly string[],
  opts: { maxBytes?: number; threads?: number } = {},
): Promise<SmallFiles> | null {
  const native = nativeHelpers();
  if (!native || typeof native.readSmallFiles !== 'function') return null;
  const maxBytes = opts.maxBytes ?? SMALL_FILE_BYTES;
  return native.readSmallFiles(base, names, fileNames, maxBytes, opts.threads ?? availableParallelism()).then(
    (raw) => {
      const large = new Map<number, Buffer | FileProblem>();
      const scratch = Buffer.allocUnsafe(maxBytes + 1);
      raw.status.forEach((s, k) => {
        if (s !== TOO_LARGE) return;
        const got = readOne(pathOf(base, names[Math.floor(k / fileNames.length)], fileNames[k % fileNames.length]), scratch);
        large.set(k, typeof got === 'number' ? Buffer.from(scratch.subarray(0, got)) : Buffer.isBuffer(got) ? got : problemOf(got.status));
      });
      return new SmallFiles(raw, large);
    },
    () => readSmallFilesSync(base, names, fileNames, maxBytes),
  );
}

/** Reads the files natively when the helpers are there, else with the twin. */
export function readSmallFiles(base: string, names: readonly string[], fileNames: readonly string[], opts: { maxBytes?: number; threads?: number } = {}): Promise<SmallFiles> {
  return readSmallFilesNatively(base, names, fileNames, opts) ?? Promise.resolve(readSmallFilesSync(base, names, fileNames, opts.maxBytes));
}

/**
 * The symbolic link targets of base/names[i]/fileNames[j] (readSmallFiles' order; a problem where there
 * is no symlink, EINVAL) on the native helpers' threads; null when they are missing or turned off.
 */
export function readLinksNatively(base: string, names: readonly string[], fileNames: readonly string[], opts: { maxBytes?: number; threads?: number } = {}): Promise<SmallFiles> | null {
  const native = nativeHelpers();
  if (!native || typeof native.readLinks !== 'function') return null;
  return native.readLinks(base, names, fileNames, opts.maxBytes ?? 4096, opts.threads ?? availableParallelism()).then((raw) => new SmallFiles(raw, new Map()));
}

/**
 * The lstat numbers of base/names[i]/fileNames[j] (statFiles' six per file, in readSmallFiles' order) on
 * the native helpers' threads; null when they are missing or turned off. Rejects when `base` cannot be opened.
 */
export function statFilesNatively(base: string, names: readonly string[], fileNames: readonly string[], threads = availableParallelism()): Promise<Float64Array> | null {
  const native = nativeHelpers();
  if (!native || typeof native.statFiles !== 'function') return null;
  return native.statFiles(base, names, fileNames, threads);
}
