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
import { isHeaderOnlyType, parseNumeric } from '../drivers/archive/tar-reader.js';
import { AUFS_META_PREFIX, OPAQUE_MARKER, WHITEOUT_PREFIX } from '../drivers/archive/whiteout.js';
import type { DirectoryChange, LayerRef, StorageDriver } from '../drivers/types.js';
import { StrataError } from '../native/errors.js';
import { nativeHelpers } from '../native/index.js';
import { tarSplitPath } from './tar-split-path.js';
import { indexFromTarSplitCached } from './layer-index-cache.js';
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

/** LayerIndex.toColumns' shape. */
export interface LayerIndexColumns {
  dirs: string[];
  /** Entries of each directory, in dirs' order; the entries follow one directory after another. */
  counts: number[];
  names: string[];
  kinds: string[];
  /** perm, uid, gid, size, flags (1 opaque, 2 implicit) per entry. */
  numbers: Float64Array;
  links: Array<Buffer | null>;
}

const ZERO: Totals = { files: 0, bytes: 0 };

const ENTRY_KINDS: ReadonlySet<string> = new Set(['file', 'dir', 'symlink', 'hardlink', 'char', 'block', 'fifo', 'socket', 'whiteout']);

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
  /** Read through a driver that could not tell which directories are opaque. */
  opaqueUnknown = false;
  /** Directories that could not be listed (read through a driver), with the error to show for each. */
  readonly errors = new Map<string, StrataError>();
  /** Directory → the files and bytes this layer has below it (filled by finish). */
  private subtree = new Map<string, Totals>();

  entry(path: string): RawEntry | undefined {
    if (path === '') return undefined;
    return this.dirs.get(parentOf(path))?.get(baseOf(path));
  }

  /** Records that the layer has directory `dir` (an implicit one, unless it has an entry already). */
  touchDir(dir: string): void {
    this.ensureDir(dir);
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
    this.addIn(parentOf(path), baseOf(path), e);
  }

  /** add, for entry `base` of directory `dir`. */
  addIn(dir: string, base: string, e: RawEntry): void {
    const parent = this.ensureDir(dir);
    const path = join(dir, base);
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

  /**
   * The index as plain columns (layer-index-cache.ts keeps it): per directory its key and entry count, per
   * entry its name and fields. Only for an index read from a tar-split (no errors, opacity known).
   */
  toColumns(): LayerIndexColumns {
    const dirs: string[] = [];
    const counts: number[] = [];
    const names: string[] = [];
    const kinds: EntryKind[] = [];
    const numbers: number[] = [];
    const links: Array<Buffer | null> = [];
    for (const [dir, entries] of this.dirs) {
      dirs.push(dir);
      counts.push(entries.size);
      for (const [name, e] of entries) {
        names.push(name);
        kinds.push(e.kind);
        numbers.push(e.perm, e.uid, e.gid, e.size, (e.opaque ? 1 : 0) | (e.implicit ? 2 : 0));
        links.push(e.link);
      }
    }
    return { dirs, counts, names, kinds, numbers: Float64Array.from(numbers), links };
  }

  /** An index from toColumns' columns; null when they do not fit together. */
  static fromColumns(c: LayerIndexColumns): LayerIndex | null {
    if (!c.kinds.every((kind) => ENTRY_KINDS.has(kind))) return null;
    if (c.dirs.length !== c.counts.length || c.names.length !== c.kinds.length || c.numbers.length !== c.names.length * 5 || c.links.length !== c.names.length) return null;
    const index = new LayerIndex();
    index.dirs.clear();
    let k = 0;
    for (let d = 0; d < c.dirs.length; d++) {
      const entries = new Map<string, RawEntry>();
      for (let end = k + c.counts[d]; k < end; k++) {
        if (k >= c.names.length) return null;
        const o = k * 5;
        const flags = c.numbers[o + 4];
        entries.set(c.names[k], { kind: c.kinds[k] as EntryKind, perm: c.numbers[o], uid: c.numbers[o + 1], gid: c.numbers[o + 2], size: c.numbers[o + 3], link: c.links[k], opaque: (flags & 1) !== 0, implicit: (flags & 2) !== 0 });
      }
      index.dirs.set(c.dirs[d], entries);
    }
    if (k !== c.names.length || !index.dirs.has('')) return null;
    index.finish();
    return index;
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


/** A numeric header field: octal read directly (the common case), anything else as Go reads it. */
function headerNumber(block: Buffer, start: number, width: number, what: string): number {
  let n = 0;
  let i = start;
  const end = start + width;
  while (i < end && block[i] === 0x20) i++;
  let digits = 0;
  for (; i < end; i++) {
    const c = block[i];
    if (c >= 0x30 && c <= 0x37) {
      n = n * 8 + (c - 0x30);
      digits++;
    } else break;
  }
  // the field ends in NULs or spaces after its digits: done, unless a number too long for a double
  let clean = digits <= 17;
  for (; clean && i < end; i++) if (block[i] !== 0 && block[i] !== 0x20) clean = false;
  if (clean) return n;
  const big = parseNumeric(block.subarray(start, end));
  if (big === null || big < 0n || big > BigInt(Number.MAX_SAFE_INTEGER)) throw new StrataError(`a tar header with a bad ${what} field`);
  return Number(big);
}

/** The header checksum (the sum of its bytes, the checksum field counted as spaces) is the one recorded. */
function checksumOk(b: Buffer, at: number): boolean {
  let sum = 0;
  for (let i = at; i < at + BLOCK; i++) sum += b[i];
  for (let i = at + 148; i < at + 156; i++) sum += 0x20 - b[i];
  return headerNumber(b, at + 148, 8, 'checksum') === sum;
}

function isZeroBlock(b: Buffer, at: number): boolean {
  if (b[at] !== 0 || b[at + 156] !== 0) return false;
  for (let i = at; i < at + BLOCK; i++) if (b[i] !== 0) return false;
  return true;
}

/** A path as the layer has it: no leading "./" or "/", no trailing "/"; '' for the root itself. */
function cleanName(name: string): string {
  let s = name;
  for (;;) {
    if (s.startsWith('./')) s = s.slice(2);
    else if (s.startsWith('/')) s = s.slice(1);
    else break;
  }
  while (s.endsWith('/')) s = s.slice(0, -1);
  return s === '.' ? '' : s;
}

const KIND_OF_TYPE: Record<string, FileKind> = { '0': 'file', '\0': 'file', '7': 'file', '1': 'hardlink', '2': 'symlink', '3': 'char', '4': 'block', '5': 'dir', '6': 'fifo' };

/** What a walk of the headers hands on per entry: the name as a 'latin1' string of its bytes. */
type OnEntry = (name: string, kind: FileKind, perm: number, uid: number, gid: number, size: number, link: Buffer | null) => void;

/** The bytes of a NUL-terminated field at [start, start + width) as a 'latin1' string. */
function fieldString(b: Buffer, start: number, width: number): string {
  const nul = b.indexOf(0, start);
  return b.toString('latin1', start, nul < 0 || nul > start + width ? start + width : nul);
}

/** The PAX records a listing needs (path, linkpath, size, uid, gid), read in place; the others are skipped. */
interface PaxFields {
  path: string | null;
  linkpath: string | null;
  size: number | null;
  uid: number | null;
  gid: number | null;
  sparse: boolean;
}

const badPax = (why: string) => new StrataError(`malformed PAX header: ${why}`);

function paxFields(b: Buffer, start: number, end: number, into: PaxFields | null): PaxFields {
  const out: PaxFields = into ?? { path: null, linkpath: null, size: null, uid: null, gid: null, sparse: false };
  let i = start;
  while (i < end) {
    let length = 0;
    let j = i;
    for (; j < end && b[j] >= 0x30 && b[j] <= 0x39; j++) length = length * 10 + (b[j] - 0x30);
    if (j === i || j >= end || b[j] !== 0x20 || length < 5 || i + length > end) throw badPax('a bad record length');
    const recordEnd = i + length;
    if (b[recordEnd - 1] !== 0x0a) throw badPax('a record does not end in a newline');
    const eq = b.indexOf(0x3d, j + 1);
    if (eq < 0 || eq >= recordEnd) throw badPax('a record without "="');
    const keyLength = eq - j - 1;
    // Only keys of these lengths matter: 3 uid gid, 4 path size, 8 linkpath, and GNU.sparse.* (longer).
    if (keyLength <= 4 || keyLength === 8 || keyLength >= 10) {
      const key = b.toString('latin1', j + 1, eq);
      const value = () => b.toString('latin1', eq + 1, recordEnd - 1);
      const num = () => {
        const v = value();
        if (!/^[0-9]{1,15}$/.test(v)) throw badPax(`a bad ${key} record`);
        return Number(v);
      };
      if (key === 'path') out.path = value();
      else if (key === 'linkpath') out.linkpath = value();
      else if (key === 'size') out.size = num();
      else if (key === 'uid') out.uid = num();
      else if (key === 'gid') out.gid = num();
      else if (key.startsWith('GNU.sparse.')) out.sparse = true;
    }
    i = recordEnd;
  }
  return out;
}

/**
 * Reads the tar headers out of a tar-split's segments (the raw bytes of the original tar without file
 * contents: a file's header is followed by its padding only). Fed chunk by chunk; calls `onEntry` for
 * every entry as Go's archive/tar would give it (PAX records and GNU long names applied).
 */
class HeaderWalker {
  private rest: Buffer | null = null;
  private skip = 0;
  private pax: PaxFields | null = null;
  private longName: string | null = null;
  private longLink: string | null = null;
  ended = false;

  constructor(private readonly onEntry: OnEntry) {}

  push(chunk: Buffer): void {
    if (this.ended) return;
    const buf = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    let at = 0;
    for (;;) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, buf.length - at);
        this.skip -= n;
        at += n;
        if (this.skip > 0) break;
      }
      if (buf.length - at < BLOCK) break;
      if (isZeroBlock(buf, at)) {
        this.ended = true;
        break;
      }
      if (!checksumOk(buf, at)) throw new StrataError(`a tar header at segment byte ${at} has a bad checksum`);
      const typeByte = buf[at + 156];
      const size = headerNumber(buf, at + 124, 12, 'size');
      if (typeByte === 0x78 /* x */ || typeByte === 0x67 /* g */ || typeByte === 0x4c /* L */ || typeByte === 0x4b /* K */) {
        const stored = size + padOf(size);
        if (buf.length - at < BLOCK + stored) break; // its body comes with the next chunk
        const body = at + BLOCK;
        if (typeByte === 0x78) this.pax = paxFields(buf, body, body + size, this.pax);
        else if (typeByte === 0x4c) this.longName = fieldString(buf, body, size);
        else if (typeByte === 0x4b) this.longLink = fieldString(buf, body, size);
        at += BLOCK + stored;
        continue; // 'g': Go applies a global header to nothing
      }
      const type = String.fromCharCode(typeByte);
      const pax = this.pax;
      if (type === 'S' || pax?.sparse) throw new StrataError('has a sparse file entry, which the files view does not read');
      let name = this.longName ?? pax?.path ?? null;
      if (name === null) {
        name = fieldString(buf, at, 100);
        // ustar's prefix field (GNU's "ustar  " magic has none)
        if (buf[at + 257] === 0x75 && buf[at + 262] === 0 && buf.toString('latin1', at + 257, at + 262) === 'ustar' && buf[at + 345] !== 0) name = `${fieldString(buf, at + 345, 155)}/${name}`;
      }
      let kind = KIND_OF_TYPE[type] ?? 'file';
      if (type === '\0' && name.endsWith('/')) kind = 'dir';
      let link: Buffer | null = null;
      if (kind === 'symlink' || kind === 'hardlink') {
        const l = this.longLink ?? pax?.linkpath ?? fieldString(buf, at + 157, 100);
        link = Buffer.from(l, 'latin1');
      }
      const realSize = pax?.size ?? size;
      const uid = pax?.uid ?? headerNumber(buf, at + 108, 8, 'uid');
      const gid = pax?.gid ?? headerNumber(buf, at + 116, 8, 'gid');
      const perm = headerNumber(buf, at + 100, 8, 'mode') & 0o7777;
      this.pax = null;
      this.longName = this.longLink = null;
      at += BLOCK;
      this.skip = padOf(isHeaderOnlyType(type) ? 0 : realSize); // the content itself is not in the segments
      this.onEntry(name, kind, perm, uid, gid, kind === 'file' ? realSize : 0, link);
    }
    this.rest = at < buf.length ? Buffer.from(buf.subarray(at)) : null;
  }
}

