// Reads a Docker data-root's metadata into a StoreModel: imagedb, layerdb, repositories.json, containers.
// Reads only; every problem becomes a warning naming the file, and reading goes on with the rest.
import { StrataError } from '../native/errors.js';
import * as fs from 'node:fs';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { chainIdOf, chainIdsOf, isSha256Digest, SHA256_PREFIX, sha256Hex } from './digest.js';
import type { Container, ContainerState, Image, ImageConfig, Layer, Reference, StoreModel } from './model.js';
import { parseReference } from './reference.js';
import { errorMessage, type Warning } from './warnings.js';

/** layerdb keeps, beside each committed layer, the tar-split that rebuilds its exact tar. */
/** A layer's directory in layerdb (layerdb/sha256/<chain hex>). */
export function layerEntryDir(model: StoreModel, chainId: string): string {
  return join(model.root, 'image', model.driver, 'layerdb', 'sha256', chainId.slice(SHA256_PREFIX.length));
}

export function tarSplitPath(model: StoreModel, chainId: string): string | null {
  const path = join(layerEntryDir(model, chainId), 'tar-split.json.gz');
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

export class StoreReadError extends StrataError {
  override name = 'StoreReadError';
}

export interface ReadStoreOptions {
  root: string;
  driver: string;
  /** Which layerdb files to read besides size (default: all); see LayerFields. */
  layerFields?: LayerFields;
  /** readStoreAsync reads a layerdb of at least this many layers on a worker thread (default 2000). */
  parallelLayers?: number;
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

type RawText = string | { code: string; message: string } | null;

/** One layerdb entry's files, as read: text, an error, or null (absent, for parent; not asked for). */
export type RawLayer = [hex: string, diff: RawText, size: RawText, cacheId: RawText, parent: RawText];

/**
 * Reads the layerdb files a question needs. Self-contained — no imports, no closures — because its
 * source is also what a worker thread runs to read a large layerdb beside the main thread.
 */
export function readLayerFiles(fs: typeof import('node:fs'), base: string, names: string[], fields: string): RawLayer[] {
  const all = fields === 'all';
  const usage = all || fields === 'usage';
  const scratch = Buffer.allocUnsafe(4096);
  const read = (file: string, optional: boolean): RawText => {
    try {
      const fd = fs.openSync(file, 'r');
      try {
        const n = fs.readSync(fd, scratch, 0, scratch.length, 0);
        if (n < scratch.length) return scratch.toString('utf8', 0, n).trim();
      } finally {
        fs.closeSync(fd);
      }
      return fs.readFileSync(file, 'utf8').trim();
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (optional && e.code === 'ENOENT') return null;
      return { code: e.code ?? '', message: e.message };
    }
  };
  const out: RawLayer[] = [];
  for (const hex of names) {
    if (!/^[0-9a-f]{64}$/.test(hex)) continue;
    const dir = base + '/' + hex;
    out.push([hex, all ? read(dir + '/diff', false) : null, read(dir + '/size', false), usage ? read(dir + '/cache-id', false) : null, usage ? read(dir + '/parent', true) : null]);
  }
  return out;
}

const LAYER_WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
// Transpilers may wrap inner functions in a naming helper; the worker has none of its own.
var __name = (fn) => fn;
const readLayerFiles = ${readLayerFiles.toString()};
parentPort.postMessage(readLayerFiles(require('node:fs'), workerData.base, workerData.names, workerData.fields));
`;

/** Reads layerdb on a worker thread, so the main thread reads imagedb meanwhile. */
function readLayerFilesInWorker(base: string, names: string[], fields: LayerFields): Promise<RawLayer[]> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(LAYER_WORKER_SOURCE, { eval: true, workerData: { base, names, fields } });
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => code !== 0 && reject(new Error(`layerdb reader exited with ${code}`)));
  });
}

/** Turns raw layerdb reads into layers, with one warning per problem. */
function interpretLayers(r: Reader, base: string, raw: RawLayer[], fields: LayerFields): Map<string, Layer> {
  const layers = new Map<string, Layer>();
  const text = (file: string, value: RawText): string | null => {
    if (value === null || typeof value === 'string') return value;
    r.warn(file, errorMessage(Object.assign(new Error(value.message), { code: value.code })));
    return null;
  };
  for (const [hex, rawDiff, rawSize, rawCache, rawParent] of raw) {
    const dir = `${base}/${hex}`;
    const chainId = SHA256_PREFIX + hex;
    const diffId = text(`${dir}/diff`, rawDiff);
    const sizeText = text(`${dir}/size`, rawSize);
    const cacheId = text(`${dir}/cache-id`, rawCache);
    const parent = text(`${dir}/parent`, rawParent);
    let size: number | null = null;
    if (sizeText !== null) {
      size = /^\d+$/.test(sizeText) ? Number(sizeText) : null;
      if (size === null) r.warn(`${dir}/size`, `not a byte count: ${JSON.stringify(sizeText.slice(0, 40))}`);
    }
    if (diffId !== null && !isSha256Digest(diffId)) r.warn(`${dir}/diff`, `not a sha256 digest: ${JSON.stringify(diffId.slice(0, 80))}`);
    if (parent !== null && !isSha256Digest(parent)) r.warn(`${dir}/parent`, `not a sha256 digest: ${JSON.stringify(parent.slice(0, 80))}`);
    if (fields === 'all' && diffId !== null && isSha256Digest(diffId) && (parent === null || isSha256Digest(parent))) {
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

/** Layer stores this large are read on a second thread (below, a thread costs more than it saves). */
const PARALLEL_LAYERS = 2000;

/** Reads the store on this thread. */
export function readStore(opts: ReadStoreOptions): StoreModel {
  const r = new Reader();
  const { base, names } = listLayerDb(r, opts);
  return assemble(r, opts, readLayerFiles(fs, base, names, opts.layerFields ?? 'all'));
}

/** Reads the store, a large layerdb on a worker thread while this one reads everything else. */
export async function readStoreAsync(opts: ReadStoreOptions): Promise<StoreModel> {
  const r = new Reader();
  const { base, names } = listLayerDb(r, opts);
  const fields = opts.layerFields ?? 'all';
  if (names.length < (opts.parallelLayers ?? PARALLEL_LAYERS) || availableParallelism() < 2) return assemble(r, opts, readLayerFiles(fs, base, names, fields));
  const raw = readLayerFilesInWorker(base, names, fields);
  const partial = readAllButLayers(r, opts);
  return finish(r, opts, partial, await raw);
}

function listLayerDb(r: Reader, opts: ReadStoreOptions): { base: string; names: string[] } {
  const base = join(opts.root, 'image', opts.driver, 'layerdb', 'sha256');
  return { base, names: r.list(base) };
}

type Partial = Pick<StoreModel, 'images' | 'references' | 'containers'>;

function readAllButLayers(r: Reader, opts: ReadStoreOptions): Partial {
  const metaDir = join(opts.root, 'image', opts.driver);
  return {
    images: readImages(r, join(metaDir, 'imagedb')),
    references: readReferences(r, join(metaDir, 'repositories.json')),
    containers: readContainers(r, opts.root, join(metaDir, 'layerdb')),
  };
}

function assemble(r: Reader, opts: ReadStoreOptions, raw: RawLayer[]): StoreModel {
  return finish(r, opts, readAllButLayers(r, opts), raw);
}

function finish(r: Reader, opts: ReadStoreOptions, partial: Partial, raw: RawLayer[]): StoreModel {
  const { root, driver, layerFields = 'all' } = opts;
  const metaDir = join(root, 'image', driver);
  const imageDbDir = join(metaDir, 'imagedb');
  const { images, references, containers } = partial;
  const layers = interpretLayers(r, join(metaDir, 'layerdb', 'sha256'), raw, layerFields);
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
