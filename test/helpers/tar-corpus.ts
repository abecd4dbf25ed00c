// A corpus of odd layer archives, built at run time: by hand (a tiny header writer with correct checksums,
// for what no tool writes on purpose) and with GNU tar (PAX and GNU long names, PAX sparse 0.0/0.1/1.0,
// old GNU sparse 'S', incremental 'D', volume labels, global headers). Each case says how Go's archive/tar
// reads it (the entries strata must list) or what refuses it, and where dockerd 20.10 answers otherwise.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, linkSync, mkdirSync, openSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

// ---- a tiny tar writer ----

const BLOCK = 512;
const enc = (s: string | Buffer) => (typeof s === 'string' ? Buffer.from(s, 'latin1') : s);

type NumField = 'mode' | 'uid' | 'gid' | 'size' | 'mtime' | 'devmajor' | 'devminor';

export interface HeaderSpec {
  name: string | Buffer;
  /** One character; '0' by default. */
  type?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  /** The size field (defaults to the body's length). */
  size?: number;
  mtime?: number;
  linkname?: string | Buffer;
  uname?: string;
  gname?: string;
  devmajor?: number;
  devminor?: number;
  prefix?: string | Buffer;
  /** ustar (default), GNU ("ustar  "), or v7 (no magic). */
  format?: 'ustar' | 'gnu' | 'v7';
  /** Raw field bytes instead of octal numbers (a non-octal size, …). */
  raw?: Partial<Record<NumField, Buffer>>;
  /** Fields written in GNU base-256 (negative numbers too). */
  base256?: Partial<Record<NumField, bigint>>;
  /** Which sum the checksum field holds. */
  checksum?: 'unsigned' | 'signed' | 'wrong';
  /** Old GNU sparse: the real size and up to four [offset, length] fragments in the header. */
  gnuSparse?: { realSize: number; map: Array<[number, number]> };
}

const FIELDS: Record<NumField, [number, number]> = {
  mode: [100, 8],
  uid: [108, 8],
  gid: [116, 8],
  size: [124, 12],
  mtime: [136, 12],
  devmajor: [329, 8],
  devminor: [337, 8],
};

function octalField(n: number, width: number): Buffer {
  return Buffer.from(n.toString(8).padStart(width - 1, '0') + '\0', 'latin1');
}

