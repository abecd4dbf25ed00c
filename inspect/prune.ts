// What `strata prune` may reclaim, as a plan computed on the model: dangling images with the layers
// removing them frees (LayerRefs), layers nothing uses, driver directories nothing references (df's
// classification), stale write-sets and strata temp entries, read-write layer records whose container is
// gone, and with --containers stopped containers as `docker container prune` removes them.
// Conservative by construction: whatever an unreadable record might own is "unknown" and never an item;
// anything modified within --min-age is "too recent"; what a resumable migration's journal names is
// "protected". Each item lists every path removing it deletes, metadata first, so that a removal
// interrupted halfway (inspect/store-remove.ts renames them in this order) leaves only data nothing names.
import { lstatSync, readdirSync, type BigIntStats, type Stats } from 'node:fs';
import { join } from 'node:path';
import type { StorageDriver } from '../drivers/types.js';
import { StrataError } from '../native/errors.js';
import { isStaleTemp, parseTempName, TEMP_PREFIX } from '../native/temp-names.js';
import { belowOf, countEntryUsage, emptyUsage, entryOf, type EntryUsage } from '../snapshots/measure.js';
import { measureEntries, MeasuredEntries } from '../snapshots/measure-parallel.js';
import { nativeHelpers, SCAN_FIELD as FIELD, SCAN_STRIDE } from '../native/index.js';
import { storeFindings, type DfUnknown, type StoreFindings } from './df.js';
import { layerEntryDir } from './docker/layerdb.js';
import { FilterError, labelsMatch, type FilterArgs } from './filter-args.js';
import { imageLabels } from './image-filter.js';
import { LayerRefs } from './layer-refs.js';
import { overlaps, readMigrateJournal } from './migrate-journal.js';
import type { Container, Image, StoreModel, Unreadable } from './model.js';
import { leakBlockers, liveMounts, unreadFieldOf } from './unreadable.js';
import type { Warning } from './warnings.js';

export type PruneKind = 'dangling-image' | 'unused-layer' | 'orphan-directory' | 'write-set' | 'leftover-mount' | 'container';

export interface PruneItem {
  kind: PruneKind;
  /** The item's main path: image config, layerdb entry, driver directory, write-set, mount record, containers/<id>. */
  path: string;
  /** Image id, ChainID, directory id, entry name, or container id. */
  id: string;
  /** Bytes on disk of every path (du -sb: st_size of each entry, each inode once across the plan). */
  bytes: number;
  reason: string;
  /** every path removing it deletes (apply), in the order they are removed */
  paths: string[];
  /** Newest modification time of the item's top directories and their immediate entries (RFC 3339). */
  modified: string;
  /** Image ids removing it deletes (a dangling image, then parent images left without children). */
  images?: string[];
  /** ChainIDs of layers removing it deletes, top first. */
  layers?: string[];
  /** repositories.json keys removing it drops (digest references of an untagged image). */
  untag?: string[];
}

export interface PrunePlan {
  items: PruneItem[];
  bytes: number;
  unknown: Array<{ kind: PruneKind | 'directory' | 'layer'; path: string; id: string; bytes: number; unreadable: Array<{ file: string; reason: string }> }>;
  tooRecent: PruneItem[];
  protected: Array<{ path: string; reason: string }>;
}

export interface PruneOptions {
  containers?: boolean;
  /** default 10 min */
  minAgeMs?: number;
  /** ms epoch: only what was created (images, containers) or last modified (leftovers) before it */
  until?: number;
  /** label=k, label=k=v, label!=… */
  labels?: string[];
  now?: number;
  /** Bytes measured so far, for a progress bar. */
  onMeasured?: (bytes: number) => void;
  /**
   * Entries a walk of the data-root measured already (df's, inspect/df.ts startMeasuringDataRoot): each
   * item's paths are measured from them where they can be, the rest on threads once the plan is made.
   * The figures are the same either way.
   */
  sizes?: MeasuredEntries | Promise<MeasuredEntries>;
  /**
   * That walk's entries as far as it has gone (ParallelMeasure.known): the mtimes of what it lists stand
   * in for looking at each item's directory. Until the walk is done the plan decides with each such
   * path's own mtime, then checks every decision against the newest of its entries' (given by `sizes`
   * once it resolves) and plans again when one would differ. The plan is the same either way.
   */
  walked?: MeasuredEntries;
  /** df's classification of the same model (driver directories, unused layers), when df has it. */
  found?: StoreFindings;
  /**
   * false: the caller shows no item's `modified` (df's audit and metrics), so a decision the walk cannot
   * change is not looked up again once it is done; items' `modified` is then their paths' own mtime.
   */
  stampModified?: boolean;
}

export const DEFAULT_MIN_AGE_MS = 10 * 60 * 1000;

// --- filters ---------------------------------------------------------------------------------------------

/** The keys `docker system prune --filter` accepts (its container prune checks them first). */
export const PRUNE_FILTER_KEYS = ['until', 'label', 'label!'] as const;

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go's time.ParseDuration ("10m", "1h30m", "1.5s", "0"), in milliseconds; throws Go's words. */
export function parseGoDuration(text: string): number {
  const quoted = JSON.stringify(text);
  let s = text;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    sign = s[0] === '-' ? -1 : 1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw new Error(`time: invalid duration ${quoted}`);
  let total = 0;
  while (s !== '') {
    const num = /^(\d*)(?:\.(\d*))?/.exec(s)!;
    if ((num[1] ?? '') === '' && (num[2] ?? '') === '') throw new Error(`time: invalid duration ${quoted}`);
    const value = Number(`${num[1] || '0'}.${num[2] || '0'}`);
    s = s.slice(num[0].length);
    const unit = /^[^\d.]*/.exec(s)![0];
    if (unit === '') throw new Error(`time: missing unit in duration ${quoted}`);
    const factor = DURATION_UNITS[unit];
    if (factor === undefined) throw new Error(`time: unknown unit ${JSON.stringify(unit)} in duration ${quoted}`);
    total += value * factor;
    s = s.slice(unit.length);
  }
  return sign * total;
}

