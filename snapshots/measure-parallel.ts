// Measures a large tree on several threads: the tree is cut into subtrees that worker threads walk while
// the main thread does other work (reading the store); hardlinked inodes are merged so each counts once.
import { isAscii } from 'node:buffer';
import * as fs from 'node:fs';
import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { availableParallelism } from 'node:os';
import { isAbsolute, relative, resolve } from 'node:path';
import { BELOW_STRIDE, nativeHelpers, SCAN_FIELD as SCAN, SCAN_STRIDE, type NativeChildren, type NativeSubtree } from '../native/index.js';
import { displayPath, isUtf8 } from '../native/names.js';
import { runWorker } from '../native/workers.js';
import { addBelow, addSubtree, belowOf, countEntry, emptyUsage, entryOf, mergeSubtree, walkSubtree, type EntryUsage, type MeasureOptions, type SubtreeResult, type TreeUsage } from './measure.js';
import { childPath, pathBytes } from './walk.js';

// Workers (measure-worker.ts) take subtrees from one shared list through an atomic counter, so no thread
// idles while another still has work; the main thread can join in (help) once its own work is done.

/** Subtrees walked so far of all there are (for a progress bar); called on the main thread. */
export type MeasureProgress = (done: number, total: number) => void;

export interface ParallelMeasure {
  /** Resolves once every subtree is measured. */
  result: Promise<TreeUsage>;
  /** The entries asked for (`entriesOf`), each measured apart; resolves with `result`. */
  entries: Promise<MeasuredEntries>;
  /**
   * The same entries as far as the walk has gone: each one's own mtime at once (the walk's first cut
   * lstats them before returning), the rest once `entries` resolves.
   */
  known: MeasuredEntries;
  /** Walks remaining subtrees on this thread too, until none is left (call when otherwise idle). */
  help(): void;
}

/**
 * The entries of the directories a walk was asked about (`entriesOf`), each as measureTree would see it
 * (EntryUsage: counted later against the caller's own seen inodes, so hardlinks count within what the
 * caller measures, not once across the whole tree). Entries the walk did not reach are absent: another
 * filesystem, an entry it could not read, a name that is not UTF-8.
 */
export class MeasuredEntries {
  private readonly root: string;
  private readonly prefix: string;
  /** Directories whose entries the native walk reports one by one (childrenOf), by path below the root. */
  private readonly tables = new Map<string, ChildTable>();
  /** Such directories whose report has not come yet. */
  private readonly awaited = new Set<string>();
  /** Each path's place below the root, worked out once: prune's plan asks about each path three or four times. */
  private readonly rels = new Map<string, string | null>();
  /** Each entry found in a reported table, by its path below the root (null: the table has no such entry). */
  private readonly rows = new Map<string, ChildRow | null>();
  constructor(
    root: string,
    private readonly byRel: ReadonlyMap<string, EntryUsage>,
    private readonly mtimes: WalkMtimes = { own: new Map(), entries: new Map() },
  ) {
    this.root = resolve(root);
    this.prefix = this.root.endsWith('/') ? this.root : `${this.root}/`;
  }

  static none(root: string): MeasuredEntries {
    return new MeasuredEntries(root, new Map());
  }

  get size(): number {
    return this.byRel.size;
  }

  /** The walk will report the entries of `rel` (a directory below the root) one by one. */
  expect(rel: string): void {
    this.awaited.add(rel);
  }

  /** What the walk reported of `rel`'s entries; undefined: it reported nothing (helpers built from older sources). */
  reported(rel: string, children: NativeChildren | undefined, device: number): void {
    this.awaited.delete(rel);
    if (children) this.tables.set(rel, new ChildTable(children, device));
  }

  get(path: string): EntryUsage | undefined {
    if (this.byRel.size === 0 && this.tables.size === 0) return undefined;
    const rel = this.relOf(path);
    if (rel === null) return undefined;
    return this.byRel.get(rel) ?? this.childOf(rel)?.entry();
  }

  /**
   * An entry's own mtime (Node's mtimeMs), when it is one the walk was asked about. 0 for an entry of a
   * directory the walk reports entry by entry, until it has: nothing is known of it yet, but the walk will
   * tell (newest), as it will for the entries asked about.
   */
  ownMtime(path: string): number | undefined {
    if (this.mtimes.own.size === 0 && this.awaited.size === 0) return undefined;
    const rel = this.relOf(path);
    if (rel === null) return undefined;
    const own = this.mtimes.own.get(rel);
    if (own !== undefined || this.awaited.size === 0) return own;
    return this.awaitsDirOf(rel) ? 0 : undefined;
  }

