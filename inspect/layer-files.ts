// The files of an image's layers, for the TUI's files pane: one layer's own changes, or the merged
// filesystem up to that layer (dive's aggregated view), listed one directory at a time.
//
// Each layer is read once into a compact index of its entries (names as bytes, kept as 'latin1' strings:
// one char a byte, so they compare in byte order): from its tar-split when layerdb kept one (metadata
// only, exact, the same whatever the driver), else from the driver one directory at a time
// (listDirectory). Both are asynchronous and yield to the event loop between chunks and directories.
//
// Semantics (Docker's layer tars): ".wh.NAME" deletes NAME and everything below it, ".wh..wh..opq" in a
// directory hides every lower entry of it, a later non-directory replaces a directory. An entry the
// selected layer has is "added" when its path is absent from the filesystem just below the layer, else
// "changed"; what was there below and is gone at the layer is "deleted" (whited out, hidden by an opaque
// directory, or under a directory that was replaced). A directory's size is the bytes of the regular files
// below it in that view (the layer view: the files the layer added or changed). A hard link counts 0 bytes:
// its bytes are counted once, at the file it links to.
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { exactBatches } from '../drivers/archive/assemble.js';
import { isHeaderOnlyType, parseNumeric, parsePaxRecords } from '../drivers/archive/tar-reader.js';
import { AUFS_META_PREFIX, OPAQUE_MARKER, WHITEOUT_PREFIX } from '../drivers/archive/whiteout.js';
import type { DirectoryChange, LayerRef, StorageDriver } from '../drivers/types.js';
import { StrataError } from '../native/errors.js';
import { tarSplitPath } from './docker/layerdb.js';
import type { Image, StoreModel } from './model.js';
import { errorMessage, type Warning } from './warnings.js';

export type FileMark = 'added' | 'changed' | 'deleted' | null;
export type FileKind = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo' | 'socket';

export interface FileEntry {
  /** Base name, bytes. */
  name: Buffer;
  /** Path from the root, no leading '/', bytes ('' is the root). */
  path: Buffer;
  kind: FileKind;
  /** st_mode: type and permission bits. */
  mode: number;
  uid: number;
  gid: number;
  /** A file's bytes; a directory: bytes of every file below it in this view (a deleted one: what it held). */
  size: number;
  /** Symlink / hardlink target. */
  linkTarget: Buffer | null;
  /** Relative to the selected layer; null: unchanged (merged view only). */
  mark: FileMark;
  /** A directory this layer made opaque (its lower contents hidden). */
  opaque: boolean;
  /** A directory with entries in this view. */
  hasChildren: boolean;
}

export interface FileListing {
  /** Immediate entries of directory `dir` ('' = root) in this view, sorted by name bytes. Cached per directory. */
  list(dir: Buffer): Promise<FileEntry[]>;
  /** Totals of the view once known (files: entries that are not directories; bytes: regular files'). */
  totals(): Promise<{ files: number; bytes: number }>;
}

export interface LayerFilesSource {
  model: StoreModel;
  driver: StorageDriver | null;
  warnings: Warning[];
}

// ---- one layer's index ----

type EntryKind = FileKind | 'whiteout';

interface RawEntry {
  kind: EntryKind;
  /** Permission bits (and setuid/setgid/sticky). */
  perm: number;
  uid: number;
  gid: number;
  size: number;
  link: Buffer | null;
  opaque: boolean;
  /** A directory the layer has only because it has entries below it (no entry of its own). */
  implicit: boolean;
}

interface Totals {
  files: number;
  bytes: number;
}

const ZERO: Totals = { files: 0, bytes: 0 };

const parentOf = (path: string) => {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
};
const baseOf = (path: string) => path.slice(path.lastIndexOf('/') + 1);
const join = (dir: string, name: string) => (dir === '' ? name : `${dir}/${name}`);

const implicitDir = (): RawEntry => ({ kind: 'dir', perm: 0o755, uid: 0, gid: 0, size: 0, link: null, opaque: false, implicit: true });

