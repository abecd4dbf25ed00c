// Opening a data-root for writing: never while a daemon uses it; the driver is the store's own, or the
// one asked for on an empty root (overlay2 by default, as dockerd picks it).
import { StrataError } from '../native/errors.js';
import { mkdirSync } from 'node:fs';
import { openDriver } from '../drivers/index.js';
import type { StorageDriver } from '../drivers/types.js';
import { daemonUsing } from './daemon-check.js';
import { detectDriver, driverCandidates } from './detect-driver.js';

export class WriteRefusedError extends StrataError {
  override name = 'WriteRefusedError';
}

export function openForWrite(root: string, requested?: string): StorageDriver {
  const busy = daemonUsing(root);
  if (busy) throw new WriteRefusedError(`${busy}; stop it first (strata writes to a store only when no daemon uses it)`);
  mkdirSync(root, { recursive: true, mode: 0o710 });
  // A store that exists decides its driver (asking --driver to choose among several); an empty root takes the one asked for.
  const existing = driverCandidates(root);
  const name = existing.length === 0 || (requested && !existing.includes(requested)) ? requested ?? 'overlay2' : detectDriver(root, requested);
  const driver = openDriver(name, root);
  if (!driver) throw new WriteRefusedError(`${root}: strata cannot write ${name} layers`);
  if (!driver.capabilities.writable) throw new WriteRefusedError(`${root}: the ${name} driver is read-only in strata`);
  return driver;
}
