// Builds a tar stream in large chunks: headers and padding are copied in, file contents are read straight
// into the chunk. Few, big pieces keep the per-file cost of generators, allocation and writes down.
import { closeSync, openSync, readSync } from 'node:fs';

export const CHUNK_SIZE = 1 << 20;

export class ChunkBuilder {
  private buf = Buffer.allocUnsafe(CHUNK_SIZE);
  private len = 0;

  /** Copies `bytes` in; returns the chunks that filled up (to be yielded, in order). */
  add(bytes: Uint8Array): Buffer[] {
    const full: Buffer[] = [];
    let off = 0;
    while (off < bytes.length) {
      const n = Math.min(bytes.length - off, this.buf.length - this.len);
      this.buf.set(bytes.subarray(off, off + n), this.len);
      this.len += n;
      off += n;
      if (this.len === this.buf.length) full.push(this.take());
    }
    return full;
  }

  /** `size` zero bytes (tar padding). */
  zeros(size: number): Buffer[] {
    return size > 0 ? this.add(Buffer.alloc(size)) : [];
  }

  /**
   * Reads exactly `size` bytes of `path` into the chunks, calling `onData` with each piece read (for
   * checksums). Throws through `mismatch` when the file is shorter than `size`.
   */
  *readFile(path: string | Buffer, size: number, mismatch: (left: number) => Error, onData?: (piece: Buffer) => void): Generator<Buffer> {
    const fd = openSync(path, 'r');
    try {
      let left = size;
      while (left > 0) {
        const n = readSync(fd, this.buf, this.len, Math.min(left, this.buf.length - this.len), null);
        if (n === 0) throw mismatch(left);
        onData?.(this.buf.subarray(this.len, this.len + n));
        this.len += n;
        left -= n;
        if (this.len === this.buf.length) yield this.take();
      }
    } finally {
      closeSync(fd);
    }
  }

  /** The bytes gathered so far (possibly none), starting a new chunk. */
  take(): Buffer {
    const out = this.len === this.buf.length ? this.buf : this.buf.subarray(0, this.len);
    this.buf = Buffer.allocUnsafe(CHUNK_SIZE);
    this.len = 0;
    return out;
  }

  get pending(): number {
    return this.len;
  }
}
