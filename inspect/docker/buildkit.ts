// Docker's Build Cache: the records of the BuildKit inside dockerd (moby builder/builder-next), read from
// <root>/buildkit without the daemon, and counted as docker 20.10's `system df` counts them (BuildKit
// v0.8 cache/manager.go DiskUsage). The legacy builder's intermediates are images, not build cache.
//
// What is read:
//   metadata_v2.db  bucket _main: one bucket per cache record, its keys JSON {"value": …}: cache.parent,
//                   cache.equalMutable, snapshot.committed, snapshot.size, cache.createdAt/lastUsedAt (Unix
//                   ns), cache.usageCount, cache.description, cache.recordType, cache.snapshot, cache.blob…
//   snapshots.db    moby's snapshotter: one bucket per snapshot key: parent, committed (the graph driver
//                   id a committed key stands for), chainid (a layer of the layer store), size (decimal).
//   content/blobs   blobs counted into a record's size when it names one.
// What is not on disk: whether a record is in use (a build holding it). Offline nothing is; while a
// daemon runs a build, strata cannot tell, and says not in use.
import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import { errnoOf, StrataError } from '../../native/errors.js';
import { openBolt, type BoltBucket } from '../bbolt.js';
import type { StoreModel, Unreadable } from '../model.js';
import type { Warning } from '../warnings.js';
import { errorMessage } from '../warnings.js';

/** One cache record's metadata (cache/metadata.go keys), as stored. */
export interface CacheRecordMeta {
  id: string;
  /** cache.parent: the record this one is built on. */
  parent: string | null;
  /** cache.equalMutable: the mutable record this committed one shares its data with. */
  equalMutable: string | null;
  /** snapshot.committed: false for a mutable record. */
  committed: boolean;
  /** cache.deleted: removed, its data not yet. */
  deleted: boolean;
  /** snapshot.size once BuildKit computed it; null while unknown (absent or -1). */
  size: number | null;
  /** Unix nanoseconds. */
  createdAtNs: bigint;
  /** Unix nanoseconds; null when never recorded. */
  lastUsedAtNs: bigint | null;
  usageCount: number;
  description: string;
  /** cache.recordType ('' for a regular record). */
  recordType: string;
  /** cache.snapshot: the snapshot key holding the data (the record's id when absent). */
  snapshotId: string;
  /** cache.blobonly: only a blob, no snapshot (a lazily pulled layer). */
  blobOnly: boolean;
  /** cache.blob: the compressed blob's digest, or ''. */
  blob: string;
}

/** One key of moby's snapshotter database (builder-next/adapters/snapshot). */
export interface SnapshotMeta {
  key: string;
  parent: string | null;
  /** The graph driver id a committed key stands for. */
  committed: string | null;
  /** The layer store's layer this snapshot was registered as. */
  chainId: string | null;
  /** A cached DiffSize. */
  size: number | null;
}

export interface BuildKitStore {
  dir: string;
  records: CacheRecordMeta[];
  snapshots: Map<string, SnapshotMeta>;
  /** Databases or records that could not be read: the cache records are then incomplete. */
  unreadable: Unreadable[];
}

/** A build cache record as docker system df reports it (API BuildCache). */
export interface BuildCacheRecord {
  id: string;
  /** '' for none, as the API. */
  parent: string;
  /** 'regular', 'source.local', 'exec.cachemount', 'frontend', 'internal'. */
  type: string;
  description: string;
  /** Always false: no build runs without the daemon (see above). */
  inUse: boolean;
  /** Its data is a layer of an image (counted under Images), or below one that is. */
  shared: boolean;
  mutable: boolean;
  /** Bytes; null when they could not be measured (a warning says why). */
  size: number | null;
  /** RFC 3339 with nanoseconds, UTC. */
  createdAt: string;
  lastUsedAt: string | null;
  usageCount: number;
}

const SIZE_UNKNOWN = -1;

/** A metadata value's JSON, {"value": …}; the raw text kept for int64 nanoseconds beyond 2^53. */
function parseValue(raw: Buffer, file: string, id: string, key: string): { value: unknown; text: string } {
  const text = raw.toString('utf8');
  try {
    const parsed = JSON.parse(text) as { value?: unknown };
    return { value: parsed && typeof parsed === 'object' ? parsed.value : undefined, text };
  } catch {
    throw new StrataError(`record ${id}: ${key} is not JSON`, { file });
  }
}

