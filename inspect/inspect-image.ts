// `strata inspect`: one image with everything strata knows about it.
import type { StorageDriver } from '../drivers/types.js';
import { imageSize, isDangling, sortReferences } from './images.js';
import { reportLayers, type LayerReport } from './layers.js';
import type { Image, ImageConfig, StoreModel } from './model.js';

export interface ImageInspection {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  parent: string | null;
  children: string[];
  created: string;
  size: number;
  dangling: boolean;
  config: ImageConfig;
  layers: LayerReport[];
  containers: Array<{ id: string; name: string; state: string }>;
}

export function inspectImage(model: StoreModel, driver: StorageDriver | null, image: Image): ImageInspection {
  return {
    id: image.id,
    repoTags: sortReferences(image.repoTags),
    repoDigests: sortReferences(image.repoDigests),
    parent: image.parent,
    children: [...(model.children.get(image.id) ?? [])].sort(),
    created: image.created,
    size: imageSize(model, image),
    dangling: isDangling(model, image),
    config: image.config,
    layers: reportLayers(model, driver, image.chainIds, { measure: false }),
    containers: model.containers
      .filter((c) => c.imageId === image.id)
      .map((c) => ({ id: c.id, name: c.name, state: c.state })),
  };
}