/** Adds one tar entry (a Docker layer tar's, whiteouts as .wh. names) to a layer index. */
function addTarEntry(index: LayerIndex, name: string, kind: FileKind, perm: number, uid: number, gid: number, size: number, link: Buffer | null): void {
  const path = cleanName(name);
  if (path === '') return;
  const slash = path.lastIndexOf('/');
  const dir = slash < 0 ? '' : path.slice(0, slash);
  const base = slash < 0 ? path : path.slice(slash + 1);
  if (base.startsWith(WHITEOUT_PREFIX)) {
    if (base === OPAQUE_MARKER) index.markOpaque(dir);
    else if (!base.startsWith(AUFS_META_PREFIX)) index.addIn(dir, base.slice(WHITEOUT_PREFIX.length), { kind: 'whiteout', perm: 0, uid: 0, gid: 0, size: 0, link: null, opaque: false, implicit: false });
    return;
  }
  const target = kind === 'hardlink' && link ? Buffer.from(cleanName(link.toString('latin1', 0, link.length)), 'latin1') : link;
  index.addIn(dir, base, { kind, perm, uid, gid, size, link: target, opaque: false, implicit: false });
}

/** A layer's index from its tar-split.json.gz. */
export async function indexFromTarSplit(path: string): Promise<LayerIndex> {
  const ahead = await indexReadAhead(path);
  if (ahead) return ahead;
  const index = new LayerIndex();
  const walker = new HeaderWalker((name, kind, perm, uid, gid, size, link) => addTarEntry(index, name, kind, perm, uid, gid, size, link));
  for await (const batch of exactBatches(path)) {
    walker.push(batch.segments);
    await yieldToLoop();
  }
  index.finish();
  return index;
}

