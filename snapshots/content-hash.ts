// xxhash64 of a file's content, streamed (xxhash-wasm): for deciding changes metadata cannot decide. The
// file is opened by the caller's opener (a driver's openViewEntry: beneath its layer directory, following
// no symlink), and read only when it is a regular file.
import { closeSync, readSync } from 'node:fs';
import xxhash from 'xxhash-wasm';
import { fileTypeWords } from '../native/index.js';
import { LayerEntryError, openLayerDir, openOneEntry, type OpenedEntry } from '../native/open-beneath.js';

let hasher: Awaited<ReturnType<typeof xxhash>> | null = null;

/** Opens an on-disk path a snapshot handed out, without leaving the layer it lies in. */
export type EntryOpener = (path: Buffer) => OpenedEntry;

/**
 * The strictest opener, for paths nothing vouches for: no component of the whole absolute path may be a
 * symlink. A driver's openViewEntry is the one to pass for a store (its data-root may sit behind one).
 */
export const openWithoutSymlinks: EntryOpener = (path) => {
  if (path[0] !== 0x2f) throw new LayerEntryError('is not an absolute path', { file: path });
  return openOneEntry(openLayerDir('/', []), path.subarray(1));
};

export async function contentHash(path: string | Buffer, open: EntryOpener = openWithoutSymlinks): Promise<string> {
  hasher ??= await xxhash();
  const h = hasher.create64();
  const { fd, stat } = open(typeof path === 'string' ? Buffer.from(path) : path);
  if (fd === null) throw new LayerEntryError(`is ${fileTypeWords(stat.mode)}, not a regular file (not read)`, { file: path });
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest().toString(16).padStart(16, '0');
}
