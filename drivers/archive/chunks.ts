// Builds a tar stream in large chunks: headers and padding are copied in, file contents are read straight
// into the chunk. Few, big pieces keep the per-file cost of generators, allocation and writes down.
// Asked to pass files, the builder does not read them: it gathers plans — its chunks and the files' names
// in order — for a writer that copies file to file descriptor inside the kernel (splice, sendfile).
// Every file is an entry of a layer, opened beneath the layer's directory (native/open-beneath.ts), and
// read only when it is a regular file at least as long as its tar header says.
import { StrataError } from '../../native/errors.js';
import { fileTypeWords, type PlanOp } from '../../native/index.js';
import { LayerEntryError, type LayerFiles } from '../../native/open-beneath.js';
import { joinBytes } from '../../native/names.js';
import { closeSync, readSync } from 'node:fs';

export const CHUNK_SIZE = 1 << 20;

/**
 * A stretch of the stream as written by the native writePlan (native/index.ts PlanOp): Buffers as they
 * are; a LayerFiles before the files of that layer; for a file, its name below the layer's directory (a
 * 'latin1' string of its bytes) followed by how many of its first bytes come next.
 */
export interface TarPlan {
  kind: 'plan';
  ops: PlanOp[];
  /** Bytes the plan stands for. */
  bytes: number;
}

/** What a tar stream is made of: bytes, or plans whose file contents are still on disk. */
export type TarPiece = Buffer | TarPlan;

/** A plan is handed out once it holds this many ops or bytes. */
const PLAN_OPS = 4096;
export const PLAN_BYTES = 16 << 20;

export class ShrunkFileError extends StrataError {
  override name = 'ShrunkFileError';
  constructor(path: string | Buffer, missing: number) {
    super(`shrank while being read (${missing} bytes missing)`, { file: path });
  }
}

/**
 * Opens entry `name` of `layer` for reading its first `size` bytes: it must be a regular file at least that
 * long, which is checked before anything of it is read. Returns the descriptor, for the caller to close.
 */
export function openFileEntry(layer: LayerFiles, name: Buffer, size: number): number {
  const { fd, stat } = layer.openEntry(name);
  if (fd === null) throw new LayerEntryError(`is ${fileTypeWords(stat.mode)}, not a regular file (not read)`, { file: joinBytes(layer.dir, name) });
  if (stat.size < size) {
    closeSync(fd);
    throw new ShrunkFileError(joinBytes(layer.dir, name), size - stat.size);
  }
  return fd;
}

export class ChunkBuilder {
  /** With passFiles, full chunks and passed files gather in `plan`, handed out as TarPlans. */
  constructor(private readonly passFiles = false) {}
  private plan: TarPlan = { kind: 'plan', ops: [], bytes: 0 };
  /** The layer the current plan's last beneath op names. */
  private planLayer: LayerFiles | null = null;
  private buf = Buffer.allocUnsafe(CHUNK_SIZE);
  /** Bytes of `buf` before this were handed out already; they are never written again. */
  private start = 0;
  private len = 0;

  /** Copies `bytes` in; returns the chunks (or plans) that filled up, to be yielded in order. */
  add(bytes: Uint8Array): TarPiece[] {
    const full: TarPiece[] = [];
    let off = 0;
    while (off < bytes.length) {
      const n = Math.min(bytes.length - off, this.buf.length - this.len);
      this.buf.set(bytes.subarray(off, off + n), this.len);
      this.len += n;
      off += n;
      if (this.len === this.buf.length) this.emit(full, this.take());
    }
    return full;
  }

  /** `size` zero bytes (tar padding). */
  zeros(size: number): TarPiece[] {
    if (size <= 0) return [];
    if (this.buf.length - this.len < size) return this.add(Buffer.alloc(size));
    this.buf.fill(0, this.len, this.len + size);
    this.len += size;
    return this.len === this.buf.length ? this.emit([], this.take()) : [];
  }

  private emit(into: TarPiece[], chunk: Buffer): TarPiece[] {
    if (!this.passFiles) into.push(chunk);
    else this.addToPlan(into, chunk.length, chunk);
    return into;
  }

  /** Appends ops standing for `bytes` bytes to the plan; a plan that filled up goes into `into`. */
  private addToPlan(into: TarPiece[], bytes: number, ...ops: PlanOp[]): void {
    this.plan.ops.push(...ops);
    this.plan.bytes += bytes;
    if (this.plan.ops.length >= PLAN_OPS || this.plan.bytes >= PLAN_BYTES) into.push(this.takePlan());
  }