  /** Whether the walk's answer about `path` is still to come (see ownMtime): asking again later may answer. */
  pending(path: string): boolean {
    if (this.awaited.size === 0) return false;
    const rel = this.relOf(path);
    return rel !== null && this.awaitsDirOf(rel);
  }

  /** Whether `rel` is an entry of a directory whose report has not come yet. */
  private awaitsDirOf(rel: string): boolean {
    const slash = rel.lastIndexOf('/');
    return slash > 0 && this.awaited.has(rel.slice(0, slash));
  }

  /**
   * The newest mtime of an entry asked about and, for a directory, of its own entries (what prune's
   * newestMtime looks at), once the walk has listed them; undefined when it did not (a walk in
   * JavaScript reports none: the caller then looks itself).
   */
  newest(path: string): number | undefined {
    if (this.mtimes.entries.size === 0 && this.tables.size === 0) return undefined;
    const rel = this.relOf(path);
    if (rel === null) return undefined;
    const own = this.mtimes.own.get(rel);
    const below = this.mtimes.entries.get(rel);
    if (own !== undefined && below !== undefined) return Math.max(own, below);
    return this.childOf(rel)?.newest();
  }

  /** The reported entry at `rel`, when its directory's entries were reported and it is among them. */
  private childOf(rel: string): ChildRow | undefined {
    if (this.tables.size === 0) return undefined;
    const known = this.rows.get(rel);
    if (known !== undefined) return known ?? undefined;
    const slash = rel.lastIndexOf('/');
    if (slash <= 0) return undefined;
    const table = this.tables.get(rel.slice(0, slash));
    // A table, once reported, stays as it is: what it says of a name can be kept.
    if (!table) return undefined;
    const row = table.row(rel.slice(slash + 1)) ?? null;
    this.rows.set(rel, row);
    return row ?? undefined;
  }

  private relOf(path: string): string | null {
    let rel = this.rels.get(path);
    if (rel === undefined) this.rels.set(path, (rel = relBelow(this.root, this.prefix, path)));
    return rel;
  }
}

/** `path` below `root` (prefix: the root with a trailing slash), or null when it is the root or outside it. */
function relBelow(root: string, prefix: string, path: string): string | null {
  // Paths joined onto the root (path.join) are normal already: only others need resolving.
  const rel = path.startsWith(prefix) && !ODD_PATH.test(path) ? path.slice(prefix.length) : relative(root, resolve(path));
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? null : rel;
}

/** One entry of a ChildTable: what measureTree and prune's look would have found of it. */
interface ChildRow {
  entry(): EntryUsage | undefined;
  newest(): number | undefined;
}

/** The entries of one directory as the native walk reported them (NativeChildren), found by name. */
class ChildTable {
  /** multiLinked's (ino, size, blocks) triples by entry, grouped on first use: scanning all of them per entry costs entries × links. */
  private linksByEntry: Map<number, number[]> | null = null;

  constructor(
    private readonly c: NativeChildren,
    /** The filesystem the walk stays on. */
    private readonly device: number,
  ) {}

  row(name: string): ChildRow | undefined {
    const k = this.indexOf(name);
    if (k === undefined) return undefined;
    const { stats, below } = this.c;
    const o = k * SCAN_STRIDE;
    // Another filesystem: neither measured nor walked into (as the walk's own cut leaves it), so unknown here.
    const elsewhere = stats[o + SCAN.dev] !== this.device;
    const isDir = (stats[o + SCAN.mode] & 0o170000) === 0o040000;
    const ownMtime = stats[o + SCAN.mtimeSec] * 1000 + stats[o + SCAN.mtimeNsec] / 1e6;
    return {
      entry: () => {
        if (elsewhere) return undefined;
        const e: EntryUsage = { ino: stats[o + SCAN.ino], nlink: stats[o + SCAN.nlink], size: stats[o + SCAN.size], blocks: stats[o + SCAN.blocks], dir: isDir, below: null };
        if (isDir) e.below = this.belowOf(k);
        return e;
      },
      newest: () => (elsewhere ? undefined : isDir ? Math.max(ownMtime, below[k * BELOW_STRIDE + 4]) : ownMtime),
    };
  }

