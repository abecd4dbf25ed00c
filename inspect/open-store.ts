// Opening a data-root: decide the driver, read the model, open the driver module that owns the bytes.
import { openDriver } from '../drivers/index.js';
import type { StorageDriver } from '../drivers/types.js';
import { detectDriver } from './detect-driver.js';
import type { StoreModel } from './model.js';
import { readStoreAsync, type LayerFields } from './read-store.js';

export interface OpenStore {
  model: StoreModel;
  /** null when strata reads this driver's metadata but not yet its layer directories. */
  driver: StorageDriver | null;
}

export const DEFAULT_ROOT = '/var/lib/docker';

export async function openStore(opts: { root: string; driver?: string; layerFields?: LayerFields; parallelLayers?: number }): Promise<OpenStore> {
  const driverName = detectDriver(opts.root, opts.driver);
  const model = await readStoreAsync({ root: opts.root, driver: driverName, layerFields: opts.layerFields, parallelLayers: opts.parallelLayers });
  const driver = openDriver(driverName, opts.root);
  if (!driver) {
    model.warnings.push({
      file: `${opts.root}/${driverName}`,
      message: `strata cannot read ${driverName} layer directories yet; sizes come from layerdb only`,
    });
  }
  return { model, driver };
}
