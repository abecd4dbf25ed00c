// The list of drivers strata can open. A driver is a plain object; opening one has no side effects.
import { aufs } from './aufs.js';
import { devicemapper } from './devicemapper.js';
import { overlay2 } from './overlay2.js';
import type { DriverFactory, DriverOptions, StorageDriver } from './types.js';
import { vfs } from './vfs.js';

export const DRIVERS: readonly DriverFactory[] = [overlay2, vfs, aufs, devicemapper];

/** The driver for `name` on `root`, or null when strata cannot read that driver's layers yet. */
export function openDriver(name: string, root: string, opts: DriverOptions = {}): StorageDriver | null {
  const factory = DRIVERS.find((d) => d.name === name);
  return factory ? factory.open(root, opts) : null;
}

export type { StorageDriver } from './types.js';
