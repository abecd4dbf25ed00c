// A thin device's filesystem image, made without device-mapper: its mapped blocks copied from the pool's
// data file into a sparse file at their places in the device (unmapped blocks stay holes, which read as
// zeros as they do on the thin device). The file can then be loop-mounted read-only.
import { closeSync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { fsError } from '../../native/errors.js';
import { openPoolFile, ThinPoolError, type PoolFile } from './pool-file.js';
import type { ThinDeviceMap } from './thin-metadata.js';

const CHUNK = 4 << 20;

/** Checks that every block the device maps lies inside the data file (a truncated file is named). */
export function checkMappingsInside(map: ThinDeviceMap, dataBytes: number, dataFile: string, hash: string): void {
  for (const m of map.mappings) {
    const end = (m.data + m.length) * map.blockBytes;
    if (end > dataBytes) {
      throw new ThinPoolError(`truncated: device ${hash} maps data block ${m.data + m.length - 1}, beyond the file's end (${dataBytes} bytes)`, { file: dataFile });
    }
  }
}

/** Writes the device image of `map` (deviceBytes long) to `out`, a new file. Returns the bytes copied. */
export function writeDeviceImage(pool: PoolFile, map: ThinDeviceMap, deviceBytes: number, out: string, hash: string): number {
  const dataFile = pool.path;
  const data = openPoolFile(pool);
  let image: number | null = null;
  try {
    const st = fstatSync(data);
    // A block device's size is not in st_size: its end is the pool's own count of data blocks.
    checkMappingsInside(map, st.isFile() ? st.size : map.nrDataBlocks * map.blockBytes, dataFile, hash);
    try {
      image = openSync(out, 'wx', 0o600);
      ftruncateSync(image, deviceBytes);
    } catch (err) {
      throw fsError(out, err);
    }
    const buf = Buffer.allocUnsafe(CHUNK);
    let copied = 0;
    for (const m of map.mappings) {
      let from = m.data * map.blockBytes;
      let to = m.origin * map.blockBytes;
      let left = Math.min(m.length * map.blockBytes, Math.max(0, deviceBytes - to));
      while (left > 0) {
        const want = Math.min(left, CHUNK);
        let got: number;
        try {
          got = readSync(data, buf, 0, want, from);
        } catch (err) {
          throw fsError(dataFile, err);
        }
        if (got !== want) throw new ThinPoolError(`truncated: device ${hash}'s data block ${Math.floor(from / map.blockBytes)} could not be read whole`, { file: dataFile });
        try {
          writeSync(image, buf, 0, got, to);
        } catch (err) {
          // Most likely ENOSPC: each image is a whole filesystem (STRATA_TMPDIR chooses where they go).
          throw fsError(out, err);
        }
        from += got;
        to += got;
        left -= got;
        copied += got;
      }
    }
    return copied;
  } finally {
    closeSync(data);
    if (image !== null) closeSync(image);
  }
}

/** The filesystem a device image holds, from its superblock's magic: xfs ("XFSB" at 0) or ext2/3/4 (0xEF53 at 1080). */
export function filesystemOf(imageFile: string): 'xfs' | 'ext4' | null {
  // The image strata has just written: a file of its own temp directory.
  const fd = openSync(imageFile, 'r');
  try {
    const head = Buffer.alloc(1082);
    readSync(fd, head, 0, head.length, 0);
    if (head.toString('latin1', 0, 4) === 'XFSB') return 'xfs';
    if (head.readUInt16LE(1080) === 0xef53) return 'ext4';
    return null;
  } finally {
    closeSync(fd);
  }
}

/** Read-only mount options that replay no journal (a device's log may be dirty from a killed daemon). */
export function readOnlyOptions(fs: 'xfs' | 'ext4'): string[] {
  // All snapshots share the base device's xfs UUID: without nouuid a second one would not mount.
  // nosuid,nodev: the filesystem is the store's, not trusted (a bind of it keeps them).
  return fs === 'xfs' ? ['ro', 'loop', 'nosuid', 'nodev', 'norecovery', 'nouuid'] : ['ro', 'loop', 'nosuid', 'nodev', 'noload'];
}
