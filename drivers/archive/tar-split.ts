// Reading tar-split metadata (vbatts/tar-split, tar/storage/entry.go): gzipped newline-delimited JSON.
// type 2 = segment: raw bytes of the original tar (headers, padding, end blocks), base64 in "payload".
// type 1 = file: name (or base64 name_raw), size, and payload = base64 of the CRC-64/ISO of the content.
import { StrataError } from '../../native/errors.js';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
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

/** Validates one JSON line; throws TarSplitError naming the line. */
export function parseTarSplitLine(line: string, lineNo: number): TarSplitEntry {
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

/** Streams the entries of a tar-split.json.gz, checking their positions run 0, 1, 2, … */
export async function* readTarSplit(path: string): AsyncGenerator<TarSplitEntry> {
  const gunzip = createGunzip();
  const source = createReadStream(path);
  source.on('error', (err) => gunzip.destroy(err));
  const lines = createInterface({ input: source.pipe(gunzip), crlfDelay: Infinity });
  let lineNo = 0;
  let expected = 0;
  try {
    for await (const line of lines) {
      lineNo++;
      if (line === '') continue;
      const entry = parseTarSplitLine(line, lineNo);
      if (entry.position !== expected) throw new TarSplitError(`line ${lineNo}: position ${entry.position}, expected ${expected}`);
      expected++;
      yield entry;
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
