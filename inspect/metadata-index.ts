// The metadata index: a store's model, as a read made it, kept outside the store (under
// $XDG_CACHE_HOME/strata/) with the stat of every path that read looked at: each file read, each directory
// listed, each file found absent (with its nearest existing ancestor). It is served only when every one of
// those stats is the same now, so a file edited in place (its ctime moves), added or removed (its
// directory's mtime moves) or made unreadable (chmod moves ctime) sends the read back to the store.
//
// A stat is trusted only when its ctime is well before the read began: a change made during or after the
// read moves ctime to at least "now" less the kernel's timestamp granularity, so it can never look like the
// state that was read; a path whose ctime is that recent (or in the future) keeps the index from being
// written at all, and the next quiet read writes it. Nothing here writes into the store; a cache that cannot
// be read or written is skipped without a word (stderr is part of every command's answer).
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, realpathSync, statSync, unlinkSync } from 'node:fs';
import { availableParallelism, homedir } from 'node:os';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deserialize, serialize } from 'node:v8';
import { writeCacheFile } from './cache-files.js';
import { nativeHelpers } from '../native/index.js';
import { statFilesNatively } from '../native/small-files.js';
import { runWorker } from '../native/workers.js';
import type { ReadLog } from './docker/files.js';
import type { Image, Layer, StoreModel } from './model.js';
import type { LayerFields } from './store-layout.js';

/** Bumped whenever what an index holds changes shape. */
const FORMAT = 7;

/** Numbers kept per path: st_mode (or minus the errno of a failed lstat), size, mtime, ctime (ms), ino, dev. */
const STRIDE = 6;

/** How recent a ctime may be, before the read began, and still be trusted (above any kernel's timestamp tick). */
const RECENT_MS = 100;
/** The same for a file system that keeps whole seconds only (ext3, FAT's two seconds). */
const RECENT_COARSE_MS = 2100;

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

export interface IndexKey {
  root: string;
  driver: string;
  layerFields: LayerFields;
  /** From how many paths the validation uses a second thread (default PARALLEL_STATS). */
  parallelStats?: number;
}

/** What the last read through the index did (the tests' view of it): served it, read the store, or skipped it. */
export type IndexOutcome = 'hit' | 'miss' | 'off';

let outcome: IndexOutcome | null = null;
let off = false;
let pendingWrite: Promise<void> = Promise.resolve();

export function lastIndexOutcome(): IndexOutcome | null {
  return outcome;
}

/** Resolves once the index writes started so far are done (the tests wait for it; a command never needs to). */
export function indexWritesDone(): Promise<void> {
  return pendingWrite;
}

/** --no-cache: this process neither reads nor writes the index. */
export function turnIndexOff(): void {
  off = true;
}

/** Whether --no-cache or STRATA_NO_CACHE keeps every cache of strata's (this index, layer-index-cache.ts) unused. */
export function cacheOff(): boolean {
  return indexOff();
}

/**
 * Whether a ctime (ms) is far enough before a read that began at `began` to be trusted: a change during or
 * after the read moves ctime to at least that (the kernel's timestamp tick aside), so it cannot look the same.
 */
export function trustedCtime(ctime: number, began: number): boolean {
  return ctime < began - (ctime % 1000 === 0 ? RECENT_COARSE_MS : RECENT_MS);
}

function indexOff(): boolean {
  const env = process.env.STRATA_NO_CACHE;
  return off || (env !== undefined && env !== '' && env !== '0');
}

/** $XDG_CACHE_HOME/strata, else ~/.cache/strata. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  return join(xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.cache'), 'strata');
}

const sha = (text: string): string => createHash('sha256').update(text).digest('hex');

/** The data-root's identity: its real path and the device and inode there (a root removed and made again is another). */
function rootIdentity(root: string): string | null {
  try {
    const real = realpathSync(root);
    const st = statSync(real);
    return sha(`${real}\0${st.dev}\0${st.ino}`).slice(0, 24);
  } catch {
    return null;
  }
}

let code: string | undefined;

/**
 * The code that reads stores: in the bundle, the names of its chunks (each carries a hash of its content)
 * and the size and mtime of its entry files; from the sources, those of inspect/, inspect/docker/ and
 * native/. A rebuilt strata never serves what older code read.
 */
