// Reads a Docker data-root's metadata into a StoreModel: imagedb, layerdb, repositories.json, containers.
// Reads only; every problem becomes a warning naming the file, and reading goes on with the rest.
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { chainIdOf, chainIdsOf, isSha256Digest, SHA256_PREFIX, sha256Hex } from './digest.js';
import type { Container, ContainerState, Image, ImageConfig, Layer, Reference, StoreModel } from './model.js';
import { parseReference } from './reference.js';
import { errorMessage, type Warning } from './warnings.js';

/** layerdb keeps, beside each committed layer, the tar-split that rebuilds its exact tar. */
export function tarSplitPath(model: StoreModel, chainId: string): string | null {
  const path = join(model.root, 'image', model.driver, 'layerdb', 'sha256', chainId.slice(SHA256_PREFIX.length), 'tar-split.json.gz');
  return existsSync(path) ? path : null;
}

/**
 * How much of layerdb a question needs. A large store holds tens of thousands of these small files, and
 * opening them is most of the time a listing takes:
 * - 'sizes': each layer's size only (image listings; ChainIDs come from the images' diff_ids);
 * - 'usage': size, cache-id and parent (disk usage: driver directories and chains, no DiffIDs);
 * - 'all': also diff, and every ChainID checked against its parent and DiffID.
 */
export type LayerFields = 'sizes' | 'usage' | 'all';

export class StoreReadError extends Error {
  override name = 'StoreReadError';
}

export interface ReadStoreOptions {
  root: string;
  driver: string;
  /** Which layerdb files to read besides size (default: all); see LayerFields. */
  layerFields?: LayerFields;
}

class Reader {
  readonly warnings: Warning[] = [];
  /** Images whose config exists but was unreadable: already warned about, so references to them are not. */
  readonly unreadableImages = new Set<string>();

  warn(file: string, message: string): void {
    this.warnings.push({ file, message });
  }

  /** Directory entries, or [] with a warning (none when the directory is simply absent and optional). */
  list(dir: string, optional = false): string[] {
    try {
      return readdirSync(dir);
    } catch (err) {
      if (!(optional && (err as NodeJS.ErrnoException).code === 'ENOENT')) this.warn(dir, errorMessage(err));
      return [];
    }
  }

  /** Reads through one shared buffer: most metadata files are tiny, and a store holds tens of thousands. */
  private readonly scratch = Buffer.allocUnsafe(64 * 1024);

  /** The file's bytes, in the shared buffer when they fit (valid until the next read). */
  private readRaw(file: string, optional: boolean): Buffer | null {
    try {
      const fd = openSync(file, 'r');
      try {
        const n = readSync(fd, this.scratch, 0, this.scratch.length, 0);
        if (n < this.scratch.length) return this.scratch.subarray(0, n);
      } finally {
        closeSync(fd);
      }
      return readFileSync(file);
    } catch (err) {
      if (!(optional && (err as NodeJS.ErrnoException).code === 'ENOENT')) this.warn(file, errorMessage(err));
      return null;
    }
  }

  bytes(file: string, optional = false): Buffer | null {
    const raw = this.readRaw(file, optional);
    return raw === null ? null : Buffer.from(raw);
  }

  text(file: string, optional = false): string | null {
    const raw = this.readRaw(file, optional);
    return raw === null ? null : raw.toString('utf8').trim();
  }

  json<T>(file: string, optional = false): T | null {
    const b = this.bytes(file, optional);
    if (b === null) return null;
    try {
      return JSON.parse(b.toString('utf8')) as T;
    } catch (err) {
      this.warn(file, `corrupt JSON (${errorMessage(err)})`);
      return null;
    }
  }
}

const HEX64 = /^[0-9a-f]{64}$/;

function readLayerDb(r: Reader, layerDbDir: string, fields: LayerFields): Map<string, Layer> {
  const all = fields === 'all';
  const usage = all || fields === 'usage';
  const layers = new Map<string, Layer>();
  const base = join(layerDbDir, 'sha256');
  for (const hex of r.list(base)) {
    if (!HEX64.test(hex)) continue;
    const dir = `${base}/${hex}`;
    const chainId = SHA256_PREFIX + hex;
    const diffId = all ? r.text(`${dir}/diff`) : null;
    const sizeText = r.text(`${dir}/size`);
    const cacheId = usage ? r.text(`${dir}/cache-id`) : null;
    const parent = usage ? r.text(`${dir}/parent`, true) : null;
    let size: number | null = null;
    if (sizeText !== null) {
      size = /^\d+$/.test(sizeText) ? Number(sizeText) : null;
      if (size === null) r.warn(join(dir, 'size'), `not a byte count: ${JSON.stringify(sizeText.slice(0, 40))}`);
    }
    if (diffId !== null && !isSha256Digest(diffId)) r.warn(join(dir, 'diff'), `not a sha256 digest: ${JSON.stringify(diffId.slice(0, 80))}`);
    if (parent !== null && !isSha256Digest(parent)) r.warn(join(dir, 'parent'), `not a sha256 digest: ${JSON.stringify(parent.slice(0, 80))}`);
    if (all && diffId !== null && isSha256Digest(diffId) && (parent === null || isSha256Digest(parent))) {
      const expected = chainIdOf(parent, diffId);
      if (expected !== chainId) r.warn(dir, `ChainID does not match its parent and diff (expected ${expected})`);
    }
    layers.set(chainId, { chainId, diffId, parent, size, cacheId });
  }
  return layers;
}

