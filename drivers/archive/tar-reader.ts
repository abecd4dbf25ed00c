// A streaming tar reader that reads archives the way Go's archive/tar does (what dockerd's ApplyLayer and
// tar-split read layers with): ustar, GNU and STAR headers, PAX 'x' records overriding header fields,
// PAX 'g' global headers yielded as entries of their own (Go applies them to nothing), GNU 'L'/'K' long
// names, PAX sparse files (GNU 0.0, 0.1, 1.0) and old GNU 'S' sparse entries expanded under their real
// name, with Go's validation. Names and link targets stay bytes. Entries come one at a time with their
// content as chunks, never a whole file in memory; an observer sees every byte of the archive once.
import { closeSync, readSync } from 'node:fs';
import { displayPath } from '../../native/names.js';
import type { EntryInfo } from '../../native/open-beneath.js';
import { StrataError } from '../../native/errors.js';
import { BLOCK } from './tar-header.js';

export interface TarTime {
  sec: number;
  nsec: number;
}

export interface TarEntry {
  /** The name as docker prints it (for messages and member lookups); never used to name a file. */
  name: string;
  /** The name's exact bytes (need not be UTF-8). */
  nameBytes: Buffer;
  /**
   * The typeflag: '0' regular file (also the old '\0', or '5' for it with a trailing slash), '1' hard link,
   * '2' symlink, '3' char device, '4' block device, '5' directory, '6' FIFO, 'g' a PAX global header,
   * anything else as the header says ('S' GNU sparse, 'D' GNU dumpdir, '7', 'V', …).
   */
  type: string;
  mode: number;
  uid: number;
  gid: number;
  /** The logical size Go reports: the PAX size, or a sparse file's real size. */
  size: number;
  /** Bytes of data the entry takes in the archive (0 for header-only types; compacted data for sparse files). */
  storedSize: number;
  /** Whole seconds of the modification time (PAX mtime may add nsec). */
  mtime: number;
  mtimeNsec: number;
  /** PAX or GNU/STAR access time, when the archive has one. */
  atime: TarTime | null;
  ctime: TarTime | null;
  /** The link target as docker prints it; linknameBytes has its bytes. */
  linkname: string;
  linknameBytes: Buffer;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
  xattrs: Record<string, Buffer>;
  /** The entry's PAX records other than the ones applied to the fields above. */
  pax: Record<string, string>;
  /** For sparse files: the data fragments [offset, length] of the expanded file; the rest are holes. */
  sparseData: Array<[number, number]> | null;
}

export class TarFormatError extends StrataError {
  override name = 'TarFormatError';
}

/** Sees every byte of the archive once, in order: file data as 'content', everything else as 'segment'. */
export type RawObserver = (bytes: Buffer, kind: 'segment' | 'content') => void;

/** One piece of an entry's expanded content: bytes, or a hole of zeros. */
export type Extent = { offset: number; data: Buffer } | { offset: number; hole: number };

/**
 * A regular file's whole content standing in a stream for its bytes, still on disk: open as `fd` (the
 * reader closes it), `size` bytes. A reader asked for the content reads it from `fd`; an applier may
 * instead link the file itself (TarItem.linked), so that nothing of it is read or written.
 */
export interface LinkedContent {
  kind: 'linked';
  /** -1 until open() has opened it (a lazy content: nothing is opened unless its bytes or descriptor are needed). */
  fd: number;
  size: number;
  /** The file's path, for messages. */
  path: Buffer;
  /** What opening it found (owner and mtime too where the opener had them). */
  stat?: EntryInfo;
  /** Opens the file (setting fd and stat), refusing what does not match its record; for fd -1. */
  open?(): void;
  /** Where it is, for an applier that links it by name: the layer directory's descriptor and its name there. */
  at?: { layerFd: number; name: Buffer };
}

/** The content's descriptor, opened now if it was not. */
function openedFd(c: LinkedContent): number {
  if (c.fd < 0) c.open!();
  return c.fd;
}

function closeLinked(c: LinkedContent): void {
  if (c.fd >= 0) closeSync(c.fd);
  c.fd = -1;
}

export interface TarItem {
  entry: TarEntry;
  /**
   * The content came as a LinkedContent: its descriptor, and take() to consume the content without
   * reading it (after which `content` must not be read). Absent when the bytes are in the stream.
   */
  linked?: LinkedView;
  /** The expanded content (holes as zeros); consume it or extents() before the next entry (else it is skipped). */
  content: AsyncIterable<Buffer>;
  /** The same content as pieces, holes apart (for writing sparse files with holes). */
  extents(): AsyncIterable<Extent>;
  /** Offset of the stored data in the archive (to read a member again later without this reader). */
  offset: number;
}

/**
 * A file whose content came as a LinkedContent. `fd` and `stat` open it when it was not (again, after
 * take(): close() then lets that descriptor go); take() consumes the content unread.
 */
export interface LinkedView {
  readonly fd: number;
  readonly stat?: EntryInfo;
  path: Buffer;
  at?: { layerFd: number; name: Buffer };
  take(): void;
  close(): void;
}

/** Pieces in order, handed over at once (one step of the source for a whole batch of them). */
export type PieceRun = ReadonlyArray<Buffer | LinkedContent>;

type Chunk = Buffer | Uint8Array | string | LinkedContent | PieceRun;

