// A streaming tar reader (ustar, PAX 'x'/'g', GNU 'L'/'K' long names): entries one at a time with their
// content as chunks, never a whole file in memory. Serves layer comparison and applying layers.
import { StrataError } from '../../native/errors.js';
import { BLOCK } from './tar-header.js';

export interface TarEntry {
  name: string;
  /** The name's exact bytes (a ustar name need not be UTF-8). */
  nameBytes: Buffer;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname: string;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
  xattrs: Record<string, Buffer>;
  /** PAX records other than the ones above. */
  pax: Record<string, string>;
}

export class TarFormatError extends StrataError {
  override name = 'TarFormatError';
}

/** Pulls exact byte counts out of an async chunk source. */
/** Sees every byte of the archive once, in order: headers and padding as 'segment', file data as 'content'. */
export type RawObserver = (bytes: Buffer, kind: 'segment' | 'content') => void;

class ByteSource {
  private buffered: Buffer[] = [];
  private length = 0;
  private done = false;
  /** Bytes handed out so far: the offset in the archive of the next byte. */
  position = 0;
  constructor(
    private readonly it: AsyncIterator<Chunk>,
    private readonly observe?: RawObserver,
  ) {}

  /** Whatever is left after the end of the archive (tar-split keeps it). */
  async readRest(): Promise<void> {
    for (;;) {
      if (!(await this.fill(1))) return;
      const chunk = this.buffered.shift()!;
      this.length -= chunk.length;
      this.observe?.(chunk, 'segment');
    }
  }

  private async fill(n: number): Promise<boolean> {
    while (this.length < n && !this.done) {
      const r = await this.it.next();
      if (r.done) this.done = true;
      else {
        const chunk = typeof r.value === 'string' ? Buffer.from(r.value) : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
        this.buffered.push(chunk);
        this.length += chunk.length;
      }
    }
    return this.length >= n;
  }

  /** Exactly n bytes, or null at a clean end when none are left. */
  async read(n: number): Promise<Buffer | null> {
    if (!(await this.fill(n))) {
      if (this.length === 0) return null;
      throw new TarFormatError(`archive truncated: needed ${n} bytes, ${this.length} left`);
    }
    const all = this.buffered.length === 1 ? this.buffered[0] : Buffer.concat(this.buffered);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.buffered = rest.length ? [rest] : [];
    this.length = rest.length;
    this.position += n;
    this.observe?.(out, 'segment');
    return out;
  }

  /** Up to n bytes (at least 1), for streaming content. */
  async readSome(n: number): Promise<Buffer> {
    if (!(await this.fill(1))) throw new TarFormatError('archive truncated inside a file');
    const first = this.buffered[0];
    const take = Math.min(n, first.length);
    const out = first.subarray(0, take);
    if (take === first.length) this.buffered.shift();
    else this.buffered[0] = first.subarray(take);
    this.length -= take;
    this.position += take;
    this.observe?.(out, 'content');
    return out;
  }
}

function cBytes(b: Buffer, start: number, width: number): Buffer {
  const field = b.subarray(start, start + width);
  const nul = field.indexOf(0);
  return nul < 0 ? field : field.subarray(0, nul);
}

function cString(b: Buffer, start: number, width: number): string {
  return cBytes(b, start, width).toString('utf8');
}

function octal(b: Buffer, start: number, width: number): number {
  const field = b.subarray(start, start + width);
  if (field[0] & 0x80) {
    // GNU base-256 for large numbers
    let n = 0;
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i];
    return n + (field[0] & 0x7f) * 256 ** (field.length - 1);
  }
  const text = field.toString('ascii').replace(/[\0 ]+$/g, '').replace(/^ +/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarFormatError(`bad octal field ${JSON.stringify(text)}`);
  return parseInt(text, 8);
}

function checksumOk(b: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : b[i];
  try {
    return sum === octal(b, 148, 8);
  } catch {
    return false;
  }
}

function parsePax(data: Buffer): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  let i = 0;
  while (i < data.length) {
    const space = data.indexOf(0x20, i);
    if (space < 0) throw new TarFormatError('bad PAX record');
    const length = Number(data.subarray(i, space).toString('ascii'));
    if (!Number.isInteger(length) || length <= 0 || i + length > data.length) throw new TarFormatError('bad PAX record length');
    const record = data.subarray(space + 1, i + length - 1);
    const eq = record.indexOf(0x3d);
    if (eq < 0) throw new TarFormatError('bad PAX record');
    out[record.subarray(0, eq).toString('utf8')] = record.subarray(eq + 1);
    i += length;
  }
  return out;
}

export interface TarItem {
  entry: TarEntry;
  /** The content; must be consumed (or is skipped) before the next entry is read. */
  content: AsyncIterable<Buffer>;
  /** Offset of the content in the archive (to read a member again later without this reader). */
  offset: number;
}