  private belowOf(k: number): SubtreeResult {
    const b = this.c.below;
    const o = k * BELOW_STRIDE;
    const r: SubtreeResult = { usage: { apparentBytes: b[o], allocatedBytes: b[o + 1], contentBytes: b[o + 2], entries: b[o + 3] }, multiLinked: [], errors: [] };
    const links = this.linksOf(k);
    if (links) r.multiLinked = links.slice();
    for (const [i, path, message] of this.c.errors) if (i === k) r.errors.push([path, message]);
    return r;
  }

  private linksOf(k: number): number[] | undefined {
    if (this.linksByEntry === null) {
      const byEntry = new Map<number, number[]>();
      const m = this.c.multiLinked;
      for (let i = 0; i < m.length; i += 4) {
        let list = byEntry.get(m[i]);
        if (!list) byEntry.set(m[i], (list = []));
        list.push(m[i + 1], m[i + 2], m[i + 3]);
      }
      this.linksByEntry = byEntry;
    }
    return this.linksByEntry.get(k);
  }

  /** A binary search of the names (the walk sorts them by their bytes), compared byte by byte here: Buffer#compare's checks cost more than the comparison. */
  private indexOf(name: string): number | undefined {
    const { nameBytes: b, nameEnds: ends } = this.c;
    const want = Buffer.from(name);
    let lo = 0;
    let hi = ends.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const start = mid === 0 ? 0 : ends[mid - 1];
      const len = ends[mid] - start;
      const n = len < want.length ? len : want.length;
      let c = 0;
      for (let i = 0; i < n && c === 0; i++) c = b[start + i] - want[i];
      if (c === 0) c = len - want.length;
      if (c === 0) return mid;
      if (c < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }
}

/** Per entry asked about (by its path below the root): its own mtime, and the newest of its own entries' (0: none). */
interface WalkMtimes {
  own: Map<string, number>;
  entries: Map<string, number>;
}

/** A directory still to expand or to walk: its path, its path below the root (null: not UTF-8), and the entries asked about that hold it. */
interface Pending {
  path: Buffer;
  rel: string | null;
  owners: EntryUsage[];
  /** The entry asked about that this directory is (its `below` is then this subtree's result, not a copy). */
  self?: EntryUsage;
  /** Beside the way to a directory asked about, in a directory expanded only for that. */
  aside?: boolean;
  /** Its entries are reported one by one by the native walk (childrenOf). */
  perChild?: boolean;
}

/** The lstat numbers measuring needs (Node's mtimeMs arithmetic): a Stats, or one entry of a scan. */
interface EntryStat {
  ino: number;
  nlink: number;
  size: number;
  blocks: number;
  dev: number;
  mtimeMs: number;
  isDirectory(): boolean;
}

/** One entry of a scan at a time: the same object, moved along (what is kept of it is copied: entryOf). */
class ScanCursor implements EntryStat {
  ino = 0;
  nlink = 0;
  size = 0;
  blocks = 0;
  dev = 0;
  mtimeMs = 0;
  private mode = 0;

  at(f: Float64Array, k: number): this {
    const o = k * SCAN_STRIDE;
    this.mode = f[o + SCAN.mode];
    this.ino = f[o + SCAN.ino];
    this.nlink = f[o + SCAN.nlink];
    this.size = f[o + SCAN.size];
    this.blocks = f[o + SCAN.blocks];
    this.dev = f[o + SCAN.dev];
    this.mtimeMs = f[o + SCAN.mtimeSec] * 1000 + f[o + SCAN.mtimeNsec] / 1e6;
    return this;
  }