export function codeIdentity(): string {
  if (code !== undefined) return code;
  const here = dirname(fileURLToPath(import.meta.url));
  const fromSources = import.meta.url.endsWith('.ts');
  const dist = basename(here) === 'chunks' ? dirname(here) : here;
  const stated = fromSources ? [here, join(here, 'docker'), join(here, '..', 'native')] : [dist];
  const parts: string[] = [];
  const names = (dir: string): string[] => {
    try {
      return readdirSync(dir).filter((name) => /\.(js|ts|node)$/.test(name)).sort();
    } catch {
      return [];
    }
  };
  for (const dir of stated) {
    for (const name of names(dir)) {
      try {
        const st = statSync(join(dir, name));
        parts.push(`${dir}/${name}\0${st.size}\0${st.mtimeMs}`);
      } catch {
        // gone meanwhile: not part of the code
      }
    }
  }
  if (!fromSources) parts.push(...names(join(dist, 'chunks')));
  return (code = sha(parts.join('\n')));
}

/** The index file of a read: one per root identity (its prefix, so writes can drop them all) and per question and reader. */
function indexFile(key: IndexKey): { dir: string; prefix: string; file: string } | null {
  const id = rootIdentity(key.root);
  if (id === null) return null;
  const who = [process.geteuid?.(), process.getegid?.(), process.getgroups?.().join(',')];
  const variant = sha(JSON.stringify([FORMAT, key.root, key.driver, key.layerFields, who, nativeHelpers() !== null, codeIdentity()])).slice(0, 24);
  const dir = cacheDir();
  const prefix = `index-${id}-`;
  return { dir, prefix, file: join(dir, `${prefix}${variant}.v8`) };
}

interface IndexData {
  format: number;
  log: ReadLog;
  /** Paths beyond the log: the nearest existing ancestor of each path whose lstat failed. */
  extra: string[];
  stats: Float64Array;
  /** The model, serialized apart so that it is decoded only once the stats match. */
  model: Uint8Array;
}

/** File fileName of entry `name` of a bulk read's base (the entry itself when fileName is ""). */
const groupPath = (base: string, name: string, fileName: string): string => (fileName ? `${base}/${name}/${fileName}` : `${base}/${name}`);

/** Every path of a log, then the extras, in the order their stats are kept. */
function forEachPath(log: ReadLog, extra: readonly string[], fn: (path: string) => boolean): boolean {
  for (const p of log.paths) if (!fn(p)) return false;
  for (const [base, names, fileNames] of log.groups) {
    for (const name of names) {
      for (const fileName of fileNames) if (!fn(groupPath(base, name, fileName))) return false;
    }
  }
  for (const p of extra) if (!fn(p)) return false;
  return true;
}

function pathCount(log: ReadLog, extra: readonly string[]): number {
  let n = log.paths.length + extra.length;
  for (const [, names, fileNames] of log.groups) n += names.length * fileNames.length;
  return n;
}

/** lstat's numbers for `path` into `out` at `at`; false when it failed (out then holds minus its errno). */
function statInto(path: string, out: Float64Array, at: number): boolean {
  try {
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (!st) {
      out.fill(0, at, at + STRIDE);
      out[at] = -2; // ENOENT
      return false;
    }
    // Milliseconds as doubles keep well under a microsecond: a change after the read is at least RECENT_MS away.
    out[at] = st.mode;
    out[at + 1] = st.size;
    out[at + 2] = st.mtimeMs;
    out[at + 3] = st.ctimeMs;
    out[at + 4] = st.ino;
    out[at + 5] = st.dev;
    return true;
  } catch (err) {
    out.fill(0, at, at + STRIDE);
    out[at] = -Math.abs((err as NodeJS.ErrnoException).errno ?? 1) || -1;
    return false;
  }
}

/** Whether `path`'s lstat now is what `stats` recorded for path number `i` (`now`: scratch space). */
function statMatches(path: string, stats: Float64Array, i: number, now: Float64Array): boolean {
  statInto(path, now, 0);
  const at = i * STRIDE;
  for (let j = 0; j < STRIDE; j++) if (now[j] !== stats[at + j]) return false;
  return true;
}

/** Whether the lstat of paths from..to-1 (in forEachPath's order) is what `stats` recorded (a worker thread runs it too). */
export function statsMatch(log: ReadLog, extra: readonly string[], stats: Float64Array, from: number, to: number): boolean {
  const now = new Float64Array(STRIDE);
  let k = 0;
  return forEachPath(log, extra, (path) => {
    const i = k++;
    if (i < from) return true;
    if (i >= to) return false;
    return statMatches(path, stats, i, now);
  }) || k > to;
}