/** Go's Duration.String for whole milliseconds and up ("10m0s", "1h30m0s", "0s"), as docker prints durations. */
export function goDurationString(ms: number): string {
  if (ms === 0) return '0s';
  const neg = ms < 0;
  let rest = Math.abs(ms);
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const s = rest / 1000;
  const sec = `${Number.isInteger(s) ? s : Number(s.toFixed(3))}s`;
  return `${neg ? '-' : ''}${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${sec}`;
}

/**
 * An until value as the daemon reads it (api/types/time GetTimestamp): a Go duration before `now`, an RFC
 * 3339 date or time (local when it names no zone), or a Unix timestamp in seconds. Milliseconds since the epoch.
 */
export function parseUntil(value: string, now: number): number {
  if (value !== '0') {
    try {
      return now - parseGoDuration(value);
    } catch {
      // not a duration: a time
    }
  }
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(\.\d+)?)?)?)?(Z|z|[+-]\d{2}:\d{2})?$/.exec(value);
  if (m) {
    const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '', zone] = m;
    const ms = frac ? Math.floor(Number(frac) * 1000) : 0;
    const fields = [Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms] as const;
    let t: number;
    if (zone === undefined) t = new Date(...fields).getTime();
    else {
      t = Date.UTC(...fields);
      if (!/^[Zz]$/.test(zone)) t -= (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000;
    }
    const check = new Date(Date.UTC(...fields));
    if (Number.isNaN(t) || check.getUTCMonth() !== fields[1] || check.getUTCDate() !== fields[2] || fields[3] > 23 || fields[4] > 59 || fields[5] > 59) {
      throw new FilterError(`parsing time ${JSON.stringify(value)}: not a valid date and time`);
    }
    return t;
  }
  if (value.includes('-')) throw new FilterError(`parsing time ${JSON.stringify(value)}: not an RFC 3339 date or time`);
  if (/^\d+(\.\d{1,9})?$/.test(value)) return Math.floor(Number(value) * 1000);
  throw new FilterError(`failed to parse value as time or duration: ${JSON.stringify(value)}`);
}

/** `--filter` flags as `docker system prune` takes them: until (once), label, label!; docker's words otherwise. */
export function pruneFilters(args: FilterArgs, now: number): Pick<PruneOptions, 'until' | 'labels'> {
  for (const key of args.keys()) {
    if (!(PRUNE_FILTER_KEYS as readonly string[]).includes(key)) throw new FilterError(`Invalid filter '${key}'`);
  }
  const untils = args.get('until') ?? [];
  if (untils.length > 1) throw new FilterError('more than one until filter specified');
  const labels = [...(args.get('label') ?? []).map((v) => `label=${v}`), ...(args.get('label!') ?? []).map((v) => `label!=${v}`)];
  return { until: untils.length ? parseUntil(untils[0], now) : undefined, labels };
}

/** moby's prune label match: every label= matches, and not every label!= does. */
export function pruneLabelsMatch(filters: readonly string[] | undefined, labels: Record<string, string> | null): boolean {
  if (!filters || filters.length === 0) return true;
  const want = filters.filter((f) => f.startsWith('label=')).map((f) => f.slice('label='.length));
  const not = filters.filter((f) => f.startsWith('label!=')).map((f) => f.slice('label!='.length));
  if (!labelsMatch(want, labels ?? {})) return false;
  return !(not.length > 0 && labelsMatch(not, labels ?? {}));
}

// --- the plan ----------------------------------------------------------------------------------------------

/**
 * A path's lstat and, for a directory, its entries' lstat numbers, SCAN_STRIDE a entry in scanDir's order
 * of fields (null when it could not be listed): what mtimes and measuring both need.
 */
interface Look {
  st: Stats;
  entries: Float64Array | null;
}

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;

/** A directory's entries as scanDir gives them, read with readdir and lstat (without the native helpers). */
function scanInJs(p: string): Float64Array {
  const names = readdirSync(p, { encoding: 'buffer' });
  const out = new Float64Array(names.length * SCAN_STRIDE);
  let n = 0;
  for (const name of names) {
    let st: BigIntStats;
    try {
      st = lstatSync(Buffer.concat([Buffer.from(`${p}/`), name]), { bigint: true });
    } catch {
      continue; // gone meanwhile
    }
    const o = n++ * SCAN_STRIDE;
    out[o + FIELD.mode] = Number(st.mode);
    out[o + FIELD.nlink] = Number(st.nlink);
    out[o + FIELD.size] = Number(st.size);
    out[o + FIELD.blocks] = Number(st.blocks);
    out[o + FIELD.dev] = Number(st.dev);
    out[o + FIELD.ino] = Number(st.ino);
    // The seconds and nanoseconds, from which newestOf computes mtimeMs as Node does.
    out[o + FIELD.mtimeSec] = Number(st.mtimeNs / 1_000_000_000n);
    out[o + FIELD.mtimeNsec] = Number(st.mtimeNs % 1_000_000_000n);
  }
  return out.subarray(0, n * SCAN_STRIDE);
}

/** A path looked at (Look), or null when it is gone or cannot be read. */
function look(p: string): Look | null {
  let st: Stats | undefined;
  try {
    // A missing path is common (an image's metadata directory, say): told without an exception's cost.
    st = lstatSync(p, { throwIfNoEntry: false });
  } catch {
    return null;
  }
  if (!st) return null;
  if (!st.isDirectory()) return { st, entries: null };
  const native = nativeHelpers();
  try {
    // One call for the directory's entries and their lstat numbers.
    return { st, entries: native ? native.scanDir(p, false).stats : scanInJs(p) };
  } catch {
    return { st, entries: null }; // unlistable: its own mtime is what is known
  }
}

