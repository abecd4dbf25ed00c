// Rebuilds a layer's original tar byte for byte from its tar-split and the files on disk
// (what moby's layer store does for `docker save`): segments verbatim, file contents read by name,
// each opened beneath the layer's directory and checked against its record before it is read.
import { errnoOf, StrataError } from '../../native/errors.js';
import { fileTypeWords, nativeHelpers, type BeneathOp, type NativeHelpers } from '../../native/index.js';
import { joinBytes } from '../../native/names.js';
import { LayerEntryError, openLayerDir, type EntryInfo, type LayerFiles } from '../../native/open-beneath.js';
import { closeSync, createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { ChunkBuilder, type TarPiece } from './chunks.js';
import { Crc64 } from './crc64.js';
import type { LinkedContent, PieceRun } from './tar-reader.js';
import { FILE, readTarSplit, readTarSplitGroups, TarSplitError, type FileEntry, type TarSplitEntry } from './tar-split.js';

export class LayerContentError extends StrataError {
  override name = 'LayerContentError';
  constructor(file: string | Buffer, reason: string) {
    super(reason, { file });
  }
}

export interface AssembleOptions {
  /** Check each file's CRC-64 against the tar-split (costs CPU; the DiffID check covers the whole stream). */
  verifyCrc?: boolean;
}

const SLASH = 0x2f;

/** The on-disk path of a tar entry name below `contentDir`, refusing names that climb out of it. */
export function contentPath(contentDir: string, nameBytes: Buffer): Buffer {
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= nameBytes.length; i++) {
    if (i === nameBytes.length || nameBytes[i] === SLASH) {
      const part = nameBytes.subarray(start, i);
      start = i + 1;
      if (part.length === 0 || (part.length === 1 && part[0] === 0x2e)) continue;
      if (part.length === 2 && part[0] === 0x2e && part[1] === 0x2e) throw new TarSplitError(`entry name climbs out of the layer: ${nameBytes.toString('utf8')}`);
      parts.push(part);
    }
  }
  const pieces: Buffer[] = [Buffer.from(contentDir, 'utf8')];
  for (const p of parts) pieces.push(Buffer.of(SLASH), p);
  return Buffer.concat(pieces);
}

/**
 * Yields the layer tar in large chunks; throws LayerContentError naming the file that does not match.
 * Each file is opened beneath the layer's directory following no symlink (`layer`: from the driver's
 * openLayer; a string is a directory the caller trusts, opened as given), and must be a regular file of
 * the size the tar-split records: that is checked before any of its bytes go out.
 */
export async function* assembleFromTarSplit(tarSplitPath: string, layer: LayerFiles | string, opts: AssembleOptions = {}): AsyncGenerator<TarPiece> {
  const files = typeof layer === 'string' ? openLayerDir(layer, []) : layer;
  const out = new ChunkBuilder();
  try {
    for await (const entry of readTarSplit(tarSplitPath)) {
      if (entry.type !== FILE) {
        yield* out.add(entry.payload);
        continue;
      }
      if (entry.size === 0) continue;
      const { fd } = openRecorded(files, entry);
      try {
        const crc = opts.verifyCrc ? new Crc64() : null;
        const mismatch = (left: number) => new LayerContentError(shownName(files, entry.nameBytes), `ended ${left} bytes early`);
        yield* out.readOpened(fd, entry.size, mismatch, crc ? (piece) => crc.update(piece) : undefined);
        if (crc && entry.crc && !crc.digest().equals(entry.crc)) {
          throw new LayerContentError(shownName(files, entry.nameBytes), `content differs from what the layer recorded (CRC-64 ${crc.hex()}, expected ${entry.crc.toString('hex')})`);
        }
      } finally {
        closeSync(fd);
      }
    }
  } catch (err) {
    if (err instanceof TarSplitError) throw new LayerContentError(tarSplitPath, `corrupt tar-split: ${err.message}`);
    throw err;
  } finally {
    if (files !== layer) files.close();
  }
  yield* out.finish();
}

/**
 * The same stream as assembleFromTarSplit, but each file's content left on disk: a LinkedContent in place
 * of its bytes (opened beneath the layer and checked against its record only when its bytes or descriptor
 * are asked for), for an applier that links files instead of copying them (migrate). Nothing of any file
 * is read here.
 */