/** The entries of one layer, by directory. Keys are 'latin1' strings of the path bytes. */
export class LayerIndex {
  /** Directory → its entries (whiteouts included, as kind 'whiteout' under the name they delete). */
  readonly dirs = new Map<string, Map<string, RawEntry>>([['', new Map()]]);
  /** Directory → the files and bytes this layer has below it (filled by finish). */
  private subtree = new Map<string, Totals>();

  entry(path: string): RawEntry | undefined {
    if (path === '') return undefined;
    return this.dirs.get(parentOf(path))?.get(baseOf(path));
  }

  private ensureDir(dir: string): Map<string, RawEntry> {
    let map = this.dirs.get(dir);
    if (map) return map;
    const parent = this.ensureDir(parentOf(dir));
    const existing = parent.get(baseOf(dir));
    if (!existing || existing.kind !== 'dir') parent.set(baseOf(dir), implicitDir());
    map = new Map();
    this.dirs.set(dir, map);
    return map;
  }

  /** An entry of the layer at `path` (later entries of the same path replace earlier ones, as applying does). */
  add(path: string, e: RawEntry): void {
    const parent = this.ensureDir(parentOf(path));
    const base = baseOf(path);
    const existing = parent.get(base);
    if (e.kind === 'dir') {
      if (existing?.kind === 'dir') e.opaque ||= existing.opaque;
      parent.set(base, e);
      if (!this.dirs.has(path)) this.dirs.set(path, new Map());
      return;
    }
    if (existing?.kind === 'dir') this.dropBelow(path);
    parent.set(base, e);
  }

  markOpaque(dir: string): void {
    if (dir === '') return; // the root hides nothing: there is no lower root to hide
    this.ensureDir(dir);
    this.entry(dir)!.opaque = true;
  }

  private dropBelow(dir: string): void {
    const prefix = `${dir}/`;
    for (const key of [...this.dirs.keys()]) if (key === dir || key.startsWith(prefix)) this.dirs.delete(key);
  }

  /** Sums files and bytes below every directory. */
  finish(): void {
    this.subtree = new Map();
    for (const dir of this.dirs.keys()) this.subtree.set(dir, { files: 0, bytes: 0 });
    for (const [dir, entries] of this.dirs) {
      let files = 0;
      let bytes = 0;
      for (const e of entries.values()) {
        if (e.kind === 'dir' || e.kind === 'whiteout') continue;
        files++;
        if (e.kind === 'file') bytes += e.size;
      }
      if (files === 0) continue;
      for (let d: string | null = dir; d !== null; d = d === '' ? null : parentOf(d)) {
        const t = this.subtree.get(d)!;
        t.files += files;
        t.bytes += bytes;
      }
    }
  }

  /** Files and bytes this layer has below `dir`. */
  below(dir: string): Totals {
    return this.subtree.get(dir) ?? ZERO;
  }

  /** Whether the layer has any entry below `dir` (whiteouts count: they change what is there). */
  touchesBelow(dir: string): boolean {
    const map = this.dirs.get(dir);
    return map !== undefined && map.size > 0;
  }
}

// ---- reading a tar-split ----

const BLOCK = 512;
const padOf = (n: number) => (BLOCK - (n % BLOCK)) % BLOCK;
const USTAR = Buffer.from('ustar\0', 'latin1');

function cString(b: Buffer, start: number, width: number): Buffer {
  const field = b.subarray(start, start + width);
  const nul = field.indexOf(0);
  return nul < 0 ? field : field.subarray(0, nul);
}

function headerNumber(block: Buffer, start: number, width: number, what: string): number {
  const n = parseNumeric(block.subarray(start, start + width));
  if (n === null || n < 0n || n > BigInt(Number.MAX_SAFE_INTEGER)) throw new StrataError(`a tar header with a bad ${what} field`);
  return Number(n);
}

function checksumOk(block: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i];
  const stored = parseNumeric(block.subarray(148, 156));
  return stored !== null && Number(stored) === sum;
}

