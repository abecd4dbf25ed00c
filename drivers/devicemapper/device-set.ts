// Docker's devicemapper bookkeeping beside the thin pool (moby daemon/graphdriver/devmapper/deviceset.go):
// <home>/metadata/<hash> says which thin device holds a layer and how big it is; deviceset-metadata and
// transaction-metadata describe the set. The pool itself is <home>/devicemapper/{data,metadata} (loop-lvm)
// or block devices named by dm.datadev / dm.metadatadev.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fsError } from '../../native/errors.js';
import { ThinPoolError } from './thin-metadata.js';

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

/** Reads metadata/<hash>; a file that is not such JSON is a ThinPoolError naming it. */
export function readDeviceInfo(home: string, hash: string): DeviceInfo {
  const file = deviceInfoPath(home, hash);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw fsError(file, err);
  }
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
  data: string;
  metadata: string;
}

/**
 * Where the pool's data and metadata are: dm.datadev / dm.metadatadev from the storage options when set
 * (Docker's direct block devices), else the loop-lvm files under <home>/devicemapper/.
 */
export function poolFilesOf(home: string, storageOpts: readonly string[] = []): PoolFiles {
  const opt = (name: string) => storageOpts.map((o) => o.split('=')).find(([k]) => k.trim().toLowerCase() === name)?.slice(1).join('=').trim();
  return {
    data: opt('dm.datadev') || join(home, 'devicemapper', 'data'),
    metadata: opt('dm.metadatadev') || join(home, 'devicemapper', 'metadata'),
  };
}