  private takePlan(): TarPlan {
    const plan = this.plan;
    this.plan = { kind: 'plan', ops: [], bytes: 0 };
    this.planLayer = null;
    return plan;
  }

  /**
   * Reads exactly `size` bytes of an opened file `fd` into the chunks (the caller closes it), calling
   * `onData` with each piece read (for checksums). Throws through `mismatch` when the file is shorter.
   */
  *readOpened(fd: number, size: number, mismatch: (left: number) => Error, onData?: (piece: Buffer) => void): Generator<Buffer> {
    let left = size;
    while (left > 0) {
      const n = readSync(fd, this.buf, this.len, Math.min(left, this.buf.length - this.len), null);
      if (n === 0) throw mismatch(left);
      onData?.(this.buf.subarray(this.len, this.len + n));
      this.len += n;
      left -= n;
      if (this.len === this.buf.length) yield this.take();
    }
  }

  /**
   * Reads the first `size` bytes of entry `name` (bytes, relative to the layer) of `layer` into the chunks:
   * opened beneath the layer's directory following no symlink, and only when it is a regular file of at
   * least `size` bytes (checked before any of it goes in).
   */
  *readFile(layer: LayerFiles, name: Buffer, size: number, onData?: (piece: Buffer) => void): Generator<Buffer> {
    const fd = openFileEntry(layer, name, size);
    try {
      yield* this.readOpened(fd, size, (left) => new ShrunkFileError(joinBytes(layer.dir, name), left), onData);
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Puts the first `size` bytes of entry `name` of `layer` next in the plan (passFiles only), for the writer
   * to open beneath the layer's directory as readFile would; returns a plan that filled up.
   */
  passFile(layer: LayerFiles, name: Buffer, size: number): TarPiece[] {
    const out: TarPiece[] = [];
    if (this.pending > 0) this.emit(out, this.take());
    if (this.planLayer !== layer) {
      this.plan.ops.push(layer);
      this.planLayer = layer;
    }
    this.addToPlan(out, size, name.toString('latin1'), size);
    return out;
  }

  /** Everything not yet handed out: the last chunk, or with passFiles the last plan. */
  finish(): TarPiece[] {
    const last = this.take();
    const out: TarPiece[] = last.length > 0 ? this.emit([], last) : [];
    if (this.passFiles && this.plan.ops.length > 0) out.push(this.takePlan());
    return out;
  }

  /** The bytes gathered since the last take (possibly none). */
  take(): Buffer {
    const out = this.buf.subarray(this.start, this.len);
    if (this.len === this.buf.length) {
      this.buf = Buffer.allocUnsafe(CHUNK_SIZE);
      this.len = 0;
    }
    this.start = this.len;
    return out;
  }

  get pending(): number {
    return this.len - this.start;
  }
}

/** Reads an entry's first `size` bytes in pieces of at most CHUNK_SIZE, opened as readFile opens it. */
function* readEntryPrefix(layer: LayerFiles, name: Buffer, size: number): Generator<Buffer> {
  const fd = openFileEntry(layer, name, size);
  try {
    let left = size;
    while (left > 0) {
      const buf = Buffer.allocUnsafe(Math.min(left, CHUNK_SIZE));
      let got = 0;
      while (got < buf.length) {
        const n = readSync(fd, buf, got, buf.length - got, null);
        if (n === 0) throw new ShrunkFileError(joinBytes(layer.dir, name), left - got);
        got += n;
      }
      left -= got;
      yield buf;
    }
  } finally {
    closeSync(fd);
  }
}

/** A piece as bytes: a plan's files are read where they stand, beneath their layers. */
export function* bytesOf(piece: TarPiece): Generator<Buffer> {
  if (Buffer.isBuffer(piece)) {
    yield piece;
    return;
  }
  const ops = piece.ops;
  let layer: LayerFiles | null = null;
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i];
    if (Buffer.isBuffer(op)) yield op;
    else if (typeof op === 'object') layer = op as LayerFiles;
    else if (typeof op === 'string') {
      if (!layer) throw new Error('a tar plan names a file before its layer');
      yield* readEntryPrefix(layer, Buffer.from(op, 'latin1'), ops[++i] as number);
    }
  }
}

/** A tar stream as bytes only. */
export async function* tarBytes(pieces: AsyncIterable<TarPiece>): AsyncGenerator<Buffer> {
  for await (const p of pieces) yield* bytesOf(p);
}