/** An image config, checked against the digest that names it. */
function readImageConfig(r: Reader, file: string, hex: string): ImageConfig | null {
  const bytes = r.bytes(file);
  if (bytes === null) return null;
  if (sha256Hex(bytes) !== hex) {
    r.warn(file, 'content does not match its digest (corrupt image config); skipped');
    return null;
  }
  try {
    return JSON.parse(bytes.toString('utf8')) as ImageConfig;
  } catch (err) {
    r.warn(file, `corrupt JSON (${errorMessage(err)}); skipped`);
    return null;
  }
}

function readImages(r: Reader, imageDbDir: string): Map<string, Image> {
  const images = new Map<string, Image>();
  const contentDir = join(imageDbDir, 'content', 'sha256');
  const metadataDir = join(imageDbDir, 'metadata', 'sha256');
  // Only built or committed images have a metadata directory: list them once instead of probing each.
  const withMetadata = new Set(r.list(metadataDir, true));
  for (const hex of r.list(contentDir)) {
    if (!HEX64.test(hex)) continue;
    const file = `${contentDir}/${hex}`;
    const config = readImageConfig(r, file, hex);
    if (config === null) {
      r.unreadableImages.add(SHA256_PREFIX + hex);
      continue;
    }
    const diffIds = Array.isArray(config.rootfs?.diff_ids) ? config.rootfs!.diff_ids!.filter((d) => typeof d === 'string') : [];
    if (diffIds.some((d) => !isSha256Digest(d))) r.warn(file, 'rootfs.diff_ids holds a value that is no sha256 digest');
    const parentFile = `${metadataDir}/${hex}/parent`;
    const parentText = withMetadata.has(hex) ? r.text(parentFile, true) : null;
    const parent = parentText && isSha256Digest(parentText) ? parentText : null;
    if (parentText && !parent) r.warn(parentFile, `not an image id: ${JSON.stringify(parentText.slice(0, 80))}`);
    images.set(SHA256_PREFIX + hex, {
      id: SHA256_PREFIX + hex,
      config,
      created: typeof config.created === 'string' ? config.created : '',
      diffIds,
      chainIds: chainIdsOf(diffIds),
      parent,
      repoTags: [],
      repoDigests: [],
    });
  }
  return images;
}

function readReferences(r: Reader, file: string): Reference[] {
  const data = r.json<{ Repositories?: Record<string, Record<string, string>> }>(file, true);
  if (data === null) return [];
  const refs: Reference[] = [];
  for (const repo of Object.values(data.Repositories ?? {})) {
    for (const [ref, imageId] of Object.entries(repo ?? {})) {
      const parsed = parseReference(ref);
      if (!parsed || typeof imageId !== 'string' || !isSha256Digest(imageId)) {
        r.warn(file, `unreadable reference ${JSON.stringify(ref)} → ${JSON.stringify(imageId)}`);
        continue;
      }
      refs.push({ ref, name: parsed.name, tag: parsed.tag, digest: parsed.digest, imageId });
    }
  }
  return refs;
}

interface ContainerStateJson {
  Running?: boolean;
  Paused?: boolean;
  Restarting?: boolean;
  RemovalInProgress?: boolean;
  Dead?: boolean;
  StartedAt?: string;
  FinishedAt?: string;
  ExitCode?: number;
}

/** The state name docker reports (container/state.go StateString). */
export function containerStateOf(s: ContainerStateJson | undefined): ContainerState {
  if (!s) return 'created';
  if (s.Running) return s.Paused ? 'paused' : s.Restarting ? 'restarting' : 'running';
  if (s.RemovalInProgress) return 'removing';
  if (s.Dead) return 'dead';
  if (!s.StartedAt || s.StartedAt.startsWith('0001-01-01')) return 'created';
  return 'exited';
}

