// Reading tar-split metadata (vbatts/tar-split, tar/storage/entry.go): gzipped newline-delimited JSON.
// type 2 = segment: raw bytes of the original tar (headers, padding, end blocks), base64 in "payload".
// type 1 = file: name (or base64 name_raw), size, and payload = base64 of the CRC-64/ISO of the content.
import { StrataError } from '../../native/errors.js';
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';

export const SEGMENT = 2;
export const FILE = 1;

export interface SegmentEntry {
  type: typeof SEGMENT;
  position: number;
  payload: Buffer;
}

export interface FileEntry {
  type: typeof FILE;
  position: number;
  /** The name as stored in the tar (may start with "./"), for messages. */
  name: string;
  /** The name's exact bytes, to open the file (tar-split keeps non-UTF-8 names in name_raw). */
  nameBytes: Buffer;
  size: number;
  /** CRC-64 of the content (8 bytes), absent for empty files. */
  crc: Buffer | null;
}

export type TarSplitEntry = SegmentEntry | FileEntry;

export class TarSplitError extends StrataError {
  override name = 'TarSplitError';
}

interface RawEntry {
  type?: unknown;
  name?: unknown;
  name_raw?: unknown;
  size?: unknown;
  payload?: unknown;
  position?: unknown;
}

const SEGMENT_HEAD = '{"type":2,"payload":"';
const SEGMENT_TAIL = /^","position":(0|[1-9][0-9]{0,15})\}$/;

/**
 * A segment line exactly as tar-split's Go encoder writes it ({"type":2,"payload":"…","position":N}),
 * read without JSON.parse: the same entry JSON.parse would give, or null for any other line.
 */
function segmentLine(line: string): SegmentEntry | null {
  if (!line.startsWith(SEGMENT_HEAD)) return null;
  const end = line.indexOf('"', SEGMENT_HEAD.length);
  if (end < 0) return null;
  const payload = line.slice(SEGMENT_HEAD.length, end);
  if (payload.includes('\\')) return null; // an escape: JSON.parse decodes it
  const tail = SEGMENT_TAIL.exec(line.slice(end));
  if (!tail) return null;
  return { type: SEGMENT, position: Number(tail[1]), payload: Buffer.from(payload, 'base64') };
}

/** Validates one JSON line; throws TarSplitError naming the line. */
export function parseTarSplitLine(line: string, lineNo: number): TarSplitEntry {
  const segment = segmentLine(line);
  if (segment) return segment;
  let raw: RawEntry;
  try {
    raw = JSON.parse(line) as RawEntry;
  } catch {
    throw new TarSplitError(`line ${lineNo}: not JSON`);
  }
  const position = typeof raw.position === 'number' ? raw.position : -1;
  if (raw.type === SEGMENT) {
    if (typeof raw.payload !== 'string') throw new TarSplitError(`line ${lineNo}: segment without payload`);
    return { type: SEGMENT, position, payload: Buffer.from(raw.payload, 'base64') };
  }
  if (raw.type === FILE) {
    let nameBytes: Buffer;
    if (typeof raw.name_raw === 'string') nameBytes = Buffer.from(raw.name_raw, 'base64');
    else if (typeof raw.name === 'string') nameBytes = Buffer.from(raw.name, 'utf8');
    else throw new TarSplitError(`line ${lineNo}: file entry without a name`);
    const name = nameBytes.toString('utf8');
    const size = raw.size === undefined ? 0 : raw.size;
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw new TarSplitError(`line ${lineNo}: bad size for ${name}`);
    const crc = typeof raw.payload === 'string' ? Buffer.from(raw.payload, 'base64') : null;
    if (size > 0 && (crc === null || crc.length !== 8)) throw new TarSplitError(`line ${lineNo}: ${name} has no CRC-64 payload`);
    return { type: FILE, position, name, nameBytes, size, crc };
  }
  throw new TarSplitError(`line ${lineNo}: unknown entry type ${JSON.stringify(raw.type)}`);
}

const NEWLINE = 0x0a;
const CR = 0x0d;
/** How much inflated tar-split is parsed at a time. */
const INFLATE_CHUNK = 1 << 20;

/**
 * Streams the entries of a tar-split.json.gz in groups (all the entries of a stretch of the inflated
 * bytes), checking their positions run 0, 1, 2, … Lines are cut from the inflated Buffers, so the only
 * per-line work is its JSON.parse.
 */
export async function* readTarSplitGroups(path: string): AsyncGenerator<TarSplitEntry[]> {
  const gunzip = createGunzip({ chunkSize: INFLATE_CHUNK });
  const source = createReadStream(path, { highWaterMark: 256 * 1024 });
  source.on('error', (err) => gunzip.destroy(err));
  let lineNo = 0;
  let expected = 0;
  const parse = (buf: Buffer, start: number, end: number, into: TarSplitEntry[]) => {
    lineNo++;
    if (end > start && buf[end - 1] === CR) end--; // a CRLF line end, as readline took it
    if (end === start) return;
    const entry = parseTarSplitLine(buf.toString('utf8', start, end), lineNo);
    if (entry.position !== expected) throw new TarSplitError(`line ${lineNo}: position ${entry.position}, expected ${expected}`);
    expected++;
    into.push(entry);
  };
  try {
    let rest: Buffer | null = null;
    for await (const chunk of source.pipe(gunzip) as AsyncIterable<Buffer>) {
      const group: TarSplitEntry[] = [];
      let at = 0;
      if (rest) {
        // The line begun in the chunk before: joined with its end only.
        const nl = chunk.indexOf(NEWLINE);
        if (nl < 0) {
          rest = Buffer.concat([rest, chunk]);
          continue;
        }
        const line = Buffer.concat([rest, chunk.subarray(0, nl)]);
        parse(line, 0, line.length, group);
        at = nl + 1;
        rest = null;
      }
      for (;;) {
        const nl = chunk.indexOf(NEWLINE, at);
        if (nl < 0) break;
        parse(chunk, at, nl, group);
        at = nl + 1;
      }
      if (at < chunk.length) rest = Buffer.from(chunk.subarray(at));
      if (group.length > 0) yield group;
    }
    if (rest) {
      const group: TarSplitEntry[] = [];
      parse(rest, 0, rest.length, group);
      if (group.length > 0) yield group;
    }
  } catch (err) {
    if (err instanceof TarSplitError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new TarSplitError(code?.startsWith('Z_') ? `corrupt gzip (${(err as Error).message})` : (err as Error).message);
  } finally {
    source.destroy();
  }
  if (expected === 0) throw new TarSplitError('no entries');
}

/** Streams the entries of a tar-split.json.gz one by one (readTarSplitGroups, flattened). */
export async function* readTarSplit(path: string): AsyncGenerator<TarSplitEntry> {
  for await (const group of readTarSplitGroups(path)) yield* group;
}