/** A path as the layer has it: no leading "./" or "/", no trailing "/"; '' for the root itself. */
function cleanName(name: Buffer): string {
  let s = name.toString('latin1');
  for (;;) {
    if (s.startsWith('./')) s = s.slice(2);
    else if (s.startsWith('/')) s = s.slice(1);
    else break;
  }
  while (s.endsWith('/')) s = s.slice(0, -1);
  return s === '.' ? '' : s;
}

const KIND_OF_TYPE: Record<string, FileKind> = { '0': 'file', '\0': 'file', '7': 'file', '1': 'hardlink', '2': 'symlink', '3': 'char', '4': 'block', '5': 'dir', '6': 'fifo' };

/**
 * Reads the tar headers out of a tar-split's segments (the raw bytes of the original tar without file
 * contents: a file's header is followed by its padding only). Fed chunk by chunk; calls `onEntry` for
 * every entry as Go's archive/tar would give it (PAX records and GNU long names applied).
 */
class HeaderWalker {
  private rest: Buffer = Buffer.alloc(0);
  private skip = 0;
  private pax: Map<string, Buffer> | null = null;
  private longName: Buffer | null = null;
  private longLink: Buffer | null = null;
  ended = false;

  constructor(private readonly onEntry: (name: Buffer, kind: FileKind, perm: number, uid: number, gid: number, size: number, link: Buffer | null) => void) {}

  push(chunk: Buffer): void {
    if (this.ended) return;
    let buf = this.rest.length > 0 ? Buffer.concat([this.rest, chunk]) : chunk;
    let at = 0;
    for (;;) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, buf.length - at);
        this.skip -= n;
        at += n;
        if (this.skip > 0) break;
      }
      if (buf.length - at < BLOCK) break;
      const block = buf.subarray(at, at + BLOCK);
      if (block.every((x) => x === 0)) {
        this.ended = true;
        break;
      }
      if (!checksumOk(block)) throw new StrataError(`a tar header at segment byte ${at} has a bad checksum`);
      const type = String.fromCharCode(block[156]);
      const size = headerNumber(block, 124, 12, 'size');
      if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
        const stored = size + padOf(size);
        if (buf.length - at < BLOCK + stored) break; // its body comes with the next chunk
        const body = buf.subarray(at + BLOCK, at + BLOCK + size);
        at += BLOCK + stored;
        if (type === 'x') this.pax = parsePaxRecords(body, cString(block, 0, 100));
        else if (type === 'L') this.longName = Buffer.from(cString(body, 0, body.length));
        else if (type === 'K') this.longLink = Buffer.from(cString(body, 0, body.length));
        continue; // 'g': Go applies a global header to nothing
      }
      at += BLOCK;
      if (type === 'S' || [...(this.pax?.keys() ?? [])].some((k) => k.startsWith('GNU.sparse.'))) throw new StrataError('has a sparse file entry, which the files view does not read');
      let name: Buffer = cString(block, 0, 100);
      if (block.subarray(257, 263).equals(USTAR)) {
        const prefix = cString(block, 345, 155);
        if (prefix.length > 0) name = Buffer.concat([prefix, Buffer.from('/'), name]);
      }
      let link: Buffer = cString(block, 157, 100);
      let realSize = size;
      let uid = headerNumber(block, 108, 8, 'uid');
      let gid = headerNumber(block, 116, 8, 'gid');
      if (this.longName) name = this.longName;
      if (this.longLink) link = this.longLink;
      const pax = this.pax;
      if (pax) {
        const num = (k: string) => {
          const v = pax.get(k);
          return v && /^[0-9]+$/.test(v.toString('latin1')) ? Number(v.toString('latin1')) : null;
        };
        name = pax.get('path') ?? name;
        link = pax.get('linkpath') ?? link;
        realSize = num('size') ?? realSize;
        uid = num('uid') ?? uid;
        gid = num('gid') ?? gid;
      }
      this.pax = this.longName = this.longLink = null;
      const perm = headerNumber(block, 100, 8, 'mode') & 0o7777;
      let kind = KIND_OF_TYPE[type] ?? 'file';
      if (type === '\0' && name[name.length - 1] === 0x2f) kind = 'dir';
      const stored = isHeaderOnlyType(type) ? 0 : realSize;
      this.skip = padOf(stored); // the content itself is not in the segments
      this.onEntry(name, kind, perm, uid, gid, kind === 'file' ? realSize : 0, kind === 'symlink' || kind === 'hardlink' ? Buffer.from(link) : null);
    }
    this.rest = Buffer.from(buf.subarray(Math.min(at, buf.length)));
  }
}

