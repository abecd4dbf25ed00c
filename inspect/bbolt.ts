// A small read-only reader of bbolt databases (go.etcd.io/bbolt, file format version 2): the key/value
// files BuildKit (buildkit/*.db), Docker's volume store (volumes/metadata.db) and containerd (meta.db) keep.
//
// The file is read with one plain read: never written, never locked. bbolt's flock is advisory, so reading
// while a daemon has the database open is allowed. The view is that of the last transaction committed
// when the meta pages were read: bbolt never overwrites a page reachable from the current meta (a commit
// writes new pages, then the meta), so the tree below the meta picked here stays whole unless two more
// transactions commit while the file is being read, which a single read of a small file makes unlikely.
//
// Layout (little-endian, as bbolt writes it on the machines Docker runs on):
//   page header (16 bytes): id u64, flags u16, count u16, overflow u32 — a page spans 1 + overflow pages.
//   meta page (pages 0 and 1), after the header: magic u32, version u32, pageSize u32, flags u32,
//     root bucket (root pgid u64, sequence u64), freelist pgid u64, high-water pgid u64, txid u64,
//     checksum u64 = FNV-64a of the 56 bytes before it.
//   branch element (16 bytes): pos u32, ksize u32, child pgid u64; the key is pos bytes after the element.
//   leaf element (16 bytes): flags u32 (1 = nested bucket), pos u32, ksize u32, vsize u32; key then value.
//   bucket value: root pgid u64, sequence u64; root 0 means inline: a leaf page follows in the value.
import { readFileSync } from 'node:fs';
import { fsError, StrataError } from '../native/errors.js';

export const BOLT_MAGIC = 0xed0cdaed;
export const BOLT_VERSION = 2;

const PAGE_HEADER = 16;
const ELEMENT = 16;
const META_CHECKSUMMED = 56;
const BUCKET_HEADER = 16;
const FLAG_BRANCH = 0x01;
const FLAG_LEAF = 0x02;
const FLAG_META = 0x04;
const LEAF_BUCKET = 0x01;
/** A B+tree deeper than this is a loop in a corrupt file (bbolt's trees are a handful of levels deep). */
const MAX_DEPTH = 64;
/** Page sizes to look for the second meta page at when the first one is damaged (bbolt uses the OS page size). */
const CANDIDATE_PAGE_SIZES = [4096, 8192, 16384, 65536, 2048, 1024, 32768, 512];

export type BoltKey = string | Buffer;

export interface BoltEntry {
  key: Buffer;
  /** The value; null for a nested bucket. */
  value: Buffer | null;
}

/** A bucket: its keys in bbolt's (byte) order, their values, and the buckets nested in it. */
export interface BoltBucket {
  readonly sequence: bigint;
  /** The value stored under key; null when there is none, or when key names a nested bucket. */
  get(key: BoltKey): Buffer | null;
  /** A nested bucket, following a path of names from this one; null when one of them is missing. */
  bucket(path: BoltKey | BoltKey[]): BoltBucket | null;
  /** Every key in order, with its value (null for a nested bucket), as bbolt's Bucket.ForEach. */
  forEach(cb: (key: Buffer, value: Buffer | null) => void): void;
  entries(): Generator<BoltEntry>;
}

export interface BoltDb extends BoltBucket {
  readonly file: string;
  readonly pageSize: number;
  /** The transaction the view is of. */
  readonly txid: bigint;
}

interface Meta {
  pageSize: number;
  root: bigint;
  rootSequence: bigint;
  txid: bigint;
}

/** FNV-1a, 64 bits, as Go's hash/fnv New64a. */
export function fnv64a(bytes: Uint8Array): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of bytes) h = BigInt.asUintN(64, (h ^ BigInt(b)) * 0x100000001b3n);
  return h;
}

type MetaRead = { meta: Meta } | { problem: 'absent' | 'magic' | 'checksum' | 'version'; version?: number };

function readMeta(buf: Buffer, offset: number): MetaRead {
  const at = offset + PAGE_HEADER;
  if (at + META_CHECKSUMMED + 8 > buf.length) return { problem: 'absent' };
  if (buf.readUInt32LE(at) !== BOLT_MAGIC) return { problem: 'magic' };
  if ((buf.readUInt16LE(offset + 8) & FLAG_META) === 0) return { problem: 'magic' };
  const version = buf.readUInt32LE(at + 4);
  const checksum = buf.readBigUInt64LE(at + META_CHECKSUMMED);
  // bbolt accepts a zero checksum (files written before checksums existed).
  if (checksum !== 0n && checksum !== fnv64a(buf.subarray(at, at + META_CHECKSUMMED))) return { problem: 'checksum' };
  if (version !== BOLT_VERSION) return { problem: 'version', version };
  return {
    meta: {
      pageSize: buf.readUInt32LE(at + 8),
      root: buf.readBigUInt64LE(at + 16),
      rootSequence: buf.readBigUInt64LE(at + 24),
      txid: buf.readBigUInt64LE(at + 48),
    },
  };
}