function int64Of(text: string): bigint | null {
  const m = /"value"\s*:\s*(-?\d+)\s*[,}]/.exec(text);
  return m ? BigInt(m[1]) : null;
}

/** One record's bucket: the values of the keys docker's DiskUsage looks at. */
export function recordOf(id: string, b: BoltBucket, file: string): CacheRecordMeta {
  const values = new Map<string, { value: unknown; text: string }>();
  b.forEach((k, v) => {
    // BuildKit keeps only non-empty values (a cleared key is an empty value).
    if (v !== null && v.length > 0) values.set(k.toString('utf8'), parseValue(v, file, id, k.toString('utf8')));
  });
  const str = (key: string): string => {
    const v = values.get(key)?.value;
    return typeof v === 'string' ? v : '';
  };
  const bool = (key: string): boolean => values.get(key)?.value === true;
  const int = (key: string): bigint | null => {
    const v = values.get(key);
    return v ? int64Of(v.text) : null;
  };
  const size = int('snapshot.size');
  const usageCount = values.has('cache.usageCount') ? Number(int('cache.usageCount') ?? 0n) : 0;
  const lastUsed = values.has('cache.usageCount') ? int('cache.lastUsedAt') : null;
  return {
    id,
    parent: str('cache.parent') || null,
    equalMutable: str('cache.equalMutable') || null,
    committed: bool('snapshot.committed'),
    deleted: bool('cache.deleted'),
    size: size === null || size === BigInt(SIZE_UNKNOWN) ? null : Number(size),
    createdAtNs: int('cache.createdAt') ?? 0n,
    lastUsedAtNs: lastUsed === null || lastUsed === 0n ? null : lastUsed,
    usageCount,
    description: str('cache.description'),
    recordType: str('cache.recordType'),
    snapshotId: str('cache.snapshot') || id,
    blobOnly: bool('cache.blobonly'),
    blob: str('cache.blob'),
  };
}

function readRecords(file: string, unreadable: Unreadable[]): CacheRecordMeta[] {
  const main = openBolt(file).bucket('_main');
  const records: CacheRecordMeta[] = [];
  if (!main) return records;
  for (const { key, value } of main.entries()) {
    if (value !== null) continue;
    const id = key.toString('utf8');
    try {
      records.push(recordOf(id, main.bucket(key)!, file));
    } catch (err) {
      if (!(err instanceof StrataError)) throw err;
      unreadable.push({ file, reason: err.reason });
    }
  }
  return records;
}

function readSnapshots(file: string): Map<string, SnapshotMeta> {
  const snapshots = new Map<string, SnapshotMeta>();
  const db = openBolt(file);
  for (const { key, value } of db.entries()) {
    if (value !== null) continue;
    const b = db.bucket(key)!;
    const text = (k: string) => b.get(k)?.toString('utf8') ?? null;
    const size = text('size');
    const k = key.toString('utf8');
    snapshots.set(k, { key: k, parent: text('parent') || null, committed: text('committed') || null, chainId: text('chainid') || null, size: size !== null && /^\d+$/.test(size) ? Number(size) : null });
  }
  return snapshots;
}

/** <root>/buildkit read; null when the daemon never ran BuildKit (no metadata_v2.db). */
export function readBuildKit(root: string): BuildKitStore | null {
  const dir = join(root, 'buildkit');
  const metadataFile = join(dir, 'metadata_v2.db');
  try {
    lstatSync(metadataFile);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'ENOTDIR') return null;
  }
  const unreadable: Unreadable[] = [];
  const attempt = <T>(file: string, read: () => T, empty: T): T => {
    try {
      return read();
    } catch (err) {
      if (!(err instanceof StrataError)) throw err;
      unreadable.push({ file: err.file ?? file, reason: err.reason });
      return empty;
    }
  };
  const records = attempt(metadataFile, () => readRecords(metadataFile, unreadable), []);
  const snapshotsFile = join(dir, 'snapshots.db');
  const snapshots = attempt(snapshotsFile, () => (lstatExists(snapshotsFile) ? readSnapshots(snapshotsFile) : new Map<string, SnapshotMeta>()), new Map<string, SnapshotMeta>());
  return { dir, records, snapshots, unreadable };
}

