// Tar headers as Go's archive/tar writes them for Docker layers (FormatPAX requested, whole-second
// mtimes): a ustar header when every field fits, else a PAX extended header ('x') before it.
export const BLOCK = 512;

export const TYPE = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  char: '3',
  block: '4',
  dir: '5',
  fifo: '6',
} as const;

export interface TarHeader {
  /** Path inside the layer, directories ending in "/". */
  name: string;
  type: (typeof TYPE)[keyof typeof TYPE];
  /** Permission bits plus setuid/setgid/sticky, and the file type bits Docker adds (0o40000 for a dir …). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  linkname?: string;
  uname?: string;
  gname?: string;
  devmajor?: number;
  devminor?: number;
  /** Extended attributes, written as SCHILY.xattr.<name> PAX records. */
  xattrs?: Record<string, Buffer>;
}

const isAscii = (s: string) => /^[\x00-\x7f]*$/.test(s);
const fitsOctal = (n: number, width: number) => n >= 0 && n < 8 ** (width - 1);

// Header fields are written byte by byte: for the short strings and numbers of a header this is several
// times cheaper than Buffer.write, which the fresh export pays per entry.
function writeString(block: Buffer, offset: number, width: number, value: string): void {
  if (isAscii(value)) {
    const n = Math.min(width, value.length);
    for (let i = 0; i < n; i++) block[offset + i] = value.charCodeAt(i);
  } else block.write(value, offset, Math.min(width, Buffer.byteLength(value)), 'utf8');
}

/** `value` in octal, zero-padded to width - 1 digits (high digits dropped), then a NUL. */
function writeOctal(block: Buffer, offset: number, width: number, value: number): void {
  let v = value;
  for (let i = offset + width - 2; i >= offset; i--) {
    block[i] = 0x30 + (v % 8);
    v = Math.floor(v / 8);
  }
  block[offset + width - 1] = 0;
}

/** Splits a long ASCII path into ustar prefix (≤155) and name (≤100) at a slash, as Go does. */
export function splitUstarPath(name: string): [string, string] | null {
  const length = name.length;
  if (length <= 100 || !isAscii(name)) return null;
  let i = Math.min(length - 1, 155);
  while (i > 0 && name[i] !== '/') i--;
  if (i <= 0) return null;
  const prefix = name.slice(0, i);
  const rest = name.slice(i + 1);
  if (rest.length === 0 || rest.length > 100 || prefix.length > 155) return null;
  return [prefix, rest];
}

function ustarBlock(h: TarHeader, name: string, prefix: string, linkname: string): Buffer {
  const b = Buffer.alloc(BLOCK);
  writeString(b, 0, 100, name);
  writeOctal(b, 100, 8, h.mode & 0o7777777);
  writeOctal(b, 108, 8, fitsOctal(h.uid, 8) ? h.uid : 0);
  writeOctal(b, 116, 8, fitsOctal(h.gid, 8) ? h.gid : 0);
  writeOctal(b, 124, 12, fitsOctal(h.size, 12) ? h.size : 0);
  writeOctal(b, 136, 12, fitsOctal(h.mtime, 12) ? h.mtime : 0);
  b.fill(0x20, 148, 156);
  b[156] = h.type.charCodeAt(0);
  writeString(b, 157, 100, linkname);
  b.set(USTAR_MAGIC, 257);
  writeString(b, 265, 32, h.uname && isAscii(h.uname) ? h.uname : '');
  writeString(b, 297, 32, h.gname && isAscii(h.gname) ? h.gname : '');
  writeOctal(b, 329, 8, h.devmajor ?? 0);
  writeOctal(b, 337, 8, h.devminor ?? 0);
  writeString(b, 345, 155, prefix);
  writeChecksum(b);
  return b;
}

const USTAR_MAGIC = Buffer.from('ustar\x0000', 'latin1');

/** The header's checksum field: six octal digits, NUL, space, over the block with the field as spaces. */
function writeChecksum(b: Buffer): void {
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i];
  writeOctal(b, 148, 7, sum);
  b[155] = 0x20;
}

/** "%d %s=%s\n" where the leading length counts the whole record, itself included. */
function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), value, Buffer.from('\n')]);
  let length = body.length + 1;
  while (String(length).length + body.length !== length) length = String(length).length + body.length;
  return Buffer.concat([Buffer.from(String(length)), body]);
}

function padToBlock(data: Buffer): Buffer {
  const rest = data.length % BLOCK;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(BLOCK - rest)]);
}

/** The header blocks for one entry (not its content). */
export function encodeHeader(h: TarHeader): Buffer {
  const pax: Array<[string, Buffer]> = [];
  let name = h.name;
  let prefix = '';
  if (!isAscii(h.name) || h.name.length > 100) {
    const split = splitUstarPath(h.name);
    if (split) [prefix, name] = split;
    pax.push(['path', Buffer.from(h.name, 'utf8')]);
    if (!split) name = toAsciiName(h.name).slice(0, 100);
  }
  let linkname = h.linkname ?? '';
  if (!isAscii(linkname) || linkname.length > 100) {
    pax.push(['linkpath', Buffer.from(linkname, 'utf8')]);
    linkname = toAsciiName(linkname).slice(0, 100);
  }
  if (!fitsOctal(h.uid, 8)) pax.push(['uid', Buffer.from(String(h.uid))]);
  if (!fitsOctal(h.gid, 8)) pax.push(['gid', Buffer.from(String(h.gid))]);
  if (!fitsOctal(h.size, 12)) pax.push(['size', Buffer.from(String(h.size))]);
  if (h.uname && (!isAscii(h.uname) || h.uname.length > 32)) pax.push(['uname', Buffer.from(h.uname, 'utf8')]);
  if (h.gname && (!isAscii(h.gname) || h.gname.length > 32)) pax.push(['gname', Buffer.from(h.gname, 'utf8')]);
  for (const [key, value] of Object.entries(h.xattrs ?? {})) pax.push([`SCHILY.xattr.${key}`, value]);
  const main = ustarBlock(h, name, prefix, linkname);
  if (pax.length === 0) return main;
  pax.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (pax.some(([k]) => k === 'path')) {
    // With a PAX path the ustar prefix is not used (Go writes the truncated name only).
    main.fill(0, 345, 500);
    main.fill(0, 0, 100);
    writeString(main, 0, 100, toAsciiName(h.name).slice(0, 100));
    writeChecksum(main);
  }
  const records = Buffer.concat(pax.map(([k, v]) => paxRecord(k, v)));
  const dir = h.name.replace(/\/$/, '');
  const base = dir.slice(dir.lastIndexOf('/') + 1);
  const parent = dir.includes('/') ? dir.slice(0, dir.lastIndexOf('/')) : '.';
  const paxName = toAsciiName(`${parent}/PaxHeaders.0/${base}`).slice(0, 100);
  const extended = ustarBlock({ name: paxName, type: 'x' as never, mode: 0, uid: 0, gid: 0, size: records.length, mtime: 0 }, paxName, '', '');
  return Buffer.concat([extended, padToBlock(records), main]);
}

function toAsciiName(s: string): string {
  return s.replace(/[^\x00-\x7f]/g, '_');
}

/** How many zero bytes pad `size` bytes of content to a whole block. */
export function paddingLength(size: number): number {
  const rest = size % BLOCK;
  return rest === 0 ? 0 : BLOCK - rest;
}

/** Zero bytes that pad `size` bytes of content to a whole block. */
export function contentPadding(size: number): Buffer {
  return Buffer.alloc(paddingLength(size));
}

/** Two zero blocks end an archive. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);
