// Writes Docker's metadata the way dockerd does, each file through a temporary path renamed into place:
// layerdb entries (diff, size, cache-id, parent, tar-split.json.gz), image configs, repositories.json.
// It keeps a record of what it created, so that a failed write command removes exactly that.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { errnoOf, fsError, StrataError } from '../native/errors.js';
import { tempName } from '../native/temp-names.js';
import { hexOf, sha256Hex, SHA256_PREFIX } from './digest.js';
import { forgetIndex } from './metadata-index.js';
import { parseReference } from './reference.js';
import type { ImageConfig } from './model.js';

export interface NewLayer {
  chainId: string;
  diffId: string;
  parent: string | null;
  size: number;
  cacheId: string;
  tarSplit: Buffer;
}

export function randomCacheId(): string {
  return randomBytes(32).toString('hex');
}

/** Writes `data` to `file` through a temporary file in the same directory (named for the writer: see native/temp-names.ts). */
export function writeAtomically(file: string, data: string | Buffer, mode = 0o600): void {
  const temp = join(dirname(file), tempName(basename(file)));
  try {
    writeFileSync(temp, data, { mode });
    renameSync(temp, file);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
}

/** What one StoreWriter created: layers it recorded, and files and directories that did not exist before. */
export interface CreatedByWriter {
  layers: Array<{ chainId: string; cacheId: string }>;
  paths: string[];
}

/** A tag that moved from one image to another. */
export interface MovedTag {
  ref: string;
  previous: string;
}

/** References in the form repositories.json keys them ("name:tag"); refuses digests and bad names. */
export function tagKeys(refs: string[]): Array<{ repo: string; ref: string }> {
  return refs.map((input) => {
    const parsed = parseReference(input);
    if (!parsed || parsed.digest) throw new StrataError(`cannot tag ${JSON.stringify(input)}: not a name:tag reference`);
    return { repo: parsed.name, ref: `${parsed.name}:${parsed.tag ?? 'latest'}` };
  });
}

export class StoreWriter {
  readonly meta: string;
  readonly created: CreatedByWriter = { layers: [], paths: [] };

  constructor(
    readonly root: string,
    readonly driver: string,
  ) {
    this.meta = join(root, 'image', driver);
    // Whatever this session writes, no index of the store may answer for it (nor be made meanwhile).
    forgetIndex(root);
    for (const d of ['imagedb/content/sha256', 'imagedb/metadata/sha256', 'layerdb/sha256', 'layerdb/tmp']) {
      // mkdirSync names the first directory it had to create, if any.
      const first = mkdirSync(join(this.meta, d), { recursive: true, mode: 0o700 });
      if (first) this.created.paths.push(first);
    }
  }

  layerDir(chainId: string): string {
    return join(this.meta, 'layerdb', 'sha256', hexOf(chainId));
  }

  hasLayer(chainId: string): boolean {
    return existsSync(join(this.layerDir(chainId), 'diff'));
  }

  /** dockerd's way: a write-set directory under layerdb/tmp, renamed to layerdb/sha256/<chain>. */
  writeLayer(layer: NewLayer): void {
    // Named for this writer (not dockerd's write-set-<n>), so that one a killed strata left is known stale.
    const temp = join(this.meta, 'layerdb', 'tmp', tempName('write-set'));
    mkdirSync(temp, { mode: 0o700 });
    try {
      writeFileSync(join(temp, 'diff'), layer.diffId, { mode: 0o644 });
      writeFileSync(join(temp, 'size'), String(layer.size), { mode: 0o644 });
      writeFileSync(join(temp, 'cache-id'), layer.cacheId, { mode: 0o644 });
      if (layer.parent) writeFileSync(join(temp, 'parent'), layer.parent, { mode: 0o644 });
      writeFileSync(join(temp, 'tar-split.json.gz'), layer.tarSplit, { mode: 0o644 });
      renameSync(temp, this.layerDir(layer.chainId));
    } catch (err) {
      rmSync(temp, { recursive: true, force: true });
      throw err;
    }
    this.created.layers.push({ chainId: layer.chainId, cacheId: layer.cacheId });
  }

  /** Stores an image config under its digest; returns the image id. */
  writeImageConfig(config: Buffer): string {
    const hex = sha256Hex(config);
    const file = join(this.meta, 'imagedb', 'content', 'sha256', hex);
    if (!existsSync(file)) {
      writeAtomically(file, config);
      this.created.paths.push(file);
    }
    return SHA256_PREFIX + hex;
  }

  /** An image config already in the store (parsed), or null when there is none. */
  readImageConfig(imageId: string): ImageConfig | null {
    const file = join(this.meta, 'imagedb', 'content', 'sha256', hexOf(imageId));
    if (!existsSync(file)) return null;
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as ImageConfig;
    } catch (err) {
      if (errnoOf(err)) throw fsError(file, err);
      throw new StrataError('not a JSON image config', { file, cause: err });
    }
  }

  /** Records `parentId` as the image's parent (imagedb/metadata/sha256/<id>/parent), as dockerd does. */
  writeImageParent(imageId: string, parentId: string): void {
    const meta = join(this.meta, 'imagedb', 'metadata', 'sha256', hexOf(imageId));
    if (!existsSync(meta)) {
      mkdirSync(meta, { recursive: true, mode: 0o700 });
      this.created.paths.push(meta);
    }
    const file = join(meta, 'parent');
    if (!existsSync(file)) this.created.paths.push(file);
    writeAtomically(file, parentId);
  }

  /**
   * Removes references (repositories.json keys: "name:tag", "name@sha256:…") with one write of
   * repositories.json, dropping a repository left without any, as dockerd's reference store does.
   * Returns the keys that were there; a file that is absent or holds none of them is left as it is.
   */
  untag(keys: string[]): string[] {
    const file = join(this.meta, 'repositories.json');
    if (!existsSync(file)) return [];
    let data: { Repositories?: Record<string, Record<string, string>> };
    try {
      data = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      if (errnoOf(err)) throw fsError(file, err);
      throw new StrataError('not valid JSON; strata will not replace the tags it holds', { file, cause: err });
    }
    const repos = data.Repositories ?? {};
    const removed: string[] = [];
    for (const key of keys) {
      for (const [name, tags] of Object.entries(repos)) {
        if (!tags || !Object.hasOwn(tags, key)) continue;
        delete tags[key];
        removed.push(key);
        if (Object.keys(tags).length === 0) delete repos[name];
      }
    }
    if (removed.length > 0) writeAtomically(file, JSON.stringify(data));
    return removed;
  }

  /**
   * Points each image's references at it, in order, with one write of repositories.json (the last write,
   * so a failure before it leaves the tags as they were); returns, per image, the references that moved
   * away from another image.
   */
  tag(images: Array<{ refs: string[]; imageId: string }>): MovedTag[][] {
    const keyed = images.map((image) => ({ ...image, keys: tagKeys(image.refs) }));
    // dockerd records when an image was last tagged (imagedb/metadata/<id>/lastUpdated).
    const now = new Date().toISOString();
    for (const image of keyed) {
      if (image.keys.length === 0) continue;
      const meta = join(this.meta, 'imagedb', 'metadata', 'sha256', hexOf(image.imageId));
      if (!existsSync(meta)) {
        mkdirSync(meta, { recursive: true, mode: 0o700 });
        this.created.paths.push(meta);
      }
      writeAtomically(join(meta, 'lastUpdated'), now);
    }
    const file = join(this.meta, 'repositories.json');
    let data: { Repositories: Record<string, Record<string, string>> } = { Repositories: {} };
    if (existsSync(file)) {
      try {
        data = JSON.parse(readFileSync(file, 'utf8'));
      } catch (err) {
        if (errnoOf(err)) throw fsError(file, err);
        throw new StrataError('not valid JSON; strata will not replace the tags it holds', { file, cause: err });
      }
    }
    data.Repositories ??= {};
    const moved = keyed.map((image) => {
      const out: MovedTag[] = [];
      for (const { repo, ref } of image.keys) {
        const tags = (data.Repositories[repo] ??= {});
        if (tags[ref] && tags[ref] !== image.imageId) out.push({ ref, previous: tags[ref] });
        tags[ref] = image.imageId;
      }
      return out;
    });
    writeAtomically(file, JSON.stringify(data));
    return moved;
  }
}