/** The newest mtime of what was looked at: each path and a directory's immediate entries (Node's mtimeMs arithmetic). */
function newestOf(looks: Array<Look | null>): number {
  let newest = 0;
  for (const l of looks) {
    if (!l) continue;
    newest = Math.max(newest, l.st.mtimeMs);
    const s = l.entries;
    if (s) for (let i = 0; i < s.length; i += SCAN_STRIDE) newest = Math.max(newest, s[i + FIELD.mtimeSec] * 1000 + s[i + FIELD.mtimeNsec] / 1e6);
  }
  return newest;
}

/**
 * The newest mtime of each path and, for a directory, of its immediate entries. Enough for "is something
 * still writing this": creating or removing an entry changes its directory's mtime, and what a writer
 * writes last (overlay2's link and committed, layerdb's size and cache-id, a container's log and
 * config.v2.json) lies at that level. A walk of the whole tree would cost as much again as measuring it.
 */
export function newestMtime(paths: string[]): number {
  return newestOf(paths.map(look));
}

/**
 * What measureTree gives a path that was looked at, when the look saw all of it: a file, a symbolic link,
 * a directory holding no directory (layerdb's entries, a mount record); null when it must be walked.
 */
function entryFromLook(l: Look): EntryUsage | null {
  const e = entryOf(l.st);
  if (!e.dir) return e;
  const s = l.entries;
  if (!s) return null;
  const below = belowOf(e);
  for (let i = 0; i < s.length; i += SCAN_STRIDE) {
    if (s[i + FIELD.dev] !== l.st.dev) continue;
    if ((s[i + FIELD.mode] & S_IFMT) === S_IFDIR) return null;
    const [nlink, size, blocks] = [s[i + FIELD.nlink], s[i + FIELD.size], s[i + FIELD.blocks]];
    if (nlink > 1) {
      below.multiLinked.push(s[i + FIELD.ino], size, blocks);
      continue;
    }
    below.usage.entries++;
    below.usage.apparentBytes += size;
    below.usage.allocatedBytes += blocks * 512;
    below.usage.contentBytes += size;
  }
  return e;
}

type Unknown = PrunePlan['unknown'][number];

const STOPPED: ReadonlySet<string> = new Set(['created', 'exited', 'dead']);
const NONE: ReadonlySet<string> = new Set();

class Planner {
  readonly plan: PrunePlan = { items: [], bytes: 0, unknown: [], tooRecent: [], protected: [] };
  refs: LayerRefs;
  private readonly seenInodes = new Set<number>();
  /** Paths present() counted as there before the walk could say (settlePresence). */
  private readonly unsure = new Set<string>();
  /** Driver paths of layers read ahead (prefetchDriverPaths). */
  private known = new Map<string, string[]>();
  /**
   * Decisions made with mtimes the walk may still raise: whether each still holds, and its `modified` to
   * set. `settled`: no newer mtime can change it (filtered out, or too recent, already).
   */
  private readonly provisional: Array<{ paths: string[]; holds: (mtime: number) => boolean; stamp: (iso: string) => void; settled: boolean }> = [];
  private readonly jobs: Array<{ paths: string[]; alone: ReadonlySet<string>; set: (bytes: number) => void; progress: boolean }> = [];
  private measuredBytes = 0;
  private readonly now: number;
  private readonly minAge: number;
  private readonly journal;
  /** Driver directory ids something kept references (layers, live mounts, BuildKit): never removed with an item. */
  private readonly ownedDirs = new Set<string>();
  /** What an unreadable record might hold among the layers a removal would free. */
  readonly freeBlockers: Unreadable[];
  readonly meta: string;
  readonly found: StoreFindings;

  constructor(
    readonly model: StoreModel,
    readonly driver: StorageDriver | null,
    readonly opts: PruneOptions,
    readonly warnings: Warning[],
    /** Before the data-root walk is done: paths it lists count with their own mtime for now (see confirm). */
    private readonly early: boolean,
    /** What was looked at for mtimes, kept for measuring (finish); shared with a plan made again. */
    readonly looks = new Map<string, Look | null>(),
  ) {
    this.refs = LayerRefs.of(model);
    this.found = opts.found ?? storeFindings(model, driver);
    this.now = opts.now ?? Date.now();
    this.minAge = opts.minAgeMs ?? DEFAULT_MIN_AGE_MS;
    this.journal = readMigrateJournal(model.root);
    this.meta = join(model.root, 'image', model.driver);
    for (const l of model.layers.values()) if (l.cacheId) this.ownedDirs.add(l.cacheId);
    for (const m of liveMounts(model)) for (const id of [m.mountId, m.initId]) if (id) this.ownedDirs.add(id);
    const blockers = [...leakBlockers(model)];
    // A layer whose parent could not be read may be a child of any layer: none is known to be free.
    for (const l of model.layers.values()) if (l.unread.includes('parent')) blockers.push(unreadFieldOf(model, l.chainId, 'parent'));
    this.freeBlockers = blockers;
    if (this.journal.state === 'read') {
      this.plan.protected.push({ path: this.journal.paths[0], reason: `a resumable strata migration (journal ${this.journal.file})` });
      for (const p of this.journal.paths.slice(1)) this.plan.protected.push({ path: p, reason: `named by the migration journal ${this.journal.file}` });
    } else if (this.journal.state === 'unreadable') {
      this.plan.protected.push({ path: this.journal.file, reason: `migration journal unreadable (${this.journal.reason}): it may name any directory, so prune removes none` });
      warnings.push({ file: this.journal.file, message: `${this.journal.reason} — a strata migration's journal that cannot be read may name any directory: prune removes nothing` });
    }
  }