/**
 * The lstat numbers of each bulk read's files (a store's tens of thousands of layerdb files), taken on the
 * native helpers' threads: one array per group, null without the helpers; a group the helpers could not
 * stat (its base gone) comes back null.
 */
function groupStatsNatively(log: ReadLog): Array<Promise<Float64Array | null>> | null {
  const stats = log.groups.map(([base, names, fileNames]) => statFilesNatively(base, names, fileNames));
  if (stats.some((s) => s === null)) return null;
  return stats.map((s) => s!.then((a) => a, () => null));
}

const view = (a: ArrayBufferView): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** Where each group's stats begin, in paths (after the log's own paths). */
function groupStarts(log: ReadLog): number[] {
  const starts: number[] = [];
  let at = log.paths.length;
  for (const [, names, fileNames] of log.groups) {
    starts.push(at);
    at += names.length * fileNames.length;
  }
  return starts;
}

/** Whether the lstat of each of `paths` is what `stats` recorded from path `first` on. */
function listMatches(paths: readonly string[], stats: Float64Array, first: number): boolean {
  const now = new Float64Array(STRIDE);
  return paths.every((path, i) => statMatches(path, stats, first + i, now));
}

/**
 * Whether every path's lstat is what the index recorded, the bulk reads' files on the native helpers'
 * threads while this one checks the rest and decodes the model; null without the helpers.
 */
async function stillValidNatively(data: IndexData, decode: () => void): Promise<boolean | null> {
  const groups = groupStatsNatively(data.log);
  if (groups === null) return null;
  if (!listMatches(data.log.paths, data.stats, 0) || !listMatches(data.extra, data.stats, pathCount(data.log, []))) return false;
  decode();
  const starts = groupStarts(data.log);
  for (let g = 0; g < groups.length; g++) {
    const now = await groups[g];
    const [, names, fileNames] = data.log.groups[g];
    const recorded = data.stats.subarray(starts[g] * STRIDE, (starts[g] + names.length * fileNames.length) * STRIDE);
    if (now === null || now.length !== recorded.length || !view(now).equals(view(recorded))) return false;
  }
  return true;
}

/** Paths from which the stats are shared with a worker thread (below, starting one costs more than it saves). */
export const PARALLEL_STATS = 12_000;

/**
 * Whether every path's lstat is what the index recorded. A large index is checked on two threads: a worker
 * takes the second half while this one checks the first and decodes the model, which is used only if both agree.
 */
async function stillValid(data: IndexData, parallelStats: number, decode: () => void): Promise<boolean> {
  const natively = data.log.groups.length > 0 ? await stillValidNatively(data, decode) : null;
  if (natively !== null) return natively;
  const n = data.stats.length / STRIDE;
  if (n < parallelStats || availableParallelism() < 2) {
    if (!statsMatch(data.log, data.extra, data.stats, 0, n)) return false;
    decode();
    return true;
  }
  const half = Math.floor(n / 2);
  const worker = runWorker<boolean>('layerdb-worker', { task: 'index-stats', log: data.log, extra: data.extra, stats: data.stats, from: half, to: n }).catch(
    () => statsMatch(data.log, data.extra, data.stats, half, n),
  );
  if (!statsMatch(data.log, data.extra, data.stats, 0, half)) return false;
  decode();
  return worker;
}

// The model's bulk is digests: every layer's ChainID, DiffID and parent, and each image's lists of them,
// repeated across images that share layers. They are kept once, in a table, and referred to by number;
// layers and images of the usual shape are kept as columns (image configs as one JSON text), which makes
// the index a fraction of the size and several times quicker to decode than the model as v8 keeps it.
// Anything of another shape (a field added one day) is kept as it is, field by field.
const LAYER_SHAPE = 'id,chainId,diffId,parent,size,cacheId,unread';
const IMAGE_SHAPE = 'id,config,created,diffIds,chainIds,parent,repoTags,repoDigests,unread';
const NONE = -1;

interface LayerColumns {
  /** id, chainId, diffId, parent, cacheId per layer (string numbers; NONE for null). */
  refs: Int32Array;
  /** NaN for null. */
  sizes: Float64Array;
  unread: Int32Array;
  unreadLists: string[][];
}