export async function* linkedFromTarSplit(tarSplitPath: string, layer: LayerFiles): AsyncGenerator<PieceRun> {
  // A run of pieces per batch of the parsed tar-split (natively parsed where the helpers can).
  for await (const batch of exactBatches(tarSplitPath)) {
    const run: Array<Buffer | LinkedContent> = [];
    let seg = 0;
    let name = 0;
    for (let row = 0; row < batch.rows; row++) {
      const segBytes = batch.table[row * 3];
      const nameBytes = batch.table[row * 3 + 1];
      const size = batch.table[row * 3 + 2];
      if (segBytes > 0) run.push(batch.segments.subarray(seg, seg + segBytes));
      seg += segBytes;
      if (size === 0) continue;
      const entry = { nameBytes: batch.names.subarray(name, name + nameBytes), size };
      name += nameBytes;
      run.push(lazyLinked(layer, entry));
    }
    yield run;
  }
}

/** A file of the layer as a LinkedContent opened (beneath the layer, checked against its record) only when asked. */
function lazyLinked(layer: LayerFiles, entry: { nameBytes: Buffer; size: number }): LinkedContent {
  return {
    kind: 'linked',
    fd: -1,
    size: entry.size,
    path: shownName(layer, entry.nameBytes),
    open() {
      const opened = openRecorded(layer, entry);
      this.fd = opened.fd;
      this.stat = opened.stat;
    },
    at: { layerFd: layer.dirFd, name: entry.nameBytes },
  };
}

function shownName(files: LayerFiles, name: Buffer): Buffer {
  return joinBytes(files.dir, name);
}

/** Opens a file the tar-split records with `entry.size` bytes, refusing (naming it) anything else on disk. */
function openRecorded(files: LayerFiles, entry: Pick<FileEntry, 'nameBytes' | 'size'>): { fd: number; stat: EntryInfo } {
  const recorded = `the layer's tar-split lists it with ${entry.size} bytes`;
  let opened;
  try {
    opened = files.openEntry(entry.nameBytes);
  } catch (err) {
    const file = err instanceof StrataError && err.file !== undefined ? err.file : shownName(files, entry.nameBytes);
    if (err instanceof LayerEntryError && /climbs out/.test(err.reason)) throw new LayerContentError(file, `${err.reason}`);
    const reason = errnoOf((err as { cause?: unknown }).cause) === 'ENOENT' ? 'missing' : err instanceof StrataError ? err.reason : String(err);
    throw new LayerContentError(file, `${reason} (${recorded})`);
  }
  const { fd, stat } = opened;
  if (fd === null) throw new LayerContentError(shownName(files, entry.nameBytes), `is ${fileTypeWords(stat.mode)}, not a regular file (${recorded}; not read)`);
  if (stat.size !== entry.size) {
    closeSync(fd);
    throw new LayerContentError(shownName(files, entry.nameBytes), `is ${stat.size} bytes, the tar-split recorded ${entry.size}`);
  }
  return { fd, stat };
}

// --- the native exact rebuild ------------------------------------------------------------------------
// The same bytes as assembleFromTarSplit, assembled, written and hashed by the native helpers (exactPlan in
// native/strata-native.c): one thread reads the files and writes, another hashes with Node's own OpenSSL.
// JavaScript only parses the tar-split into batches — its segments in one Buffer, the names of the files
// to read in another, and a table of (segment bytes, name bytes, file size) rows — one batch being
// parsed while the one before is written.

/** The native calls this needs (absent from helpers built from older sources). */
interface ExactHelpers {
  /** Absent from helpers built before it: then JavaScript parses tar-splits. */
  parseTarSplitLines?: ParseLines;
  exactPlan(fd: number, layer: BeneathOp | null, segments: Buffer, names: Buffer, table: Float64Array, rows: number, hash: unknown): Promise<number>;
  sha256Begin(): unknown;
  sha256End(hash: unknown): string;
}

let exactProbe: { helpers: NativeHelpers; ok: boolean } | null = null;

/** The native exact rebuild, when the helpers are built with it and Node's OpenSSL can be reached from them. */
export function exactHelpers(): ExactHelpers | null {
  const native = nativeHelpers() as (NativeHelpers & Partial<ExactHelpers>) | null;
  if (!native || typeof native.exactPlan !== 'function' || typeof native.sha256Begin !== 'function' || typeof native.sha256End !== 'function') return null;
  if (exactProbe?.helpers !== native) {
    const hash = native.sha256Begin();
    exactProbe = { helpers: native, ok: hash !== null && /^[0-9a-f]{64}$/.test(native.sha256End(hash)) };
  }
  return exactProbe.ok ? (native as ExactHelpers) : null;
}

/** A stretch of a layer's exact tar, parsed from its tar-split (files still on disk). */
export interface ExactBatch {
  segments: Buffer;
  /** The names (bytes, as the tar-split has them) of the files to read, one after another. */
  names: Buffer;
  /** Three numbers a row: segment bytes, then the next file's name bytes and size (0 0 for none). */
  table: Float64Array;
  rows: number;
  /** Bytes of tar the batch stands for. */
  bytes: number;
}