/** Adds one tar entry (a Docker layer tar's, whiteouts as .wh. names) to a layer index. */
function addTarEntry(index: LayerIndex, nameBytes: Buffer, kind: FileKind, perm: number, uid: number, gid: number, size: number, link: Buffer | null): void {
  const path = cleanName(nameBytes);
  if (path === '') return;
  const base = baseOf(path);
  if (base.startsWith(WHITEOUT_PREFIX)) {
    if (base === OPAQUE_MARKER) index.markOpaque(parentOf(path));
    else if (!base.startsWith(AUFS_META_PREFIX)) index.add(join(parentOf(path), base.slice(WHITEOUT_PREFIX.length)), { kind: 'whiteout', perm: 0, uid: 0, gid: 0, size: 0, link: null, opaque: false, implicit: false });
    return;
  }
  const target = kind === 'hardlink' && link ? Buffer.from(cleanName(link), 'latin1') : link;
  index.add(path, { kind, perm, uid, gid, size, link: target, opaque: false, implicit: false });
}

/** A layer's index from its tar-split.json.gz. */
export async function indexFromTarSplit(path: string): Promise<LayerIndex> {
  const index = new LayerIndex();
  const walker = new HeaderWalker((name, kind, perm, uid, gid, size, link) => addTarEntry(index, name, kind, perm, uid, gid, size, link));
  for await (const batch of exactBatches(path)) {
    walker.push(batch.segments);
    await yieldToLoop();
  }
  index.finish();
  return index;
}

/** A layer's index from the driver, one directory at a time. */
export async function indexFromDriver(driver: StorageDriver, ref: LayerRef): Promise<LayerIndex> {
  const index = new LayerIndex();
  const queue: string[] = [''];
  while (queue.length > 0) {
    const dir = queue.shift()!;
    const changes: DirectoryChange[] = await driver.listDirectory(ref, Buffer.from(dir, 'latin1'));
    for (const c of changes) {
      const path = join(dir, c.name.toString('latin1'));
      if (c.kind === 'whiteout') {
        index.add(path, { kind: 'whiteout', perm: 0, uid: 0, gid: 0, size: 0, link: null, opaque: false, implicit: false });
        continue;
      }
      if (c.kind === 'dir') queue.push(path);
      if (c.unchanged) continue; // created implicitly should anything below it be a change
      index.add(path, { kind: c.kind, perm: c.mode & 0o7777, uid: c.uid, gid: c.gid, size: c.size, link: c.linkTarget, opaque: false, implicit: false });
      if (c.opaque) index.markOpaque(path);
    }
  }
  index.finish();
  return index;
}

// ---- loading layers, cached per source ----

interface LoadedLayer {
  index: Promise<LayerIndex>;
}

const loadedBySource = new WeakMap<LayerFilesSource, Map<string, LoadedLayer>>();

function layerRefOf(model: StoreModel, chainId: string): LayerRef {
  const layer = model.layers.get(chainId);
  if (!layer) throw new StrataError(`layer ${chainId} is not in layerdb`);
  if (layer.cacheId === null) throw new StrataError(`the cache-id of layer ${chainId} could not be read`);
  const parent = layer.parent === null ? null : model.layers.get(layer.parent);
  if (layer.parent !== null && (!parent || parent.cacheId === null)) throw new StrataError(`the parent of layer ${chainId} could not be read`);
  return { cacheId: layer.cacheId, parentCacheId: parent?.cacheId ?? null };
}