function lstatExists(file: string): boolean {
  try {
    lstatSync(file);
    return true;
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return false;
    throw new StrataError(errorMessage(err), { file });
  }
}

/** Graph driver directories BuildKit's snapshots own (never orphans): every key, and what committed keys stand for. */
export function buildKitDriverIds(bk: BuildKitStore): Set<string> {
  const ids = new Set<string>();
  for (const s of bk.snapshots.values()) {
    if (!s.key.startsWith('sha256:')) ids.add(s.key);
    if (s.committed) ids.add(s.committed);
  }
  return ids;
}

/** Go's time.Time JSON (RFC 3339, nanoseconds without trailing zeros), in UTC. */
export function rfc3339Nano(ns: bigint): string {
  const seconds = ns / 1_000_000_000n - (ns % 1_000_000_000n < 0n ? 1n : 0n);
  const frac = ns - seconds * 1_000_000_000n;
  const iso = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  const fraction = frac === 0n ? '' : `.${String(frac).padStart(9, '0').replace(/0+$/, '')}`;
  return `${iso}${fraction}Z`;
}

/** How the DiskUsage of docker measures a record's data: through moby's snapshotter and the graph driver. */
export interface SnapshotSizer {
  /** The graph driver's DiffSize of directory id against parent (null: none). */
  diffSize(id: string, parent: string | null): number;
  /** Size of a blob in BuildKit's content store; null when it is not there. */
  blobSize(digest: string): number | null;
}

/** A problem measuring a record: the record's size is then unknown. */
class SizeUnknown extends Error {}

/** moby snapshotter.Usage(key): a registered layer's size, a cached size, or the graph driver's DiffSize. */
function snapshotUsage(bk: BuildKitStore, model: StoreModel, sizer: SnapshotSizer, key: string): number {
  const snap = bk.snapshots.get(key);
  const chainId = key.startsWith('sha256:') ? key : snap?.chainId ?? null;
  if (chainId) {
    const layer = model.layers.get(chainId);
    if (!layer) throw new SizeUnknown(`snapshot ${key}: layer ${chainId} is not in the layer store`);
    if (layer.size === null) throw new SizeUnknown(`snapshot ${key}: the size of layer ${chainId} is unknown`);
    return layer.size;
  }
  if (snap?.size != null) return snap.size;
  const id = snap?.committed ?? key;
  const info = bk.snapshots.get(id);
  if (!info && !snap) throw new SizeUnknown(`snapshot ${key} not found in ${join(bk.dir, 'snapshots.db')}`);
  let parent: string | null = null;
  if (info?.parent) {
    const p = bk.snapshots.get(info.parent);
    const parentChain = info.parent.startsWith('sha256:') ? info.parent : null;
    if (parentChain) {
      parent = model.layers.get(parentChain)?.cacheId ?? null;
      if (parent === null) throw new SizeUnknown(`snapshot ${key}: the directory of parent layer ${parentChain} is unknown`);
    } else parent = p?.committed ?? info.parent;
  }
  return sizer.diffSize(id, parent);
}

/** cacheRecord.Size: the stored size, else the snapshot's usage plus the blob's size. */
function recordSize(bk: BuildKitStore, model: StoreModel, sizer: SnapshotSizer, r: CacheRecordMeta): number {
  if (r.size !== null) return r.size;
  let size = r.blobOnly ? 0 : snapshotUsage(bk, model, sizer, r.snapshotId);
  if (r.blob) size += sizer.blobSize(r.blob) ?? 0;
  return size;
}

/** The records BuildKit's cache manager keeps when it loads them (cacheManager.init drops the others). */
function loadableRecords(bk: BuildKitStore, sizer: SnapshotSizer): Map<string, CacheRecordMeta> {
  const byId = new Map(bk.records.map((r) => [r.id, r]));
  const verdict = new Map<string, boolean>();
  const loadable = (id: string, depth: number): boolean => {
    const known = verdict.get(id);
    if (known !== undefined) return known;
    const r = byId.get(id);
    let ok = false;
    if (r && depth < 10_000) {
      if (r.equalMutable) ok = loadable(r.equalMutable, depth + 1);
      else {
        ok = !r.deleted && (r.parent === null || loadable(r.parent, depth + 1));
        // A lazy record whose blob is gone needs a remote to be loaded: dropped.
        if (ok && r.blobOnly && r.blob && sizer.blobSize(r.blob) === null) ok = false;
      }
    }
    verdict.set(id, ok);
    return ok;
  };
  const out = new Map<string, CacheRecordMeta>();
  for (const r of bk.records) if (loadable(r.id, 0)) out.set(r.id, r);
  return out;
}

