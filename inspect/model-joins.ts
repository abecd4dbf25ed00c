// Joins every store reader makes once its parts are read: each reference on its image (tags and digests),
// and each image under its recorded parent.
import type { Image, Reference } from './model.js';

/** Puts each reference on its image; a reference to an image not in `images` goes to `missing`. */
export function attachReferences(images: Map<string, Image>, references: readonly Reference[], missing?: (ref: Reference) => void): void {
  for (const ref of references) {
    const img = images.get(ref.imageId);
    if (!img) {
      missing?.(ref);
      continue;
    }
    if (ref.digest !== null) img.repoDigests.push(ref.ref);
    else img.repoTags.push(ref.ref);
  }
}

/** Image id → the ids of the images that record it as their parent. */
export function childrenByParent(images: Map<string, Image>): Map<string, string[]> {
  const children = new Map<string, string[]>();
  for (const img of images.values()) {
    if (img.parent === null) continue;
    const list = children.get(img.parent) ?? [];
    list.push(img.id);
    children.set(img.parent, list);
  }
  return children;
}