/** The meta to read the tree from: the valid one of pages 0 and 1 with the higher txid. */
function pickMeta(buf: Buffer, file: string): Meta {
  if (buf.length === 0) throw new StrataError('empty file: not a bbolt database', { file });
  const first = readMeta(buf, 0);
  // The second meta page sits one page in: at the first's page size, or (first damaged) at a usual one.
  let second: MetaRead = { problem: 'absent' };
  for (const size of 'meta' in first ? [first.meta.pageSize] : CANDIDATE_PAGE_SIZES) {
    second = readMeta(buf, size);
    if ('meta' in second && second.meta.pageSize === size) break;
    if ('meta' in second) second = { problem: 'magic' };
  }
  const valid = [first, second].flatMap((m) => ('meta' in m ? [m.meta] : []));
  if (valid.length > 0) {
    const meta = valid.reduce((a, b) => (b.txid > a.txid ? b : a));
    if (!Number.isSafeInteger(meta.pageSize) || meta.pageSize < 512 || (meta.pageSize & (meta.pageSize - 1)) !== 0) {
      throw new StrataError(`corrupt bbolt database: page size ${meta.pageSize}`, { file });
    }
    return meta;
  }
  const problems = [first, second].map((m) => ('problem' in m ? m : null));
  const version = problems.find((p) => p?.problem === 'version');
  if (version) throw new StrataError(`bbolt file format version ${version.version}, not ${BOLT_VERSION}: not read`, { file });
  if (problems.some((p) => p?.problem === 'checksum')) throw new StrataError('corrupt bbolt database: checksum mismatch on both meta pages', { file });
  throw new StrataError('not a bbolt database', { file });
}

/** One page's bytes (header and elements), checked against the file's end. */
interface PageView {
  buf: Buffer;
  /** Offset of the page header in buf. */
  at: number;
  flags: number;
  count: number;
  /** Where the page was found, for errors ("page 7", "inline bucket in page 7"). */
  where: string;
}

class Reader {
  constructor(
    readonly buf: Buffer,
    readonly file: string,
    readonly pageSize: number,
  ) {}

  corrupt(what: string): StrataError {
    return new StrataError(`corrupt bbolt database: ${what}`, { file: this.file });
  }

  page(id: bigint): PageView {
    const offset = Number(id) * this.pageSize;
    if (id < 2n || !Number.isSafeInteger(offset) || offset + PAGE_HEADER > this.buf.length) throw this.corrupt(`page ${id} is beyond the end of the file`);
    if (this.buf.readBigUInt64LE(offset) !== id) throw this.corrupt(`page ${id} holds page ${this.buf.readBigUInt64LE(offset)}`);
    const span = (this.buf.readUInt32LE(offset + 12) + 1) * this.pageSize;
    if (offset + span > this.buf.length) throw this.corrupt(`page ${id} and its overflow run past the end of the file`);
    // A view of just this page (and its overflow pages): element offsets past it are corruption, not other pages.
    const buf = this.buf.subarray(offset, offset + span);
    return { buf, at: 0, flags: buf.readUInt16LE(8), count: buf.readUInt16LE(10), where: `page ${id}` };
  }

  slice(p: PageView, start: number, length: number): Buffer {
    if (start < p.at || start + length > p.buf.length) throw this.corrupt(`an element of ${p.where} points outside it`);
    return p.buf.subarray(start, start + length);
  }

  /** Leaf entries of a tree, in key order. */
  *leaves(p: PageView, depth: number): Generator<{ key: Buffer; value: Buffer; isBucket: boolean }> {
    if (depth > MAX_DEPTH) throw this.corrupt(`a tree deeper than ${MAX_DEPTH} pages (a loop?) at ${p.where}`);
    const elements = p.at + PAGE_HEADER;
    if (elements + p.count * ELEMENT > p.buf.length) throw this.corrupt(`${p.where} has more elements than fit in it`);
    if (p.flags & FLAG_LEAF) {
      for (let i = 0; i < p.count; i++) {
        const e = elements + i * ELEMENT;
        const flags = p.buf.readUInt32LE(e);
        const pos = p.buf.readUInt32LE(e + 4);
        const ksize = p.buf.readUInt32LE(e + 8);
        const vsize = p.buf.readUInt32LE(e + 12);
        yield { key: this.slice(p, e + pos, ksize), value: this.slice(p, e + pos + ksize, vsize), isBucket: (flags & LEAF_BUCKET) !== 0 };
      }
    } else if (p.flags & FLAG_BRANCH) {
      for (let i = 0; i < p.count; i++) {
        const e = elements + i * ELEMENT;
        yield* this.leaves(this.page(p.buf.readBigUInt64LE(e + 8)), depth + 1);
      }
    } else {
      throw this.corrupt(`${p.where} is neither a branch nor a leaf page (flags 0x${p.flags.toString(16)})`);
    }
  }