const isLinked = (c: unknown): c is LinkedContent => typeof c === 'object' && c !== null && (c as LinkedContent).kind === 'linked';

/** A LinkedContent in the reader's buffer: how much of it has been read into bytes so far. */
interface PendingLinked {
  linked: LinkedContent;
  /** Bytes of the file read out already (they were handed out as content). */
  offset: number;
}

/** Go's limit on PAX headers, GNU long names and PAX 1.0 sparse maps (archive/tar maxSpecialFileSize). */
const MAX_SPECIAL_FILE = 1 << 20;
const READ_PIECE = 1 << 20;
const ZEROS = Buffer.alloc(READ_PIECE);

class ByteSource {
  private buffered: Array<Buffer | PendingLinked> = [];
  private length = 0;
  private done = false;
  /** Bytes handed out so far: the offset in the archive of the next byte. */
  position = 0;
  constructor(
    private readonly it: AsyncIterator<Chunk>,
    private readonly observe?: RawObserver,
  ) {}

  private async fill(n: number): Promise<void> {
    while (this.length < n && !this.done) {
      const r = await this.it.next();
      if (r.done) this.done = true;
      else if (Array.isArray(r.value)) for (const piece of r.value as PieceRun) this.push(piece);
      else {
        const v = r.value as Buffer | Uint8Array | string | LinkedContent;
        this.push(typeof v === 'string' ? Buffer.from(v) : isLinked(v) || Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength));
      }
    }
  }

  private push(piece: Buffer | LinkedContent): void {
    if (isLinked(piece)) {
      // Kept even when empty: its place in the stream is what linkedAhead looks for.
      this.buffered.push({ linked: piece, offset: 0 });
      this.length += piece.size;
    } else if (piece.length > 0) {
      this.buffered.push(piece);
      this.length += piece.length;
    }
  }

  /** Turns the LinkedContent at the head of the buffer into bytes read from its file, a piece at a time. */
  private readHead(): void {
    const head = this.buffered[0];
    if (Buffer.isBuffer(head)) return;
    const left = head.linked.size - head.offset;
    if (left === 0) {
      this.buffered.shift();
      closeLinked(head.linked);
      return;
    }
    const piece = Buffer.allocUnsafe(Math.min(left, READ_PIECE));
    let got = 0;
    while (got < piece.length) {
      const n = readSync(openedFd(head.linked), piece, got, piece.length - got, head.offset + got);
      if (n === 0) throw new TarFormatError(`ended ${left - got} bytes early`, { file: head.linked.path });
      got += n;
    }
    head.offset += got;
    if (head.offset === head.linked.size) {
      this.buffered.shift();
      closeLinked(head.linked);
      this.buffered.unshift(piece);
    } else this.buffered.unshift(piece);
  }

  /** The heads of the buffer as bytes, up to `n` of them (LinkedContents read as far as that needs). */
  private bytesAhead(n: number): void {
    let have = 0;
    for (let i = 0; i < this.buffered.length && have < n; i++) {
      const b = this.buffered[i];
      if (!Buffer.isBuffer(b)) {
        // Brought to the front (what is before it is whole bytes), read, and put back in its place.
        const before = this.buffered.splice(0, i);
        this.readHead();
        this.buffered.unshift(...before);
      }
      const c = this.buffered[i];
      if (Buffer.isBuffer(c)) have += c.length;
      else i--; // an empty LinkedContent was dropped: look at what came after it
    }
  }

  /**
   * When the next `size` bytes of the stream are one whole LinkedContent, not yet read: it. Otherwise
   * null. (The stream is filled as far as its head.)
   */
  async linkedAhead(size: number): Promise<LinkedContent | null> {
    await this.fill(1);
    while (this.buffered.length > 0 && Buffer.isBuffer(this.buffered[0]) && this.buffered[0].length === 0) this.buffered.shift();
    const head = this.buffered[0];
    if (head === undefined || Buffer.isBuffer(head) || head.offset !== 0 || head.linked.size !== size) return null;
    return head.linked;
  }

  /** Consumes the LinkedContent linkedAhead gave, unread, and closes it. */
  dropLinked(linked: LinkedContent): void {
    const head = this.buffered[0];
    if (head === undefined || Buffer.isBuffer(head) || head.linked !== linked) throw new Error('the linked content is not next in the stream');
    this.buffered.shift();
    closeLinked(linked);
    this.length -= linked.size;
    this.position += linked.size;
  }

  /** Closes what is left unread, and the source (a reader given up: its files and streams go now, not at collection). */
  async close(): Promise<void> {
    for (const b of this.buffered) if (!Buffer.isBuffer(b)) closeLinked(b.linked);
    this.buffered = [];
    if (!this.done) await this.it.return?.();
  }

  private take(n: number, kind: 'segment' | 'content'): Buffer {
    if (n === 0) return Buffer.alloc(0);
    this.bytesAhead(n);
    let out: Buffer;
    const first = this.buffered[0] as Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.buffered.shift();
      else this.buffered[0] = first.subarray(n);
    } else {
      const parts: Buffer[] = [];
      let need = n;
      while (need > 0) {
        const c = this.buffered[0] as Buffer;
        if (c.length <= need) {
          parts.push(c);
          this.buffered.shift();
          need -= c.length;
        } else {
          parts.push(c.subarray(0, need));
          this.buffered[0] = c.subarray(need);
          need = 0;
        }
      }
      out = Buffer.concat(parts);
    }
    this.length -= n;
    this.position += n;
    this.observe?.(out, kind);
    return out;
  }

  /** Up to n bytes (fewer only at the end of the stream). */
  async readUpTo(n: number, kind: 'segment' | 'content' = 'segment'): Promise<Buffer> {
    await this.fill(n);
    return this.take(Math.min(n, this.length), kind);
  }

  /** Exactly n bytes; `what` names what was cut short. */
  async readFull(n: number, what: () => string): Promise<Buffer> {
    const b = await this.readUpTo(n);
    if (b.length < n) throw new TarFormatError(`archive truncated: needed ${n} bytes, ${b.length} left (${what()})`);
    return b;
  }

  /** Up to n bytes (at least 1, unless the stream ended), for streaming data. */
  async readSome(n: number, kind: 'segment' | 'content'): Promise<Buffer> {
    await this.fill(1);
    if (this.length === 0) return Buffer.alloc(0);
    this.bytesAhead(1);
    return this.take(Math.min(n, (this.buffered[0] as Buffer).length), kind);
  }

  /** Whatever is left after the end of the archive (tar-split keeps it, and the DiffID covers it). */
  async readRest(): Promise<void> {
    for (;;) {
      await this.fill(1);
      if (this.length === 0) return;
      this.bytesAhead(1);
      this.take((this.buffered[0] as Buffer).length, 'segment');
    }
  }
}

