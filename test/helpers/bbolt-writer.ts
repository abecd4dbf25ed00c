// A tiny bbolt WRITER for tests (there is no Go here): it lays out a tree of buckets as bbolt 1.3 does
// (two meta pages, an empty freelist page, leaf and branch pages, overflow pages for big values, inline
// buckets for small ones), so that inspect/bbolt.ts can be tested on files made at run time. Options make
// the corner cases: small pages and few elements per page force branches and deep trees.
import { fnv64a, BOLT_MAGIC, BOLT_VERSION } from '../../inspect/bbolt.js';

export type BoltValue = string | Buffer | BoltBucketSpec;

export interface BoltBucketSpec {
  entries: Array<[string | Buffer, BoltValue]>;
  sequence?: bigint;
  /** false forces the bucket onto its own pages even when small; true inlines it when it has no sub-buckets. */
  inline?: boolean;
}

export interface BoltWriteOptions {
  pageSize?: number;
  /** At most this many elements in one leaf page (forces several leaves, hence branch pages). */
  maxLeafElements?: number;
  /** At most this many children in one branch page (forces deeper trees). */
  maxBranchElements?: number;
  /** txids of meta pages 0 and 1 (default 2 and 3: page 1 is the current one). */
  txids?: [bigint, bigint];
  /** An older tree, which the meta page with the lower txid points at (the other one points at root). */
  previous?: BoltBucketSpec;
}

/** A bucket spec from an object or entry list. */
export function bucket(entries: Record<string, BoltValue> | Array<[string | Buffer, BoltValue]>, opts: Omit<BoltBucketSpec, 'entries'> = {}): BoltBucketSpec {
  return { entries: Array.isArray(entries) ? entries : Object.entries(entries), ...opts };
}

const HEADER = 16;
const ELEMENT = 16;
const LEAF = 0x02;
const BRANCH = 0x01;
const META = 0x04;
const FREELIST = 0x10;

interface Element {
  key: Buffer;
  value: Buffer;
  isBucket: boolean;
}

function isBucket(v: BoltValue): v is BoltBucketSpec {
  return typeof v === 'object' && !Buffer.isBuffer(v);
}

const bytes = (v: string | Buffer) => (typeof v === 'string' ? Buffer.from(v) : v);

/** A leaf page's body (header then elements then keys/values), unpadded. */
function leafBody(elements: Element[], id: bigint): Buffer {
  const dataStart = HEADER + elements.length * ELEMENT;
  const size = dataStart + elements.reduce((n, e) => n + e.key.length + e.value.length, 0);
  const buf = Buffer.alloc(size);
  buf.writeBigUInt64LE(id, 0);
  buf.writeUInt16LE(LEAF, 8);
  buf.writeUInt16LE(elements.length, 10);
  let data = dataStart;
  elements.forEach((e, i) => {
    const at = HEADER + i * ELEMENT;
    buf.writeUInt32LE(e.isBucket ? 1 : 0, at);
    buf.writeUInt32LE(data - at, at + 4);
    buf.writeUInt32LE(e.key.length, at + 8);
    buf.writeUInt32LE(e.value.length, at + 12);
    e.key.copy(buf, data);
    e.value.copy(buf, data + e.key.length);
    data += e.key.length + e.value.length;
  });
  return buf;
}

function branchBody(children: Array<{ key: Buffer; pgid: bigint }>, id: bigint): Buffer {
  const dataStart = HEADER + children.length * ELEMENT;
  const buf = Buffer.alloc(dataStart + children.reduce((n, c) => n + c.key.length, 0));
  buf.writeBigUInt64LE(id, 0);
  buf.writeUInt16LE(BRANCH, 8);
  buf.writeUInt16LE(children.length, 10);
  let data = dataStart;
  children.forEach((c, i) => {
    const at = HEADER + i * ELEMENT;
    buf.writeUInt32LE(data - at, at);
    buf.writeUInt32LE(c.key.length, at + 4);
    buf.writeBigUInt64LE(c.pgid, at + 8);
    c.key.copy(buf, data);
    data += c.key.length;
  });
  return buf;
}

class Writer {
  /** Page buffers from page 3 on, each a whole number of pages. */
  readonly pages: Buffer[] = [];
  next = 3n;

  constructor(readonly opts: Required<Omit<BoltWriteOptions, 'txids'>>) {}

  /** Places a page body at the next free pgid, with the overflow count its size needs. */
  place(make: (id: bigint) => Buffer): bigint {
    const id = this.next;
    const body = make(id);
    const count = Math.max(1, Math.ceil(body.length / this.opts.pageSize));
    const page = Buffer.alloc(count * this.opts.pageSize);
    body.copy(page);
    page.writeUInt32LE(count - 1, 12);
    this.pages.push(page);
    this.next += BigInt(count);
    return id;
  }