const padOf = (size: number) => (BLOCK - (size % BLOCK)) % BLOCK;

type Chunk = Buffer | Uint8Array | string;

async function* asAsync(source: AsyncIterable<Chunk> | Iterable<Chunk>): AsyncGenerator<Chunk> {
  yield* source;
}

/** Entries of a tar read from a stream (or any iterable of chunks). */
export async function* readTar(source: AsyncIterable<Chunk> | Iterable<Chunk>, observe?: RawObserver): AsyncGenerator<TarItem> {
  const src = new ByteSource(asAsync(source), observe);
  let globalPax: Record<string, Buffer> = {};
  let pax: Record<string, Buffer> = {};
  let longName: Buffer | null = null;
  let longLink: string | null = null;
  const readBody = async (size: number): Promise<Buffer> => {
    const body = size ? await src.read(size) : Buffer.alloc(0);
    if (body === null) throw new TarFormatError('archive truncated');
    if (padOf(size)) await src.read(padOf(size));
    return body;
  };
  for (;;) {
    const block = await src.read(BLOCK);
    if (block === null) return; // no end-of-archive blocks: accepted, as GNU tar does
    if (block.every((x) => x === 0)) {
      await src.readRest();
      return;
    }
    if (!checksumOk(block)) throw new TarFormatError('bad header checksum (not a tar archive, or corrupt)');
    const type = String.fromCharCode(block[156] || 0x30);
    const size = octal(block, 124, 12);
    if (type === 'x' || type === 'g') {
      const records = parsePax(await readBody(size));
      if (type === 'g') globalPax = { ...globalPax, ...records };
      else pax = { ...pax, ...records };
      continue;
    }
    if (type === 'L' || type === 'K') {
      const body = await readBody(size);
      const nul = body.indexOf(0);
      const value = nul < 0 ? body : body.subarray(0, nul);
      if (type === 'L') longName = Buffer.from(value);
      else longLink = value.toString('utf8');
      continue;
    }
    const all = { ...globalPax, ...pax };
    const magic = block.subarray(257, 263).toString('binary');
    const prefix = magic.startsWith('ustar') && magic !== 'ustar ' ? cString(block, 345, 155) : '';
    let nameBytes = longName ?? (prefix ? Buffer.concat([Buffer.from(`${prefix}/`), cBytes(block, 0, 100)]) : Buffer.from(cBytes(block, 0, 100)));
    if (all.path) nameBytes = Buffer.from(all.path);
    const name = nameBytes.toString('utf8');
    const xattrs: Record<string, Buffer> = {};
    const other: Record<string, string> = {};
    for (const [k, v] of Object.entries(all)) {
      if (k.startsWith('SCHILY.xattr.')) xattrs[k.slice('SCHILY.xattr.'.length)] = v;
      else if (!['path', 'linkpath', 'size', 'uid', 'gid', 'uname', 'gname', 'mtime'].includes(k)) other[k] = v.toString('utf8');
    }
    const entry: TarEntry = {
      name,
      nameBytes,
      type: type === '\0' || type === '7' ? '0' : type,
      mode: octal(block, 100, 8),
      uid: all.uid ? Number(all.uid.toString()) : octal(block, 108, 8),
      gid: all.gid ? Number(all.gid.toString()) : octal(block, 116, 8),
      size: all.size ? Number(all.size.toString()) : size,
      mtime: all.mtime ? Math.floor(Number(all.mtime.toString())) : octal(block, 136, 12),
      linkname: all.linkpath ? all.linkpath.toString('utf8') : longLink ?? cString(block, 157, 100),
      uname: all.uname ? all.uname.toString('utf8') : cString(block, 265, 32),
      gname: all.gname ? all.gname.toString('utf8') : cString(block, 297, 32),
      devmajor: octal(block, 329, 8),
      devminor: octal(block, 337, 8),
      xattrs,
      pax: other,
    };
    pax = {};
    longName = null;
    longLink = null;
    if (entry.type === 'S') throw new TarFormatError(`${entry.name}: GNU sparse entries are not supported`);
    const contentSize = entry.type === '0' || entry.type === '\0' ? entry.size : ['1', '2', '3', '4', '5', '6'].includes(entry.type) ? 0 : entry.size;
    let left = contentSize;
    let consumed = false;
    const content = {
      async *[Symbol.asyncIterator]() {
        consumed = true;
        while (left > 0) {
          const piece = await src.readSome(Math.min(left, 1 << 20));
          left -= piece.length;
          yield piece;
        }
      },
    };
    yield { entry, content, offset: src.position };
    if (!consumed || left > 0) {
      while (left > 0) left -= (await src.readSome(Math.min(left, 1 << 20))).length;
    }
    if (padOf(contentSize)) await src.read(padOf(contentSize));
  }
}