  isDirectory(): boolean {
    return (this.mode & 0o170000) === 0o040000;
  }
}

/** A directory's entries: each one's name (bytes, or as text when UTF-8) and lstat (or why it failed). */
interface ListedDir {
  count: number;
  name(k: number): Buffer;
  text(k: number): string | null;
  stat(k: number): EntryStat | Error;
}

/** scanDir's answer: names decoded once for the lot when they are all ASCII (as nearly all are). */
function scannedDir(nameBytes: Buffer, nameEnds: Uint32Array, stats: Float64Array): ListedDir {
  const cursor = new ScanCursor();
  const startOf = (k: number) => (k === 0 ? 0 : nameEnds[k - 1]);
  const name = (k: number) => nameBytes.subarray(startOf(k), nameEnds[k]);
  const ascii = isAscii(nameBytes) ? nameBytes.toString('latin1') : null;
  return {
    count: nameEnds.length,
    name,
    text: (k) => (ascii !== null ? ascii.slice(startOf(k), nameEnds[k]) : utf8Name(name(k))),
    stat: (k) => cursor.at(stats, k),
  };
}

/**
 * A directory's entries with their lstat: one native call where the helpers are built (directories of tens
 * of thousands of layers are expanded on this thread while it also reads the store), else readdir and lstat
 * each. Throws when the directory cannot be listed.
 */
function listWithStats(dir: Buffer): ListedDir {
  const native = nativeHelpers();
  if (native) {
    let scanned: ReturnType<typeof native.scanDir> | null = null;
    try {
      scanned = native.scanDir(dir, false);
    } catch {
      scanned = null; // an entry gone meanwhile, say: listed again below, which says which and why
    }
    if (scanned) return scannedDir(scanned.nameBytes, scanned.nameEnds, scanned.stats);
  }
  const names = readdirSync(dir, { encoding: 'buffer' });
  return {
    count: names.length,
    name: (k) => names[k],
    text: (k) => utf8Name(names[k]),
    stat: (k) => {
      try {
        return lstatSync(childPath(dir, names[k]));
      } catch (err) {
        return err as Error;
      }
    },
  };
}

/** A name as a string when it is UTF-8 (most are ASCII: decoded once, checked only when it holds U+FFFD). */
function utf8Name(name: Buffer): string | null {
  const s = name.toString('utf8');
  return !s.includes('\ufffd') || isUtf8(name) ? s : null;
}

/** A path with "." or ".." components, doubled or trailing slashes: not normal, resolved before it is looked up. */
const ODD_PATH = /\/\/|\/\.\.?(\/|$)|\/$/;

const joinRel = (rel: string, name: string) => (rel === '' ? name : `${rel}/${name}`);

/**
 * Starts measuring `root` (like measureTree: du -sb semantics, one filesystem) on worker threads and
 * returns at once; the caller awaits `result` after doing its own work. With `entriesOf` (directories
 * below the root), every entry of those directories is also measured apart (`entries`), from the same walk.
 */
export function measureTreeInBackground(
  root: string,
  opts: MeasureOptions & { threads?: number; onProgress?: MeasureProgress; entriesOf?: string[]; childrenOf?: string[] } = {},
): ParallelMeasure {
  const threads = Math.max(1, Math.min(opts.threads ?? availableParallelism(), 4));
  const usage = emptyUsage();
  const seen = opts.seenInodes ?? new Set<number>();
  const asked = new Map<string, EntryUsage>();
  const mtimes: WalkMtimes = { own: new Map(), entries: new Map() };
  const known = new MeasuredEntries(root, asked, mtimes);
  const done = (u: TreeUsage) => ({ result: Promise.resolve(u), entries: Promise.resolve(known), known, help() {} });
  let top: Stats;
  try {
    top = lstatSync(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') opts.onError?.(root, err);
    return done(usage);
  }
  countEntry(usage, top, seen);
  if (!top.isDirectory()) return done(usage);

  // The directories whose entries are measured apart, and every directory above them: these are always
  // expanded here, so each such entry is either counted here or the top of a subtree walked whole.
  const tracked = new Set<string>();
  const onTheWay = new Set<string>(['']);
  for (const dir of opts.entriesOf ?? []) {
    const rel = relative(resolve(root), resolve(dir));
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) continue;
    tracked.add(rel);
    for (let i = rel.indexOf('/'); i !== -1; i = rel.indexOf('/', i + 1)) onTheWay.add(rel.slice(0, i));
    onTheWay.add(rel);
  }
  // Directories whose entries the native walk reports one by one, from its own threads (childrenOf):
  // each is a subtree of its own, never expanded here (tens of thousands of entries would hold this
  // thread before the walk starts). Where the walk runs in JavaScript nothing is reported of them.
  const reportedDirs = new Set<string>();
  for (const dir of opts.childrenOf ?? []) {
    const rel = relative(resolve(root), resolve(dir));
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel) || tracked.has(rel)) continue;
    reportedDirs.add(rel);
    for (let i = rel.indexOf('/'); i !== -1; i = rel.indexOf('/', i + 1)) onTheWay.add(rel.slice(0, i));
  }

  // Cut the tree: expand directories breadth-first until there are enough subtrees to share out.
  // Paths are bytes: a directory whose name is not UTF-8 is measured like any other.
  let frontier: Pending[] = [{ path: pathBytes(root), rel: '', owners: [] }];
  const subtrees: Pending[] = [];
  // What a directory expanded only on the way to an asked one holds besides the way (layerdb/sha256
  // beside layerdb/mounts) would have been part of one subtree: such parts, likely large, are walked first.
  const aside: Pending[] = [];
  for (let depth = 0; frontier.length > 0; depth++) {
    const wide = depth < 3 && frontier.length < threads * 64;
    const next: Pending[] = [];
    for (const dir of frontier) {
      if (dir.rel !== null && reportedDirs.has(dir.rel)) {
        dir.perChild = true;
        (dir.aside ? aside : subtrees).push(dir);
        continue;
      }
      if (!wide && !(dir.rel !== null && onTheWay.has(dir.rel))) {
        (dir.aside ? aside : subtrees).push(dir);
        continue;
      }
      const byTheWay = !wide && !(dir.rel !== null && tracked.has(dir.rel));
      let listed: ListedDir;
      try {
        listed = listWithStats(dir.path);
      } catch (err) {
        opts.onError?.(displayPath(dir.path), err);
        for (const o of dir.owners) belowOf(o).errors.push([displayPath(dir.path), (err as Error).message]);
        continue;
      }
      const asks = dir.rel !== null && tracked.has(dir.rel);
      // Paths below the root matter only on the way to the directories asked about, and in them.
      const named = dir.rel !== null && onTheWay.has(dir.rel);
      const withSelf = asks ? dir.owners.length : -1;
      let newest = 0;
      for (let k = 0; k < listed.count; k++) {
        const st = listed.stat(k);
        if (st instanceof Error) {
          const p = displayPath(childPath(dir.path, listed.name(k)));
          opts.onError?.(p, st);
          for (const o of dir.owners) belowOf(o).errors.push([p, st.message]);
          continue;
        }
        // Of every entry, as a look at the directory sees them (other filesystems too).
        newest = Math.max(newest, st.mtimeMs);
        if (st.dev !== top.dev) continue;
        countEntry(usage, st, seen);
        for (const o of dir.owners) addBelow(belowOf(o), st);
        const text = named ? listed.text(k) : null;
        const rel = text !== null ? joinRel(dir.rel!, text) : null;
        if (asks && rel !== null) {
          const e = entryOf(st);
          asked.set(rel, e);
          mtimes.own.set(rel, st.mtimeMs);
          if (!e.dir) mtimes.entries.set(rel, 0);
          else {
            const owners = dir.owners.slice();
            owners[withSelf] = e;
            next.push({ path: childPath(dir.path, listed.name(k)), rel, owners, self: e });
          }
        } else if (st.isDirectory()) next.push({ path: childPath(dir.path, listed.name(k)), rel, owners: dir.owners, aside: byTheWay });
      }
      if (dir.self && dir.rel !== null) mtimes.entries.set(dir.rel, newest);
    }
    frontier = next;
  }
  subtrees.unshift(...aside);
  const total = subtrees.length;
  const progress = opts.onProgress ?? (() => {});
  /** A subtree's result: into the total, and into every entry asked about above it. */
  const merge = (i: number, r: SubtreeResult) => {
    mergeSubtree(usage, r, seen, opts.onError);
    const { owners, self, rel } = subtrees[i];
    // An entry asked about that is a subtree's top was not expanded: what is below it is the result itself.
    for (const o of owners) {
      if (o === self) o.below = r;
      else addSubtree(belowOf(o), r);
    }
    // The native walker reports the newest mtime of the top's own entries (the JavaScript walk does not).
    const newest = (r as Partial<NativeSubtree>).newest;
    if (self && rel !== null && typeof newest === 'number') mtimes.entries.set(rel, newest);
    if (subtrees[i].perChild && rel !== null) known.reported(rel, (r as Partial<NativeSubtree>).children, top.dev);
  };
  const finished = (result: Promise<TreeUsage>, help: () => void = () => {}): ParallelMeasure => ({
    result,
    entries: result.then(() => known),
    known,
    help,
  });
  // A small tree is walked here: starting threads would cost more than they save.
  if (subtrees.length < threads * 16) {
    subtrees.forEach((dir, i) => {
      merge(i, walkSubtree(fs, dir.path, top.dev));
      progress(i + 1, total);
    });
    return done(usage);
  }

  // The native walker runs its own threads (fstatat relative to each directory, no JavaScript per entry).
  // It takes its directories as UTF-8 strings: one whose path is not UTF-8 is walked here instead.
  const native = nativeHelpers();
  if (native) {
    const indices = subtrees.map((_, i) => i);
    const here = indices.filter((i) => !isUtf8(subtrees[i].path));
    const there = indices.filter((i) => isUtf8(subtrees[i].path));
    for (const i of there) if (subtrees[i].perChild && subtrees[i].rel !== null) known.expect(subtrees[i].rel!);
    // The native walk reports only when done: with a progress callback it is asked for in batches.
    const batch = opts.onProgress ? Math.max(threads * 8, Math.ceil(there.length / 32)) : there.length;
    const walkBatches = async () => {
      for (let i = 0; i < there.length; i += batch) {
        const part = there.slice(i, i + batch);
        const results = await native.walkSubtrees(
          part.map((k) => subtrees[k].path.toString('utf8')),
          top.dev,
          threads,
          part.map((k) => subtrees[k].perChild === true),
        );
        results.forEach((r, j) => merge(part[j], r));
        progress(Math.min(i + batch, there.length), total);
      }
      for (const k of here) merge(k, walkSubtree(fs, subtrees[k].path, top.dev));
      progress(total, total);
      return usage;
    };
    return finished(walkBatches());
  }
  const counter = new SharedArrayBuffer(4);
  const next = new Int32Array(counter);
  const device = top.dev;
  const dirs = subtrees.map((d) => d.path);
  const jobs = Array.from(
    { length: threads },
    () =>
      runWorker<Array<SubtreeResult & { index: number }>>('measure-worker', { dirs, device, counter }),
  );
  const mine: Array<SubtreeResult & { index: number }> = [];
  // The shared counter says how many subtrees were taken: close enough to done for a progress bar.
  const taken = () => Math.min(Atomics.load(next, 0), total);
  const ticker = opts.onProgress ? setInterval(() => progress(taken(), total), 100) : null;
  return finished(
    Promise.all(jobs)
      .then((all) => {
        for (const results of all) for (const r of results) merge(r.index, r);
        for (const r of mine) merge(r.index, r);
        progress(total, total);
        return usage;
      })
      .finally(() => {
        if (ticker) clearInterval(ticker);
      }),
    () => {
      for (let i = Atomics.add(next, 0, 1); i < dirs.length; i = Atomics.add(next, 0, 1)) {
        mine.push({ ...walkSubtree(fs, dirs[i], device), index: i });
        progress(taken(), total);
      }
    },
  );
}

