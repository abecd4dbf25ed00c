// `strata verify`: rebuild every layer's tar from its tar-split and the files on disk and check its sha256
// is the DiffID. The fast pass hashes only; a layer that fails is rebuilt again with CRC-64 checks on
// every file, which names the file that broke.
import { LayerContentError } from '../drivers/archive/assemble.js';
import type { StorageDriver } from '../drivers/types.js';
import { diagnoseLayer, digestStream, layerStream, layerTargetOf } from './layer-export.js';
import type { StoreModel } from './model.js';
import { errorMessage } from './warnings.js';

export interface LayerVerification {
  chainId: string;
  diffId: string | null;
  /** true: the rebuilt tar hashes to the DiffID; false: it does not or cannot be rebuilt; null: nothing to check against. */
  ok: boolean | null;
  /** sha256 of the rebuilt tar, when it could be rebuilt. */
  actual: string | null;
  bytes: number;
  /** What broke, naming the file. */
  problem: string | null;
}

export async function verifyLayer(model: StoreModel, driver: StorageDriver, chainId: string, onBytes?: (n: number) => void): Promise<LayerVerification> {
  const layer = model.layers.get(chainId);
  const base = { chainId, diffId: layer?.diffId ?? null, actual: null, bytes: 0 };
  let target;
  try {
    target = layerTargetOf(model, chainId);
  } catch (err) {
    return { ...base, ok: false, problem: errorMessage(err) };
  }
  if (target.kind !== 'layer' || !target.tarSplit) {
    return { ...base, ok: null, problem: 'no tar-split.json.gz: the exact tar cannot be rebuilt (strata diff --fresh exports its content)' };
  }
  const present = driver.exists(target.ref.cacheId);
  if (present === false) return { ...base, ok: false, problem: `${driver.contentDir(target.ref.cacheId)}: missing — the layer's files are gone` };
  try {
    if (base.diffId === null) {
      // No DiffID recorded (a v1 graph/ layer): every file is checked against its tar-split record instead,
      // and the rebuilt tar's sha256 is the layer's DiffID.
      const result = await digestStream(layerStream(driver, target, { verifyCrc: true }).chunks, onBytes);
      return { ...base, ok: true, actual: result.digest, bytes: result.bytes, problem: null };
    }
    const result = await digestStream(layerStream(driver, target, { verifyCrc: false }).chunks, onBytes);
    if (result.digest === base.diffId) return { ...base, ok: true, actual: result.digest, bytes: result.bytes, problem: null };
    return { ...base, ok: false, actual: result.digest, bytes: result.bytes, problem: `rebuilt tar hashes to ${result.digest}, not the DiffID: ${await diagnoseLayer(driver, target)}` };
  } catch (err) {
    return { ...base, ok: false, problem: err instanceof LayerContentError ? err.message : errorMessage(err) };
  }
}