/** The index of layer `chainId`: read once per source, however many views ask. */
function loadLayer(src: LayerFilesSource, chainId: string): Promise<LayerIndex> {
  let cache = loadedBySource.get(src);
  if (!cache) {
    cache = new Map();
    loadedBySource.set(src, cache);
  }
  const hit = cache.get(chainId);
  if (hit) return hit.index;
  const index = (async () => {
    const split = tarSplitPath(src.model, chainId);
    if (split !== null) {
      try {
        return await indexFromTarSplit(split);
      } catch (err) {
        const message = `unreadable tar-split: ${err instanceof StrataError ? err.reason : errorMessage(err)}`;
        src.warnings.push({ file: split, message });
        throw new StrataError(message, { file: split });
      }
    }
    const { driver } = src;
    if (!driver) throw new StrataError(`layer ${chainId} has no tar-split, and no storage driver was opened to read its files`);
    try {
      return await indexFromDriver(driver, layerRefOf(src.model, chainId));
    } catch (err) {
      const error = err instanceof StrataError ? err : new StrataError(errorMessage(err), { file: driver.contentDir(src.model.layers.get(chainId)?.cacheId ?? chainId) });
      src.warnings.push({ file: error.file ?? chainId, message: error.reason });
      throw error;
    }
  })();
  index.catch(() => {}); // the views report it; an unawaited rejection must not end the process
  cache.set(chainId, { index });
  return index;
}

// ---- the merged stack ----

/** Where a directory stands in one layer, for the layers below it. */
const enum Probe {
  /** The layer says nothing about it: look further down. */
  None,
  /** It is a directory in this layer, and the layers below still show through. */
  Dir,
  /** A directory in this layer that hides everything below it (opaque, or under an opaque directory). */
  DirStop,
  /** Not in this layer, but the layers below are hidden here (an opaque directory above it). */
  Stop,
  /** Deleted or replaced by a non-directory here (itself or a directory above it). */
  Gone,
}

interface Visible {
  entry: RawEntry;
  /** Its metadata (an implicit directory takes the nearest real one below). */
  meta: RawEntry;
  layer: number;
}

/** The filesystems after each of an image's layers, computed per directory on demand and cached. */
class Stack {
  private visibleCache = new Map<string, number[] | null>();
  private dirCache = new Map<string, Map<string, Visible> | null>();
  private totalsCache = new Map<string, Totals>();

  constructor(readonly layers: LayerIndex[]) {}

  private probe(layer: LayerIndex, dir: string): Probe {
    if (dir === '') return Probe.Dir;
    let hidden = false;
    for (let at = dir.indexOf('/'); at >= 0; at = dir.indexOf('/', at + 1)) {
      const e = layer.entry(dir.slice(0, at));
      if (!e) continue;
      if (e.kind !== 'dir') return Probe.Gone;
      if (e.opaque) hidden = true;
    }
    const e = layer.entry(dir);
    if (e) {
      if (e.kind !== 'dir') return Probe.Gone;
      return e.opaque || hidden ? Probe.DirStop : Probe.Dir;
    }
    return hidden ? Probe.Stop : Probe.None;
  }

  /** The layers (top first) whose entries of `dir` show after layer k; null when it is no directory then. */
  visible(dir: string, k: number): number[] | null {
    const key = `${k}\0${dir}`;
    const hit = this.visibleCache.get(key);
    if (hit !== undefined) return hit;
    const out: number[] = [];
    for (let j = k; j >= 0; j--) {
      const p = this.probe(this.layers[j], dir);
      if (p === Probe.None) continue;
      if (p === Probe.Gone || p === Probe.Stop) break;
      out.push(j);
      if (p === Probe.DirStop) break;
    }
    const result = out.length > 0 || dir === '' ? out : null;
    this.visibleCache.set(key, result);
    return result;
  }