  /**
   * Asks for the bytes of `paths` on disk, given to `set` once the plan is made (finish). They are counted
   * in the order asked, each inode once across the plan; a path in `alone` is counted on its own (each
   * inode once within it), as df measures a driver directory.
   */
  measure(paths: string[], set: (bytes: number) => void, alone: ReadonlySet<string> = NONE): void {
    this.jobs.push({ paths, alone, set, progress: true });
  }

  /** The bytes of one path counted on its own, quietly (df's figure for a directory), given to `set` at finish. */
  measureAlone(path: string, set: (bytes: number) => void): void {
    this.jobs.push({ paths: [path], alone: new Set([path]), set, progress: false });
  }

  /**
   * Measures what the plan asked for: from the data-root walk's entries where it measured them, the rest
   * on threads, then counted in the order asked (so the figures are what measuring each item in turn,
   * one after another, gives).
   */
  async finish(): Promise<void> {
    const walked = (await this.opts.sizes) ?? MeasuredEntries.none(this.model.root);
    this.settlePresence();
    // Each path from the walk, else from what offer() looked at, else measured now (on threads).
    const found = new Map<string, EntryUsage>();
    const missing = new Set<string>();
    for (const job of this.jobs) {
      for (const p of job.paths) {
        if (found.has(p) || missing.has(p)) continue;
        const l = this.looks.get(p);
        const e = walked.get(p) ?? (l ? entryFromLook(l) : null);
        if (e) found.set(p, e);
        else missing.add(p);
      }
    }
    const direct = await measureEntries([...missing]);
    for (const job of this.jobs) {
      let bytes = 0;
      for (const p of job.paths) {
        const alone = job.alone.has(p);
        const onError = alone ? undefined : (file: string, err: unknown) => this.warnings.push({ file, message: `not measured: ${err instanceof Error ? err.message : String(err)}` });
        const e: EntryUsage | Error | null | undefined = found.get(p) ?? direct.get(p);
        if (e instanceof Error) onError?.(p, e);
        if (!e || e instanceof Error) continue;
        const usage = emptyUsage();
        countEntryUsage(usage, e, alone ? new Set() : this.seenInodes, onError);
        bytes += usage.apparentBytes;
      }
      job.set(bytes);
      if (job.progress) {
        this.measuredBytes += bytes;
        this.opts.onMeasured?.(this.measuredBytes);
      }
    }
    this.plan.bytes = this.plan.items.reduce((n, i) => n + i.bytes, 0);
  }

  /** Paths of a driver directory, unless something kept references it. */
  dirPaths(id: string | null): string[] {
    if (!id || !this.driver || this.ownedDirs.has(id)) return [];
    return this.driverPaths(id);
  }

  /** The driver's layerPaths of a directory id, as read ahead where it was (a copy: items' paths are edited). */
  driverPaths(id: string): string[] {
    return this.known.get(id)?.slice() ?? this.driver!.layerPaths(id);
  }

  /**
   * Reads ahead, on the driver's threads where it has a way (layerPathsOf), the paths of every layer the
   * plan may free (those untagged images and the read-write records alone hold, and leaked ones) and of
   * every read-write record's directories, so deciding does not wait on two small reads per layer.
   */
  async prefetchDriverPaths(): Promise<void> {
    if (!this.driver?.layerPathsOf) return;
    const ids = new Set<string>();
    const add = (chainIds: readonly string[]) => {
      for (const c of chainIds) {
        const id = this.model.layers.get(c)?.cacheId;
        if (id) ids.add(id);
      }
    };
    const trial = this.refs.trial();
    for (const img of this.model.images.values()) {
      const top = img.chainIds.at(-1);
      if (img.repoTags.length === 0 && top !== undefined && trial.has(top)) add(trial.release(top, { image: img.id }));
    }
    add(this.found.unusedLayers.leaked.map((l) => l.chainId));
    for (const m of this.model.mounts.values()) for (const id of [m.mountId, m.initId]) if (id) ids.add(id);
    // Reading ahead is only faster: whatever it cannot read is asked one by one, as without it.
    if (ids.size > 0) this.known = await this.driver.layerPathsOf([...ids]).catch(() => new Map<string, string[]>());
  }

  /** A layer's layerdb entry, then its driver paths; null when its cache id is unknown. */
  layerPaths(chainId: string): string[] | null {
    const layer = this.model.layers.get(chainId);
    if (!layer) return [];
    if (layer.cacheId === null) return null;
    const dirs = this.driver ? this.driverPaths(layer.cacheId) : [];
    return [layerEntryDir(this.model, chainId), ...dirs];
  }

  /** Paths of freed layers, or the blockers that keep them from being called free. */
  freedLayerPaths(chainIds: string[]): { paths: string[] } | { blockers: Unreadable[] } {
    if (chainIds.length === 0) return { paths: [] };
    if (this.freeBlockers.length > 0) return { blockers: this.freeBlockers };
    if (!this.driver) return { blockers: [{ file: join(this.model.root, this.model.driver), reason: `no ${this.model.driver} driver in strata to find the layers' directories` }] };
    const paths: string[] = [];
    for (const c of chainIds) {
      const p = this.layerPaths(c);
      if (p === null) return { blockers: [unreadFieldOf(this.model, c, 'cacheId')] };
      paths.push(...p);
    }
    return { paths };
  }

