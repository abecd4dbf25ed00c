// Where a layer's tar-split is kept, by store layout: layerdb's tar-split.json.gz beside each committed
// layer (Docker ≥ 1.10), or graph/<id>/tar-data.json.gz (v1, from Docker 1.8).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tarSplitPath as layerDbTarSplitPath } from './docker/layerdb.js';
import type { StoreModel } from './model.js';
import { graphEntryDir, V1_LAYOUT } from './v1/read-store.js';

/** The layer's tar-split, or null when the store kept none for it. */
export function tarSplitPath(model: Pick<StoreModel, 'root' | 'driver' | 'layout'>, chainId: string): string | null {
  if (model.layout !== V1_LAYOUT) return layerDbTarSplitPath(model, chainId);
  const path = join(graphEntryDir(model.root, chainId), 'tar-data.json.gz');
  return existsSync(path) ? path : null;
}
