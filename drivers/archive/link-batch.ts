// Files an apply links from a source layer, and the new directories they go in, in batches the native
// helpers carry out on the thread pool (linkFiles) while the tar goes on being parsed: a hard-linked
// migration then costs the parse and the kernel's links and mkdirs, not a JavaScript round trip of
// system calls per entry. A few batches may be in flight; the native side runs them in the order given
// and they settle in that order, so whatever a row's outcome calls for happens in the order of the tar. The applier flushes before anything that
// could touch a queued path (or a path inside a queued directory) itself.
import { LINK_COLUMNS, type NativeHelpers } from '../../native/index.js';
import type { LinkedView, TarEntry } from './tar-reader.js';

/** Rows per native call: large enough to amortise the call, small enough to keep both sides busy. */
const BATCH_ROWS = 512;
/** Batches handed to the native side and not yet done, at most (each holds a thread of the pool while it waits its turn). */
const MAX_IN_FLIGHT = 3;
/** A row's kind as the native side numbers it. */
const KIND = { link: 0, dir: 1, copy: 2 } as const;

export interface QueuedLink {
  /** A file to link, a directory to make, or a file to copy (given its owner, when `chown`, and mode). */
  kind: 'link' | 'dir' | 'copy';
  chown?: boolean;
  /** A copy's atime and mtime, in seconds as utimes takes them. */
  times?: [number, number];
  /** The entry's key in the applier's maps (its clean path, as latin1: the name below the destination root), and its path there. */
  key: string;
  path: Buffer;
  entry: TarEntry;
  /**
   * A file's content as the tar reader gave it, with where it is (the source layer's descriptor and its
   * name there): opened again only when its row is redone. None for a directory.
   */
  source?: QueuedSource;
}

/** A content the tar reader gave with where its file is. */
export type QueuedSource = LinkedView & { at: { layerFd: number; name: Buffer } };

const NO_NAME = Buffer.alloc(0);

/** 0 linked; anything else (see NativeHelpers.linkFiles) the applier redoes its own way. */
export type LinkOutcome = (q: QueuedLink, status: number) => void;

export class LinkBatcher {
  private queue: QueuedLink[] = [];
  private readonly keys = new Set<string>();
  private pending: Promise<void> = Promise.resolve();
  private failure: unknown = null;
  /** The source layer of the queued files (-1 while none is queued: directories need none). */
  private batchLayerFd = -1;
  private inFlight = 0;

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

  /**
   * Queues a row. True when enough batches are in flight that the caller should wait (relieve()) before
   * queuing more: the thread pool has other work too (the tar-split's inflation).
   */
  add(q: QueuedLink): boolean {
    if (this.failure) throw this.failure;
    if (q.source) {
      // One source layer a batch.
      const { layerFd } = q.source.at;
      if (this.batchLayerFd !== -1 && this.batchLayerFd !== layerFd) this.submit();
      this.batchLayerFd = layerFd;
    }
    this.queue.push(q);
    this.keys.add(q.key);
    if (this.queue.length >= BATCH_ROWS) this.submit();
    return this.inFlight >= MAX_IN_FLIGHT;
  }

  /** Waits until fewer batches are in flight (and settles those that are done). */
  async relieve(): Promise<void> {
    while (this.inFlight >= MAX_IN_FLIGHT && !this.failure) await new Promise<void>((done) => setImmediate(done));
    if (this.failure) throw this.failure;
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
    const srcNames = rows.map((q) => q.source?.at.name ?? NO_NAME);
    const dstNames = rows.map((q) => Buffer.from(q.key, 'latin1'));
    rows.forEach((q, i) => {
      const e = q.entry;
      const owner = q.kind === 'link' || q.chown;
      const [atime, mtime] = q.times ?? [0, 0];
      table.set([KIND[q.kind], srcNames[i].length, dstNames[i].length, e.mode & 0o7777, owner ? e.uid : -1, owner ? e.gid : -1, e.size, e.mtime, e.mtimeNsec, atime, mtime], i * LINK_COLUMNS);
    });
    const src = Buffer.concat(srcNames);
    const dst = Buffer.concat(dstNames);
    const layerFd = this.batchLayerFd;
    this.batchLayerFd = -1;
    // Started now (the native side runs batches in the order given, without waiting for this thread);
    // settled in order once this thread gets to it.
    let linking: Promise<Int32Array>;
    try {
      linking = this.linkFiles(layerFd, this.destRoot, src, dst, table, rows.length);
    } catch (err) {
      linking = Promise.reject(err);
    }
    linking.catch(() => {}); // seen through `pending` below
    this.inFlight++;
    this.pending = this.pending
      .then(async () => {
        const statuses = await linking;
        this.inFlight--;
        if (this.failure) return;
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