  unknown(u: Unknown): void {
    const entry = { kind: u.kind, path: u.path, id: u.id, bytes: u.bytes, unreadable: u.unreadable };
    this.plan.unknown.push(entry);
    // Prune's own unknown entries come unmeasured: their main path is measured; df's directories come
    // unmeasured too (classified here, measured from the walk); a layer keeps layerdb's size.
    if (u.kind === 'directory' || (!u.bytes && u.kind !== 'layer')) this.measureAlone(u.path, (bytes) => (entry.bytes = bytes));
  }

  /**
   * Files an item as an item, too recent, protected, or filtered out (until on its mtime, when `created`
   * is not given; labels when `labels` is not undefined). Returns whether it is an item (to be removed).
   */
  /**
   * newestMtime, keeping what it looked at for measuring; from the walk where it listed a path. Early,
   * a path the walk is still measuring counts with its own mtime (`pending`: the answer may rise).
   */
  mtimeOf(paths: string[]): { mtime: number; pending: boolean } {
    let mtime = 0;
    let pending = false;
    for (const p of paths) {
      const own = this.early ? this.opts.walked?.ownMtime(p) : undefined;
      if (own !== undefined) pending = true;
      mtime = Math.max(mtime, own ?? this.finalMtime(p));
    }
    return { mtime, pending };
  }

  /** A path's newestMtime: the walk's figure once it listed the path's entries, else a look. */
  private finalMtime(p: string): number {
    return this.opts.walked?.newest(p) ?? newestOf([this.lookAt(p)]);
  }

  /** Sets `item.modified` from its paths' mtimes (a kept item: nothing is decided with it). */
  stampModified(item: { modified: string }, paths: string[]): void {
    const { mtime, pending } = this.mtimeOf(paths);
    item.modified = new Date(mtime).toISOString();
    if (pending) this.provisional.push({ paths, holds: () => true, stamp: (iso) => (item.modified = iso), settled: true });
  }

  /** Whether the plan decided anything with an mtime the walk may still raise. */
  get hasProvisional(): boolean {
    return this.provisional.length > 0;
  }

  /**
   * Once the walk is done: whether every decision made with a path's own mtime holds with the newest of
   * its entries' too; when all do, their `modified` is set from those. False: the plan must be made again.
   */
  confirm(): boolean {
    // An mtime only rises as the walk looks further: what was filtered out or too recent stays so.
    const asked = this.opts.stampModified === false ? this.provisional.filter((r) => !r.settled) : this.provisional;
    const finals = asked.map((r) => r.paths.reduce((n, p) => Math.max(n, this.finalMtime(p)), 0));
    if (asked.some((r, i) => !r.holds(finals[i]))) return false;
    asked.forEach((r, i) => r.stamp(new Date(finals[i]).toISOString()));
    return true;
  }

  /**
   * Whether `p` is there: as the data-root walk found it, else looked at (once). Early, a path the walk
   * is still to report counts as there, and is taken out of the plan's items once the walk says it is not
   * (settlePresence).
   */
  present(p: string): boolean {
    if (this.opts.walked?.get(p) !== undefined) return true;
    if (this.early && this.opts.walked?.pending(p)) {
      this.unsure.add(p);
      return true;
    }
    return this.lookAt(p) !== null;
  }

  /** Once the walk is done: paths present() could not tell early, taken out of the items where they are not there. */
  private settlePresence(): void {
    if (this.unsure.size === 0) return;
    const gone = new Set([...this.unsure].filter((p) => this.opts.walked?.get(p) === undefined && this.lookAt(p) === null));
    this.unsure.clear();
    if (gone.size === 0) return;
    for (const item of [...this.plan.items, ...this.plan.tooRecent]) {
      for (let i = item.paths.length - 1; i >= 0; i--) if (gone.has(item.paths[i])) item.paths.splice(i, 1);
    }
  }

  /** look(p), once per path: what offer() and measuring then use (null: nothing there). */
  lookAt(p: string): Look | null {
    let l = this.looks.get(p);
    if (l === undefined) this.looks.set(p, (l = look(p)));
    return l;
  }

  offer(item: Omit<PruneItem, 'bytes' | 'modified'>, filter: { created?: number; labels: Record<string, string> | null }, alone?: ReadonlySet<string>): boolean {
    const { mtime, pending } = this.mtimeOf(item.paths);
    const filteredOut = (m: number) => this.opts.until !== undefined && (filter.created ?? m) > this.opts.until;
    const filtered = filteredOut(mtime);
    // What was decided with an mtime that may rise, to be checked once the walk is done (confirm).
    const record = pending ? { paths: item.paths, holds: (m: number) => filteredOut(m) === filtered, stamp: (_iso: string) => {}, settled: filtered } : null;
    if (record) this.provisional.push(record);
    if (filtered) return false;
    if (!pruneLabelsMatch(this.opts.labels, filter.labels)) return false;
    if (this.journal.state === 'unreadable') {
      this.plan.protected.push({ path: item.path, reason: `${item.kind}, kept: the migration journal ${this.journal.file} could not be read` });
      return false;
    }
    if (this.journal.state === 'read') {
      const named = this.journal.paths.find((j) => item.paths.some((p) => overlaps(p, j)) || overlaps(item.path, j));
      if (named) {
        this.plan.protected.push({ path: item.path, reason: `${item.kind}, kept: the migration journal names ${named}` });
        return false;
      }
    }
    // Keys in one order for every kind (the JSON is read by scripts): the agreed five, then the rest.
    const { kind, path, id, reason, paths, ...rest } = item;
    const full: PruneItem = { kind, path, id, bytes: 0, reason, paths, modified: new Date(mtime).toISOString(), ...rest };
    this.measure(paths, (bytes) => (full.bytes = bytes), alone);
    const recent = this.now - mtime < this.minAge;
    if (record) {
      record.holds = (m) => filteredOut(m) === filtered && this.now - m < this.minAge === recent;
      record.stamp = (iso) => (full.modified = iso);
      // Too recent stays too recent; filtered out by --filter until on this mtime, it could still become.
      record.settled = recent && (this.opts.until === undefined || filter.created !== undefined);
    }
    if (recent) {
      this.plan.tooRecent.push(full);
      return false;
    }
    this.plan.items.push(full);
    return true;
  }
}