interface ImageColumns {
  /** id, parent per image. */
  refs: Int32Array;
  configs: string;
  /** 1 where the config's rootfs.diff_ids equals the image's diffIds: kept once, in diffIds (a placeholder in the JSON). */
  sameDiffIds: Uint8Array;
  created: string[];
  diffIds: Int32Array;
  diffEnds: Int32Array;
  chainIds: Int32Array;
  chainEnds: Int32Array;
  repoTags: string[][];
  repoDigests: string[][];
  unread: string[][];
}

interface EncodedModel {
  strings: string[];
  layers: LayerColumns | Layer[];
  images: ImageColumns | Image[];
  children: Array<[number, number[]]>;
  /** The model's keys in their order, so the decoded model lists them (and JSON prints them) alike. */
  order: string[];
  rest: Record<string, unknown>;
}

const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
const isRef = (v: unknown): v is string | null => v === null || typeof v === 'string';

function encodeModel(model: StoreModel): EncodedModel {
  const strings: string[] = [];
  const at = new Map<string, number>();
  const intern = (s: string | null): number => {
    if (s === null) return NONE;
    let i = at.get(s);
    if (i === undefined) at.set(s, (i = strings.push(s) - 1));
    return i;
  };
  const { images, layers, children, ...rest } = model;
  return {
    strings,
    layers: encodeLayers([...layers.values()], intern),
    images: encodeImages([...images.values()], intern),
    children: [...children].map(([id, ids]) => [intern(id), ids.map(intern)]),
    order: Object.keys(model),
    rest,
  };
}

function encodeLayers(layers: Layer[], intern: (s: string | null) => number): LayerColumns | Layer[] {
  const usual = layers.every(
    (l) =>
      Object.keys(l).join(',') === LAYER_SHAPE && typeof l.id === 'string' && typeof l.chainId === 'string' && isRef(l.diffId) && isRef(l.parent) &&
      isRef(l.cacheId) && (l.size === null || typeof l.size === 'number') && isStrings(l.unread),
  );
  if (!usual) return layers;
  const refs = new Int32Array(layers.length * 5);
  const sizes = new Float64Array(layers.length);
  const unread = new Int32Array(layers.length);
  const lists = new Map<string, number>();
  const unreadLists: string[][] = [];
  layers.forEach((l, i) => {
    refs.set([intern(l.id), intern(l.chainId), intern(l.diffId), intern(l.parent), intern(l.cacheId)], i * 5);
    sizes[i] = l.size === null ? NaN : l.size;
    const key = l.unread.join('\0');
    let u = lists.get(key);
    if (u === undefined) lists.set(key, (u = unreadLists.push([...l.unread]) - 1));
    unread[i] = u;
  });
  return { refs, sizes, unread, unreadLists };
}

function encodeImages(images: Image[], intern: (s: string | null) => number): ImageColumns | Image[] {
  const usual = images.every(
    (img) =>
      Object.keys(img).join(',') === IMAGE_SHAPE && typeof img.id === 'string' && isRef(img.parent) && typeof img.created === 'string' &&
      isStrings(img.diffIds) && isStrings(img.chainIds) && isStrings(img.repoTags) && isStrings(img.repoDigests) && isStrings(img.unread) &&
      !!img.config && typeof img.config === 'object',
  );
  if (!usual) return images;
  const flat = (lists: string[][]): [Int32Array, Int32Array] => {
    const ends = new Int32Array(lists.length);
    const all: number[] = [];
    lists.forEach((list, i) => {
      for (const s of list) all.push(intern(s));
      ends[i] = all.length;
    });
    return [Int32Array.from(all), ends];
  };
  const [diffIds, diffEnds] = flat(images.map((img) => img.diffIds));
  const [chainIds, chainEnds] = flat(images.map((img) => img.chainIds));
  const refs = new Int32Array(images.length * 2);
  images.forEach((img, i) => refs.set([intern(img.id), intern(img.parent)], i * 2));
  // Most of a config's bytes are its DiffIDs, which the image keeps too: the JSON holds a 0 in their place.
  const sameDiffIds = new Uint8Array(images.length);
  const rootfsOf = (img: Image) => img.config.rootfs as { diff_ids?: unknown } | undefined;
  images.forEach((img, i) => {
    const listed = rootfsOf(img)?.diff_ids;
    if (Array.isArray(listed) && listed.length === img.diffIds.length && listed.every((d, k) => d === img.diffIds[k])) sameDiffIds[i] = 1;
  });
  let configs: string;
  const saved = images.map((img, i) => {
    if (!sameDiffIds[i]) return undefined;
    const rootfs = rootfsOf(img)!;
    const list = rootfs.diff_ids;
    rootfs.diff_ids = 0;
    return list;
  });
  try {
    // The configs came from JSON.parse, so JSON gives them back as they were.
    configs = JSON.stringify(images.map((img) => img.config));
  } finally {
    images.forEach((img, i) => sameDiffIds[i] && (rootfsOf(img)!.diff_ids = saved[i]));
  }
  return {
    refs,
    configs,
    sameDiffIds,
    created: images.map((img) => img.created),
    diffIds,
    diffEnds,
    chainIds,
    chainEnds,
    repoTags: images.map((img) => img.repoTags),
    repoDigests: images.map((img) => img.repoDigests),
    unread: images.map((img) => img.unread),
  };
}

