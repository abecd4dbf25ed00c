// Docker's layerdb (image/<driver>/layerdb/): one entry per committed layer under sha256/<chain hex>/
// {diff,size,cache-id,parent,tar-split.json.gz}, and one per container under mounts/<container id>/
// {mount-id,init-id,parent}. Its small files are read on the native helpers' threads while the main thread
// reads imagedb; without the helpers, a large layerdb is shared out between a worker thread
// (layerdb-worker.ts) and the main thread, which joins in once it has read imagedb.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readSmallFilesNatively, readSmallFilesSync, type FileProblem, type SmallFiles } from '../../native/small-files.js';
import { runWorker } from '../../native/workers.js';
import { chainIdOf, isSha256Digest, SHA256_PREFIX } from '../digest.js';
import type { ContainerMount, Layer, LayerField, MountField, StoreModel } from '../model.js';
import type { LayerFields } from '../store-layout.js';
import { HEX64, isDirectoryId, MetadataReader, problemReason, Unread } from './files.js';

/** A layer's directory in layerdb (layerdb/sha256/<chain hex>). */
export function layerEntryDir(model: Pick<StoreModel, 'root' | 'driver'>, chainId: string): string {
  return join(model.root, 'image', model.driver, 'layerdb', 'sha256', chainId.slice(SHA256_PREFIX.length));
}

/** layerdb keeps, beside each committed layer, the tar-split that rebuilds its exact tar. */
export function tarSplitPath(model: Pick<StoreModel, 'root' | 'driver'>, chainId: string): string | null {
  const path = join(layerEntryDir(model, chainId), 'tar-split.json.gz');
  return existsSync(path) ? path : null;
}

/** Which layerdb files each LayerFields reads, in this order; the others are left unread. */
const FILES_READ: Record<LayerFields, readonly LayerFile[]> = {
  sizes: ['diff', 'size', 'parent'],
  usage: ['size', 'cache-id', 'parent'],
  all: ['diff', 'size', 'cache-id', 'parent'],
};

type LayerFile = 'diff' | 'size' | 'cache-id' | 'parent';

const NOT_READ: Record<LayerFields, readonly LayerField[]> = {
  sizes: Object.freeze(['cacheId'] as LayerField[]),
  usage: Object.freeze(['diffId'] as LayerField[]),
  all: Object.freeze([] as LayerField[]),
};

type RawText = string | FileProblem | null;

/**
 * One layerdb entry's files, as read: text, an error, or null (absent, for parent; or not asked for);
 * and the ChainID its parent and diff make, when that is not its own (whatever they hold: whether they
 * are digests is checked when the layer is made).
 */
export type RawLayer = [hex: string, diff: RawText, size: RawText, cacheId: RawText, parent: RawText, expectedChainId: string | null];

/** The layerdb entry names worth reading (others are no layers). */
const entryNames = (names: readonly string[]): string[] => names.filter((hex) => HEX64.test(hex));

/** Turns the files read for `hexes` (FILES_READ[fields] of each, in order) into raw layers. */
function rawLayersOf(hexes: readonly string[], fields: LayerFields, files: SmallFiles): RawLayer[] {
  const order = FILES_READ[fields];
  const [diffAt, sizeAt, cacheAt, parentAt] = (['diff', 'size', 'cache-id', 'parent'] as const).map((file) => order.indexOf(file));
  const read = (k: number, optional: boolean): RawText => {
    const got = files.text(k);
    if (typeof got === 'string') return got.trim();
    return optional && got.code === 'ENOENT' ? null : got;
  };
  const out: RawLayer[] = new Array(hexes.length);
  for (let i = 0; i < hexes.length; i++) {
    const hex = hexes[i];
    const k = i * order.length;
    const diff = diffAt < 0 ? null : read(k + diffAt, false);
    const size = read(k + sizeAt, false);
    const cacheId = cacheAt < 0 ? null : read(k + cacheAt, false);
    const parent = parentAt < 0 ? null : read(k + parentAt, true);
    // The ChainID is hashed here, so that a worker thread shares that work too; whether diff and parent
    // are digests at all, interpretLayers checks (and warns of a mismatch only when both are).
    let expected: string | null = null;
    if (typeof diff === 'string' && parentAt >= 0 && (parent === null || typeof parent === 'string')) {
      const chainId = chainIdOf(parent, diff);
      if (chainId !== SHA256_PREFIX + hex) expected = chainId;
    }
    out[i] = [hex, diff, size, cacheId, parent, expected];
  }
  return out;
}