// ---- Go's number parsing (archive/tar strconv.go, strconv.ParseInt) ----

/** A NUL-terminated C string: the bytes before the first NUL. */
function cBytes(b: Buffer): Buffer {
  const nul = b.indexOf(0);
  return nul < 0 ? b : b.subarray(0, nul);
}

const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);

/** Octal, or GNU base-256 (two's complement) when the top bit is set; null where Go reports ErrHeader. */
export function parseNumeric(field: Buffer): bigint | null {
  if (field.length > 0 && field[0] & 0x80) {
    const inv = field[0] & 0x40 ? 0xff : 0;
    let x = 0n;
    for (let i = 0; i < field.length; i++) {
      let c = field[i] ^ inv;
      if (i === 0) c &= 0x7f;
      if (x >> 56n > 0n) return null;
      x = (x << 8n) | BigInt(c);
    }
    if (x >> 63n > 0n) return null;
    return inv ? -x - 1n : x;
  }
  // Spaces and NULs trimmed, then the C string of what is left (trimSpaceNul, cBytes), without copies.
  let s = 0;
  let e = field.length;
  while (s < e && (field[s] === 0x20 || field[s] === 0)) s++;
  while (e > s && (field[e - 1] === 0x20 || field[e - 1] === 0)) e--;
  for (let i = s; i < e; i++) {
    if (field[i] === 0) {
      e = i;
      break;
    }
  }
  if (e === s) return 0n;
  if (e - s <= 17) {
    // Below 8^17 = 2^51: exact as a Number, and never past int64.
    let n = 0;
    for (let i = s; i < e; i++) {
      const c = field[i];
      if (c < 0x30 || c > 0x37) return null;
      n = n * 8 + (c - 0x30);
    }
    return BigInt(n);
  }
  const text = field.subarray(s, e);
  for (const c of text) if (c < 0x30 || c > 0x37) return null;
  const x = BigInt('0o' + text.toString('latin1'));
  if (x >= 1n << 64n) return null;
  return BigInt.asIntN(64, x);
}

/** strconv.ParseInt(s, 10, 64): an optional sign and decimal digits, in int64 range. */
export function parseDecimal(s: string): bigint | null {
  if (!/^[+-]?[0-9]+$/.test(s)) return null;
  const x = BigInt(s);
  return x > INT64_MAX || x < INT64_MIN ? null : x;
}

/** PAX time "%d(.%d)?" (archive/tar parsePAXTime): fractions beyond nanoseconds are dropped. */
export function parsePaxTime(s: string): TarTime | null {
  const dot = s.indexOf('.');
  const secText = dot < 0 ? s : s.slice(0, dot);
  const fraction = dot < 0 ? '' : s.slice(dot + 1);
  const sec = parseDecimal(secText);
  if (sec === null || !/^[0-9]*$/.test(fraction)) return null;
  let nsec = fraction === '' ? 0 : Number((fraction + '000000000').slice(0, 9));
  let whole = Number(sec);
  if (secText.startsWith('-') && nsec > 0) {
    // time.Unix(secs, -nsecs): one second less, and the rest as a positive fraction
    whole -= 1;
    nsec = 1e9 - nsec;
  }
  return { sec: whole, nsec };
}

// ---- headers ----

type Format = 'v7' | 'ustar' | 'gnu' | 'star';

interface RawHeader {
  /** Offset of the header block in the archive. */
  at: number;
  block: Buffer;
  format: Format;
  typeflag: string;
  name: Buffer;
  linkname: Buffer;
  size: bigint;
  mode: bigint;
  uid: bigint;
  gid: bigint;
  mtime: bigint;
  uname: Buffer;
  gname: Buffer;
  devmajor: bigint;
  devminor: bigint;
  atime: TarTime | null;
  ctime: TarTime | null;
}

