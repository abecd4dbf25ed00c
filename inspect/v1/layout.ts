// The legacy v1 store layout (graph/, Docker < 1.10) as a StoreLayout. A root holding graph/ beside
// image/<driver>/ was migrated by Docker 1.10 (which keeps graph/): dockerd reads the modern layout there,
// and so does strata.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { checkRoot, DriverDetectionError, driverCandidates, isDir, KNOWN_DRIVERS } from '../detect-driver.js';
import type { StoreLayout } from '../store-layout.js';
import { GRAPH_DIR, readV1Store, V1_LAYOUT } from './read-store.js';

/** Drivers named by repositories-<driver> files at the root. */
function repositoriesDrivers(root: string): string[] {
  try {
    return readdirSync(root)
      .filter((n) => n.startsWith('repositories-'))
      .map((n) => n.slice('repositories-'.length))
      .filter((d) => KNOWN_DRIVERS.includes(d));
  } catch {
    return [];
  }
}

/** The driver of the v1 store at `root`, or null when it holds none (or a modern store Docker reads instead). */
export function detectV1Driver(root: string, requested?: string): string | null {
  checkRoot(root);
  // A path strata may not enter is named as dockerd's other checks name it: the deepest one refused.
  const isDirectory = (path: string) => isDir(root, path);
  if (!isDirectory(join(root, GRAPH_DIR))) return null;
  if (requested) return isDirectory(join(root, 'image', requested)) ? null : requested;
  if (isDirectory(join(root, 'image')) && readdirSync(join(root, 'image')).some((d) => isDirectory(join(root, 'image', d)))) return null;
  // The tags name the store's driver: Docker <= 1.6 also kept volumes in vfs/dir/ beside an aufs store.
  const tagged = repositoriesDrivers(root);
  if (tagged.length === 1) return tagged[0];
  const candidates = [...new Set([...tagged, ...driverCandidates(root)])].sort();
  if (candidates.length === 1) return candidates[0];
  if (candidates.length === 0) return null;
  throw new DriverDetectionError(`a v1 graph/ store with several drivers' data (${candidates.join(', ')}); choose one with --driver`, { file: root });
}

export const v1Layout: StoreLayout = {
  name: V1_LAYOUT,
  detect: detectV1Driver,
  read: readV1Store,
  readAsync: async (opts) => readV1Store(opts),
};