function containerMissingFields(p: Planner, containerId: string): Unreadable[] {
  return p.model.unreadable.mounts.filter((m) => m.containerId === containerId).map((m) => ({ file: m.file, reason: m.reason }));
}

/** --containers: stopped containers, as `docker container prune` removes them (config, rw record, rw and init dirs). */
function planContainers(p: Planner): Set<string> {
  const removed = new Set<string>();
  const { model } = p;
  if (!p.opts.containers) return removed;
  for (const u of model.unreadable.containers) {
    p.unknown({ kind: 'container', path: join(model.root, 'containers', u.id), id: u.id, bytes: 0, unreadable: [{ file: u.file, reason: u.reason }] });
  }
  const ordered = [...model.containers].sort((a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : a.id < b.id ? -1 : 1));
  for (const c of ordered) {
    if (!STOPPED.has(c.state)) continue;
    const dir = join(model.root, 'containers', c.id);
    const mount = model.mounts.get(c.id);
    if (mount && mount.unread.length > 0) {
      p.unknown({ kind: 'container', path: dir, id: c.id, bytes: 0, unreadable: containerMissingFields(p, c.id) });
      continue;
    }
    if (mount && !p.driver) {
      p.unknown({ kind: 'container', path: dir, id: c.id, bytes: 0, unreadable: [{ file: join(model.root, model.driver), reason: `no ${model.driver} driver in strata to find its directories` }] });
      continue;
    }
    const paths = [dir];
    let layers: string[] = [];
    let note = '';
    const trial = p.refs.trial();
    if (mount) {
      paths.push(join(p.meta, 'layerdb', 'mounts', c.id), ...(mount.mountId ? p.driverPaths(mount.mountId) : []), ...(mount.initId ? p.driverPaths(mount.initId) : []));
      const freed = mount.parentChainId ? trial.release(mount.parentChainId, { mount: c.id }) : [];
      const f = p.freedLayerPaths(freed);
      if ('paths' in f) {
        paths.push(...f.paths);
        layers = freed;
      } else if (freed.length) note = `; its ${freed.length} freed layer(s) kept: ${f.blockers[0].file} could not be read`;
    }
    const created = Date.parse(c.created);
    const item = {
      kind: 'container' as const,
      path: dir,
      id: c.id,
      reason: `${c.state} container ${c.name} (as docker container prune)${layers.length ? `; frees ${layers.length} layer(s)` : ''}${note}`,
      paths,
      ...(layers.length ? { layers } : {}),
    };
    if (p.offer(item, { created: Number.isNaN(created) ? undefined : created, labels: c.labels })) {
      removed.add(c.id);
      // The what-if done for real on the plan's counts (the trial must not outlive a change of them).
      if (mount?.parentChainId) p.refs.release(mount.parentChainId, { mount: c.id });
    }
  }
  return removed;
}

/** Read-write layer records whose container directory is gone: the record, its rw and init dirs (and layers only it held). */
function planLeftoverMounts(p: Planner): Set<string> {
  const { model } = p;
  const live = new Set(liveMounts(model).map((m) => m.containerId));
  const claimed = new Set<string>();
  const leftovers = [...model.mounts.values()].filter((m) => !live.has(m.containerId)).sort((a, b) => (a.containerId < b.containerId ? -1 : 1));
  for (const m of leftovers) {
    const path = join(p.meta, 'layerdb', 'mounts', m.containerId);
    for (const id of [m.mountId, m.initId]) if (id) claimed.add(id);
    if (m.unread.length > 0) {
      p.unknown({ kind: 'leftover-mount', path, id: m.containerId, bytes: 0, unreadable: containerMissingFields(p, m.containerId) });
      continue;
    }
    if (!p.driver) {
      p.unknown({ kind: 'leftover-mount', path, id: m.containerId, bytes: 0, unreadable: [{ file: join(model.root, model.driver), reason: `no ${model.driver} driver in strata to find its directories` }] });
      continue;
    }
    const trial = p.refs.trial();
    const freed = m.parentChainId ? trial.release(m.parentChainId, { mount: m.containerId }) : [];
    const f = p.freedLayerPaths(freed);
    const layers = 'paths' in f ? freed : [];
    const note = 'blockers' in f ? `; its ${freed.length} freed layer(s) kept: ${f.blockers[0].file} could not be read` : '';
    const paths = [path, ...p.dirPaths(m.mountId), ...p.dirPaths(m.initId), ...('paths' in f ? f.paths : [])];
    const item = {
      kind: 'leftover-mount' as const,
      path,
      id: m.containerId,
      reason: `read-write layer record of container ${m.containerId.slice(0, 12)}, whose containers/ directory is gone${layers.length ? `; frees ${layers.length} layer(s)` : ''}${note}`,
      paths,
      ...(layers.length ? { layers } : {}),
    };
    if (p.offer(item, { labels: {} })) {
      if (m.parentChainId) p.refs.release(m.parentChainId, { mount: m.containerId });
    }
  }
  return claimed;
}

/** What keeps any untagged image from being known to be dangling and unused. */
function danglingBlockers(model: StoreModel): Unreadable[] {
  const u = model.unreadable;
  const blockers: Unreadable[] = u.parts.filter((x) => x.part === 'images' || x.part === 'image-parents' || x.part === 'references' || x.part === 'containers');
  blockers.push(...u.images);
  for (const img of model.images.values()) {
    if (img.unread.includes('parent')) blockers.push({ file: join(model.root, 'image', model.driver, 'imagedb', 'metadata', 'sha256', img.id.slice(7), 'parent'), reason: 'parent not read' });
  }
  return blockers;
}

