// The files of a thin pool, opened as an untrusted store's files must be: the pool's data and metadata,
// under the data-root or named by dm.datadev / dm.metadatadev.
import { closeSync, constants, fstatSync, openSync } from 'node:fs';
import { fsError, StrataError } from '../../native/errors.js';

export class ThinPoolError extends StrataError {
  override name = 'ThinPoolError';
}

/** The pool's data or metadata file, and whether it was named by --storage-opt (a block device may be). */
export interface PoolFile {
  path: string;
  named: boolean;
}

/**
 * Opens a pool file of an untrusted store: the default one (under the data-root) must be a regular file
 * and no symlink; one named by dm.datadev / dm.metadatadev a regular file or a block device. Never a FIFO
 * or a device that would block or never end.
 */
export function openPoolFile(pool: PoolFile): number {
  let fd: number;
  try {
    fd = openSync(pool.path, constants.O_RDONLY | constants.O_NONBLOCK | (pool.named ? 0 : constants.O_NOFOLLOW));
  } catch (err) {
    throw fsError(pool.path, err);
  }
  const st = fstatSync(fd);
  if (!(st.isFile() || (pool.named && st.isBlockDevice()))) {
    closeSync(fd);
    throw new ThinPoolError(pool.named ? 'not a regular file or a block device' : 'not a regular file', { file: pool.path });
  }
  return fd;
}