/** A batch is closed once it stands for this many bytes of tar. */
const BATCH_BYTES = 16 << 20;

class BatchBuilder {
  private segments: Buffer[] = [];
  private names: Buffer[] = [];
  private table: number[] = [];
  private pendingSegment = 0;
  bytes = 0;

  add(entry: TarSplitEntry): void {
    if (entry.type !== FILE) {
      this.segments.push(entry.payload);
      this.pendingSegment += entry.payload.length;
      this.bytes += entry.payload.length;
      return;
    }
    if (entry.size === 0) return; // nothing to read: the segments go on into the next row
    this.names.push(entry.nameBytes);
    this.table.push(this.pendingSegment, entry.nameBytes.length, entry.size);
    this.pendingSegment = 0;
    this.bytes += entry.size;
  }

  get empty(): boolean {
    return this.bytes === 0 && this.table.length === 0;
  }

  take(): ExactBatch {
    if (this.pendingSegment > 0) this.table.push(this.pendingSegment, 0, 0);
    const batch: ExactBatch = { segments: Buffer.concat(this.segments), names: Buffer.concat(this.names), table: Float64Array.from(this.table), rows: this.table.length / 3, bytes: this.bytes };
    this.segments = [];
    this.names = [];
    this.table = [];
    this.pendingSegment = 0;
    this.bytes = 0;
    return batch;
  }
}

/** The tar-split as batches; a damaged one throws LayerContentError naming it. */
export async function* exactBatches(tarSplitPath: string): AsyncGenerator<ExactBatch> {
  try {
    const parse = exactHelpers()?.parseTarSplitLines;
    let skip = 0;
    if (parse) {
      const native = nativeParsedBatches(tarSplitPath, parse);
      for await (const batch of native.batches) yield batch;
      if (native.done) return;
      skip = native.entries;
    }
    yield* parsedBatches(tarSplitPath, skip);
  } catch (err) {
    if (err instanceof TarSplitError) throw new LayerContentError(tarSplitPath, `corrupt tar-split: ${err.message}`);
    throw err;
  }
}

/** Batches parsed in JavaScript, the first `skip` entries (given already) left out. */
async function* parsedBatches(tarSplitPath: string, skip: number): AsyncGenerator<ExactBatch> {
  const builder = new BatchBuilder();
  let seen = 0;
  for await (const group of readTarSplitGroups(tarSplitPath)) {
    for (const entry of group) {
      if (seen++ < skip) continue;
      builder.add(entry);
      if (builder.bytes >= BATCH_BYTES) yield builder.take();
    }
  }
  if (!builder.empty) yield builder.take();
}

type ParseLines = (buf: Buffer, position: number) => [Buffer, Buffer, Float64Array, number, number, number, number] | null;

/**
 * Batches parsed natively, one per stretch of inflated lines. Where the native parser leaves a line to
 * JavaScript (a shape it does not read, or an error to name), it stops: `done` stays false and `entries`
 * says how many entries it gave, for the JavaScript reader to go on after them.
 */
function nativeParsedBatches(tarSplitPath: string, parse: ParseLines): { batches: AsyncGenerator<ExactBatch>; done: boolean; entries: number } {
  const state = { batches: null as unknown as AsyncGenerator<ExactBatch>, done: false, entries: 0 };
  state.batches = (async function* () {
    const gunzip = createGunzip({ chunkSize: 1 << 20 });
    const source = createReadStream(tarSplitPath, { highWaterMark: 256 * 1024 });
    source.on('error', (err) => gunzip.destroy(err));
    let rest: Buffer | null = null;
    const run = (buf: Buffer): ExactBatch | null => {
      const got = parse(buf, state.entries);
      if (!got) return null;
      state.entries += got[5];
      return { segments: got[0], names: got[1], table: got[2], rows: got[3], bytes: got[4] };
    };
    try {
      for await (const chunk of source.pipe(gunzip) as AsyncIterable<Buffer>) {
        const last = chunk.lastIndexOf(0x0a);
        if (last < 0) {
          rest = rest ? Buffer.concat([rest, chunk]) : chunk;
          continue;
        }
        let from = 0;
        if (rest) {
          // Only the line cut by the chunk's start is joined: copying whole chunks took ~9 ms a 25 MB tar-split.
          const first = chunk.indexOf(0x0a);
          const joined = run(Buffer.concat([rest, chunk.subarray(0, first + 1)]));
          if (!joined) return;
          if (joined.rows > 0) yield joined;
          from = first + 1;
        }
        rest = last + 1 < chunk.length ? Buffer.from(chunk.subarray(last + 1)) : null;
        if (from <= last) {
          const batch = run(chunk.subarray(from, last + 1));
          if (!batch) return;
          if (batch.rows > 0) yield batch;
        }
      }
      if (rest) {
        const batch = run(rest);
        if (!batch) return;
        if (batch.rows > 0) yield batch;
      }
      // No entries at all is an error the JavaScript reader names.
      state.done = state.entries > 0;
    } catch {
      // Unreadable or corrupt gzip: the JavaScript reader meets it again and names it.
    } finally {
      source.destroy();
    }
  })();
  return state;
}