/** docker ps's COMMAND: the path, then the args, quoting those with spaces (daemon/list.go). */
export function commandOf(path: string, args: string[]): string {
  if (args.length === 0) return path;
  return `${path} ${args.map((a) => (a.includes(' ') ? `'${a}'` : a)).join(' ')}`;
}

interface ContainerJson {
  ID?: string;
  Name?: string;
  Image?: string;
  Created?: string;
  Driver?: string;
  Path?: string;
  Args?: string[];
  State?: ContainerStateJson;
  Config?: { Image?: string };
}

function readContainers(r: Reader, root: string, layerDbDir: string): Container[] {
  const containers: Container[] = [];
  const dir = join(root, 'containers');
  const mountsDir = join(layerDbDir, 'mounts');
  for (const id of r.list(dir, true)) {
    if (!HEX64.test(id)) continue;
    const file = join(dir, id, 'config.v2.json');
    const c = r.json<ContainerJson>(file);
    if (c === null) continue;
    const mountDir = join(mountsDir, id);
    const mountId = r.text(join(mountDir, 'mount-id'), true);
    const initId = r.text(join(mountDir, 'init-id'), true);
    const parentChainId = r.text(join(mountDir, 'parent'), true);
    if (mountId === null) r.warn(join(mountDir, 'mount-id'), `missing — container ${id.slice(0, 12)} has no read-write layer record`);
    containers.push({
      id: c.ID ?? id,
      name: (c.Name ?? '').replace(/^\//, ''),
      imageId: c.Image ?? '',
      imageRef: c.Config?.Image ?? c.Image ?? '',
      state: containerStateOf(c.State),
      exitCode: c.State?.ExitCode ?? 0,
      startedAt: c.State?.StartedAt ?? '',
      finishedAt: c.State?.FinishedAt ?? '',
      created: c.Created ?? '',
      driver: c.Driver ?? null,
      command: commandOf(c.Path ?? '', c.Args ?? []),
      mountId,
      initId,
      parentChainId,
    });
  }
  return containers;
}

/** Cross-checks between the parts: images whose layers or parents are missing, references to missing images. */
function checkConsistency(r: Reader, model: StoreModel, imageDbDir: string): void {
  for (const img of model.images.values()) {
    const file = join(imageDbDir, 'content', 'sha256', img.id.slice(SHA256_PREFIX.length));
    img.chainIds.forEach((chainId, i) => {
      const layer = model.layers.get(chainId);
      if (!layer) r.warn(file, `layer ${i + 1} (ChainID ${chainId}) is missing from layerdb`);
      else if (layer.diffId !== null && layer.diffId !== img.diffIds[i]) {
        r.warn(file, `layer ${i + 1}: layerdb records DiffID ${layer.diffId}, the config says ${img.diffIds[i]}`);
      }
    });
    if (img.parent && !model.images.has(img.parent)) r.warn(file, `parent image ${img.parent} is missing from imagedb`);
  }
  for (const ref of model.references) {
    if (!model.images.has(ref.imageId) && !r.unreadableImages.has(ref.imageId)) r.warn(join(imageDbDir, '..', 'repositories.json'), `${ref.ref} points to missing image ${ref.imageId}`);
  }
}

export function readStore(opts: ReadStoreOptions): StoreModel {
  const { root, driver, layerFields = 'all' } = opts;
  const r = new Reader();
  const metaDir = join(root, 'image', driver);
  const imageDbDir = join(metaDir, 'imagedb');
  const layerDbDir = join(metaDir, 'layerdb');
  const images = readImages(r, imageDbDir);
  const layers = readLayerDb(r, layerDbDir, layerFields);
  const references = readReferences(r, join(metaDir, 'repositories.json'));
  const containers = readContainers(r, root, layerDbDir);
  for (const ref of references) {
    const img = images.get(ref.imageId);
    if (!img) continue;
    if (ref.digest !== null) img.repoDigests.push(ref.ref);
    else img.repoTags.push(ref.ref);
  }
  const children = new Map<string, string[]>();
  for (const img of images.values()) {
    if (img.parent === null) continue;
    const list = children.get(img.parent) ?? [];
    list.push(img.id);
    children.set(img.parent, list);
  }
  const model: StoreModel = { root, driver, images, layers, containers, references, children, warnings: r.warnings };
  checkConsistency(r, model, imageDbDir);
  if (images.size === 0 && layers.size === 0 && containers.length === 0 && r.warnings.length > 0) {
    throw new StoreReadError(`${metaDir}: nothing could be read (${r.warnings.length} problems, first: ${r.warnings[0].file}: ${r.warnings[0].message})`);
  }
  return model;
}