function decodeModel(e: EncodedModel): StoreModel {
  const { strings } = e;
  const str = (i: number): string | null => (i === NONE ? null : strings[i]);
  const layers = new Map<string, Layer>();
  if (Array.isArray(e.layers)) {
    for (const l of e.layers) layers.set(l.id, l);
  } else {
    const { refs, sizes, unread, unreadLists } = e.layers;
    for (let i = 0; i < sizes.length; i++) {
      const r = i * 5;
      const id = strings[refs[r]];
      const size = sizes[i];
      layers.set(id, {
        id,
        chainId: strings[refs[r + 1]],
        diffId: str(refs[r + 2]),
        parent: str(refs[r + 3]),
        size: Number.isNaN(size) ? null : size,
        cacheId: str(refs[r + 4]),
        unread: unreadLists[unread[i]].slice() as Layer['unread'],
      });
    }
  }
  const images = new Map<string, Image>();
  if (Array.isArray(e.images)) {
    for (const img of e.images) images.set(img.id, img);
  } else {
    const c = e.images;
    const configs = JSON.parse(c.configs) as Image['config'][];
    const list = (ids: Int32Array, ends: Int32Array, i: number): string[] => {
      const out: string[] = [];
      for (let k = i === 0 ? 0 : ends[i - 1]; k < ends[i]; k++) out.push(strings[ids[k]]);
      return out;
    };
    for (let i = 0; i < configs.length; i++) {
      const id = strings[c.refs[i * 2]];
      const diffIds = list(c.diffIds, c.diffEnds, i);
      if (c.sameDiffIds[i]) (configs[i].rootfs as { diff_ids: string[] }).diff_ids = diffIds.slice();
      images.set(id, {
        id,
        config: configs[i],
        created: c.created[i],
        diffIds,
        chainIds: list(c.chainIds, c.chainEnds, i),
        parent: str(c.refs[i * 2 + 1]),
        repoTags: c.repoTags[i],
        repoDigests: c.repoDigests[i],
        unread: c.unread[i] as Image['unread'],
      });
    }
  }
  const children = new Map(e.children.map(([id, ids]) => [strings[id], ids.map((i) => strings[i])]));
  const parts: Record<string, unknown> = { ...e.rest, images, layers, children };
  return Object.fromEntries(e.order.map((k) => [k, parts[k]])) as unknown as StoreModel;
}

function load(file: string): IndexData | null {
  try {
    const data = deserialize(readFileSync(file)) as IndexData;
    if (!data || data.format !== FORMAT || !(data.stats instanceof Float64Array) || !(data.model instanceof Uint8Array)) return null;
    if (data.stats.length !== pathCount(data.log, data.extra) * STRIDE) return null;
    return data;
  } catch {
    return null; // absent, unreadable, truncated or corrupt: read the store (and write it anew)
  }
}

/**
 * The stats of every path of a read that began at `began` (ms), with the ancestors of failed ones; null when
 * some path changed too recently to be trusted, or is a symbolic link (a read that followed it saw its target).
 */