/** Unreadable containers that might use `image`: all of them, unless their rw record names another top layer. */
function unreadableUsers(model: StoreModel, image: Image): Unreadable[] {
  const top = image.chainIds.at(-1) ?? null;
  return model.unreadable.containers
    .filter((c) => {
      const mount = model.mounts.get(c.id);
      return !mount || mount.unread.includes('parentChainId') || mount.parentChainId === top;
    })
    .map((c) => ({ file: c.file, reason: c.reason }));
}

/** Dangling images (no tag, no child, no container), with parent images left without children and the layers freed. */
function planDanglingImages(p: Planner, removedContainers: Set<string>): void {
  const { model } = p;
  const users = new Map<string, Container[]>();
  for (const c of model.containers) if (!removedContainers.has(c.id)) users.set(c.imageId, [...(users.get(c.imageId) ?? []), c]);
  const children = new Map<string, Set<string>>();
  for (const [id, kids] of model.children) children.set(id, new Set(kids));
  const refsById = new Map<string, StoreModel['references']>();
  for (const r of model.references) refsById.set(r.imageId, [...(refsById.get(r.imageId) ?? []), r]);
  const refsOf = (id: string) => refsById.get(id) ?? [];
  const blockers = danglingBlockers(model);
  // p.meta is a joined path already: the hex is appended as join would (no normalising per image).
  const content = join(p.meta, 'imagedb', 'content', 'sha256');
  const metadata = join(p.meta, 'imagedb', 'metadata', 'sha256');
  const imagePaths = (id: string) => [`${content}/${id.slice(7)}`, `${metadata}/${id.slice(7)}`];
  const candidates = [...model.images.values()]
    .filter((img) => img.repoTags.length === 0 && (children.get(img.id)?.size ?? 0) === 0 && !users.has(img.id))
    .sort((a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : a.id < b.id ? -1 : 1));
  for (const img of candidates) {
    const created = Date.parse(img.created);
    if (p.opts.until !== undefined && !Number.isNaN(created) && created > p.opts.until) continue;
    if (!pruneLabelsMatch(p.opts.labels, imageLabels(img))) continue;
    const blocked = [...blockers, ...unreadableUsers(model, img)];
    if (blocked.length > 0) {
      p.unknown({ kind: 'dangling-image', path: imagePaths(img.id)[0], id: img.id, bytes: 0, unreadable: blocked });
      continue;
    }
    // The image, then each parent docker's prune deletes with it: untagged, unused, left without children.
    const trial = p.refs.trial();
    const images = [img.id];
    const layers: string[] = [];
    const released: Array<[top: string, image: string]> = [];
    const untag = refsOf(img.id).map((r) => r.ref);
    let current: Image | undefined = img;
    while (current) {
      const top = current.chainIds.at(-1);
      if (top !== undefined && trial.has(top)) {
        layers.push(...trial.release(top, { image: current.id }));
        released.push([top, current.id]);
      }
      const parentId: string | null = current.parent;
      if (!parentId) break;
      const parent = model.images.get(parentId);
      const otherChildren = [...(children.get(parentId) ?? [])].filter((k) => !images.includes(k));
      if (!parent || refsOf(parentId).length > 0 || otherChildren.length > 0 || users.has(parentId)) break;
      images.push(parentId);
      current = parent;
    }
    const f = p.freedLayerPaths(layers);
    if ('blockers' in f) {
      p.unknown({ kind: 'dangling-image', path: imagePaths(img.id)[0], id: img.id, bytes: 0, unreadable: f.blockers });
      continue;
    }
    // Whether it is there as the walk found it (else looked at once), then (offer) its mtime.
    const paths = [...images.flatMap(imagePaths).filter((x) => p.present(x)), ...f.paths];
    const parents = images.length - 1;
    const item = {
      kind: 'dangling-image' as const,
      path: imagePaths(img.id)[0],
      id: img.id,
      reason: `dangling image (no tag, no child image, no container)${parents ? `, with ${parents} parent image(s) left without children` : ''}${layers.length ? `; frees ${layers.length} layer(s)` : ''}`,
      paths,
      images,
      ...(layers.length ? { layers } : {}),
      ...(untag.length ? { untag } : {}),
    };
    if (p.offer(item, { created: Number.isNaN(created) ? undefined : created, labels: imageLabels(img) })) {
      for (const [top, image] of released) p.refs.release(top, { image });
      for (const id of images) {
        const parentId = model.images.get(id)?.parent;
        if (parentId) children.get(parentId)?.delete(id);
      }
    }
  }
}

/** How many parent links below a layer (0 for a base layer). */
function depthOf(model: StoreModel, chainId: string): number {
  let depth = 0;
  for (let id = model.layers.get(chainId)?.parent ?? null; id !== null && depth < 100_000; depth++) id = model.layers.get(id)?.parent ?? null;
  return depth;
}