/**
 * indexFromTarSplit through the native read ahead (a thread inflates and parses the tar-split while the
 * chunk before is walked here); null where it leaves the tar-split to the JavaScript reader, which then
 * reads it from the start (and names what is wrong with it).
 */
async function indexReadAhead(path: string): Promise<LayerIndex | null> {
  const native = nativeHelpers();
  if (!native?.tarSplitOpen || !native.tarSplitNext || !native.tarSplitClose) return null;
  let handle: unknown;
  try {
    handle = native.tarSplitOpen(path);
  } catch {
    return null;
  }
  if (handle === null) return null;
  const index = new LayerIndex();
  const walker = new HeaderWalker((name, kind, perm, uid, gid, size, link) => addTarEntry(index, name, kind, perm, uid, gid, size, link));
  let entries = 0;
  try {
    for (;;) {
      const got = await native.tarSplitNext(handle, entries);
      if (got === false) break;
      if (got === null) return null;
      entries += got[5];
      walker.push(got[0]);
    }
  } catch {
    return null;
  } finally {
    native.tarSplitClose(handle);
  }
  if (entries === 0) return null;
  index.finish();
  return index;
}

/** Directories a driver listing reads at a time. */
const LISTINGS_IN_FLIGHT = 8;

/** Walk order (Go's filepath.Walk: component by component, bytewise), which is the order a layer tar has. */
function walkOrder(a: string, b: string): number {
  const pa = a.split('/');
  const pb = b.split('/');
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) if (pa[i] !== pb[i]) return pa[i] < pb[i] ? -1 : 1;
  return pa.length - pb.length;
}

