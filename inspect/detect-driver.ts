// Which storage driver a Docker data-root belongs to, decided from what is on disk as dockerd would: the
// layer metadata under image/<driver>/ and the driver's own directory. A root strata may not read is a
// permission problem, never "not a data-root".
import { accessSync, constants, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { StrataError, fsError, isPermissionError, presence } from '../native/errors.js';

/** Every driver name moby has known; strata may read the metadata even of those it cannot open yet. */
export const KNOWN_DRIVERS = ['overlay2', 'overlay', 'aufs', 'devicemapper', 'vfs', 'btrfs', 'zfs', 'fuse-overlayfs'];

export class DriverDetectionError extends StrataError {
  override name = 'DriverDetectionError';
}

/** The path strata was refused: the deepest ancestor (from `root` down) it may not enter, else `path`. */
function refusedPath(root: string, path: string): string {
  try {
    accessSync(root, constants.X_OK);
  } catch (err) {
    if (isPermissionError(err)) return root;
  }
  return path;
}

/** Whether `path` is a directory (false when absent); a permission problem is thrown, naming the path. */
export function isDir(root: string, path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch (err) {
    if (isPermissionError(err)) throw fsError(refusedPath(root, path), err);
    return false;
  }
}

/** Entries of a directory, null when it is absent or no directory; a permission problem is thrown. */
function listDir(root: string, path: string): string[] | null {
  try {
    return readdirSync(path);
  } catch (err) {
    if (isPermissionError(err)) throw fsError(refusedPath(root, path), err);
    return null;
  }
}

/** Driver names with layer metadata (image/<name>/), else with a non-empty driver directory. */
export function driverCandidates(root: string): string[] {
  const imageDir = join(root, 'image');
  const imageDirs = (listDir(root, imageDir) ?? []).filter((name) => isDir(root, join(imageDir, name)));
  if (imageDirs.length > 0) return imageDirs.sort();
  return KNOWN_DRIVERS.filter((name) => {
    try {
      return readdirSync(join(root, name)).length > 0;
    } catch (err) {
      // A driver directory strata may not list may hold a store: reading it will name the problem.
      return isPermissionError(err);
    }
  });
}

/** Refuses a root that is no directory, or that strata may not read. */
export function checkRoot(root: string): void {
  if (!isDir(root, root)) {
    const exists = presence(root);
    throw new DriverDetectionError(exists === false ? 'no such directory (pass the data-root with --root)' : 'not a directory (pass the data-root with --root)', { file: root === '' ? '""' : root });
  }
}

/** How many levels above a root without image/ are looked at for the data-root it is part of. */
const ABOVE = 3;

/**
 * The data-root that `root` is a directory of (its image/, overlay2/, image/overlay2/, …): the nearest
 * ancestor holding image/<driver>/, when `root` itself holds no image/ directory; else null.
 */
export function enclosingDataRoot(root: string): string | null {
  if (presence(join(root, 'image')) !== false) return null;
  let dir = resolve(root);
  for (let i = 0; i < ABOVE && dirname(dir) !== dir; i++) {
    dir = dirname(dir);
    try {
      const image = join(dir, 'image');
      if (readdirSync(image).some((name) => KNOWN_DRIVERS.includes(name) && statSync(join(image, name)).isDirectory())) return dir;
    } catch {
      // not this one (absent, or not ours to read): look further up
    }
  }
  return null;
}

/** The driver of the Docker store at `root` (honouring `requested`), or null when it holds none. */
export function detectDockerDriver(root: string, requested?: string): string | null {
  checkRoot(root);
  const enclosing = enclosingDataRoot(root);
  if (enclosing !== null) {
    throw new DriverDetectionError(`not a data-root: it is inside the data-root ${enclosing} (pass --root ${enclosing})`, { file: root });
  }
  const candidates = driverCandidates(root);
  if (requested) {
    if (!isDir(root, join(root, 'image', requested)) && !isDir(root, join(root, requested))) {
      const seen = candidates.length ? `; found: ${candidates.join(', ')}` : '';
      throw new DriverDetectionError(`missing — no ${requested} store under ${root}${seen}`, { file: join(root, 'image', requested) });
    }
    return requested;
  }
  if (candidates.length === 1) return candidates[0];
  if (candidates.length === 0) return null;
  throw new DriverDetectionError(`contains stores of several drivers (${candidates.join(', ')}); choose one with --driver`, { file: root });
}

export function noStoreError(root: string): DriverDetectionError {
  return new DriverDetectionError('no storage driver found (no image/<driver>/ directory) — is this a Docker data-root?', { file: root });
}

export function detectDriver(root: string, requested?: string): string {
  const driver = detectDockerDriver(root, requested);
  if (driver === null) throw noStoreError(root);
  return driver;
}
