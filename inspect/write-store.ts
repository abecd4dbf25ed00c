// Writes Docker's metadata the way dockerd does, each file through a temporary path renamed into place:
// layerdb entries (diff, size, cache-id, parent, tar-split.json.gz), image configs, repositories.json.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hexOf, sha256Hex, SHA256_PREFIX } from './digest.js';
import { parseReference } from './reference.js';

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

/** Writes `data` to `file` through a temporary file in the same directory. */
export function writeAtomically(file: string, data: string | Buffer, mode = 0o600): void {
  const temp = `${file}.strata-tmp-${randomBytes(4).toString('hex')}`;
  try {
    writeFileSync(temp, data, { mode });
    renameSync(temp, file);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
}

export class StoreWriter {
  readonly meta: string;

  constructor(
    readonly root: string,
    readonly driver: string,
  ) {
    this.meta = join(root, 'image', driver);
    for (const d of ['imagedb/content/sha256', 'imagedb/metadata/sha256', 'layerdb/sha256', 'layerdb/tmp']) {
      mkdirSync(join(this.meta, d), { recursive: true, mode: 0o700 });
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
    const temp = join(this.meta, 'layerdb', 'tmp', `write-set-${randomBytes(8).toString('hex')}`);
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
  }

  /** Stores an image config under its digest; returns the image id. */
  writeImageConfig(config: Buffer): string {
    const hex = sha256Hex(config);
    const file = join(this.meta, 'imagedb', 'content', 'sha256', hex);
    if (!existsSync(file)) writeAtomically(file, config);
    return SHA256_PREFIX + hex;
  }

  /** Points each reference at `imageId`; returns the references that moved away from another image. */
  tag(refs: string[], imageId: string): Array<{ ref: string; previous: string }> {
    const file = join(this.meta, 'repositories.json');
    let data: { Repositories: Record<string, Record<string, string>> } = { Repositories: {} };
    if (existsSync(file)) data = JSON.parse(readFileSync(file, 'utf8'));
    data.Repositories ??= {};
    const moved: Array<{ ref: string; previous: string }> = [];
    for (const input of refs) {
      const parsed = parseReference(input);
      if (!parsed || parsed.digest) throw new Error(`cannot tag ${JSON.stringify(input)}: not a name:tag reference`);
      const ref = `${parsed.name}:${parsed.tag ?? 'latest'}`;
      const repo = (data.Repositories[parsed.name] ??= {});
      if (repo[ref] && repo[ref] !== imageId) moved.push({ ref, previous: repo[ref] });
      repo[ref] = imageId;
    }
    writeAtomically(file, JSON.stringify(data));
    // dockerd records when an image was last tagged (imagedb/metadata/<id>/lastUpdated).
    const meta = join(this.meta, 'imagedb', 'metadata', 'sha256', hexOf(imageId));
    if (refs.length > 0) {
      mkdirSync(meta, { recursive: true, mode: 0o700 });
      writeAtomically(join(meta, 'lastUpdated'), new Date().toISOString());
    }
    return moved;
  }
}