/**
 * A layer's index from the driver, one directory at a time (a few listings in flight). A directory that
 * cannot be listed is recorded as the error for it (the rest of the layer still reads). The names of a
 * hard-linked file become what the layer's tar would hold: the first in walk order the file, the others
 * hard links to it.
 */
export async function indexFromDriver(driver: StorageDriver, ref: LayerRef): Promise<LayerIndex> {
  const index = new LayerIndex();
  const queue: string[] = [''];
  const linked = new Map<number, string[]>();
  const take = (dir: string, changes: DirectoryChange[]) => {
    for (const c of changes) {
      const path = join(dir, c.name.toString('latin1'));
      if (c.kind === 'whiteout') {
        index.add(path, { kind: 'whiteout', perm: 0, uid: 0, gid: 0, size: 0, link: null, opaque: false, implicit: false });
        continue;
      }
      if (c.kind === 'dir') queue.push(path);
      if (c.unchanged) continue; // created implicitly should anything below it be a change
      if (c.kind === 'file' && c.nlink > 1) {
        const names = linked.get(c.ino);
        if (names) names.push(path);
        else linked.set(c.ino, [path]);
      }
      index.add(path, { kind: c.kind, perm: c.mode & 0o7777, uid: c.uid, gid: c.gid, size: c.size, link: c.linkTarget, opaque: false, implicit: false });
      if (c.opaque) index.markOpaque(path);
      if (c.opaque === null) index.opaqueUnknown = true;
    }
  };
  await new Promise<void>((resolve) => {
    let running = 0;
    const pump = () => {
      while (running < LISTINGS_IN_FLIGHT && queue.length > 0) {
        const dir = queue.shift()!;
        running++;
        driver
          .listDirectory(ref, Buffer.from(dir, 'latin1'))
          .then(
            (changes) => take(dir, changes),
            (err: unknown) => {
              // the directory stays listed, so that its error can be shown where it is
              index.touchDir(dir);
              index.errors.set(dir, err instanceof StrataError ? err : new StrataError(errorMessage(err), { file: join(driver.contentDir(ref.cacheId), dir) }));
            },
          )
          .finally(() => {
            running--;
            if (running === 0 && queue.length === 0) resolve();
            else pump();
          });
      }
    };
    pump();
  });
  for (const names of linked.values()) {
    if (names.length < 2) continue;
    names.sort(walkOrder);
    const target = Buffer.from(names[0], 'latin1');
    for (const name of names.slice(1)) {
      const e = index.entry(name)!;
      index.add(name, { ...e, kind: 'hardlink', size: 0, link: target });
    }
  }
  index.finish();
  return index;
}