async function statsOf(log: ReadLog, root: string, began: number): Promise<{ stats: Float64Array; extra: string[] } | null> {
  const recent = (ctime: number): boolean => !trustedCtime(ctime, began);
  let stats = new Float64Array(pathCount(log, []) * STRIDE);
  // The bulk reads' files on the helpers' threads (as they are checked), the rest here.
  const groups = groupStatsNatively(log);
  log.paths.forEach((path, i) => statInto(path, stats, i * STRIDE));
  const starts = groupStarts(log);
  for (let g = 0; g < log.groups.length; g++) {
    const [base, names, fileNames] = log.groups[g];
    const got = groups ? await groups[g] : null;
    if (got !== null && got.length === names.length * fileNames.length * STRIDE) {
      stats.set(got, starts[g] * STRIDE);
      continue;
    }
    let k = starts[g];
    for (const name of names) for (const fileName of fileNames) statInto(groupPath(base, name, fileName), stats, k++ * STRIDE);
  }
  const failed: string[] = [];
  let k = 0;
  let trusted = true;
  forEachPath(log, [], (path) => {
    const at = k++ * STRIDE;
    if (stats[at] < 0) failed.push(path);
    else if ((stats[at] & S_IFMT) === S_IFLNK || recent(stats[at + 3])) trusted = false;
    return trusted;
  });
  if (!trusted) return null;
  // An absent (or unreachable) path is as it was while its nearest existing ancestor's entries are.
  const extra: string[] = [];
  const seen = new Set<string>();
  const one = new Float64Array(STRIDE);
  for (const path of failed) {
    for (let dir = dirname(path); !seen.has(dir); dir = dirname(dir)) {
      seen.add(dir);
      extra.push(dir);
      if (statInto(dir, one, 0) || dir === root || dir === dirname(dir)) break;
    }
  }
  if (extra.length) {
    const all = new Float64Array(stats.length + extra.length * STRIDE);
    all.set(stats);
    for (let i = 0; i < extra.length; i++) {
      const at = stats.length + i * STRIDE;
      if (statInto(extra[i], all, at) && ((all[at] & S_IFMT) === S_IFLNK || recent(all[at + 3]))) return null;
    }
    stats = all;
  }
  return { stats, extra };
}

/** Indexes kept at most (the least recently written go first): one per store and question asked of it. */
const KEEP = 32;

function write(dir: string, file: string, data: IndexData): void {
  writeCacheFile(dir, file, serialize(data), 'index-', KEEP);
}

/**
 * Reads the store through its index: the model the index holds when every stat it recorded still holds,
 * else `read` (which records what it looked at in the log it is given), writing the index afterwards.
 */
export async function readThroughIndex(key: IndexKey, read: (log: ReadLog | null) => Promise<StoreModel>): Promise<StoreModel> {
  let where: ReturnType<typeof indexFile> = null;
  try {
    where = indexOff() ? null : indexFile(key);
  } catch {
    where = null; // no home directory, say: the store is read as without an index
  }
  if (where === null) {
    outcome = 'off';
    return read(null);
  }
  const cached = load(where.file);
  if (cached) {
    let model: StoreModel | null = null;
    const decode = (): void => {
      try {
        model = decodeModel(deserialize(cached.model) as EncodedModel);
      } catch {
        model = null; // read the store
      }
    };
    if ((await stillValid(cached, key.parallelStats ?? PARALLEL_STATS, decode)) && model) {
      outcome = 'hit';
      return model;
    }
  }
  outcome = 'miss';
  const began = Date.now();
  const log: ReadLog = { paths: [], groups: [] };
  const model = await read(log);
  // A snapshot now: the command may change its model; the stats are taken once it is answering.
  let snapshot: Buffer;
  try {
    snapshot = serialize(encodeModel(model));
  } catch {
    return model; // not one the index can keep: answered all the same
  }
  const previous = pendingWrite;
  pendingWrite = new Promise<void>((resolve) =>
    setImmediate(() => {
      const done = () => previous.then(resolve, resolve);
      if (off) return done();
      statsOf(log, key.root, began)
        .then((got) => {
          if (got && !off) write(where.dir, where.file, { format: FORMAT, log, extra: got.extra, stats: got.stats, model: snapshot });
        })
        .catch(() => {}) // never a reason for a command to fail
        .then(done);
    }),
  );
  return model;
}

/** A write command: drops every index of `root` and keeps this process from reading or writing any. */
export function forgetIndex(root: string): void {
  off = true;
  const id = rootIdentity(root);
  if (id === null) return;
  const dir = cacheDir();
  try {
    for (const name of readdirSync(dir)) if (name.startsWith(`index-${id}-`)) unlinkSync(join(dir, name));
  } catch {
    // no cache, or not ours to clean: its stats keep it honest anyway
  }
}