function formatOf(block: Buffer): Format | null {
  const stored = parseNumeric(block.subarray(148, 156));
  // The checksum field counts as eight spaces; a signed sum is the unsigned one less 256 per byte > 127.
  let unsigned = 0;
  let high = 0;
  for (let i = 0; i < BLOCK; i++) {
    if (i === 148) i = 156;
    const c = block[i];
    unsigned += c;
    if (c > 127) high++;
  }
  unsigned += 8 * 0x20;
  const signed = unsigned - 256 * high;
  if (stored === null || (stored !== BigInt(unsigned) && stored !== BigInt(signed))) return null;
  const magic = block.toString('latin1', 257, 263);
  const version = block.toString('latin1', 263, 265);
  if (magic === 'ustar\0' && block.toString('latin1', 508, 512) === 'tar\0') return 'star';
  if (magic === 'ustar\0') return 'ustar';
  if (magic === 'ustar ' && version === ' \0') return 'gnu';
  return 'v7';
}

function isAscii(b: Buffer): boolean {
  for (const c of b) if (c >= 0x80) return false;
  return true;
}

/** Unpacks a header block as Go's Reader.readHeader does; numeric fields that do not parse are errors. */
function parseHeader(block: Buffer, at: number): RawHeader {
  const format = formatOf(block);
  if (format === null) throw new TarFormatError(`bad header checksum at byte ${at} (not a tar archive, or corrupt)`);
  let bad: string | null = null;
  const num = (start: number, end: number, field: string): bigint => {
    const v = parseNumeric(block.subarray(start, end));
    if (v === null) {
      bad ??= field;
      return 0n;
    }
    return v;
  };
  const timeOrNull = (start: number, end: number, fatal: boolean): TarTime | null => {
    const v = parseNumeric(block.subarray(start, end));
    if (v === null) {
      if (fatal) bad ??= 'time';
      return null;
    }
    return { sec: Number(v), nsec: 0 };
  };
  let name = cBytes(block.subarray(0, 100));
  const h: RawHeader = {
    at,
    block,
    format,
    typeflag: String.fromCharCode(block[156]),
    name,
    linkname: cBytes(block.subarray(157, 257)),
    size: num(124, 136, 'size'),
    mode: num(100, 108, 'mode'),
    uid: num(108, 116, 'uid'),
    gid: num(116, 124, 'gid'),
    mtime: num(136, 148, 'mtime'),
    uname: Buffer.alloc(0),
    gname: Buffer.alloc(0),
    devmajor: 0n,
    devminor: 0n,
    atime: null,
    ctime: null,
  };
  if (format !== 'v7') {
    h.uname = cBytes(block.subarray(265, 297));
    h.gname = cBytes(block.subarray(297, 329));
    h.devmajor = num(329, 337, 'devmajor');
    h.devminor = num(337, 345, 'devminor');
    let prefix: Buffer = Buffer.alloc(0);
    if (format === 'ustar') prefix = cBytes(block.subarray(345, 500));
    else if (format === 'star') {
      prefix = cBytes(block.subarray(345, 476));
      h.atime = timeOrNull(476, 488, true);
      h.ctime = timeOrNull(488, 500, true);
    } else {
      const a = block.subarray(345, 357);
      const c = block.subarray(357, 369);
      const atime = a[0] !== 0 ? parseNumeric(a) : 0n;
      const ctime = c[0] !== 0 ? parseNumeric(c) : 0n;
      if (atime === null || ctime === null) {
        // archives from Go < 1.8 put a ustar prefix where GNU keeps atime and ctime (golang.org/issue/12594)
        const s = cBytes(block.subarray(345, 500));
        if (isAscii(s)) prefix = s;
      } else {
        if (a[0] !== 0) h.atime = { sec: Number(atime), nsec: 0 };
        if (c[0] !== 0) h.ctime = { sec: Number(ctime), nsec: 0 };
      }
    }
    if (prefix.length > 0) name = Buffer.concat([prefix, Buffer.from('/'), name]);
    h.name = name;
  }
  if (bad !== null) throw new TarFormatError(`invalid tar header: the ${bad} field is not a number`, { file: name });
  return h;
}

/** Types that never have data, whatever their size field says (archive/tar isHeaderOnlyType). */
export function isHeaderOnlyType(type: string): boolean {
  return type === '1' || type === '2' || type === '3' || type === '4' || type === '5' || type === '6';
}

// ---- PAX records ----

const SPARSE_OFFSET = 'GNU.sparse.offset';
const SPARSE_NUMBYTES = 'GNU.sparse.numbytes';
const SPARSE_MAP = 'GNU.sparse.map';
/** Records Go applies to header fields: not repeated in TarEntry.pax. */
const APPLIED = new Set(['path', 'linkpath', 'size', 'uid', 'gid', 'uname', 'gname', 'mtime', 'atime', 'ctime']);