// ---- loading layers, cached per source ----

interface LoadedLayer {
  index: Promise<LayerIndex>;
  /** The warnings reading it gave, handed to every source that asks for it (once each). */
  warnings: Warning[];
  deliveredTo: WeakSet<Warning[]>;
}

/**
 * Caches are kept per store model (and driver directory), not per source object: a caller that makes a
 * new source for the same store (the TUI's wasted-space view) reuses the layers the files pane read.
 */
function cacheOf<T>(caches: WeakMap<StoreModel, Map<string, T>>, src: LayerFilesSource): { map: Map<string, T>; prefix: string } {
  let map = caches.get(src.model);
  if (!map) {
    map = new Map();
    caches.set(src.model, map);
  }
  return { map, prefix: `${src.driver?.home ?? ''}\0` };
}

const loadedByModel = new WeakMap<StoreModel, Map<string, LoadedLayer>>();

function layerRefOf(model: StoreModel, chainId: string): LayerRef {
  const layer = model.layers.get(chainId);
  if (!layer) throw new StrataError(`layer ${chainId} is not in layerdb`);
  if (layer.cacheId === null) throw new StrataError(`the cache-id of layer ${chainId} could not be read`);
  const parent = layer.parent === null ? null : model.layers.get(layer.parent);
  if (layer.parent !== null && (!parent || parent.cacheId === null)) throw new StrataError(`the parent of layer ${chainId} could not be read`);
  return { cacheId: layer.cacheId, parentCacheId: parent?.cacheId ?? null };
}

