// Which storage driver a data-root belongs to, decided from what is on disk as dockerd would:
// the layer metadata under image/<driver>/ and the driver's own directory.
import { StrataError } from '../native/errors.js';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Every driver name moby has known; strata may read the metadata even of those it cannot open yet. */
export const KNOWN_DRIVERS = ['overlay2', 'overlay', 'aufs', 'devicemapper', 'vfs', 'btrfs', 'zfs', 'fuse-overlayfs'];

export class DriverDetectionError extends StrataError {
  override name = 'DriverDetectionError';
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function nonEmptyDir(path: string): boolean {
  try {
    return readdirSync(path).length > 0;
  } catch {
    return false;
  }
}

/** Driver names with layer metadata (image/<name>/), else with a non-empty driver directory. */
export function driverCandidates(root: string): string[] {
  let imageDirs: string[] = [];
  try {
    imageDirs = readdirSync(join(root, 'image')).filter((name) => isDir(join(root, 'image', name)));
  } catch {
    // no image/ at all: fall through to driver directories
  }
  if (imageDirs.length > 0) return imageDirs.sort();
  return KNOWN_DRIVERS.filter((name) => nonEmptyDir(join(root, name)));
}

export function detectDriver(root: string, requested?: string): string {
  if (!isDir(root)) throw new DriverDetectionError(`${root}: not a directory (pass the data-root with --root)`);
  const candidates = driverCandidates(root);
  if (requested) {
    if (!isDir(join(root, 'image', requested)) && !isDir(join(root, requested))) {
      const seen = candidates.length ? `; found: ${candidates.join(', ')}` : '';
      throw new DriverDetectionError(`${join(root, 'image', requested)}: missing — no ${requested} store under ${root}${seen}`);
    }
    return requested;
  }
  if (candidates.length === 1) return candidates[0];
  if (candidates.length === 0) {
    throw new DriverDetectionError(`${root}: no storage driver found (no image/<driver>/ directory) — is this a Docker data-root?`);
  }
  throw new DriverDetectionError(
    `${root}: contains stores of several drivers (${candidates.join(', ')}); choose one with --driver`,
  );
}
