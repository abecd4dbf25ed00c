// Opening a data-root: find the data-root (when none is named), decide its layout and driver, read the
// model, open the driver module that owns the bytes.
import { readFileSync } from 'node:fs';
import { openDriver } from '../drivers/index.js';
import type { StorageDriver } from '../drivers/types.js';
import { checkRoot, noStoreError } from './detect-driver.js';
import { dockerLayout } from './docker/layout.js';
import { readStoreLogged } from './docker/read-store.js';
import { readThroughIndex } from './metadata-index.js';
import type { StoreModel } from './model.js';
import type { LayerFields, StoreLayout } from './store-layout.js';
import { v1Layout } from './v1/layout.js';

export interface OpenStore {
  model: StoreModel;
  /** null when strata reads this driver's metadata but not yet its layer directories. */
  driver: StorageDriver | null;
}

export const DEFAULT_ROOT = '/var/lib/docker';

/** dockerd's configuration file, where a data-root other than the default is set. */
export const DAEMON_JSON = '/etc/docker/daemon.json';

/** The data-root a daemon.json sets ("data-root", or the legacy "graph"); null when it sets none or cannot be read. */
export function dataRootOf(daemonJson: string): string | null {
  let config: unknown;
  try {
    config = JSON.parse(readFileSync(daemonJson, 'utf8'));
  } catch {
    return null;
  }
  if (!config || typeof config !== 'object') return null;
  const { 'data-root': dataRoot, graph } = config as Record<string, unknown>;
  for (const value of [dataRoot, graph]) if (typeof value === 'string' && value !== '') return value;
  return null;
}

/** The root read when --root is not given: $STRATA_ROOT, else daemon.json's data-root ($STRATA_DAEMON_JSON names another file), else /var/lib/docker. */
export function defaultRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.STRATA_ROOT) return env.STRATA_ROOT;
  return dataRootOf(env.STRATA_DAEMON_JSON || DAEMON_JSON) ?? DEFAULT_ROOT;
}

/** Every store layout strata reads, tried in order. */
// The v1 layout first: a v1 root also has driver directories, which Docker's detection would take for a store.
export const STORE_LAYOUTS: readonly StoreLayout[] = [v1Layout, dockerLayout];

/** The layout and driver of the store at `root`; throws a StrataError naming the problem when there is none. */
export function findStore(root: string, requestedDriver?: string): { layout: StoreLayout; driver: string } {
  checkRoot(root);
  for (const layout of STORE_LAYOUTS) {
    const driver = layout.detect(root, requestedDriver);
    if (driver !== null) return { layout, driver };
  }
  throw noStoreError(root);
}

export async function openStore(opts: { root: string; driver?: string; storageOpts?: readonly string[]; layerFields?: LayerFields; parallelLayers?: number }): Promise<OpenStore> {
  const { layout, driver: driverName } = findStore(opts.root, opts.driver);
  const readOpts = { root: opts.root, driver: driverName, layerFields: opts.layerFields, parallelLayers: opts.parallelLayers };
  // Docker's layout is read through the metadata index (its reader records what it reads); others directly.
  const model =
    layout === dockerLayout
      ? await readThroughIndex({ root: opts.root, driver: driverName, layerFields: opts.layerFields ?? 'all' }, (log) => readStoreLogged(readOpts, log))
      : await layout.readAsync(readOpts);
  const driver = openDriver(driverName, opts.root, { storageOpts: opts.storageOpts });
  if (!driver) {
    model.warnings.push({
      file: `${opts.root}/${driverName}`,
      message: `strata cannot read ${driverName} layer directories yet; sizes come from layerdb only`,
    });
  }
  return { model, driver };
}
