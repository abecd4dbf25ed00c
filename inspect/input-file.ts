// The files commands read whole (an archive to load, a layer tar to apply): opened before anything is
// written, and every failure to read them, or to make sense of what they hold, names them in one line.
// Standard input is one of them too (`strata load < x.tar`, `… | strata load`), named "stdin".
import { closeSync, fstatSync, openSync, read } from 'node:fs';
import { promisify } from 'node:util';
import { isAbsolute } from 'node:path';
import { fsError, StrataError } from '../native/errors.js';

export interface InputFile {
  path: string;
  /** Its size, when it is a regular file (a FIFO or a device has none). */
  size: number | null;
  /** The open descriptor: a regular file can be read again at any offset through it until close(). */
  fd: number;
  /** Its bytes, once; a read error names the file. */
  chunks(): AsyncIterable<Buffer>;
  /** Closes it (when the command is done with it, or stops before reading it). */
  close(): void;
}

/** Opens a file to read: a missing file, a directory, a socket or an unreadable file is refused naming it. */
export function openInputFile(path: string): InputFile {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw fsError(path, err);
  }
  let size: number | null;
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new StrataError('is a directory, not an archive', { file: path });
    size = st.isFile() ? st.size : null;
  } catch (err) {
    closeSync(fd);
    throw fsError(path, err);
  }
  let used = false;
  let closed = false;
  return {
    path,
    size,
    fd,
    chunks() {
      if (used) throw new Error(`${path} is read once`);
      used = true;
      return readChunks(path, fd);
    },
    close() {
      if (!closed) closeSync(fd);
      closed = true;
    },
  };
}

/** The name standard input goes by in messages. */
export const STDIN_NAME = 'stdin';

/**
 * Standard input as an input file. A regular file (`< x.tar`) is read through fd 0 like any file; a pipe
 * or a socket through process.stdin, which copes with a non-blocking descriptor. It is never closed.
 */
export function openStdin(): InputFile {
  let size: number | null;
  try {
    const st = fstatSync(0);
    if (st.isDirectory()) throw new StrataError('is a directory, not an archive', { file: STDIN_NAME });
    size = st.isFile() ? st.size : null;
  } catch (err) {
    throw fsError(STDIN_NAME, err);
  }
  let used = false;
  return {
    path: STDIN_NAME,
    size,
    fd: 0,
    chunks() {
      if (used) throw new Error('stdin is read once');
      used = true;
      return size === null ? readStdinStream() : readChunks(STDIN_NAME, 0);
    },
    close() {
      used = true;
    },
  };
}

async function* readStdinStream(): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of process.stdin) yield chunk as Buffer;
  } catch (err) {
    throw fsError(STDIN_NAME, err);
  } finally {
    process.stdin.pause();
  }
}

async function* readChunks(path: string, fd: number): AsyncGenerator<Buffer> {
  yield* readFd(fd, path);
}

const readAt = promisify(read);

/**
 * The bytes of an open descriptor, from `start` to `end` inclusive (positional reads, which leave the
 * descriptor's offset alone), or from where it stands to its end when `start` is null (a FIFO). Never
 * closes it: node's ReadStream closes its descriptor when destroyed, even with autoClose off, so a
 * descriptor read in several ranges is read here.
 */
export async function* readFd(fd: number, label: string, start: number | null = null, end = Infinity): AsyncGenerator<Buffer> {
  let position = start;
  for (let left = start === null ? Infinity : end - start + 1; left > 0; ) {
    const length = Math.min(READ_CHUNK, left);
    const buf = Buffer.allocUnsafe(length);
    let n: number;
    try {
      ({ bytesRead: n } = await readAt(fd, buf, 0, length, position));
    } catch (err) {
      throw fsError(label, err);
    }
    if (n === 0) {
      if (end !== Infinity) throw new StrataError(`cut short: ${left} bytes fewer than expected`, { file: label });
      return;
    }
    if (position !== null) position += n;
    left -= n;
    yield n === length ? buf : buf.subarray(0, n);
  }
}

const READ_CHUNK = 1 << 20;

/**
 * An error about what `path` holds, made to name it: a StrataError that names no file (a tar reader's
 * "archive truncated") gets the file, and one that names an entry inside it (a relative name) gets the
 * file before the entry. Anything else passes unchanged (read errors, files on disk name themselves).
 */
export function namingInput(err: unknown, path: string): unknown {
  if (!(err instanceof StrataError) || err.file === path) return err;
  if (err.file === undefined) return new StrataError(err.reason, { file: path, cause: err });
  if (!isAbsolute(err.file) && !err.file.startsWith(`${path}:`)) return new StrataError(`${err.file}: ${err.reason}`, { file: path, cause: err });
  return err;
}