  /** The entries of `dir` after layer k (k < 0: before the first layer), by name; null: not a directory then. */
  dir(dir: string, k: number): Map<string, Visible> | null {
    if (k < 0) return dir === '' ? new Map() : null;
    const key = `${k}\0${dir}`;
    const hit = this.dirCache.get(key);
    if (hit !== undefined) return hit;
    const vis = this.visible(dir, k);
    let out: Map<string, Visible> | null = null;
    if (vis !== null) {
      out = new Map();
      const seen = new Set<string>();
      for (let v = 0; v < vis.length; v++) {
        const entries = this.layers[vis[v]].dirs.get(dir);
        if (!entries) continue;
        for (const [name, entry] of entries) {
          if (seen.has(name)) continue;
          seen.add(name);
          if (entry.kind === 'whiteout') continue;
          let meta = entry;
          if (entry.implicit) {
            for (let w = v + 1; w < vis.length; w++) {
              const lower = this.layers[vis[w]].dirs.get(dir)?.get(name);
              if (!lower) continue;
              if (lower.kind === 'dir' && !lower.implicit) meta = lower;
              if (lower.kind !== 'dir' || !lower.implicit) break;
            }
          }
          out.set(name, { entry, meta, layer: vis[v] });
        }
      }
    }
    this.dirCache.set(key, out);
    return out;
  }

  /** Files and bytes below `dir` after layer k. */
  totals(dir: string, k: number): Totals {
    if (k < 0) return ZERO;
    const key = `${k}\0${dir}`;
    const hit = this.totalsCache.get(key);
    if (hit) return hit;
    let out: Totals = ZERO;
    const vis = this.visible(dir, k);
    if (vis !== null) {
      const touching = vis.filter((j) => this.layers[j].touchesBelow(dir));
      if (touching.length === 1) out = this.layers[touching[0]].below(dir);
      else if (touching.length > 1) {
        let files = 0;
        let bytes = 0;
        for (const [name, v] of this.dir(dir, k)!) {
          if (v.entry.kind === 'dir') {
            const t = this.totals(join(dir, name), k);
            files += t.files;
            bytes += t.bytes;
          } else {
            files++;
            if (v.entry.kind === 'file') bytes += v.entry.size;
          }
        }
        out = { files, bytes };
      }
    }
    this.totalsCache.set(key, out);
    return out;
  }
}

const stacksBySource = new WeakMap<LayerFilesSource, Map<string, Promise<Stack>>>();

/** The stack of `image`'s layers 0…layerIndex (shared by every view of that image and depth). */
function stackOf(src: LayerFilesSource, image: Image, layerIndex: number): Promise<Stack> {
  if (!Number.isInteger(layerIndex) || layerIndex < 0 || layerIndex >= image.chainIds.length) {
    return Promise.reject(new StrataError(`image ${image.id} has no layer ${layerIndex} (it has ${image.chainIds.length})`));
  }
  let cache = stacksBySource.get(src);
  if (!cache) {
    cache = new Map();
    stacksBySource.set(src, cache);
  }
  const chain = image.chainIds.slice(0, layerIndex + 1);
  const key = chain.join(' ');
  let stack = cache.get(key);
  if (!stack) {
    stack = Promise.all(chain.map((id) => loadLayer(src, id))).then((layers) => new Stack(layers));
    stack.catch(() => {});
    cache.set(key, stack);
  }
  return stack;
}

// ---- the views ----

const TYPE_BITS: Record<FileKind, number> = { file: 0o100000, hardlink: 0o100000, dir: 0o040000, symlink: 0o120000, char: 0o020000, block: 0o060000, fifo: 0o010000, socket: 0o140000 };

function fileEntry(dir: string, name: string, meta: RawEntry, fields: { mark: FileMark; size: number; opaque: boolean; hasChildren: boolean }): FileEntry {
  const kind = meta.kind === 'whiteout' ? 'file' : meta.kind;
  return {
    name: Buffer.from(name, 'latin1'),
    path: Buffer.from(join(dir, name), 'latin1'),
    kind,
    mode: meta.kind === 'whiteout' ? 0 : TYPE_BITS[kind] | meta.perm,
    uid: meta.uid,
    gid: meta.gid,
    size: fields.size,
    linkTarget: meta.link,
    mark: fields.mark,
    opaque: fields.opaque,
    hasChildren: fields.hasChildren,
  };
}

const nonEmpty = (m: Map<string, Visible> | null) => m !== null && m.size > 0;

/**
 * Directory `dir` of the merged view at layer i: what is there after layer i (marked where layer i made
 * it so), and what was there before it and is gone (deleted). `layerOnly` keeps the layer's own changes
 * and sizes directories by the layer's own files.
 */