/** Records in the read log the layerdb files that reading `names` for `fields` opens. */
export function logLayerFiles(r: MetadataReader, base: string, names: readonly string[], fields: LayerFields): number {
  return r.log ? r.logFiles(base, entryNames(names), FILES_READ[fields]) : -1;
}

/** Reads the layerdb files that `fields` asks for, for each entry name, on this thread (or a worker's). */
export function readLayerFiles(base: string, names: readonly string[], fields: LayerFields): RawLayer[] {
  const hexes = entryNames(names);
  return rawLayersOf(hexes, fields, readSmallFilesSync(base, hexes, FILES_READ[fields]));
}

/**
 * Reads the layerdb files on the native helpers' threads (one per core: though this thread reads imagedb
 * meanwhile, fewer finish later on two cores); null when the helpers are missing (then
 * readLayerFilesInBackground).
 */
export function readLayerFilesNatively(base: string, names: readonly string[], fields: LayerFields): Promise<RawLayer[]> | null {
  const hexes = entryNames(names);
  return readSmallFilesNatively(base, hexes, FILES_READ[fields])?.then((files) => rawLayersOf(hexes, fields, files)) ?? null;
}

/** Entries per piece of work when threads share a layerdb: small enough to balance, large enough to be cheap. */
export const LAYERDB_CHUNK = 256;

/** Reads the pieces of `names` (LAYERDB_CHUNK each) taken from the shared counter, until none is left. */
export function readLayerChunks(base: string, names: readonly string[], fields: LayerFields, counter: Int32Array): Array<[chunk: number, raw: RawLayer[]]> {
  const done: Array<[number, RawLayer[]]> = [];
  const chunks = Math.ceil(names.length / LAYERDB_CHUNK);
  for (let i = Atomics.add(counter, 0, 1); i < chunks; i = Atomics.add(counter, 0, 1)) {
    done.push([i, readLayerFiles(base, names.slice(i * LAYERDB_CHUNK, (i + 1) * LAYERDB_CHUNK), fields)]);
  }
  return done;
}

/**
 * Reads a large layerdb on a worker thread (layerdb-worker.ts) and on this one: the worker starts now;
 * `help()` reads pieces here too (call it once this thread's other work is done); `result` has every
 * entry in `names` order. Should the worker fail, this thread reads what it left.
 */
export function readLayerFilesInBackground(base: string, names: string[], fields: LayerFields): { help(): void; result: Promise<RawLayer[]> } {
  const chunks = Math.ceil(names.length / LAYERDB_CHUNK);
  const counter = new SharedArrayBuffer(4);
  const next = new Int32Array(counter);
  const worker = runWorker<Array<[number, RawLayer[]]>>('layerdb-worker', { base, names, fields, counter }).catch(() => []);
  const mine: Array<[number, RawLayer[]]> = [];
  let helped: (() => void) | null = null;
  const helping = new Promise<void>((resolve) => (helped = resolve));
  const inOrder = (pieces: Array<[number, RawLayer[]]>): RawLayer[] => {
    const byChunk = new Map(pieces);
    const out: RawLayer[] = [];
    for (let i = 0; i < chunks; i++) out.push(...(byChunk.get(i) ?? readLayerFiles(base, names.slice(i * LAYERDB_CHUNK, (i + 1) * LAYERDB_CHUNK), fields)));
    return out;
  };
  return {
    help() {
      mine.push(...readLayerChunks(base, names, fields, next));
      helped!();
    },
    // Once this thread has read every piece, the worker is not waited for.
    result: helping.then(async () => (mine.length === chunks ? inOrder(mine) : inOrder([...(await worker), ...mine]))),
  };
}

/** layerdb/sha256 and its entry names ([] with the part recorded as unreadable when it cannot be listed). */
export function listLayerDb(r: MetadataReader, layerDbDir: string): { base: string; names: string[] } {
  const base = join(layerDbDir, 'sha256');
  const names = r.list(base);
  if (names instanceof Unread) {
    r.unreadable.parts.push({ part: 'layers', file: names.file, reason: names.reason });
    return { base, names: [] };
  }
  return { base, names: names ?? [] };
}