  elements(spec: BoltBucketSpec): Element[] {
    const sorted = [...spec.entries].map(([k, v]) => [bytes(k), v] as const).sort((a, b) => Buffer.compare(a[0], b[0]));
    return sorted.map(([key, v]) => (isBucket(v) ? { key, value: this.bucketValue(v), isBucket: true } : { key, value: bytes(v), isBucket: false }));
  }

  /** A nested bucket's value: header (root pgid, sequence), then the inline page when it is inlined. */
  bucketValue(spec: BoltBucketSpec): Buffer {
    const header = Buffer.alloc(16);
    header.writeBigUInt64LE(spec.sequence ?? 0n, 8);
    const hasSubBuckets = spec.entries.some(([, v]) => isBucket(v));
    if (!hasSubBuckets && spec.inline !== false) {
      const inline = leafBody(this.elements(spec), 0n);
      // bbolt inlines a bucket smaller than a quarter page; `inline: true` forces it.
      if (spec.inline === true || 16 + inline.length < this.opts.pageSize / 4) return Buffer.concat([header, inline]);
    }
    header.writeBigUInt64LE(this.tree(spec), 0);
    return header;
  }

  /** Writes a bucket's B+tree; returns its root pgid. */
  tree(spec: BoltBucketSpec): bigint {
    const elements = this.elements(spec);
    const leaves: Element[][] = [[]];
    let used = HEADER;
    for (const e of elements) {
      const size = ELEMENT + e.key.length + e.value.length;
      const current = leaves[leaves.length - 1];
      if (current.length > 0 && (current.length >= this.opts.maxLeafElements || used + size > this.opts.pageSize)) {
        leaves.push([]);
        used = HEADER;
      }
      leaves[leaves.length - 1].push(e);
      used += size;
    }
    let level = leaves.map((l) => ({ key: l[0]?.key ?? Buffer.alloc(0), pgid: this.place((id) => leafBody(l, id)) }));
    while (level.length > 1) {
      const up: typeof level = [];
      for (let i = 0; i < level.length; i += this.opts.maxBranchElements) {
        const children = level.slice(i, i + this.opts.maxBranchElements);
        up.push({ key: children[0].key, pgid: this.place((id) => branchBody(children, id)) });
      }
      level = up;
    }
    return level[0].pgid;
  }
}

function metaPage(pageSize: number, id: bigint, root: bigint, highWater: bigint, txid: bigint): Buffer {
  const page = Buffer.alloc(pageSize);
  page.writeBigUInt64LE(id, 0);
  page.writeUInt16LE(META, 8);
  const m = HEADER;
  page.writeUInt32LE(BOLT_MAGIC, m);
  page.writeUInt32LE(BOLT_VERSION, m + 4);
  page.writeUInt32LE(pageSize, m + 8);
  page.writeBigUInt64LE(root, m + 16);
  page.writeBigUInt64LE(0n, m + 24);
  page.writeBigUInt64LE(2n, m + 32); // freelist page
  page.writeBigUInt64LE(highWater, m + 40);
  page.writeBigUInt64LE(txid, m + 48);
  page.writeBigUInt64LE(fnv64a(page.subarray(m, m + 56)), m + 56);
  return page;
}

/** A whole bbolt database file holding the root bucket's tree. */
export function writeBolt(root: BoltBucketSpec, opts: BoltWriteOptions = {}): Buffer {
  const pageSize = opts.pageSize ?? 4096;
  const w = new Writer({ pageSize, maxLeafElements: opts.maxLeafElements ?? Infinity, maxBranchElements: opts.maxBranchElements ?? 1000 });
  const previousPgid = opts.previous ? w.tree(opts.previous) : null;
  const rootPgid = w.tree(root);
  const [tx0, tx1] = opts.txids ?? [2n, 3n];
  const root0 = previousPgid !== null && tx0 < tx1 ? previousPgid : rootPgid;
  const root1 = previousPgid !== null && tx1 < tx0 ? previousPgid : rootPgid;
  const freelist = Buffer.alloc(pageSize);
  freelist.writeBigUInt64LE(2n, 0);
  freelist.writeUInt16LE(FREELIST, 8);
  return Buffer.concat([metaPage(pageSize, 0n, root0, w.next, tx0), metaPage(pageSize, 1n, root1, w.next, tx1), freelist, ...w.pages]);
}

/** Offsets into a written file, for tests that damage one meta page. */
export function metaOffset(pageId: 0 | 1, pageSize = 4096): { magic: number; checksum: number; txid: number; version: number } {
  const m = pageId * pageSize + HEADER;
  return { magic: m, version: m + 4, txid: m + 48, checksum: m + 56 };
}
