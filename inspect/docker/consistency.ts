// Cross-checks between the parts of a Docker store: images whose layers or parents are missing, layerdb
// DiffIDs that contradict an image's config, references to missing images. What could not be read is
// never reported as missing: it was warned about where the reading failed.
import { join } from 'node:path';
import { SHA256_PREFIX } from '../digest.js';
import type { StoreModel } from '../model.js';
import type { MetadataReader } from './files.js';

export function checkConsistency(r: MetadataReader, model: StoreModel, imageDbDir: string): void {
  const unreadableParts = new Set(model.unreadable.parts.map((p) => p.part));
  const unreadableImages = new Set(model.unreadable.images.map((i) => i.id));
  for (const img of model.images.values()) {
    const hex = img.id.slice(SHA256_PREFIX.length);
    const file = (): string => join(imageDbDir, 'content', 'sha256', hex); // made only for a warning
    img.chainIds.forEach((chainId, i) => {
      const layer = model.layers.get(chainId);
      if (!layer) {
        if (!unreadableParts.has('layers')) r.warn(file(), `layer ${i + 1} (ChainID ${chainId}) is missing from layerdb`);
      } else if (layer.diffId !== null && layer.diffId !== img.diffIds[i]) {
        r.warn(file(), `layer ${i + 1}: layerdb records DiffID ${layer.diffId}, the config says ${img.diffIds[i]}`);
      }
    });
    if (img.parent && !model.images.has(img.parent) && !unreadableImages.has(img.parent)) {
      r.warn(join(imageDbDir, 'metadata', 'sha256', hex, 'parent'), `parent image ${img.parent} is missing from imagedb`);
    }
  }
  if (unreadableParts.has('images')) return;
  for (const ref of model.references) {
    if (!model.images.has(ref.imageId) && !unreadableImages.has(ref.imageId)) {
      r.warn(join(imageDbDir, '..', 'repositories.json'), `${ref.ref} points to missing image ${ref.imageId}`);
    }
  }
}
