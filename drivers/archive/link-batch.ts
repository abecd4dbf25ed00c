// Files an apply links from a source layer, in batches the native helpers link on the thread pool
// (linkFiles) while the tar goes on being parsed: a hard-linked migration then costs the parse and the
// kernel's links, not a JavaScript round trip of open, fstat, flistxattr and linkat per file. One batch is
// in flight at a time and batches settle in order, so whatever a row's outcome calls for happens in the
// order of the tar. The applier flushes before anything that could touch a queued path.
import { LINK_COLUMNS, type NativeHelpers } from '../../native/index.js';
import type { TarEntry } from './tar-reader.js';

/** Rows per native call: large enough to amortise the call, small enough to keep both sides busy. */
const BATCH_ROWS = 512;

export interface QueuedLink {
  /** The entry's key in the applier's maps, and its path in the layer being built. */
  key: string;
  path: Buffer;
  entry: TarEntry;
  /** The source layer (its directory's descriptor) and the file's name there. */
  layerFd: number;
  srcName: Buffer;
  /** The name below the destination root (the entry's clean path). */
  dstName: Buffer;
}

/** 0 linked; anything else (see NativeHelpers.linkFiles) the applier redoes its own way. */
export type LinkOutcome = (q: QueuedLink, status: number) => void;

export class LinkBatcher {
  private queue: QueuedLink[] = [];
  private readonly keys = new Set<string>();
  private pending: Promise<void> = Promise.resolve();
  private failure: unknown = null;

  constructor(
    private readonly linkFiles: NonNullable<NativeHelpers['linkFiles']>,
    private readonly destRoot: Buffer,
    private readonly settle: LinkOutcome,
  ) {}

  /** Paths queued and not yet settled. */
  get size(): number {
    return this.keys.size;
  }

  has(key: string): boolean {
    return this.keys.has(key);
  }

  add(q: QueuedLink): void {
    if (this.failure) throw this.failure;
    if (this.queue.length > 0 && this.queue[0].layerFd !== q.layerFd) this.submit();
    this.queue.push(q);
    this.keys.add(q.key);
    if (this.queue.length >= BATCH_ROWS) this.submit();
  }

  /** Everything queued linked (or redone) and settled; the first failure of any row, thrown. */
  async flush(): Promise<void> {
    if (this.queue.length > 0) this.submit();
    await this.pending;
    if (this.failure) throw this.failure;
  }

  /** Waits for what is in flight, failures swallowed (an apply giving up must not leave a link landing after it). */
  async drain(): Promise<void> {
    await this.pending;
  }

  private submit(): void {
    const rows = this.queue;
    this.queue = [];
    const table = new Float64Array(rows.length * LINK_COLUMNS);
    rows.forEach((q, i) => {
      const e = q.entry;
      table.set([q.srcName.length, q.dstName.length, e.mode & 0o7777, e.uid, e.gid, e.size, e.mtime, e.mtimeNsec], i * LINK_COLUMNS);
    });
    const src = Buffer.concat(rows.map((q) => q.srcName));
    const dst = Buffer.concat(rows.map((q) => q.dstName));
    const layerFd = rows[0].layerFd;
    this.pending = this.pending
      .then(async () => {
        if (this.failure) return;
        const statuses = await this.linkFiles(layerFd, this.destRoot, src, dst, table, rows.length);
        for (let i = 0; i < rows.length; i++) {
          this.keys.delete(rows[i].key);
          this.settle(rows[i], statuses[i]);
        }
      })
      .catch((err: unknown) => {
        this.failure ??= err;
      });
  }
}