/** The layers images use, by ChainID: a record whose snapshot is one of them is shared (imagerefchecker). */
function imageChainIds(model: StoreModel): Set<string> {
  const used = new Set<string>();
  for (const img of model.images.values()) for (const c of img.chainIds) used.add(c);
  return used;
}

/**
 * docker system df's BuildCache: every loaded record but the committed halves of mutable/immutable pairs,
 * with its size, whether its data (or a record built on it) is an image's layer, and when it was used.
 */
export function buildCacheRecords(bk: BuildKitStore, model: StoreModel, sizer: SnapshotSizer, warnings: Warning[]): BuildCacheRecord[] {
  const records = loadableRecords(bk, sizer);
  // The parent a pair's committed half reports is its mutable's.
  const parentOf = (r: CacheRecordMeta): string | null => (r.equalMutable ? records.get(r.equalMutable)?.parent ?? null : r.parent);
  const shown = [...records.values()].filter((r) => !r.equalMutable);
  const shownIds = new Set(shown.map((r) => r.id));
  const inImages = imageChainIds(model);
  const shared = new Set<string>();
  const markShared = (id: string | null, guard = 0): void => {
    for (; id && !shared.has(id) && guard < 10_000; guard++) {
      if (!shownIds.has(id)) return;
      shared.add(id);
      id = parentOf(records.get(id)!);
    }
  };
  for (const r of shown) {
    const chainId = bk.snapshots.get(r.id)?.chainId;
    if (chainId && model.layers.has(chainId) && inImages.has(chainId)) markShared(r.id);
  }
  return sortBuildCache(
    shown.map((r) => {
      let size: number | null = null;
      try {
        size = recordSize(bk, model, sizer, r);
      } catch (err) {
        if (!(err instanceof SizeUnknown) && !(err instanceof StrataError)) throw err;
        warnings.push({ file: join(bk.dir, 'metadata_v2.db'), message: `build cache record ${r.id}: size unknown: ${errorMessage(err)}` });
      }
      return {
        id: r.id,
        parent: parentOf(r) ?? '',
        type: r.recordType || 'regular',
        description: r.description,
        inUse: false,
        shared: shared.has(r.id),
        mutable: !r.committed,
        size,
        createdAt: rfc3339Nano(r.createdAtNs),
        lastUsedAt: r.lastUsedAtNs === null ? null : rfc3339Nano(r.lastUsedAtNs),
        usageCount: r.usageCount,
      };
    }),
  );
}

/** The docker CLI's order (buildCacheSort): never used first, then by last use, ties by id. */
export function sortBuildCache<T extends { id: string; lastUsedAt: string | null }>(records: T[]): T[] {
  const ns = (t: string) => {
    const m = /^(.*?)(?:\.(\d+))?Z$/.exec(t);
    return BigInt(Date.parse(`${m?.[1] ?? t}Z`)) * 1_000_000n + BigInt((m?.[2] ?? '').padEnd(9, '0') || '0');
  };
  return [...records].sort((a, b) => {
    if (a.lastUsedAt === null || b.lastUsedAt === null || a.lastUsedAt === b.lastUsedAt) {
      if (a.lastUsedAt !== b.lastUsedAt) return a.lastUsedAt === null ? -1 : 1;
      return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    }
    const d = ns(a.lastUsedAt) - ns(b.lastUsedAt);
    return d < 0n ? -1 : d > 0n ? 1 : a.id < b.id ? -1 : 1;
  });
}

/** Blob sizes from BuildKit's content store (content/blobs/<algorithm>/<hex>). */
export function contentBlobSize(bk: BuildKitStore, digest: string): number | null {
  const m = /^([a-z0-9]+):([a-f0-9]+)$/.exec(digest);
  if (!m) return null;
  try {
    const st = lstatSync(join(bk.dir, 'content', 'blobs', m[1], m[2]));
    return st.isFile() ? st.size : null;
  } catch {
    return null;
  }
}