/** PAX records "%d %s=%s\n" as Go parses them (archive/tar parsePAX, parsePAXRecord, validPAXRecord). */
export function parsePaxRecords(body: Buffer, header: Buffer): Map<string, Buffer> {
  const bad = (why: string) => new TarFormatError(`malformed PAX header: ${why}`, { file: header });
  const records = new Map<string, Buffer>();
  const sparseMap: string[] = [];
  let i = 0;
  while (i < body.length) {
    const space = body.indexOf(0x20, i);
    if (space < 0) throw bad('a record without a length');
    const lengthText = body.toString('latin1', i, space);
    const length = parseDecimal(lengthText);
    if (length === null || length < 5n || length > BigInt(body.length - i)) throw bad(`bad record length ${JSON.stringify(lengthText)}`);
    const end = i + Number(length);
    if (end <= space + 1) throw bad(`bad record length ${JSON.stringify(lengthText)}`);
    if (body[end - 1] !== 0x0a) throw bad('a record does not end in a newline');
    const record = body.subarray(space + 1, end - 1);
    const eq = record.indexOf(0x3d);
    if (eq < 0) throw bad('a record without "="');
    const key = record.toString('latin1', 0, eq);
    const value = record.subarray(eq + 1);
    if (key === '') throw bad('a record with an empty key');
    if (key === 'path' || key === 'linkpath' || key === 'uname' || key === 'gname' ? value.includes(0) : key.includes('\0')) throw bad(`a NUL in the ${key} record`);
    if (key === SPARSE_OFFSET || key === SPARSE_NUMBYTES) {
      const expected = sparseMap.length % 2 === 0 ? SPARSE_OFFSET : SPARSE_NUMBYTES;
      if (key !== expected || value.includes(0x2c)) throw bad('GNU.sparse.offset and numbytes out of order');
      sparseMap.push(value.toString('latin1'));
    } else records.set(key, value);
    i = end;
  }
  if (sparseMap.length > 0) records.set(SPARSE_MAP, Buffer.from(sparseMap.join(','), 'latin1'));
  return records;
}

// ---- sparse maps ----

interface SparseFile {
  size: number;
  data: Array<[number, number]>;
}

/** archive/tar validateSparseEntries: fragments in order, not overlapping, inside the real size. */
function validSparse(data: Array<[bigint, bigint]>, size: bigint): boolean {
  if (size < 0n) return false;
  let preEnd = 0n;
  for (const [offset, length] of data) {
    if (offset < 0n || length < 0n || offset > INT64_MAX - length) return false;
    if (offset + length > size || preEnd > offset) return false;
    preEnd = offset + length;
  }
  return true;
}

function sparseOf(data: Array<[bigint, bigint]>, size: bigint, name: Buffer): SparseFile {
  if (!validSparse(data, size)) throw new TarFormatError('invalid sparse map', { file: name });
  const safe = (n: bigint) => {
    if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new TarFormatError('sparse file too large', { file: name });
    return Number(n);
  };
  return { size: safe(size), data: data.filter(([, l]) => l > 0n).map(([o, l]) => [safe(o), safe(l)]) };
}

/** GNU.sparse.map "offset,length,…" with GNU.sparse.numblocks (formats 0.0 and 0.1). */
function sparseMap01(pax: Map<string, Buffer>, name: Buffer): Array<[bigint, bigint]> {
  const bad = () => new TarFormatError('invalid GNU sparse map in the PAX header', { file: name });
  const count = parseDecimal(pax.get('GNU.sparse.numblocks')?.toString('latin1') ?? '');
  if (count === null || count < 0n) throw bad();
  const text = pax.get(SPARSE_MAP)?.toString('latin1') ?? '';
  const fields = text === '' ? [] : text.split(',');
  if (BigInt(fields.length) !== 2n * count) throw bad();
  const out: Array<[bigint, bigint]> = [];
  for (let i = 0; i < fields.length; i += 2) {
    const offset = parseDecimal(fields[i]);
    const length = parseDecimal(fields[i + 1]);
    if (offset === null || length === null) throw bad();
    out.push([offset, length]);
  }
  return out;
}

// ---- the reader ----

async function* asAsync(source: AsyncIterable<Chunk> | Iterable<Chunk>): AsyncGenerator<Chunk> {
  yield* source;
}

const padOf = (size: number) => (BLOCK - (size % BLOCK)) % BLOCK;

function safeNumber(n: bigint, what: string, name: Buffer): number {
  if (n > BigInt(Number.MAX_SAFE_INTEGER) || n < BigInt(Number.MIN_SAFE_INTEGER)) throw new TarFormatError(`${what} ${n} is out of range`, { file: name });
  return Number(n);
}

/** Entries of a tar read from a stream (or any iterable of chunks). */
export async function* readTar(source: AsyncIterable<Chunk> | Iterable<Chunk>, observe?: RawObserver): AsyncGenerator<TarItem> {
  const src = new ByteSource(asAsync(source)[Symbol.asyncIterator](), observe);
  try {
    yield* readEntries(src, observe);
  } finally {
    await src.close();
  }
}

