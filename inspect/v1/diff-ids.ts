// v1 records no DiffIDs: a layer's is the sha256 of its tar, rebuilt exactly from tar-data.json.gz and the
// driver's files. Computed when a question shows them (layers, inspect), each layer read once; a layer
// without tar-data, or one that cannot be rebuilt, keeps its DiffID unread, with a warning saying why.
import type { StorageDriver } from '../../drivers/types.js';
import { digestStream, layerStream, layerTargetOf } from '../layer-export.js';
import type { StoreModel } from '../model.js';
import { errorMessage } from '../warnings.js';
import { graphEntryDir, V1_LAYOUT } from './read-store.js';

/** Fills the DiffIDs of a v1 store's layers (and its images' diffIds) from their content; a no-op on other layouts. */
export async function computeV1DiffIds(model: StoreModel, driver: StorageDriver | null, only?: ReadonlySet<string>): Promise<void> {
  if (model.layout !== V1_LAYOUT || !driver) return;
  for (const layer of model.layers.values()) {
    if (layer.diffId !== null || (only && !only.has(layer.chainId))) continue;
    let target;
    try {
      target = layerTargetOf(model, layer.chainId);
    } catch (err) {
      model.warnings.push({ file: graphEntryDir(model.root, layer.chainId), message: `DiffID not computed: ${errorMessage(err)}` });
      continue;
    }
    if (target.kind !== 'layer' || !target.tarSplit) continue;
    try {
      layer.diffId = (await digestStream(layerStream(driver, target).chunks)).digest;
      layer.unread = layer.unread.filter((f) => f !== 'diffId');
    } catch (err) {
      model.warnings.push({ file: target.tarSplit, message: `DiffID not computed: ${errorMessage(err)}` });
    }
  }
  for (const image of model.images.values()) {
    const diffIds = image.chainIds.map((c) => model.layers.get(c)?.diffId ?? null);
    if (!diffIds.every((d): d is string => d !== null)) continue;
    image.diffIds = diffIds;
    // What Docker 1.10's migration records as the image's rootfs.
    image.config.rootfs = { type: 'layers', diff_ids: diffIds };
  }
}
