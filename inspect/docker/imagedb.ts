// Docker's imagedb (image/<driver>/imagedb/): image configs under content/sha256/<id>, each checked
// against the digest that names it, and the parent recorded for built or committed images under
// metadata/sha256/<id>/parent.
import { join } from 'node:path';
import { chainIdsOf, isSha256Digest, SHA256_PREFIX, sha256Hex } from '../digest.js';
import type { Image, ImageConfig, ImageField } from '../model.js';
import { errorMessage } from '../warnings.js';
import { HEX64, MetadataReader, Unread } from './files.js';

/** An image config, checked against the digest that names it; Unread (recorded) when it cannot be used. */
function readImageConfig(r: MetadataReader, file: string, hex: string): ImageConfig | Unread {
  const bytes = r.bytes(file);
  if (bytes instanceof Unread) return bytes;
  if (bytes === null || sha256Hex(bytes) !== hex) return r.cannotRead(file, 'content does not match its digest (corrupt image config); skipped');
  try {
    return JSON.parse(bytes.toString('utf8')) as ImageConfig;
  } catch (err) {
    return r.cannotRead(file, `corrupt JSON (${errorMessage(err)}); skipped`);
  }
}

export function readImages(r: MetadataReader, imageDbDir: string): Map<string, Image> {
  const images = new Map<string, Image>();
  const contentDir = join(imageDbDir, 'content', 'sha256');
  const metadataDir = join(imageDbDir, 'metadata', 'sha256');
  const hexes = r.list(contentDir);
  if (hexes instanceof Unread) {
    r.unreadable.parts.push({ part: 'images', file: hexes.file, reason: hexes.reason });
    return images;
  }
  // Only built or committed images have a metadata directory: list them once instead of probing each.
  const metadata = r.list(metadataDir, true);
  if (metadata instanceof Unread) r.unreadable.parts.push({ part: 'image-parents', file: metadata.file, reason: metadata.reason });
  const withMetadata = new Set(Array.isArray(metadata) ? metadata : []);
  for (const hex of hexes ?? []) {
    if (!HEX64.test(hex)) continue;
    const id = SHA256_PREFIX + hex;
    const file = `${contentDir}/${hex}`;
    const config = readImageConfig(r, file, hex);
    if (config instanceof Unread) {
      r.unreadable.images.push({ id, file: config.file, reason: config.reason });
      continue;
    }
    const diffIds = Array.isArray(config.rootfs?.diff_ids) ? config.rootfs!.diff_ids!.filter((d) => typeof d === 'string') : [];
    if (diffIds.some((d) => !isSha256Digest(d))) r.warn(file, 'rootfs.diff_ids holds a value that is no sha256 digest');
    const unread: ImageField[] = metadata instanceof Unread ? ['parent'] : [];
    let parent: string | null = null;
    if (withMetadata.has(hex)) {
      const parentFile = `${metadataDir}/${hex}/parent`;
      const parentText = r.text(parentFile, true);
      if (parentText instanceof Unread) unread.push('parent');
      else if (parentText && isSha256Digest(parentText)) parent = parentText;
      else if (parentText) {
        r.cannotRead(parentFile, `not an image id: ${JSON.stringify(parentText.slice(0, 80))}`);
        unread.push('parent');
      }
    }
    images.set(id, {
      id,
      config,
      created: typeof config.created === 'string' ? config.created : '',
      diffIds,
      chainIds: chainIdsOf(diffIds),
      parent,
      repoTags: [],
      repoDigests: [],
      unread,
    });
  }
  return images;
}