async function* readEntries(src: ByteSource, observe: RawObserver | undefined): AsyncGenerator<TarItem> {
  /** Reads padding; false when the stream ended inside it (Go then ends the archive cleanly). */
  const readPadding = async (n: number): Promise<boolean> => n === 0 || (await src.readUpTo(n)).length === n;

  /** The next header block, or null at the end of the archive (Go's readHeader end rules). */
  const nextBlock = async (): Promise<{ block: Buffer; at: number } | null> => {
    const at = src.position;
    const block = await src.readUpTo(BLOCK);
    if (block.length === 0) return null;
    if (block.length < BLOCK) throw new TarFormatError(`archive truncated: a header at byte ${at} is cut short`);
    if (!block.every((x) => x === 0)) return { block, at };
    const second = await src.readUpTo(BLOCK);
    if (second.length === 0) return null;
    if (second.length < BLOCK) throw new TarFormatError(`archive truncated: an end-of-archive block at byte ${at + BLOCK} is cut short`);
    if (second.every((x) => x === 0)) return null;
    throw new TarFormatError(`a zero block at byte ${at} is followed by more headers (corrupt archive)`);
  };

  /** Body of a PAX header or GNU long name: whole, and no larger than Go allows. `ended`: the stream ended in its padding. */
  const readSpecial = async (h: RawHeader): Promise<{ body: Buffer; ended: boolean }> => {
    if (h.size > BigInt(MAX_SPECIAL_FILE)) throw new TarFormatError(`a ${JSON.stringify(h.typeflag)} header of ${h.size} bytes (Go's limit is ${MAX_SPECIAL_FILE})`, { file: h.name });
    const size = Number(h.size);
    const body = await src.readFull(size, () => `inside the ${JSON.stringify(h.typeflag)} header ${displayPath(h.name)}`);
    return { body, ended: !(await readPadding(padOf(size))) };
  };

  for (;;) {
    // One call of Go's Reader.next(): metadata headers until an entry.
    let pax: Map<string, Buffer> | null = null;
    let longName: Buffer | null = null;
    let longLink: Buffer | null = null;
    let item: { entry: TarEntry; stored: number; sparse: SparseFile | null } | null = null;
    let ended = false;
    while (item === null) {
      const next = await nextBlock();
      if (next === null) {
        await src.readRest();
        return;
      }
      const h = parseHeader(next.block, next.at);
      if (!isHeaderOnlyType(h.typeflag) && h.size < 0n) throw new TarFormatError(`negative size ${h.size}`, { file: h.name });
      if (h.typeflag === 'x' || h.typeflag === 'g' || h.typeflag === 'L' || h.typeflag === 'K') {
        const special = await readSpecial(h);
        ended = special.ended;
        if (h.typeflag === 'L') longName = Buffer.from(cBytes(special.body));
        else if (h.typeflag === 'K') longLink = Buffer.from(cBytes(special.body));
        else {
          const records = parsePaxRecords(special.body, h.name);
          if (h.typeflag === 'g') item = { entry: globalEntry(h, records), stored: 0, sparse: null };
          else pax = records;
        }
        // The stream ended in the padding: Go's next call of Next reports the end (after a global header, the entry comes first).
        if (ended && item === null) return;
        continue;
      }
      item = await fileEntry(h, pax, longName, longLink, src);
    }
    const { entry, stored, sparse } = item;
    let left = stored;
    let used = false;
    const dataPosition = src.position;
    // A file whose content came as a LinkedContent (an observer records bytes: it reads them).
    const linked = sparse === null && stored > 0 && !observe ? await src.linkedAhead(stored) : null;
    const readStored = async (n: number, kind: 'segment' | 'content'): Promise<Buffer> => {
      const piece = await src.readSome(Math.min(n, left, READ_PIECE), kind);
      if (piece.length === 0) throw new TarFormatError(`archive truncated inside the file (${left} bytes missing)`, { file: entry.nameBytes });
      left -= piece.length;
      return piece;
    };
    async function* extents(): AsyncGenerator<Extent> {
      if (used) throw new Error(`${entry.name}: content read twice`);
      used = true;
      if (sparse === null) {
        let offset = 0;
        while (left > 0) {
          const data = await readStored(left, 'content');
          yield { offset, data };
          offset += data.length;
        }
        return;
      }
      // A sparse file: data fragments come from the archive in order, holes are zeros (archive/tar sparseFileReader).
      // Its stored bytes are not the file's content, so tar-split keeps them as raw segments.
      let pos = 0;
      for (const [offset, length] of [...sparse.data, [sparse.size, 0] as [number, number]]) {
        if (offset > pos) yield { offset: pos, hole: offset - pos };
        let need = length;
        while (need > 0) {
          if (left === 0) throw new TarFormatError('sparse file references non-existent data', { file: entry.nameBytes });
          const data = await readStored(need, 'segment');
          yield { offset: offset + length - need, data };
          need -= data.length;
        }
        pos = offset + length;
      }
      if (left > 0) throw new TarFormatError('sparse file contains unreferenced data', { file: entry.nameBytes });
    }
    const content = {
      async *[Symbol.asyncIterator]() {
        for await (const e of extents()) {
          if ('data' in e) yield e.data;
          else for (let n = e.hole; n > 0; n -= READ_PIECE) yield ZEROS.subarray(0, Math.min(n, READ_PIECE));
        }
      },
    };
    const take = () => {
      if (used) throw new Error(`${entry.name}: content read twice`);
      used = true;
      src.dropLinked(linked!);
      left = 0;
    };
    const linkedView: LinkedView | null = linked
      ? {
          get fd() {
            return openedFd(linked);
          },
          get stat() {
            openedFd(linked);
            return linked.stat;
          },
          path: linked.path,
          ...(linked.at ? { at: linked.at } : {}),
          take,
          close: () => closeLinked(linked),
        }
      : null;
    yield { entry, content, extents, offset: dataPosition, ...(linkedView ? { linked: linkedView } : {}) };
    if (ended) return;
    // Content nobody asked for is skipped unread.
    if (!used && linked) take();
    if (!used) {
      used = true;
      if (sparse !== null) {
        // tar-split reads every sparse file whole, so Docker meets these errors even where nothing reads the content
        const referenced = sparse.data.reduce((sum, [, l]) => sum + l, 0);
        if (referenced > left) throw new TarFormatError('sparse file references non-existent data', { file: entry.nameBytes });
        if (referenced < left) throw new TarFormatError('sparse file contains unreferenced data', { file: entry.nameBytes });
      }
    }
    while (left > 0) await readStored(left, sparse === null ? 'content' : 'segment');
    if (!(await readPadding(padOf(stored)))) {
      await src.readRest();
      return;
    }
  }
}