/** What each layerdb file of an entry must hold, in the order problems are reported; `at` is its place in a RawLayer. */
const LAYER_CHECKS = [
  { at: 1, field: 'diffId', file: 'diff', valid: isSha256Digest, invalid: (v: string) => `not a sha256 digest: ${JSON.stringify(v.slice(0, 80))}` },
  { at: 4, field: 'parent', file: 'parent', valid: isSha256Digest, invalid: (v: string) => `not a sha256 digest: ${JSON.stringify(v.slice(0, 80))}` },
  { at: 2, field: 'size', file: 'size', valid: (v: string) => /^\d+$/.test(v), invalid: (v: string) => `not a byte count: ${JSON.stringify(v.slice(0, 40))}` },
  { at: 3, field: 'cacheId', file: 'cache-id', valid: isDirectoryId, invalid: (v: string) => `not a driver directory id: ${JSON.stringify(v.slice(0, 80))}` },
] as const;

/** Turns raw layerdb reads into layers, with one warning and one unreadable record per problem. */
export function interpretLayers(r: MetadataReader, base: string, raw: RawLayer[], fields: LayerFields): Map<string, Layer> {
  const layers = new Map<string, Layer>();
  const values: Array<string | null> = [null, null, null, null];
  for (const entry of raw) {
    const hex = entry[0];
    const chainId = SHA256_PREFIX + hex;
    let unread: LayerField[] | null = null;
    LAYER_CHECKS.forEach((check, i) => {
      const value = entry[check.at] as RawText;
      values[i] = typeof value === 'string' && check.valid(value) ? value : null;
      if (value === null || values[i] !== null) return;
      // File names are made only for a problem: a store has tens of thousands of these files.
      const file = `${base}/${hex}/${check.file}`;
      const reason = typeof value === 'string' ? check.invalid(value) : problemReason(value);
      r.cannotRead(file, reason);
      r.unreadable.layers.push({ chainId, field: check.field, file, reason });
      (unread ??= [...NOT_READ[fields]]).push(check.field);
    });
    const [diffId, parent, sizeText, cacheId] = values;
    const expected = entry[5];
    const digests = diffId !== null && (entry[4] === null || parent !== null);
    if (expected !== null && digests) r.warn(`${base}/${hex}`, `ChainID does not match its parent and diff (expected ${expected})`);
    layers.set(chainId, { id: chainId, chainId, diffId, parent, size: sizeText === null ? null : Number(sizeText), cacheId, unread: unread ?? (NOT_READ[fields] as LayerField[]) });
  }
  return layers;
}

/** layerdb/mounts: every container's read-write layer record, whether or not its container can be read. */
export function readMounts(r: MetadataReader, layerDbDir: string): Map<string, ContainerMount> {
  const mounts = new Map<string, ContainerMount>();
  const dir = join(layerDbDir, 'mounts');
  const names = r.list(dir, true);
  if (names instanceof Unread) {
    r.unreadable.parts.push({ part: 'mounts', file: names.file, reason: names.reason });
    return mounts;
  }
  for (const containerId of names ?? []) {
    if (!HEX64.test(containerId)) continue;
    const unread: MountField[] = [];
    const fail = (field: MountField, file: string, reason: string, warned = false): null => {
      if (!warned) r.cannotRead(file, reason);
      r.unreadable.mounts.push({ containerId, field, file, reason });
      unread.push(field);
      return null;
    };
    const read = (field: MountField, name: string, valid: (s: string) => boolean, what: string): string | null => {
      const file = join(dir, containerId, name);
      const value = r.text(file, true);
      if (value instanceof Unread) return fail(field, file, value.reason, true);
      if (value === null || valid(value)) return value;
      return fail(field, file, `not ${what}: ${JSON.stringify(value.slice(0, 80))}`);
    };
    let mountId = read('mountId', 'mount-id', isDirectoryId, 'a driver directory id');
    if (mountId === null && !unread.includes('mountId')) {
      mountId = fail('mountId', join(dir, containerId, 'mount-id'), `missing — container ${containerId.slice(0, 12)} has no read-write layer record`);
    }
    const initId = read('initId', 'init-id', isDirectoryId, 'a driver directory id');
    const parentChainId = read('parentChainId', 'parent', isSha256Digest, 'a sha256 digest');
    mounts.set(containerId, { containerId, mountId, initId, parentChainId, unread });
  }
  return mounts;
}