/**
 * Measures each of `paths` apart (EntryUsage, as measureTree sees it), their directories walked on the
 * native walker's threads: for the items of a plan, which are many and mostly small. A missing path maps
 * to null, one that cannot be read to its Error; each directory stays on its own filesystem.
 */
export async function measureEntries(paths: readonly string[], opts: { threads?: number } = {}): Promise<Map<string, EntryUsage | Error | null>> {
  const threads = Math.max(1, Math.min(opts.threads ?? availableParallelism(), 4));
  const out = new Map<string, EntryUsage | Error | null>();
  const byDevice = new Map<number, Array<[string, EntryUsage]>>();
  for (const p of paths) {
    if (out.has(p)) continue;
    let st: Stats;
    try {
      st = lstatSync(p);
    } catch (err) {
      out.set(p, (err as NodeJS.ErrnoException).code === 'ENOENT' ? null : (err as Error));
      continue;
    }
    const e = entryOf(st);
    out.set(p, e);
    if (!e.dir) continue;
    const list = byDevice.get(st.dev) ?? [];
    list.push([p, e]);
    byDevice.set(st.dev, list);
  }
  const native = nativeHelpers();
  for (const [device, dirs] of byDevice) {
    // A few directories are walked here: starting threads would cost more than they save.
    if (!native || dirs.length < threads * 4) {
      for (const [p, e] of dirs) e.below = walkSubtree(fs, p, device);
      continue;
    }
    const results = await native.walkSubtrees(dirs.map(([p]) => p), device, threads);
    results.forEach((r, i) => (dirs[i][1].below = r));
  }
  return out;
}