/** The name bytes of row `row` of a batch. */
function rowName(batch: ExactBatch, row: number): Buffer {
  let at = 0;
  for (let i = 0; i < row; i++) at += batch.table[3 * i + 1];
  return batch.names.subarray(at, at + batch.table[3 * row + 1]);
}

/**
 * What a failed exactPlan means: for a file, the very error assembleFromTarSplit gives (the file is looked
 * at again from JavaScript for its words); for the output, the native Error (errno, "write: …").
 */
function exactPlanError(err: unknown, files: LayerFiles, batch: ExactBatch): unknown {
  const e = err as { path?: unknown; row?: number; recorded?: number; left?: number };
  if (!Buffer.isBuffer(e.path) || typeof e.row !== 'number' || e.row >= batch.rows) return err;
  const name = rowName(batch, e.row);
  if (e.left) return new LayerContentError(shownName(files, name), `ended ${e.left} bytes early`);
  try {
    closeSync(openRecorded(files, { nameBytes: name, size: e.recorded ?? batch.table[3 * e.row + 2] }).fd);
  } catch (recheck) {
    return recheck;
  }
  return new LayerContentError(shownName(files, name), `changed while being read (${(err as Error).message})`);
}

export interface ExactResult {
  bytes: number;
  /** sha256:<hex> of every byte. */
  digest: string;
}

/**
 * Writes a layer's exact tar to `fd` (-1: nowhere, only hashed) from its batches, natively, and returns its
 * size and sha256. One batch is in flight while the next is parsed. A file that does not match its record
 * throws LayerContentError naming it (what came before it may have been written); a failed write throws
 * the native Error (its message starts with "write: ", its errno says why).
 */
export async function writeExactNatively(helpers: ExactHelpers, fd: number, files: LayerFiles, batches: AsyncIterable<ExactBatch> | Iterable<ExactBatch>, onBytes?: (n: number) => void, signal?: AbortSignal): Promise<ExactResult> {
  const hash = helpers.sha256Begin();
  let inFlight: Promise<number> | null = null;
  let bytes = 0;
  try {
    for await (const batch of batches) {
      // Given up by the caller: no further batch is started.
      signal?.throwIfAborted();
      if (inFlight) await inFlight;
      inFlight = null;
      const job = helpers.exactPlan(fd, files, batch.segments, batch.names, batch.table, batch.rows, hash).then(
        (n) => {
          onBytes?.(n);
          return n;
        },
        (err: unknown) => {
          throw exactPlanError(err, files, batch);
        },
      );
      job.catch(() => {}); // awaited below; this only keeps a failure from counting as unhandled meanwhile
      inFlight = job;
      bytes += batch.bytes;
    }
    if (inFlight) await inFlight;
    inFlight = null;
    return { bytes, digest: `sha256:${helpers.sha256End(hash)}` };
  } finally {
    // A job still running uses the output's descriptor and the hash: the caller may close them only after.
    await (inFlight as Promise<number> | null)?.catch(() => {});
  }
}

/** An exact rebuild the native helpers write and hash on their own (fd -1: hashed only). */
export type NativeExact = (fd: number, onBytes?: (n: number) => void, signal?: AbortSignal) => Promise<ExactResult>;

const NATIVE_EXACT = Symbol('strata.nativeExact');

/** Attaches to an exact rebuild's chunks the native way of producing the same bytes (see nativeExactOf). */
export function withNativeExact<T extends object>(chunks: T, native: NativeExact): T {
  return Object.assign(chunks, { [NATIVE_EXACT]: native });
}

/** The native way to write and hash these chunks, when they are an exact rebuild that has one. */
export function nativeExactOf(chunks: unknown): NativeExact | null {
  if (!chunks || typeof chunks !== 'object') return null;
  return (chunks as { [NATIVE_EXACT]?: NativeExact })[NATIVE_EXACT] ?? null;
}

/** The native exact rebuild of a layer from its tar-split (null without the native helpers). */
export function nativeExactRebuild(tarSplitPath: string, openLayer: () => LayerFiles): NativeExact | null {
  const native = exactHelpers();
  if (!native) return null;
  return async (fd, onBytes, signal) => {
    const files = openLayer();
    try {
      return await writeExactNatively(native, fd, files, exactBatches(tarSplitPath), onBytes, signal);
    } finally {
      files.close();
    }
  };
}
