// The files commands read whole (an archive to load, a layer tar to apply): opened before anything is
// written, and every failure to read them, or to make sense of what they hold, names them in one line.
import { closeSync, createReadStream, fstatSync, openSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { fsError, StrataError } from '../native/errors.js';

export interface InputFile {
  path: string;
  /** Its size, when it is a regular file (a FIFO or a device has none). */
  size: number | null;
  /** Its bytes, once; a read error names the file. */
  chunks(): AsyncIterable<Buffer>;
  /** Closes it without reading (when the command stops before it). */
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
  return {
    path,
    size,
    chunks() {
      if (used) throw new Error(`${path} is read once`);
      used = true;
      return readChunks(path, fd);
    },
    close() {
      if (!used) closeSync(fd);
      used = true;
    },
  };
}

async function* readChunks(path: string, fd: number): AsyncGenerator<Buffer> {
  const stream = createReadStream('', { fd, autoClose: true, highWaterMark: 1 << 20 });
  try {
    for await (const chunk of stream) yield chunk as Buffer;
  } catch (err) {
    throw fsError(path, err);
  } finally {
    stream.destroy();
  }
}

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