/** A PAX global header as Go returns it: its own name (or its path record), and nothing else applied. */
function globalEntry(h: RawHeader, records: Map<string, Buffer>): TarEntry {
  const path = records.get('path');
  const nameBytes = path && path.length > 0 ? Buffer.from(path) : Buffer.from(h.name);
  const entry = blankEntry(nameBytes, 'g');
  for (const [k, v] of records) {
    if (k.startsWith('SCHILY.xattr.') && v.length > 0) entry.xattrs[k.slice('SCHILY.xattr.'.length)] = Buffer.from(v);
    else if (!APPLIED.has(k)) entry.pax[k] = v.toString('utf8');
  }
  return entry;
}

function blankEntry(nameBytes: Buffer, type: string): TarEntry {
  return {
    name: displayPath(nameBytes),
    nameBytes,
    type,
    mode: 0,
    uid: 0,
    gid: 0,
    size: 0,
    storedSize: 0,
    mtime: 0,
    mtimeNsec: 0,
    atime: null,
    ctime: null,
    linkname: '',
    linknameBytes: Buffer.alloc(0),
    uname: '',
    gname: '',
    devmajor: 0,
    devminor: 0,
    xattrs: {},
    pax: {},
    sparseData: null,
  };
}

/** A file entry: the header with PAX records and GNU long names applied as Go's Reader.next does. */
async function fileEntry(
  h: RawHeader,
  pax: Map<string, Buffer> | null,
  longName: Buffer | null,
  longLink: Buffer | null,
  src: ByteSource,
): Promise<{ entry: TarEntry; stored: number; sparse: SparseFile | null }> {
  let nameBytes: Buffer = h.name;
  let linkBytes: Buffer = h.linkname;
  let size = h.size;
  let uid = h.uid;
  let gid = h.gid;
  let uname = h.uname;
  let gname = h.gname;
  let mtime: TarTime = { sec: Number(h.mtime), nsec: 0 };
  let atime = h.atime;
  let ctime = h.ctime;
  const xattrs: Record<string, Buffer> = {};
  const other: Record<string, string> = {};
  const shownName = () => longName ?? pax?.get('path') ?? h.name;
  const badRecord = (key: string) => new TarFormatError(`invalid PAX ${key} record`, { file: shownName() });
  for (const [key, value] of pax ?? []) {
    if (value.length === 0) continue; // an empty record keeps the header's value
    const text = value.toString('latin1');
    switch (key) {
      case 'path':
        nameBytes = Buffer.from(value);
        break;
      case 'linkpath':
        linkBytes = Buffer.from(value);
        break;
      case 'uname':
        uname = value;
        break;
      case 'gname':
        gname = value;
        break;
      case 'uid':
      case 'gid':
      case 'size': {
        const n = parseDecimal(text);
        if (n === null) throw badRecord(key);
        if (key === 'uid') uid = n;
        else if (key === 'gid') gid = n;
        else size = n;
        break;
      }
      case 'mtime':
      case 'atime':
      case 'ctime': {
        const t = parsePaxTime(text);
        if (t === null) throw badRecord(key);
        if (key === 'mtime') mtime = t;
        else if (key === 'atime') atime = t;
        else ctime = t;
        break;
      }
      default:
        if (key.startsWith('SCHILY.xattr.')) xattrs[key.slice('SCHILY.xattr.'.length)] = Buffer.from(value);
        else other[key] = value.toString('utf8');
    }
  }
  if (longName && longName.length > 0) nameBytes = longName;
  if (longLink && longLink.length > 0) linkBytes = longLink;
  let type = h.typeflag;
  if (type === '\0') type = nameBytes.length > 0 && nameBytes[nameBytes.length - 1] === 0x2f ? '5' : '0';
  if (!isHeaderOnlyType(type) && size < 0n) throw new TarFormatError(`negative size ${size}`, { file: nameBytes });
  let stored = isHeaderOnlyType(type) ? 0 : safeNumber(size, 'size', nameBytes);

  let sparse: SparseFile | null = null;
  if (type === 'S') {
    sparse = await oldGnuSparse(h, nameBytes, src);
    size = BigInt(sparse.size);
  } else if (pax) {
    const found = await paxSparse(pax, nameBytes, stored, src);
    if (found) {
      if (isHeaderOnlyType(type)) throw new TarFormatError('a sparse map on an entry that has no data', { file: nameBytes });
      nameBytes = found.name;
      sparse = found.sparse;
      size = BigInt(sparse.size);
      stored -= found.mapBytes;
    }
  }
  const entry: TarEntry = {
    ...blankEntry(nameBytes, type),
    mode: safeNumber(h.mode, 'mode', nameBytes),
    uid: safeNumber(uid, 'uid', nameBytes),
    gid: safeNumber(gid, 'gid', nameBytes),
    size: safeNumber(size, 'size', nameBytes),
    storedSize: stored,
    mtime: mtime.sec,
    mtimeNsec: mtime.nsec,
    atime,
    ctime,
    linkname: displayPath(linkBytes),
    linknameBytes: Buffer.from(linkBytes),
    uname: uname.toString('utf8'),
    gname: gname.toString('utf8'),
    devmajor: safeNumber(h.devmajor, 'devmajor', nameBytes),
    devminor: safeNumber(h.devminor, 'devminor', nameBytes),
    xattrs,
    pax: other,
    sparseData: sparse ? sparse.data : null,
  };
  return { entry, stored, sparse };
}