/** The index of layer `chainId`: read once per store, however many views ask. */
function loadLayer(src: LayerFilesSource, chainId: string): Promise<LayerIndex> {
  const { map, prefix } = cacheOf(loadedByModel, src);
  let loaded = map.get(prefix + chainId);
  if (!loaded) {
    const warnings: Warning[] = [];
    const index = readLayer(src, chainId, warnings);
    index.catch(() => {}); // the views report it; an unawaited rejection must not end the process
    loaded = { index, warnings, deliveredTo: new WeakSet() };
    map.set(prefix + chainId, loaded);
  }
  const { index, deliveredTo } = loaded;
  const deliver = () => {
    if (deliveredTo.has(src.warnings)) return;
    deliveredTo.add(src.warnings);
    src.warnings.push(...loaded.warnings);
  };
  return index.then(
    (i) => {
      deliver();
      return i;
    },
    (err: unknown) => {
      deliver();
      throw err;
    },
  );
}

/** Layers read at a time: more only interleave on two cores, and hold more inflated chunks at once. */
const LAYER_READS = 2;
let layerReads = 0;
const waitingReads: Array<() => void> = [];

async function readLayer(src: LayerFilesSource, chainId: string, warnings: Warning[]): Promise<LayerIndex> {
  // a slot is handed from a read that ends to the next one waiting
  if (layerReads >= LAYER_READS) await new Promise<void>((resolve) => waitingReads.push(resolve));
  else layerReads++;
  try {
    return await readLayerNow(src, chainId, warnings);
  } finally {
    const next = waitingReads.shift();
    if (next) next();
    else layerReads--;
  }
}

async function readLayerNow(src: LayerFilesSource, chainId: string, warnings: Warning[]): Promise<LayerIndex> {
  const split = tarSplitPath(src.model, chainId);
  if (split !== null) {
    try {
      return await indexFromTarSplitCached(split, () => indexFromTarSplit(split));
    } catch (err) {
      const message = `unreadable tar-split: ${err instanceof StrataError ? err.reason : errorMessage(err)}`;
      warnings.push({ file: split, message });
      throw new StrataError(message, { file: split });
    }
  }
  const { driver } = src;
  if (!driver) throw new StrataError(`layer ${chainId} has no tar-split, and no storage driver was opened to read its files`);
  try {
    const index = await indexFromDriver(driver, layerRefOf(src.model, chainId));
    for (const error of index.errors.values()) warnings.push({ file: error.file ?? chainId, message: error.reason });
    if (index.opaqueUnknown) {
      warnings.push({ file: driver.contentDir(src.model.layers.get(chainId)?.cacheId ?? chainId), message: `layer ${chainId.slice(7, 19)} has no tar-split and its opaque directories cannot be told without strata's native helper: lower files they hide are listed as still there` });
    }
    return index;
  } catch (err) {
    const error = err instanceof StrataError ? err : new StrataError(errorMessage(err), { file: driver.contentDir(src.model.layers.get(chainId)?.cacheId ?? chainId) });
    warnings.push({ file: error.file ?? chainId, message: error.reason });
    throw error;
  }
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

  /**
   * Computes totals(dir, k) for each of `dirs` a directory at a time, deepest first, yielding to the event
   * loop as it goes (a merged tree of many layers takes a while); totals() then answers from the cache.
   */
  async prepareTotals(dirs: string[], k: number): Promise<void> {
    if (k < 0) return;
    const todo: Array<{ dir: string; expanded: boolean }> = dirs.map((dir) => ({ dir, expanded: false }));
    let work = 0;
    while (todo.length > 0) {
      const top = todo[todo.length - 1];
      if (this.totalsCache.has(`${k}\0${top.dir}`)) {
        todo.pop();
        continue;
      }
      const vis = this.visible(top.dir, k);
      const touching = vis === null ? 0 : vis.reduce((n, j) => n + (this.layers[j].touchesBelow(top.dir) ? 1 : 0), 0);
      if (touching <= 1 || top.expanded) {
        this.totals(top.dir, k); // its subdirectories are known by now: one level of sums
        todo.pop();
        work++;
      } else {
        top.expanded = true;
        const entries = this.dir(top.dir, k)!;
        for (const [name, v] of entries) if (v.entry.kind === 'dir') todo.push({ dir: join(top.dir, name), expanded: false });
        work += entries.size * touching;
      }
      if (work > 20_000) {
        work = 0;
        await yieldToLoop();
      }
    }
  }
}

