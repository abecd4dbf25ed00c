// Docker's layerdb (image/<driver>/layerdb/): one entry per committed layer under sha256/<chain hex>/
// {diff,size,cache-id,parent,tar-split.json.gz}, and one per container under mounts/<container id>/
// {mount-id,init-id,parent}. A large layerdb is shared out between a worker thread (layerdb-worker.ts) and
// the main thread, which joins in once it has read imagedb.
import * as fs from 'node:fs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runWorker } from '../../native/workers.js';
import { chainIdOf, isSha256Digest, SHA256_PREFIX } from '../digest.js';
import type { ContainerMount, Layer, LayerField, MountField, StoreModel } from '../model.js';
import type { LayerFields } from '../store-layout.js';
import { errorMessage } from '../warnings.js';
import { HEX64, isDirectoryId, MetadataReader, Unread } from './files.js';

/** A layer's directory in layerdb (layerdb/sha256/<chain hex>). */
export function layerEntryDir(model: Pick<StoreModel, 'root' | 'driver'>, chainId: string): string {
  return join(model.root, 'image', model.driver, 'layerdb', 'sha256', chainId.slice(SHA256_PREFIX.length));
}

/** layerdb keeps, beside each committed layer, the tar-split that rebuilds its exact tar. */
export function tarSplitPath(model: Pick<StoreModel, 'root' | 'driver'>, chainId: string): string | null {
  const path = join(layerEntryDir(model, chainId), 'tar-split.json.gz');
  return existsSync(path) ? path : null;
}

/** Which layerdb files each LayerFields reads; the others are left unread. */
const FIELDS_READ: Record<LayerFields, { diff: boolean; cacheId: boolean; parent: boolean }> = {
  sizes: { diff: true, cacheId: false, parent: true },
  usage: { diff: false, cacheId: true, parent: true },
  all: { diff: true, cacheId: true, parent: true },
};

const NOT_READ: Record<LayerFields, readonly LayerField[]> = {
  sizes: Object.freeze(['cacheId'] as LayerField[]),
  usage: Object.freeze(['diffId'] as LayerField[]),
  all: Object.freeze([] as LayerField[]),
};

type RawText = string | { code: string; message: string } | null;

/**
 * One layerdb entry's files, as read: text, an error, or null (absent, for parent; or not asked for);
 * and the ChainID its parent and diff make, when that is not its own.
 */
export type RawLayer = [hex: string, diff: RawText, size: RawText, cacheId: RawText, parent: RawText, expectedChainId: string | null];

/** Reads the layerdb files that `fields` asks for, for each entry name (on this thread or a worker's). */
export function readLayerFiles(base: string, names: readonly string[], fields: LayerFields): RawLayer[] {
  const want = FIELDS_READ[fields];
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
    if (!HEX64.test(hex)) continue;
    const dir = base + '/' + hex;
    const diff = want.diff ? read(dir + '/diff', false) : null;
    const size = read(dir + '/size', false);
    const cacheId = want.cacheId ? read(dir + '/cache-id', false) : null;
    const parent = want.parent ? read(dir + '/parent', true) : null;
    // The ChainID check hashes here, so that a worker thread shares that work too.
    let expected: string | null = null;
    if (want.parent && typeof diff === 'string' && isSha256Digest(diff) && (parent === null || (typeof parent === 'string' && isSha256Digest(parent)))) {
      const chainId = chainIdOf(parent, diff);
      if (chainId !== SHA256_PREFIX + hex) expected = chainId;
    }
    out.push([hex, diff, size, cacheId, parent, expected]);
  }
  return out;
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

/** Turns raw layerdb reads into layers, with one warning and one unreadable record per problem. */
export function interpretLayers(r: MetadataReader, base: string, raw: RawLayer[], fields: LayerFields): Map<string, Layer> {
  const layers = new Map<string, Layer>();
  for (const [hex, rawDiff, rawSize, rawCache, rawParent, expected] of raw) {
    const dir = `${base}/${hex}`;
    const chainId = SHA256_PREFIX + hex;
    let unread: LayerField[] | null = null;
    const fail = (field: LayerField, file: string, reason: string): null => {
      r.cannotRead(file, reason);
      r.unreadable.layers.push({ chainId, field, file, reason });
      (unread ??= [...NOT_READ[fields]]).push(field);
      return null;
    };
    const text = (field: LayerField, file: string, value: RawText): string | null => {
      if (value === null || typeof value === 'string') return value;
      return fail(field, file, errorMessage(Object.assign(new Error(value.message), { code: value.code })));
    };
    const digest = (field: LayerField, file: string, value: string | null): string | null =>
      value === null || isSha256Digest(value) ? value : fail(field, file, `not a sha256 digest: ${JSON.stringify(value.slice(0, 80))}`);

    const diffId = digest('diffId', `${dir}/diff`, text('diffId', `${dir}/diff`, rawDiff));
    const parent = digest('parent', `${dir}/parent`, text('parent', `${dir}/parent`, rawParent));
    const sizeText = text('size', `${dir}/size`, rawSize);
    const size = sizeText === null ? null : /^\d+$/.test(sizeText) ? Number(sizeText) : fail('size', `${dir}/size`, `not a byte count: ${JSON.stringify(sizeText.slice(0, 40))}`);
    const cacheText = text('cacheId', `${dir}/cache-id`, rawCache);
    const cacheId = cacheText === null || isDirectoryId(cacheText) ? cacheText : fail('cacheId', `${dir}/cache-id`, `not a driver directory id: ${JSON.stringify(cacheText.slice(0, 80))}`);
    const layerUnread: LayerField[] = unread ?? (NOT_READ[fields] as LayerField[]);
    if (expected !== null) r.warn(dir, `ChainID does not match its parent and diff (expected ${expected})`);
    layers.set(chainId, { id: chainId, chainId, diffId, parent, size, cacheId, unread: layerUnread });
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