/**
 * PAX sparse formats (archive/tar readGNUSparsePAXHeaders): 0.0 and 0.1 keep the map in PAX records,
 * 1.0 at the start of the data; the real name and size come from GNU.sparse.name and .size/.realsize.
 */
async function paxSparse(
  pax: Map<string, Buffer>,
  name: Buffer,
  stored: number,
  src: ByteSource,
): Promise<{ name: Buffer; sparse: SparseFile; mapBytes: number } | null> {
  const text = (k: string) => pax.get(k)?.toString('latin1') ?? '';
  const major = text('GNU.sparse.major');
  const minor = text('GNU.sparse.minor');
  let v1: boolean;
  if (major === '0' && (minor === '0' || minor === '1')) v1 = false;
  else if (major === '1' && minor === '0') v1 = true;
  else if (major !== '' || minor !== '') return null; // an unknown version: Go reads the entry as a plain file
  else if (text(SPARSE_MAP) !== '') v1 = false;
  else return null;
  const realName = pax.get('GNU.sparse.name');
  const shown = realName && realName.length > 0 ? Buffer.from(realName) : name;
  let size = BigInt(stored);
  const sizeText = text('GNU.sparse.size') || text('GNU.sparse.realsize');
  if (sizeText !== '') {
    const n = parseDecimal(sizeText);
    if (n === null) throw new TarFormatError('invalid GNU.sparse size record', { file: shown });
    size = n;
  }
  let data: Array<[bigint, bigint]>;
  let mapBytes = 0;
  if (v1) {
    ({ data, mapBytes } = await sparseMap10(src, stored, shown));
  } else data = sparseMap01(pax, shown);
  return { name: shown, sparse: sparseOf(data, size, shown), mapBytes };
}

/** The 1.0 map: newline-terminated decimal numbers in whole blocks at the start of the data. */
async function sparseMap10(src: ByteSource, stored: number, name: Buffer): Promise<{ data: Array<[bigint, bigint]>; mapBytes: number }> {
  const bad = (why: string) => new TarFormatError(`invalid GNU sparse 1.0 map: ${why}`, { file: name });
  let text = '';
  let newlines = 0;
  let mapBytes = 0;
  const feed = async (count: number) => {
    while (newlines < count) {
      if (mapBytes + BLOCK > MAX_SPECIAL_FILE) throw bad('longer than 1 MiB');
      if (mapBytes + BLOCK > stored) throw bad('cut short');
      const block = await src.readFull(BLOCK, () => `inside the sparse map of ${displayPath(name)}`);
      mapBytes += BLOCK;
      const s = block.toString('latin1');
      text += s;
      for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) === 0x0a) newlines++;
    }
  };
  let cursor = 0;
  const token = () => {
    const nl = text.indexOf('\n', cursor);
    const tok = text.slice(cursor, nl);
    cursor = nl + 1;
    return tok;
  };
  await feed(1);
  const count = parseDecimal(token());
  if (count === null || count < 0n) throw bad('bad entry count');
  newlines -= 1;
  if (count > BigInt(MAX_SPECIAL_FILE)) throw bad('longer than 1 MiB');
  await feed(2 * Number(count));
  const data: Array<[bigint, bigint]> = [];
  for (let i = 0n; i < count; i++) {
    const offset = parseDecimal(token());
    const length = parseDecimal(token());
    if (offset === null || length === null) throw bad('not a number');
    data.push([offset, length]);
  }
  return { data, mapBytes };
}

/** Old GNU sparse ('S'): four map entries in the header, more in extension blocks right after it. */
async function oldGnuSparse(h: RawHeader, name: Buffer, src: ByteSource): Promise<SparseFile> {
  if (h.format !== 'gnu') throw new TarFormatError('a GNU sparse entry in a non-GNU header', { file: name });
  const realSize = parseNumeric(h.block.subarray(483, 495));
  if (realSize === null) throw new TarFormatError('invalid tar header: the realsize field is not a number', { file: name });
  const data: Array<[bigint, bigint]> = [];
  let block = h.block;
  let base = 386;
  let entries = 4;
  let extendedAt = 482;
  for (;;) {
    for (let i = 0; i < entries; i++) {
      const at = base + i * 24;
      if (block[at] === 0) break;
      const offset = parseNumeric(block.subarray(at, at + 12));
      const length = parseNumeric(block.subarray(at + 12, at + 24));
      if (offset === null || length === null) throw new TarFormatError('invalid GNU sparse map', { file: name });
      data.push([offset, length]);
    }
    if (block[extendedAt] === 0) break;
    block = await src.readFull(BLOCK, () => `inside the sparse map of ${displayPath(name)}`);
    base = 0;
    entries = 21;
    extendedAt = 504;
  }
  return sparseOf(data, realSize, name);
}
