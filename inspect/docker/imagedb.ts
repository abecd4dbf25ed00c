// Docker's imagedb (image/<driver>/imagedb/): image configs under content/sha256/<id>, each checked
// against the digest that names it, and the parent recorded for built or committed images under
// metadata/sha256/<id>/parent.
import { join } from 'node:path';
import { readSmallFiles, readSmallFilesSync, type FileProblem, type SmallFiles } from '../../native/small-files.js';
import { chainIdOf, isSha256Digest, SHA256_PREFIX, sha256Hex } from '../digest.js';
import type { Image, ImageConfig, ImageField } from '../model.js';
import { errorMessage } from '../warnings.js';
import { HEX64, MetadataReader, problemReason, Unread } from './files.js';

/** An image config, checked against the digest that names it; Unread (recorded) when it cannot be used. */
function imageConfigOf(r: MetadataReader, file: string, hex: string, bytes: Buffer | FileProblem): ImageConfig | Unread {
  if (!Buffer.isBuffer(bytes)) return r.cannotRead(file, problemReason(bytes));
  if (sha256Hex(bytes) !== hex) return r.cannotRead(file, 'content does not match its digest (corrupt image config); skipped');
  try {
    return JSON.parse(bytes.toString('utf8')) as ImageConfig;
  } catch (err) {
    return r.cannotRead(file, `corrupt JSON (${errorMessage(err)}); skipped`);
  }
}

/** imagedb's files, listed: the image ids (hex) in content/sha256, and those with a recorded parent. */
interface ImageDbListing {
  contentDir: string;
  metadataDir: string;
  hexes: string[];
  withParent: string[];
  /** Whether metadata/sha256 could not be listed (every image's parent is then unread). */
  parentsUnread: boolean;
}

/** The files of ImageDbListing, read: configs (file k for hexes[k]) and parents (file k for withParent[k]). */
interface ImageDbFiles {
  configs: SmallFiles;
  parents: SmallFiles;
}

/**
 * Reads imagedb on this thread. `meanwhile` runs between listing and reading (where readImagesAsync runs
 * it while its files are read), so that both make their warnings in one order.
 */
export function readImages(r: MetadataReader, imageDbDir: string, meanwhile?: () => void): Map<string, Image> {
  const listing = listImageDb(r, imageDbDir);
  meanwhile?.();
  if (!listing) return new Map();
  logImageDbFiles(r, listing);
  const configs = readSmallFilesSync(listing.contentDir, listing.hexes, ['']);
  return imagesOf(r, listing, { configs, parents: readSmallFilesSync(listing.metadataDir, listing.withParent, ['parent']) });
}

/** readImages, the files read on the native helpers' threads (when they are there) while `meanwhile` runs here. */
export async function readImagesAsync(r: MetadataReader, imageDbDir: string, meanwhile?: () => void): Promise<Map<string, Image>> {
  const listing = listImageDb(r, imageDbDir);
  if (listing) logImageDbFiles(r, listing);
  const reads = listing && Promise.all([readSmallFiles(listing.contentDir, listing.hexes, ['']), readSmallFiles(listing.metadataDir, listing.withParent, ['parent'])]);
  meanwhile?.();
  if (!listing || !reads) return new Map();
  const [configs, parents] = await reads;
  return imagesOf(r, listing, { configs, parents });
}

/** The files a listing's reads open, for the read log. */
function logImageDbFiles(r: MetadataReader, listing: ImageDbListing): void {
  r.logFiles(listing.contentDir, listing.hexes, ['']);
  r.logFiles(listing.metadataDir, listing.withParent, ['parent']);
}

/** Lists imagedb; null, recorded as unreadable, when content/sha256 cannot be listed. */
function listImageDb(r: MetadataReader, imageDbDir: string): ImageDbListing | null {
  const contentDir = join(imageDbDir, 'content', 'sha256');
  const metadataDir = join(imageDbDir, 'metadata', 'sha256');
  const content = r.list(contentDir);
  if (content instanceof Unread) {
    r.unreadable.parts.push({ part: 'images', file: content.file, reason: content.reason });
    return null;
  }
  const hexes = (content ?? []).filter((hex) => HEX64.test(hex));
  // Only built or committed images have a metadata directory: list them once instead of probing each.
  const metadata = r.list(metadataDir, true);
  if (metadata instanceof Unread) r.unreadable.parts.push({ part: 'image-parents', file: metadata.file, reason: metadata.reason });
  const withMetadata = new Set(Array.isArray(metadata) ? metadata : []);
  return { contentDir, metadataDir, hexes, withParent: hexes.filter((hex) => withMetadata.has(hex)), parentsUnread: metadata instanceof Unread };
}

/** An image's recorded parent: an image id, null (none recorded), or Unread (recorded as such). */
function parentOf(r: MetadataReader, file: string, text: string | FileProblem): string | null | Unread {
  if (typeof text !== 'string') return text.code === 'ENOENT' ? null : r.cannotRead(file, problemReason(text));
  const parent = text.trim();
  if (parent === '' || isSha256Digest(parent)) return parent || null;
  return r.cannotRead(file, `not an image id: ${JSON.stringify(parent.slice(0, 80))}`);
}

/**
 * chainIdsOf, remembering each link: images share their base layers, so most of a store's ChainIDs
 * (tens of thousands of hashes) are ones another image already made.
 */
function chainIdsMemo(): (diffIds: readonly string[]) => string[] {
  const links = new Map<string, Map<string, string>>(); // parent ChainID → DiffID → ChainID
  return (diffIds) => {
    const chain: string[] = [];
    let previous: string | null = null;
    for (const diffId of diffIds) {
      let next: string;
      if (previous === null) next = diffId;
      else {
        let byDiff = links.get(previous);
        if (!byDiff) links.set(previous, (byDiff = new Map()));
        let known = byDiff.get(diffId);
        if (known === undefined) byDiff.set(diffId, (known = chainIdOf(previous, diffId)));
        next = known;
      }
      chain.push(next);
      previous = next;
    }
    return chain;
  };
}

/** The images of a listing, from their files as read, each with its recorded parent. */
function imagesOf(r: MetadataReader, listing: ImageDbListing, files: ImageDbFiles): Map<string, Image> {
  const images = new Map<string, Image>();
  const chainIdsOf = chainIdsMemo();
  const { contentDir, metadataDir, hexes } = listing;
  const parentIndex = new Map(listing.withParent.map((hex, k) => [hex, k]));
  hexes.forEach((hex, k) => {
    const id = SHA256_PREFIX + hex;
    const file = `${contentDir}/${hex}`;
    const config = imageConfigOf(r, file, hex, files.configs.get(k));
    if (config instanceof Unread) {
      r.unreadable.images.push({ id, file: config.file, reason: config.reason });
      return;
    }
    const diffIds = Array.isArray(config.rootfs?.diff_ids) ? config.rootfs!.diff_ids!.filter((d) => typeof d === 'string') : [];
    if (diffIds.some((d) => !isSha256Digest(d))) r.warn(file, 'rootfs.diff_ids holds a value that is no sha256 digest');
    const unread: ImageField[] = listing.parentsUnread ? ['parent'] : [];
    let parent: string | null = null;
    const parentAt = parentIndex.get(hex);
    if (parentAt !== undefined) {
      const recorded = parentOf(r, `${metadataDir}/${hex}/parent`, files.parents.text(parentAt));
      if (recorded instanceof Unread) unread.push('parent');
      else parent = recorded;
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
  });
  return images;
}