  /** The leaf entry for key, descending the branches as bbolt's cursor seeks. */
  find(p: PageView, key: Buffer, depth: number): { value: Buffer; isBucket: boolean } | null {
    if (depth > MAX_DEPTH) throw this.corrupt(`a tree deeper than ${MAX_DEPTH} pages (a loop?) at ${p.where}`);
    const elements = p.at + PAGE_HEADER;
    if (elements + p.count * ELEMENT > p.buf.length) throw this.corrupt(`${p.where} has more elements than fit in it`);
    const keyAt = (i: number): Buffer => {
      const e = elements + i * ELEMENT;
      return p.flags & FLAG_LEAF
        ? this.slice(p, e + p.buf.readUInt32LE(e + 4), p.buf.readUInt32LE(e + 8))
        : this.slice(p, e + p.buf.readUInt32LE(e), p.buf.readUInt32LE(e + 4));
    };
    // The first element whose key is >= key.
    let lo = 0;
    let hi = p.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (Buffer.compare(keyAt(mid), key) < 0) lo = mid + 1;
      else hi = mid;
    }
    if (p.flags & FLAG_LEAF) {
      if (lo >= p.count || !keyAt(lo).equals(key)) return null;
      const e = elements + lo * ELEMENT;
      const pos = p.buf.readUInt32LE(e + 4);
      const ksize = p.buf.readUInt32LE(e + 8);
      const vsize = p.buf.readUInt32LE(e + 12);
      return { value: this.slice(p, e + pos + ksize, vsize), isBucket: (p.buf.readUInt32LE(e) & LEAF_BUCKET) !== 0 };
    }
    if (!(p.flags & FLAG_BRANCH)) throw this.corrupt(`${p.where} is neither a branch nor a leaf page (flags 0x${p.flags.toString(16)})`);
    if (p.count === 0) return null;
    // A branch key is the first key of its child: descend into the last child starting at or before key.
    const child = lo < p.count && keyAt(lo).equals(key) ? lo : Math.max(0, lo - 1);
    return this.find(this.page(p.buf.readBigUInt64LE(elements + child * ELEMENT + 8)), key, depth + 1);
  }

  /** A bucket from its root pgid, or from the inline page in its value. */
  bucket(root: bigint, sequence: bigint, inline: Buffer | null, where: string): BoltBucket {
    const rootPage = (): PageView => {
      if (inline === null) return this.page(root);
      if (inline.length < PAGE_HEADER) throw this.corrupt(`the inline bucket ${where} is shorter than a page header`);
      return { buf: inline, at: 0, flags: inline.readUInt16LE(8), count: inline.readUInt16LE(10), where: `inline bucket ${where}` };
    };
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const reader = this;
    const self: BoltBucket = {
      sequence,
      get(key) {
        const found = reader.find(rootPage(), toKey(key), 0);
        return found && !found.isBucket ? found.value : null;
      },
      bucket(path) {
        const names = Array.isArray(path) ? path : [path];
        let b: BoltBucket | null = self;
        for (const name of names) {
          if (b === null) return null;
          b = b === self ? reader.child(rootPage(), toKey(name), where) : b.bucket(name);
        }
        return b;
      },
      forEach(cb) {
        for (const e of self.entries()) cb(e.key, e.value);
      },
      *entries() {
        for (const e of reader.leaves(rootPage(), 0)) yield { key: e.key, value: e.isBucket ? null : e.value };
      },
    };
    return self;
  }

  child(p: PageView, name: Buffer, parentWhere: string): BoltBucket | null {
    const found = this.find(p, name, 0);
    if (!found || !found.isBucket) return null;
    const where = `${parentWhere}/${printable(name)}`;
    if (found.value.length < BUCKET_HEADER) throw this.corrupt(`bucket ${where} has a value of ${found.value.length} bytes`);
    const root = found.value.readBigUInt64LE(0);
    const sequence = found.value.readBigUInt64LE(8);
    return this.bucket(root, sequence, root === 0n ? found.value.subarray(BUCKET_HEADER) : null, where);
  }
}

function toKey(key: BoltKey): Buffer {
  return typeof key === 'string' ? Buffer.from(key) : key;
}

function printable(name: Buffer): string {
  const s = name.toString('utf8');
  return /^[\x20-\x7e]*$/.test(s) ? s : `0x${name.toString('hex')}`;
}

/** A database from its bytes (file names it in errors). */
export function parseBolt(buf: Buffer, file: string): BoltDb {
  const meta = pickMeta(buf, file);
  const reader = new Reader(buf, file, meta.pageSize);
  const root = reader.bucket(meta.root, meta.rootSequence, null, '');
  return Object.assign(Object.create(null) as object, root, { file, pageSize: meta.pageSize, txid: meta.txid }) as BoltDb;
}

/** Opens a bbolt database file read-only; StrataError naming the file when it cannot be read or is none. */
export function openBolt(file: string): BoltDb {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (err) {
    throw fsError(file, err);
  }
  return parseBolt(buf, file);
}

/** A key or value as text (bbolt stores bytes; the stores strata reads keep UTF-8 names and JSON). */
export function boltText(b: Buffer | null): string | null {
  return b === null ? null : b.toString('utf8');
}
