// `docker history IMAGE` as a question asked of the model (moby daemon/images/image_history.go, 20.10):
// one entry per step of the image config's history, newest first. A step that added a layer is sized by
// that layer's layerdb size (the diff's own bytes); an empty step is 0. Image ids are handed out along
// the image's recorded parent chain (imagedb/metadata/<id>/parent), one per step from the newest: the
// image itself, its parent, the parent's parent… until a parent is absent; the older steps are <missing>.
import { hexOf } from './digest.js';
import type { Image, StoreModel } from './model.js';
import type { Warning } from './warnings.js';

export interface HistoryEntry {
  /** The local image whose top step this is, or null (docker prints <missing>). */
  id: string | null;
  /** The step's creation time as the config records it (null when it records none). */
  created: string | null;
  createdBy: string;
  /** Bytes the step's layer added (layerdb size); 0 for an empty step; null when its layer is unknown. */
  size: number | null;
  emptyLayer: boolean;
  comment: string;
  /** ChainID of the layer the step added (null for an empty step or when the config lists too few layers). */
  chainId: string | null;
  /** Tags of `id`, as docker's API lists them (familiar name:tag). */
  tags: string[];
}

type ConfigHistory = NonNullable<Image['config']['history']>[number];

/**
 * The history of `image`, newest step first. What cannot be known (a layer missing from layerdb, a
 * history that names more layers than the rootfs has) is a warning and a null, never a guess.
 */
export function imageHistory(model: StoreModel, image: Image, warnings: Warning[] = []): HistoryEntry[] {
  const steps: ConfigHistory[] = Array.isArray(image.config.history) ? image.config.history : [];
  const entries: HistoryEntry[] = [];
  let layerIndex = 0;
  for (const step of steps) {
    const h = step && typeof step === 'object' ? step : {};
    const emptyLayer = h.empty_layer === true;
    let size: number | null = 0;
    let chainId: string | null = null;
    if (!emptyLayer) {
      chainId = image.chainIds[layerIndex] ?? null;
      if (chainId === null) {
        warnings.push({ file: configFile(model, image), message: `history lists more non-empty steps than the image has layers (${image.chainIds.length})` });
        size = null;
      } else {
        const layer = model.layers.get(chainId);
        size = layer?.size ?? null;
        if (!layer) warnings.push({ file: configFile(model, image), message: `layer ${hexOf(chainId).slice(0, 12)} of step ${layerIndex + 1} is not in layerdb; its size is unknown` });
      }
      layerIndex++;
    }
    entries.push({
      id: null,
      created: typeof h.created === 'string' ? h.created : null,
      createdBy: typeof h.created_by === 'string' ? h.created_by : '',
      size,
      emptyLayer,
      comment: typeof h.comment === 'string' ? h.comment : '',
      chainId,
      tags: [],
    });
  }
  entries.reverse();
  assignImageIds(model, image, entries);
  return entries;
}

/** Hands the image's id and its recorded ancestors' ids to the steps, newest first (moby's walk). */
function assignImageIds(model: StoreModel, image: Image, entries: HistoryEntry[]): void {
  let current: Image | undefined = image;
  for (const entry of entries) {
    if (!current) break;
    entry.id = current.id;
    entry.tags = current.repoTags;
    current = current.parent ? model.images.get(current.parent) : undefined;
  }
}

function configFile(model: StoreModel, image: Image): string {
  return `${model.root}/image/${model.driver}/imagedb/content/sha256/${hexOf(image.id)}`;
}