function listMerged(stack: Stack, i: number, dir: string, layerOnly: boolean): FileEntry[] {
  const top = stack.layers[i];
  const cur = stack.dir(dir, i);
  const prev = stack.dir(dir, i - 1);
  const own = stack.visible(dir, i)?.[0] === i ? top.dirs.get(dir) : undefined;
  const out: Array<[string, FileEntry]> = [];
  if (cur) {
    for (const [name, v] of cur) {
      const mine = v.layer === i;
      if (layerOnly && !mine) continue;
      const path = join(dir, name);
      const isDir = v.entry.kind === 'dir';
      const opaque = mine && v.entry.opaque;
      let size: number;
      let hasChildren = false;
      if (isDir) {
        size = layerOnly ? top.below(path).bytes : stack.totals(path, i).bytes;
        hasChildren = layerOnly ? top.touchesBelow(path) || (opaque && nonEmpty(stack.dir(path, i - 1))) : nonEmpty(stack.dir(path, i)) || nonEmpty(stack.dir(path, i - 1)) || top.touchesBelow(path);
      } else size = v.entry.kind === 'file' ? v.entry.size : 0;
      out.push([name, fileEntry(dir, name, v.meta, { mark: mine ? (prev?.has(name) ? 'changed' : 'added') : null, size, opaque, hasChildren })]);
    }
  }
  if (prev) {
    for (const [name, v] of prev) {
      if (cur?.has(name)) continue;
      const path = join(dir, name);
      const isDir = v.entry.kind === 'dir';
      const size = isDir ? stack.totals(path, i - 1).bytes : v.entry.kind === 'file' ? v.entry.size : 0;
      out.push([name, fileEntry(dir, name, v.meta, { mark: 'deleted', size, opaque: false, hasChildren: isDir && nonEmpty(stack.dir(path, i - 1)) })]);
    }
  }
  if (own) {
    // whiteouts of names nothing below has: still the layer's entries
    for (const [name, e] of own) {
      if (e.kind !== 'whiteout' || prev?.has(name) || cur?.has(name)) continue;
      out.push([name, fileEntry(dir, name, e, { mark: 'deleted', size: 0, opaque: false, hasChildren: false })]);
    }
  }
  out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return out.map(([, e]) => e);
}

function makeListing(src: LayerFilesSource, image: Image, layerIndex: number, layerOnly: boolean): FileListing {
  const lists = new Map<string, Promise<FileEntry[]>>();
  let totals: Promise<{ files: number; bytes: number }> | null = null;
  return {
    list(dir: Buffer): Promise<FileEntry[]> {
      const key = cleanName(dir);
      let hit = lists.get(key);
      if (!hit) {
        hit = stackOf(src, image, layerIndex).then((stack) => listMerged(stack, layerIndex, key, layerOnly));
        hit.catch(() => {});
        lists.set(key, hit);
      }
      return hit;
    },
    totals() {
      totals ??= stackOf(src, image, layerIndex).then((stack) => {
        const t = layerOnly ? stack.layers[layerIndex].below('') : stack.totals('', layerIndex);
        return { files: t.files, bytes: t.bytes };
      });
      return totals;
    },
  };
}

/** The selected layer's own changes: added / changed / deleted entries (whiteouts, opaque dirs understood). */
export function layerChanges(src: LayerFilesSource, image: Image, layerIndex: number): FileListing {
  return makeListing(src, image, layerIndex, true);
}

/**
 * The merged filesystem of `image` up to and including layer `layerIndex` (dive's aggregated view); entries
 * the selected layer added/changed/deleted carry their mark, others mark null; deleted ones stay listed.
 */
export function mergedView(src: LayerFilesSource, image: Image, layerIndex: number): FileListing {
  return makeListing(src, image, layerIndex, false);
}

/** For wasted-space.ts: the layer indexes of an image (rejects for a layer that cannot be read). */
export function layerIndexOf(src: LayerFilesSource, chainId: string): Promise<LayerIndex> {
  return loadLayer(src, chainId);
}

export type { RawEntry as LayerIndexEntry };