function base256Field(n: bigint, width: number): Buffer {
  const b = Buffer.alloc(width);
  let x = BigInt.asUintN(8 * width, n);
  for (let i = width - 1; i >= 0; i--) {
    b[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  b[0] |= 0x80;
  return b;
}

/** One 512-byte header block. */
export function header(h: HeaderSpec, bodyLength = 0): Buffer {
  const b = Buffer.alloc(BLOCK);
  enc(h.name).copy(b, 0, 0, 100);
  const numbers: Record<NumField, number> = {
    mode: h.mode ?? (h.type === '5' ? 0o755 : 0o644),
    uid: h.uid ?? 0,
    gid: h.gid ?? 0,
    size: h.size ?? bodyLength,
    mtime: h.mtime ?? 1_700_000_000,
    devmajor: h.devmajor ?? 0,
    devminor: h.devminor ?? 0,
  };
  for (const [field, [at, width]] of Object.entries(FIELDS) as Array<[NumField, [number, number]]>) {
    if (h.format === 'v7' && (field === 'devmajor' || field === 'devminor')) continue;
    const value = h.raw?.[field] ?? (h.base256?.[field] !== undefined ? base256Field(h.base256[field]!, width) : octalField(numbers[field], width));
    value.copy(b, at, 0, width);
  }
  b.write(h.type ?? '0', 156, 'latin1');
  if (h.linkname !== undefined) enc(h.linkname).copy(b, 157, 0, 100);
  if (h.format !== 'v7') {
    b.write(h.format === 'gnu' ? 'ustar  \0' : 'ustar\u000000', 257, 'latin1');
    b.write(h.uname ?? 'root', 265, 'latin1');
    b.write(h.gname ?? 'root', 297, 'latin1');
  }
  if (h.prefix !== undefined) enc(h.prefix).copy(b, 345, 0, 155);
  if (h.gnuSparse) {
    h.gnuSparse.map.forEach(([offset, length], i) => {
      octalField(offset, 12).copy(b, 386 + i * 24);
      octalField(length, 12).copy(b, 386 + i * 24 + 12);
    });
    octalField(h.gnuSparse.realSize, 12).copy(b, 483);
  }
  b.fill(0x20, 148, 156);
  let unsigned = 0;
  let signed = 0;
  for (const c of b) {
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  const sum = h.checksum === 'signed' ? signed : h.checksum === 'wrong' ? unsigned + 1 : unsigned;
  Buffer.from(sum.toString(8).padStart(6, '0') + '\0 ', 'latin1').copy(b, 148);
  return b;
}

const padding = (n: number) => Buffer.alloc((BLOCK - (n % BLOCK)) % BLOCK);

/** A header, its body and the padding after it. */
export function member(h: HeaderSpec, body: string | Buffer = ''): Buffer {
  const data = enc(body);
  return Buffer.concat([header(h, data.length), data, padding(data.length)]);
}

/** PAX records "%d key=value\n" with their lengths counted right. */
export function paxRecords(records: Array<[string, string | Buffer]>): Buffer {
  return Buffer.concat(
    records.map(([k, v]) => {
      const rest = Buffer.concat([Buffer.from(` ${k}=`, 'latin1'), enc(v), Buffer.from('\n')]);
      let n = rest.length + 1;
      while (String(n).length + rest.length !== n) n = String(n).length + rest.length;
      return Buffer.concat([Buffer.from(String(n)), rest]);
    }),
  );
}

/** A PAX 'x' (or global 'g') header with its records. */
export function pax(records: Array<[string, string | Buffer]> | Buffer, opts: { type?: 'x' | 'g'; name?: string } = {}): Buffer {
  const body = Buffer.isBuffer(records) ? records : paxRecords(records);
  return member({ name: opts.name ?? (opts.type === 'g' ? 'pax_global_header' : 'PaxHeaders/entry'), type: opts.type ?? 'x' }, body);
}

/** A GNU long name ('L') or long link ('K') header. */
export function gnuLong(type: 'L' | 'K', value: string | Buffer): Buffer {
  return member({ name: '././@LongLink', type, format: 'gnu' }, Buffer.concat([enc(value), Buffer.alloc(1)]));
}

export const END = Buffer.alloc(2 * BLOCK);

// ---- expectations ----

/** A name with bytes outside printable ASCII as \xNN. */
export function esc(b: Buffer): string {
  let s = '';
  for (const c of b) s += c >= 0x20 && c < 0x7f && c !== 0x5c ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`;
  return s;
}

export const digestOf = (b: Buffer) => createHash('sha256').update(b).digest('hex').slice(0, 16);

/** How an entry reads, one line: "<type> <name>[ <size> <sha256 of content, 16 hex>][ -> <link>]". */
export function entryLine(type: string, name: string | Buffer, more: { content?: string | Buffer; link?: string | Buffer } = {}): string {
  let line = `${type} ${esc(enc(name))}`;
  if (more.content !== undefined) {
    const c = enc(more.content);
    line += ` ${c.length} ${digestOf(c)}`;
  }
  if (more.link !== undefined) line += ` -> ${esc(enc(more.link))}`;
  return line;
}

export interface DockerDifference {
  /** Whether dockerd imports it. */
  accepts: boolean;
  why: string;
}

export interface CorpusCase {
  name: string;
  what: string;
  /** The archive's bytes; `dir` is a scratch directory for GNU tar's sources. */
  build(dir: string): Buffer;
  /**
   * How strata reads it: its entries (as entryLine gives them, in order), or, for archives GNU tar made,
   * 'gnu-tar' (the entries `tar -tv` lists); or the one-line refusal. A refusal may come from the reader
   * or from applying.
   */
  strata: { entries: string[] | 'gnu-tar' } | { refuse: RegExp };
  /** Where dockerd 20.10 answers otherwise (strata refuses what docker's chroot confines, …). */
  docker?: DockerDifference;
  /** Why `docker save` cannot give back the archive docker imported (its tar-split lost bytes). */
  dockerSaveBroken?: string;
}

// ---- GNU tar ----

const GNU_TAR_FIXED = ['--mtime=@1700000000', '--sort=name', '--numeric-owner'];

function gnuTar(cwd: string, args: string[]): Buffer {
  return execFileSync('tar', [...GNU_TAR_FIXED, ...args, '-cf', '-'], { cwd, maxBuffer: 1 << 28 });
}

/** A tree with the names and links that trip naive readers: Latin-1 names, long names, long link targets. */
function oddTree(dir: string): string {
  const src = join(dir, 'src');
  const b = (s: string) => Buffer.from(src + '/' + s, 'latin1');
  mkdirSync(src, { recursive: true });
  mkdirSync(b('caf\xe9'));
  writeFileSync(b('caf\xe9/na\xefve.txt'), 'latin-1 names\n');
  const long = 'l'.repeat(60) + '/' + 'm'.repeat(60);
  mkdirSync(b(long), { recursive: true });
  writeFileSync(b(`${long}/${'n'.repeat(90)}.txt`), 'a long path\n');
  symlinkSync(`${long}/${'n'.repeat(90)}.txt`, b('long-link'));
  symlinkSync(Buffer.from('caf\xe9/na\xefve.txt', 'latin1'), b('l\xe9'));
  linkSync(b('caf\xe9/na\xefve.txt'), b('hard\xe9'));
  mkdirSync(b('empty'));
  writeFileSync(b('setuid'), '#!/bin/sh\n', { mode: 0o4755 });
  execFileSync('chmod', ['4755', src + '/setuid']);
  writeFileSync(b('owned'), 'owned by 1000\n');
  execFileSync('chown', ['1000:1000', src + '/owned']);
  execFileSync('setfattr', ['-n', 'user.corpus', '-v', 'hello', src + '/owned']);
  return src;
}

/** A 3 MiB file with two small runs of data and holes around them. */
function sparseFile(path: string): void {
  const fd = openSync(path, 'w');
  writeSync(fd, Buffer.from('hello, sparse world\n'), 0, 20, 1 << 20);
  writeSync(fd, Buffer.from('the end\n'), 0, 8, 3 * (1 << 20) - 8);
  closeSync(fd);
}

/** Its content as any reader must present it: zeros in the holes. */
export function sparseFileContent(): Buffer {
  const b = Buffer.alloc(3 * (1 << 20));
  b.write('hello, sparse world\n', 1 << 20);
  b.write('the end\n', 3 * (1 << 20) - 8);
  return b;
}

function sparseTar(dir: string, args: string[]): Buffer {
  mkdirSync(join(dir, 'src'), { recursive: true });
  sparseFile(join(dir, 'src', 'big.sparse'));
  return gnuTar(join(dir, 'src'), [...args, 'big.sparse']);
}

// ---- the cases ----

const LONG_DIR = 'd'.repeat(80) + '/' + 'e'.repeat(70);
const LONG_FILE = `${LONG_DIR}/file-with-a-long-name.txt`;
/** A PAX 1.0 sparse map: its text, zero-filled to a whole block. */
const sparseMapBlock = (text: string) => Buffer.concat([Buffer.from(text), padding(text.length)]);
const HANDMADE_SPARSE = (() => {
  const map = sparseMapBlock('2\n100\n5\n9000\n3\n');
  return { map, data: 'helloend', content: (() => {
    const c = Buffer.alloc(10000);
    c.write('hello', 100);
    c.write('end', 9000);
    return c;
  })() };
})();

function handmadeSparse(opts: { data?: string; map?: Buffer } = {}): Buffer {
  const body = Buffer.concat([opts.map ?? HANDMADE_SPARSE.map, Buffer.from(opts.data ?? HANDMADE_SPARSE.data)]);
  return Buffer.concat([
    pax([
      ['GNU.sparse.major', '1'],
      ['GNU.sparse.minor', '0'],
      ['GNU.sparse.name', 'sparse-by-hand'],
      ['GNU.sparse.realsize', '10000'],
    ]),
    member({ name: 'GNUSparseFile.0/sparse-by-hand' }, body),
    END,
  ]);
}

const SPARSE_SPLIT = "tar-split records a sparse file by its expanded content, so dockerd's own record cannot rebuild the compacted archive; strata's keeps the stored bytes as segments";
const CHROOT = 'dockerd applies layers inside a chroot of the layer directory, where this stays inside the layer; strata refuses it as hostile';

export const CORPUS: CorpusCase[] = [
  // ---- names ----
  {
    name: 'pax-long-names',
    what: 'PAX path and linkpath records beyond the 100-byte fields',
    build: () =>
      Buffer.concat([
        pax([['path', LONG_FILE]]),
        member({ name: 'placeholder' }, 'long\n'),
        pax([['linkpath', LONG_FILE]]),
        member({ name: 'sym', type: '2', linkname: 'placeholder' }),
        pax([['linkpath', LONG_FILE]]),
        member({ name: 'hard', type: '1', linkname: 'placeholder' }),
        END,
      ]),
    strata: { entries: [entryLine('0', LONG_FILE, { content: 'long\n' }), entryLine('2', 'sym', { link: LONG_FILE }), entryLine('1', 'hard', { link: LONG_FILE })] },
  },
  {
    name: 'gnu-long-names',
    what: "GNU 'L' and 'K' headers (the long name wins over a PAX path)",
    build: () =>
      Buffer.concat([
        gnuLong('L', LONG_FILE),
        member({ name: 'short', format: 'gnu' }, 'gnu long\n'),
        gnuLong('K', LONG_FILE),
        member({ name: 'sym', type: '2', linkname: 'short', format: 'gnu' }),
        pax([['path', 'pax-loses']]),
        gnuLong('L', 'gnu-wins'),
        member({ name: 'neither', format: 'gnu' }, 'x'),
        END,
      ]),
    strata: { entries: [entryLine('0', LONG_FILE, { content: 'gnu long\n' }), entryLine('2', 'sym', { link: LONG_FILE }), entryLine('0', 'gnu-wins', { content: 'x' })] },
  },
  {
    name: 'ustar-prefix',
    what: 'a ustar name split into prefix and name',
    build: () => Buffer.concat([member({ name: 'file.txt', prefix: LONG_DIR }, 'prefixed\n'), END]),
    strata: { entries: [entryLine('0', `${LONG_DIR}/file.txt`, { content: 'prefixed\n' })] },
  },
  {
    name: 'latin1-ustar-names',
    what: 'non-UTF-8 names and link targets in the ustar fields',
    build: () =>
      Buffer.concat([
        member({ name: 'caf\xe9/', type: '5' }),
        member({ name: 'caf\xe9/na\xefve.txt' }, 'latin-1\n'),
        member({ name: 'l\xe9', type: '2', linkname: 'caf\xe9/na\xefve.txt' }),
        member({ name: 'h\xe9', type: '1', linkname: 'caf\xe9/na\xefve.txt' }),
        END,
      ]),
    strata: {
      entries: [entryLine('5', 'caf\xe9/'), entryLine('0', 'caf\xe9/na\xefve.txt', { content: 'latin-1\n' }), entryLine('2', 'l\xe9', { link: 'caf\xe9/na\xefve.txt' }), entryLine('1', 'h\xe9', { link: 'caf\xe9/na\xefve.txt' })],
    },
  },
  {
    name: 'latin1-pax-path',
    what: 'non-UTF-8 bytes in PAX path and linkpath records',
    build: () =>
      Buffer.concat([
        pax([['path', Buffer.from('r\xe9sum\xe9.txt', 'latin1')]]),
        member({ name: 'resume.txt' }, 'bytes\n'),
        pax([['linkpath', Buffer.from('t\xff', 'latin1')]]),
        member({ name: 'dangling', type: '2', linkname: 't' }),
        END,
      ]),
    strata: { entries: [entryLine('0', 'r\xe9sum\xe9.txt', { content: 'bytes\n' }), entryLine('2', 'dangling', { link: 't\xff' })] },
  },
  {
    name: 'signed-checksum',
    what: 'a header whose checksum is the signed sum (old Sun tar), high bytes in its name',
    build: () => Buffer.concat([member({ name: '\xff\xfe-signed', checksum: 'signed' }, 'sun\n'), END]),
    strata: { entries: [entryLine('0', '\xff\xfe-signed', { content: 'sun\n' })] },
  },
  // ---- PAX records over header fields ----
  {
    name: 'pax-overrides',
    what: 'PAX size, uid, gid, uname, gname, mtime with nanoseconds, atime and an xattr over the header fields',
    build: () =>
      Buffer.concat([
        pax([
          ['size', '11'],
          ['uid', '3000000'],
          ['gid', '4000000'],
          ['uname', 'someone-with-a-very-long-user-name-indeed'],
          ['gname', 'staff'],
          ['mtime', '1600000000.123456789'],
          ['atime', '1600000100.5'],
          ['SCHILY.xattr.user.corpus', 'xattr value'],
          ['STRATA.note', 'kept as a record'],
        ]),
        header({ name: 'overridden.txt', size: 0, uid: 7, gid: 7, mtime: 0 }),
        Buffer.from('eleven byte'),
        padding(11),
        END,
      ]),
    strata: { entries: [entryLine('0', 'overridden.txt', { content: 'eleven byte' })] },
  },
  {
    name: 'pax-empty-records',
    what: 'empty PAX records keep the header values (Go skips them)',
    build: () =>
      Buffer.concat([
        pax([
          ['path', ''],
          ['uname', ''],
          ['mtime', ''],
        ]),
        member({ name: 'kept-name.txt' }, 'k'),
        END,
      ]),
    strata: { entries: [entryLine('0', 'kept-name.txt', { content: 'k' })] },
  },
  {
    name: 'pax-replaced',
    what: "two 'x' headers before one entry: Go keeps only the second",
    build: () => Buffer.concat([pax([['path', 'first-x-path']]), pax([['mtime', '1500000000']]), member({ name: 'header-name.txt' }, 'x'), END]),
    strata: { entries: [entryLine('0', 'header-name.txt', { content: 'x' })] },
  },
  {
    name: 'pax-global',
    what: "a PAX global header: Go yields it as an entry and applies its records to nothing (but its own name)",
    build: () =>
      Buffer.concat([
        pax(
          [
            ['comment', 'made by hand'],
            ['path', 'global-own-name'],
            ['uid', '99'],
          ],
          { type: 'g' },
        ),
        member({ name: 'after-global.txt' }, 'g'),
        END,
      ]),
    strata: { entries: [entryLine('g', 'global-own-name'), entryLine('0', 'after-global.txt', { content: 'g' })] },
  },
  {
    name: 'gnu-tar-global',
    what: "GNU tar's global header (named /tmp/GlobalHead…, which dockerd's UnpackLayer makes a 'tmp' directory for)",
    build: (dir) => {
      mkdirSync(join(dir, 'src'), { recursive: true });
      writeFileSync(join(dir, 'src', 'file.txt'), 'global\n');
      return gnuTar(join(dir, 'src'), ['--format=pax', '--pax-option=globexthdr.name=/tmp/GlobalHead.corpus,comment=corpus,delete=atime,delete=ctime', 'file.txt']);
    },
    strata: { entries: [entryLine('g', '/tmp/GlobalHead.corpus'), entryLine('0', 'file.txt', { content: 'global\n' })] },
  },
  // ---- headers of other kinds ----
  {
    name: 'typeflag-nul',
    what: "old typeflag '\\0' (a file, or a directory with a trailing slash) in v7 headers",
    build: () => Buffer.concat([member({ name: 'old-dir/', type: '\0', format: 'v7', mode: 0o755 }), member({ name: 'old-dir/old-file', type: '\0', format: 'v7' }, 'v7\n'), END]),
    strata: { entries: [entryLine('5', 'old-dir/'), entryLine('0', 'old-dir/old-file', { content: 'v7\n' })] },
  },
  {
    name: 'base256-numbers',
    what: 'GNU base-256 numbers for uid, gid and size',
    build: () => Buffer.concat([header({ name: 'big-ids', format: 'gnu', base256: { uid: 10_000_000n, gid: 20_000_000n, size: 6n } }), Buffer.from('base256'.slice(0, 6)), padding(6), END]),
    strata: { entries: [entryLine('0', 'big-ids', { content: 'base25' })] },
  },
  {
    name: 'root-entry',
    what: "a './' entry for the layer root (dockerd's Unpack leaves the root alone, UnpackLayer gives it the entry's owner and mode)",
    build: () => Buffer.concat([member({ name: './', type: '5', mode: 0o700, uid: 1234, gid: 1234 }), member({ name: './a.txt' }, 'a'), END]),
    strata: { entries: [entryLine('5', './'), entryLine('0', './a.txt', { content: 'a' })] },
  },
  {
    name: 'implicit-parents',
    what: 'a file whose directories the archive never lists',
    build: () => Buffer.concat([member({ name: 'a/b/c.txt' }, 'deep'), END]),
    strata: { entries: [entryLine('0', 'a/b/c.txt', { content: 'deep' })] },
  },
  {
    name: 'devices-and-fifo',
    what: 'a character device, a block device and a FIFO',
    build: () =>
      Buffer.concat([
        member({ name: 'dev/', type: '5' }),
        member({ name: 'dev/null', type: '3', mode: 0o666, devmajor: 1, devminor: 3 }),
        member({ name: 'dev/loop0', type: '4', mode: 0o660, devmajor: 7, devminor: 0 }),
        member({ name: 'pipe', type: '6', mode: 0o600 }),
        END,
      ]),
    strata: { entries: [entryLine('5', 'dev/'), entryLine('3', 'dev/null'), entryLine('4', 'dev/loop0'), entryLine('6', 'pipe')] },
  },
  {
    name: 'whiteouts',
    what: 'whiteouts and an opaque directory in a base layer',
    build: () => Buffer.concat([member({ name: '.wh.gone' }), member({ name: 'd/', type: '5' }), member({ name: 'd/.wh..wh..opq' }), member({ name: 'd/kept' }, 'kept'), END]),
    strata: { entries: [entryLine('0', '.wh.gone', { content: '' }), entryLine('5', 'd/'), entryLine('0', 'd/.wh..wh..opq', { content: '' }), entryLine('0', 'd/kept', { content: 'kept' })] },
  },
  // ---- the end of the archive ----
  {
    name: 'end-missing',
    what: 'no end-of-archive blocks at all',
    build: () => Buffer.concat([member({ name: 'a' }, 'no end\n')]),
    strata: { entries: [entryLine('0', 'a', { content: 'no end\n' })] },
  },
  {
    name: 'end-one-block',
    what: 'one zero block, then the end of the stream',
    build: () => Buffer.concat([member({ name: 'a' }, 'one block\n'), Buffer.alloc(BLOCK)]),
    strata: { entries: [entryLine('0', 'a', { content: 'one block\n' })] },
  },
  {
    name: 'end-extra-blocks',
    what: 'thirty zero blocks after the entries',
    build: () => Buffer.concat([member({ name: 'a' }, 'extra\n'), Buffer.alloc(30 * BLOCK)]),
    strata: { entries: [entryLine('0', 'a', { content: 'extra\n' })] },
  },
  {
    name: 'data-after-end',
    what: 'bytes after the end-of-archive blocks',
    build: () => Buffer.concat([member({ name: 'a' }, 'trailer\n'), END, Buffer.from('not a tar any more\n'), Buffer.alloc(700, 0x55)]),
    strata: { entries: [entryLine('0', 'a', { content: 'trailer\n' })] },
  },
  {
    name: 'padding-cut',
    what: "the stream ends inside the last file's padding (Go reads it as a clean end)",
    build: () => Buffer.concat([member({ name: 'a' }, 'cut padding\n')]).subarray(0, BLOCK + 12 + 100),
    strata: { entries: [entryLine('0', 'a', { content: 'cut padding\n' })] },
    dockerSaveBroken: "tar-split's reader drops the partial padding it read, so the layer it recorded no longer rebuilds to its DiffID",
  },
  {
    name: 'empty-stream',
    what: 'zero bytes',
    build: () => Buffer.alloc(0),
    strata: { entries: [] },
  },
  {
    name: 'only-end-blocks',
    what: 'two zero blocks and nothing else',
    build: () => END,
    strata: { entries: [] },
  },
  // ---- sparse files ----
  {
    name: 'pax-sparse-0.0',
    what: 'GNU tar PAX sparse format 0.0 (GNU.sparse.offset/numbytes records)',
    build: (dir) => sparseTar(dir, ['--format=pax', '--sparse', '--sparse-version=0.0', '--pax-option=delete=atime,delete=ctime']),
    strata: { entries: 'gnu-tar' },
    dockerSaveBroken: SPARSE_SPLIT,
  },
  {
    name: 'pax-sparse-0.1',
    what: 'GNU tar PAX sparse format 0.1 (GNU.sparse.map, real name in GNU.sparse.name)',
    build: (dir) => sparseTar(dir, ['--format=pax', '--sparse', '--sparse-version=0.1', '--pax-option=delete=atime,delete=ctime']),
    strata: { entries: 'gnu-tar' },
    dockerSaveBroken: SPARSE_SPLIT,
  },
  {
    name: 'pax-sparse-1.0',
    what: 'GNU tar PAX sparse format 1.0 (the map at the start of the data)',
    build: (dir) => sparseTar(dir, ['--format=pax', '--sparse', '--sparse-version=1.0', '--pax-option=delete=atime,delete=ctime']),
    strata: { entries: 'gnu-tar' },
    dockerSaveBroken: SPARSE_SPLIT,
  },
  {
    name: 'pax-sparse-by-hand',
    what: 'a PAX 1.0 sparse file written by hand, data not block-aligned',
    build: () => handmadeSparse(),
    strata: { entries: [entryLine('0', 'sparse-by-hand', { content: HANDMADE_SPARSE.content })] },
    dockerSaveBroken: SPARSE_SPLIT,
  },
  // ---- trees GNU tar writes ----
  {
    name: 'gnu-tar-pax-tree',
    what: 'GNU tar --format=pax of a tree with Latin-1 names, long names and link targets, hardlinks, setuid, owners, xattrs',
    build: (dir) => gnuTar(oddTree(dir), ['--format=pax', '--xattrs', '--xattrs-include=user.*', '--pax-option=delete=atime,delete=ctime', '.']),
    strata: { entries: 'gnu-tar' },
  },
  {
    name: 'gnu-tar-gnu-tree',
    what: 'GNU tar --format=gnu of the same tree (L and K headers)',
    build: (dir) => gnuTar(oddTree(dir), ['--format=gnu', '.']),
    strata: { entries: 'gnu-tar' },
  },
  // ---- what dockerd refuses ----
  {
    name: 'gnu-old-sparse',
    what: "GNU tar --format=gnu --sparse: an old GNU sparse 'S' entry",
    build: (dir) => sparseTar(dir, ['--format=gnu', '--sparse']),
    strata: { refuse: /big\.sparse: unhandled tar header type 83/ },
  },
  {
    name: 'gnu-old-sparse-by-hand',
    what: "an 'S' entry written by hand",
    build: () => Buffer.concat([member({ name: 'old-sparse', type: 'S', format: 'gnu', gnuSparse: { realSize: 4096, map: [[1024, 4]] } }, 'data'), END]),
    strata: { refuse: /old-sparse: unhandled tar header type 83/ },
  },
  {
    name: 'gnu-dumpdir',
    what: "GNU tar --listed-incremental: 'D' directory entries",
    build: (dir) => {
      mkdirSync(join(dir, 'src', 'inc'), { recursive: true });
      writeFileSync(join(dir, 'src', 'inc', 'f'), 'f');
      return gnuTar(join(dir, 'src'), ['--format=gnu', `--listed-incremental=${join(dir, 'snapshot')}`, 'inc']);
    },
    strata: { refuse: /inc\/?: unhandled tar header type 68/ },
  },
  {
    name: 'gnu-volume-label',
    what: "GNU tar -V: a 'V' volume header",
    build: (dir) => {
      mkdirSync(join(dir, 'src'), { recursive: true });
      writeFileSync(join(dir, 'src', 'f'), 'f');
      return gnuTar(join(dir, 'src'), ['--format=gnu', '-V', 'corpus-label', 'f']);
    },
    strata: { refuse: /corpus-label: unhandled tar header type 86/ },
  },
  {
    name: 'gnu-multivolume',
    what: "an 'M' multi-volume continuation entry",
    build: () => Buffer.concat([member({ name: 'continued', type: 'M', format: 'gnu' }, 'rest'), END]),
    strata: { refuse: /continued: unhandled tar header type 77/ },
  },
  {
    name: 'contiguous-file',
    what: "typeflag '7' (contiguous file), which dockerd's createTarFile does not handle",
    build: () => Buffer.concat([member({ name: 'contiguous', type: '7' }, 'c'), END]),
    strata: { refuse: /contiguous: unhandled tar header type 55/ },
  },
  {
    name: 'pax-no-newline',
    what: 'a PAX record that does not end in a newline',
    build: () => Buffer.concat([pax(Buffer.from('13 path=abcd ')), member({ name: 'f' }), END]),
    strata: { refuse: /PaxHeaders\/entry: malformed PAX header: a record does not end in a newline/ },
  },
  {
    name: 'pax-length-too-long',
    what: 'a PAX record claiming more bytes than the header holds',
    build: () => Buffer.concat([pax(Buffer.from('99 path=abcd\n')), member({ name: 'f' }), END]),
    strata: { refuse: /malformed PAX header: bad record length "99"/ },
  },
  {
    name: 'pax-length-not-number',
    what: 'a PAX record whose length is not a number',
    build: () => Buffer.concat([pax(Buffer.from('1x path=abcd\n')), member({ name: 'f' }), END]),
    strata: { refuse: /malformed PAX header: bad record length "1x"/ },
  },
  {
    name: 'pax-no-equals',
    what: 'a PAX record without "="',
    build: () => Buffer.concat([pax(Buffer.from('12 pathabcd\n')), member({ name: 'f' }), END]),
    strata: { refuse: /malformed PAX header: a record without "="/ },
  },
  {
    name: 'pax-empty-key',
    what: 'a PAX record with an empty key',
    build: () => Buffer.concat([pax(Buffer.from('8 =abcd\n')), member({ name: 'f' }), END]),
    strata: { refuse: /malformed PAX header: a record with an empty key/ },
  },
  {
    name: 'pax-nul-in-path',
    what: 'a NUL byte in a PAX path',
    build: () => Buffer.concat([pax([['path', Buffer.from('a\0b')]]), member({ name: 'f' }), END]),
    strata: { refuse: /malformed PAX header: a NUL in the path record/ },
  },
  {
    name: 'pax-size-not-number',
    what: 'PAX size=12abc',
    build: () => Buffer.concat([pax([['size', '12abc']]), member({ name: 'bad-size' }), END]),
    strata: { refuse: /bad-size: invalid PAX size record/ },
  },
  {
    name: 'pax-negative-size',
    what: 'PAX size=-5',
    build: () => Buffer.concat([pax([['size', '-5']]), member({ name: 'minus' }), END]),
    strata: { refuse: /minus: negative size -5/ },
  },
  {
    name: 'pax-bad-mtime',
    what: 'PAX mtime=12.3x',
    build: () => Buffer.concat([pax([['mtime', '12.3x']]), member({ name: 'bad-time' }), END]),
    strata: { refuse: /bad-time: invalid PAX mtime record/ },
  },
  {
    name: 'pax-bad-uid',
    what: 'PAX uid=root',
    build: () => Buffer.concat([pax([['uid', 'root']]), member({ name: 'bad-uid' }), END]),
    strata: { refuse: /bad-uid: invalid PAX uid record/ },
  },
  {
    name: 'pax-too-large',
    what: "a PAX header over Go's 1 MiB limit",
    build: () => Buffer.concat([pax([['comment', 'c'.repeat(1 << 20)]]), member({ name: 'f' }), END]),
    strata: { refuse: /PaxHeaders\/entry: a "x" header of \d+ bytes \(Go's limit is 1048576\)/ },
  },
  {
    name: 'negative-size',
    what: 'a base-256 negative size field',
    build: () => Buffer.concat([header({ name: 'negative', format: 'gnu', base256: { size: -1n } }), END]),
    strata: { refuse: /negative: negative size -1/ },
  },
  {
    name: 'size-not-octal',
    what: 'a size field with digits 8 and 9',
    build: () => Buffer.concat([header({ name: 'not-octal', raw: { size: Buffer.from('00000001289\0') } }), Buffer.alloc(BLOCK), END]),
    strata: { refuse: /not-octal: invalid tar header: the size field is not a number/ },
  },
  {
    name: 'bad-checksum',
    what: 'a header whose checksum is wrong',
    build: () => Buffer.concat([member({ name: 'ok' }, 'ok'), header({ name: 'corrupt', checksum: 'wrong' }), END]),
    strata: { refuse: /bad header checksum at byte 1024/ },
  },
  {
    name: 'zero-block-then-header',
    what: 'one zero block followed by another header',
    build: () => Buffer.concat([member({ name: 'a' }, 'a'), Buffer.alloc(BLOCK), member({ name: 'b' }, 'b'), END]),
    strata: { refuse: /a zero block at byte 1024 is followed by more headers/ },
  },
  {
    name: 'truncated-data',
    what: 'a file cut short by the end of the stream',
    build: () => Buffer.concat([member({ name: 'filler' }, Buffer.alloc(8192, 0x46)), header({ name: 'cut', size: 5000 }), Buffer.alloc(1000, 0x43)]),
    strata: { refuse: /cut: archive truncated inside the file/ },
  },
  {
    name: 'truncated-header',
    what: 'a header cut short',
    build: () => Buffer.concat([member({ name: 'a' }, 'a'), header({ name: 'half' }).subarray(0, 300)]),
    strata: { refuse: /archive truncated: a header at byte 1024 is cut short/ },
  },
  {
    name: 'duplicate-path',
    what: 'the same path twice (as ./a and a): tar-split refuses duplicate paths',
    build: () => Buffer.concat([member({ name: './a' }, 'first'), member({ name: 'a' }, 'second'), END]),
    strata: { refuse: /^a: appears twice in the layer tar/ },
  },
  {
    name: 'sparse-unreferenced-data',
    what: 'a sparse file storing more data than its map uses',
    build: () => handmadeSparse({ data: 'helloend-and-more' }),
    strata: { refuse: /sparse-by-hand: sparse file contains unreferenced data/ },
  },
  {
    name: 'sparse-missing-data',
    what: 'a sparse file storing less data than its map uses',
    build: () => handmadeSparse({ data: 'hello' }),
    strata: { refuse: /sparse-by-hand: sparse file references non-existent data/ },
  },
  {
    name: 'sparse-overlapping-map',
    what: 'a sparse map whose fragments overlap',
    build: () => handmadeSparse({ map: sparseMapBlock('2\n100\n5\n102\n3\n') }),
    strata: { refuse: /sparse-by-hand: invalid sparse map/ },
  },
  // ---- hostile archives ----
  {
    name: 'hostile-dotdot',
    what: 'a name that climbs out of the layer',
    build: () => Buffer.concat([member({ name: '../escaped' }, 'x'), END]),
    strata: { refuse: /\.\.\/escaped: climbs out of the layer/ },
    docker: { accepts: true, why: CHROOT },
  },
  {
    name: 'hostile-absolute',
    what: 'an absolute name',
    build: () => Buffer.concat([member({ name: '/etc/strata-corpus' }, 'x'), END]),
    strata: { refuse: /\/etc\/strata-corpus: absolute path in a layer tar/ },
    docker: { accepts: true, why: CHROOT },
  },
  {
    name: 'hostile-symlinked-parent',
    what: 'a file written through a symlinked parent that points inside the layer',
    build: () => Buffer.concat([member({ name: 'd/', type: '5' }), member({ name: 'out', type: '2', linkname: 'd' }), member({ name: 'out/file' }, 'through'), END]),
    strata: { refuse: /out\/file: path goes through a symlinked parent/ },
    docker: { accepts: true, why: CHROOT },
  },
  {
    name: 'hostile-symlinked-parent-outside',
    what: 'a file written through a symlink to /etc',
    build: () => Buffer.concat([member({ name: 'out', type: '2', linkname: '/etc' }), member({ name: 'out/strata-corpus' }, 'pwned'), END]),
    strata: { refuse: /out\/strata-corpus: path goes through a symlinked parent/ },
  },
  {
    name: 'hostile-symlink-outside',
    what: 'a relative symlink that points above the layer',
    build: () => Buffer.concat([member({ name: 'd/', type: '5' }), member({ name: 'd/up', type: '2', linkname: '../../../etc/shadow' }), END]),
    strata: { refuse: /d\/up: symlink to \.\.\/\.\.\/\.\.\/etc\/shadow points outside the layer/ },
    docker: { accepts: true, why: CHROOT },
  },
  {
    name: 'hostile-hardlink-outside',
    what: 'a hard link to a file above the layer',
    build: () => Buffer.concat([member({ name: 'h', type: '1', linkname: '../outside-file' }), END]),
    strata: { refuse: /h: hard link to \.\.\/outside-file climbs out of the layer/ },
  },
  {
    name: 'hostile-hardlink-missing',
    what: 'a hard link to a file the layer does not have',
    build: () => Buffer.concat([member({ name: 'h', type: '1', linkname: 'etc/shadow' }), END]),
    strata: { refuse: /h: hard link to etc\/shadow, which is not a file in this layer/ },
  },
];

/** The archive compressed variants are made of (accepted by both, with a little of everything). */
export const COMPRESSED_BASE = 'gnu-tar-pax-tree';