/** Layers nothing uses (df's leaked layers), top first, each once nothing kept holds it. */
function planUnusedLayers(p: Planner, unused: StoreFindings['unusedLayers']): void {
  const { model } = p;
  for (const u of unused.unknown) p.unknown(u);
  const leaked = unused.leaked.map((l) => l.chainId).filter((c) => p.refs.has(c));
  const depth = new Map(leaked.map((c) => [c, depthOf(model, c)]));
  leaked.sort((a, b) => depth.get(b)! - depth.get(a)! || (a < b ? -1 : 1));
  for (const chainId of leaked) {
    const entry = layerEntryDir(model, chainId);
    const paths = p.layerPaths(chainId);
    if (paths === null) {
      p.unknown({ kind: 'layer', path: entry, id: chainId, bytes: 0, unreadable: [unreadFieldOf(model, chainId, 'cacheId')] });
      continue;
    }
    if (!p.driver) {
      p.unknown({ kind: 'layer', path: entry, id: chainId, bytes: model.layers.get(chainId)?.size ?? 0, unreadable: [{ file: join(model.root, model.driver), reason: `no ${model.driver} driver in strata to find its directory` }] });
      continue;
    }
    const held = p.refs.holdersOf(chainId);
    if (p.refs.count(chainId) > 0) {
      const firstChild = held.children.values().next().value;
      const by = firstChild !== undefined ? `layer ${firstChild}` : `the read-write layer record of ${held.mounts[0] ?? held.images[0]}`;
      const kept: PruneItem = { kind: 'unused-layer', path: entry, id: chainId, bytes: 0, reason: `layer nothing uses, kept while ${by} above it stays`, paths, modified: '', layers: [chainId] };
      p.stampModified(kept, paths);
      p.plan.tooRecent.push(kept);
      p.measure(paths, (bytes) => (kept.bytes = bytes));
      continue;
    }
    const item = { kind: 'unused-layer' as const, path: entry, id: chainId, reason: 'layer no image or container uses (leaked: dockerd keeps it forever)', paths, layers: [chainId] };
    if (p.offer(item, { labels: {} })) p.refs.drop(chainId);
  }
}

/** Driver directories nothing references (df's orphans), and strata's interrupted writes among them. */
function planDirectories(p: Planner, claimedByMounts: Set<string>): void {
  const { model, driver } = p;
  if (!driver) {
    p.warnings.push({ file: join(model.root, model.driver), message: `strata has no ${model.driver} driver: its directories are not planned` });
    return;
  }
  const dirs = p.found.dirs;
  if (dirs instanceof StrataError) {
    p.warnings.push({ file: dirs.file ?? driver.home, message: `${dirs.reason} — driver directories not planned` });
    return;
  }
  if (!dirs) return;
  for (const u of dirs.unknown) if (!claimedByMounts.has(u.id)) p.unknown(u as DfUnknown);
  for (const o of dirs.orphans) {
    if (claimedByMounts.has(o.id)) continue;
    const paths = p.driverPaths(o.id);
    const reason = o.id.endsWith('-init')
      ? 'init layer directory no container uses'
      : 'driver directory no layer, container or build cache references (a partial pull or import, or a removal cut short)';
    p.offer({ kind: 'orphan-directory', path: o.path, id: o.id, reason, paths }, { labels: {} }, new Set([o.path]));
  }
  for (const w of dirs.interruptedWrites) {
    if (!w.stale) continue;
    const paths = p.driverPaths(w.id);
    p.offer({ kind: 'write-set', path: w.path, id: w.id, reason: `interrupted strata write (its writer${w.pid !== null ? `, pid ${w.pid},` : ''} is gone)`, paths: paths.length ? paths : [w.path] }, { labels: {} }, new Set([w.path]));
  }
}

/** dockerd's layerdb/tmp/write-set-* (an interrupted pull, load or import), and stale strata temp entries beside the metadata. */
function planWriteSets(p: Planner): void {
  const { model } = p;
  const tmp = join(p.meta, 'layerdb', 'tmp');
  const places = [tmp, model.root, p.meta, join(p.meta, 'imagedb', 'content', 'sha256')];
  for (const dir of places) {
    let names: string[];
    try {
      // Nearly every name is neither (imagedb/content holds one per image): told apart before sorting.
      names = readdirSync(dir)
        .filter((name) => name.startsWith('write-set-') || name.startsWith(TEMP_PREFIX))
        .sort();
    } catch {
      continue;
    }
    for (const name of names) {
      const path = join(dir, name);
      const temp = parseTempName(name);
      if (dir === tmp && /^write-set-\d+$/.test(name)) {
        p.offer({ kind: 'write-set', path, id: name, reason: "dockerd's temporary layer directory, left by an interrupted pull, load or import", paths: [path] }, { labels: {} });
      } else if (temp && isStaleTemp(temp)) {
        p.offer({ kind: 'write-set', path, id: name, reason: `interrupted strata write (its writer${temp.pid !== null ? `, pid ${temp.pid},` : ''} is gone)`, paths: [path] }, { labels: {} });
      }
    }
  }
}

/** The plan's decisions, in docker system prune's order: containers first, so images only they used are dangling-and-unused next. */
function decide(p: Planner): Planner {
  const removedContainers = planContainers(p);
  const claimed = planLeftoverMounts(p);
  planDanglingImages(p, removedContainers);
  planUnusedLayers(p, p.found.unusedLayers);
  planDirectories(p, claimed);
  planWriteSets(p);
  return p;
}

export async function planPrune(model: StoreModel, driver: StorageDriver | null, opts: PruneOptions, warnings: Warning[]): Promise<PrunePlan> {
  // Made while df's walk still runs, the plan does not look at what the walk lists (a second stat of
  // every item's directory, competing with the walk for the cores): it decides with what is known and
  // checks once the walk is done. Whatever would differ (something modified within --min-age) is decided
  // again from the start, since each decision changes the reference counts the next ones see.
  const own: Warning[] = [];
  const first = new Planner(model, driver, opts, own, opts.walked !== undefined);
  await first.prefetchDriverPaths();
  let p = decide(first);
  if (p.hasProvisional) {
    await opts.sizes;
    if (!p.confirm()) {
      own.length = 0;
      // Read ahead again: what changed within --min-age may be a layer's links.
      const again = new Planner(model, driver, opts, own, false, p.looks);
      await again.prefetchDriverPaths();
      p = decide(again);
    }
  }
  try {
    await p.finish();
  } finally {
    warnings.push(...own);
  }
  return p.plan;
}
