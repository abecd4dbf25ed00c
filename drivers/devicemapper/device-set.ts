// Docker's devicemapper bookkeeping beside the thin pool (moby daemon/graphdriver/devmapper/deviceset.go):
// <home>/metadata/<hash> says which thin device holds a layer and how big it is; deviceset-metadata and
// transaction-metadata describe the set. The pool itself is <home>/devicemapper/{data,metadata} (loop-lvm)
// or block devices named by dm.datadev / dm.metadatadev.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { fsError } from '../../native/errors.js';
import { ThinPoolError, type PoolFile } from './pool-file.js';

export interface DeviceInfo {
  hash: string;
  deviceId: number;
  /** The thin device's size in bytes (its filesystem's size). */
  size: number;
  transactionId: number;
  initialized: boolean;
  /** Deferred deletion: the device is gone as a layer, its blocks not yet released. */
  deleted: boolean;
}

/** Files in metadata/ that are not a device. */
export const SET_FILES = new Set(['deviceset-metadata', 'transaction-metadata']);

export function deviceInfoPath(home: string, hash: string): string {
  return join(home, 'metadata', hash);
}

/** A device record's bytes: a regular file (no symlink, FIFO or device) of at most 64 KiB. */
function readSmallRecord(file: string): string {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    throw fsError(file, err);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new ThinPoolError('not a regular file', { file });
    if (st.size > 64 << 10) throw new ThinPoolError(`not devicemapper device metadata (${st.size} bytes)`, { file });
    const buf = Buffer.alloc(st.size);
    const got = readSync(fd, buf, 0, buf.length, 0);
    return buf.toString('utf8', 0, got);
  } catch (err) {
    throw fsError(file, err);
  } finally {
    closeSync(fd);
  }
}

/** Reads metadata/<hash>; a file that is not such JSON is a ThinPoolError naming it. */
export function readDeviceInfo(home: string, hash: string): DeviceInfo {
  const file = deviceInfoPath(home, hash);
  const text = readSmallRecord(file);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ThinPoolError('not devicemapper device metadata (JSON does not parse)', { file });
  }
  const num = (key: string): number => {
    const v = json?.[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new ThinPoolError(`device metadata without a usable ${key}`, { file });
    return v;
  };
  return {
    hash,
    deviceId: num('device_id'),
    size: num('size'),
    transactionId: typeof json.transaction_id === 'number' ? json.transaction_id : 0,
    initialized: json.initialized === true,
    deleted: json.deleted === true,
  };
}

export interface PoolFiles {
  data: PoolFile;
  metadata: PoolFile;
}

/**
 * Where the pool's data and metadata are: dm.datadev / dm.metadatadev from the storage options when set
 * (Docker's direct block devices), else the loop-lvm files under <home>/devicemapper/.
 */
/** The storage options strata understands; others are refused, not ignored. */
const KNOWN_OPTS = new Set(['dm.datadev', 'dm.metadatadev']);

export function poolFilesOf(home: string, storageOpts: readonly string[] = []): PoolFiles {
  for (const o of storageOpts) {
    const key = o.split('=')[0].trim().toLowerCase();
    if (key === 'dm.thinpooldev') throw new ThinPoolError(`${o}: a direct-lvm thin pool is reached through device-mapper only; name its data and metadata volumes instead (dm.datadev=/dev/<vg>/<pool>_tdata, dm.metadatadev=/dev/<vg>/<pool>_tmeta, LVM's hidden sub-volumes)`, { file: home });
    if (!KNOWN_OPTS.has(key) || !o.includes('=')) throw new ThinPoolError(`--storage-opt ${o}: strata knows dm.datadev=PATH and dm.metadatadev=PATH`, { file: home });
  }
  const opt = (name: string) => storageOpts.map((o) => o.split('=')).find(([k]) => k.trim().toLowerCase() === name)?.slice(1).join('=').trim();
  const file = (option: string, name: string): PoolFile => {
    const named = opt(option);
    return named ? { path: named, named: true } : { path: join(home, 'devicemapper', name), named: false };
  };
  return { data: file('dm.datadev', 'data'), metadata: file('dm.metadatadev', 'metadata') };
}

/** The filesystem deviceset-metadata records for the base device (every layer's): xfs unless it says ext4. */
export function baseFilesystem(home: string): 'xfs' | 'ext4' {
  try {
    const set = JSON.parse(readSmallRecord(join(home, 'metadata', 'deviceset-metadata'))) as { BaseDeviceFilesystem?: unknown };
    return set.BaseDeviceFilesystem === 'ext4' ? 'ext4' : 'xfs';
  } catch {
    return 'xfs';
  }
}