const stacksByModel = new WeakMap<StoreModel, Map<string, Promise<Stack>>>();

/** The stack of `image`'s layers 0…layerIndex (shared by every view of that image and depth). */
function stackOf(src: LayerFilesSource, image: Image, layerIndex: number): Promise<Stack> {
  if (!Number.isInteger(layerIndex) || layerIndex < 0 || layerIndex >= image.chainIds.length) {
    return Promise.reject(new StrataError(`image ${image.id} has no layer ${layerIndex} (it has ${image.chainIds.length})`));
  }
  const { map: cache, prefix } = cacheOf(stacksByModel, src);
  const chain = image.chainIds.slice(0, layerIndex + 1);
  const key = prefix + chain.join(' ');
  // Every call asks for the layers (cached), so that each source gets the warnings reading them gave.
  const layers = Promise.all(chain.map((id) => loadLayer(src, id)));
  const cached = cache.get(key);
  if (cached) return layers.then(() => cached);
  const stack = layers.then((l) => new Stack(l));
  stack.catch(() => {});
  cache.set(key, stack);
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
/** The error of a directory some layer up to i could not list, if any. */
function errorAt(stack: Stack, i: number, dir: string): StrataError | undefined {
  for (let j = i; j >= 0; j--) {
    const error = stack.layers[j].errors.get(dir);
    if (error) return error;
  }
  return undefined;
}

async function listMerged(stack: Stack, i: number, dir: string, layerOnly: boolean): Promise<FileEntry[]> {
  const error = errorAt(stack, i, dir);
  if (error) throw error;
  const top = stack.layers[i];
  const cur = stack.dir(dir, i);
  const prev = stack.dir(dir, i - 1);
  const own = stack.visible(dir, i)?.[0] === i ? top.dirs.get(dir) : undefined;
  const subdirs = (m: Map<string, Visible> | null, skip: Map<string, Visible> | null) => [...(m ?? [])].filter(([name, v]) => v.entry.kind === 'dir' && !skip?.has(name)).map(([name]) => join(dir, name));
  if (!layerOnly) await stack.prepareTotals(subdirs(cur, null), i);
  await stack.prepareTotals(subdirs(prev, cur), i - 1);
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
        hasChildren ||= errorAt(stack, i, path) !== undefined; // expanding it shows the error
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
      const key = cleanName(dir.toString('latin1', 0, dir.length));
      let hit = lists.get(key);
      if (!hit) {
        hit = stackOf(src, image, layerIndex).then((stack) => listMerged(stack, layerIndex, key, layerOnly));
        hit.catch(() => {});
        lists.set(key, hit);
      }
      return hit;
    },
    totals() {
      totals ??= stackOf(src, image, layerIndex).then(async (stack) => {
        if (!layerOnly) await stack.prepareTotals([''], layerIndex);
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
