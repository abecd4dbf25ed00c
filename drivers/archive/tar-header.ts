// Tar headers as Go's archive/tar writes them for Docker layers (moby asks for FormatPAX, which still lets
// Go write plain USTAR when every field fits; whole-second mtimes): a ustar header when every field fits,
// else a PAX extended header ('x') before the main one. Names and link names are bytes.
//
// What Go does with a name that is not ASCII (common.go allowedFormats, writer.go writePAXHeader and
// writeRawFile, strconv.go toASCII and formatString), and so what this module does:
//  - a name or link name holding any byte from 0x80 up (valid UTF-8 or not) cannot be USTAR; it goes into
//    a PAX record ("path", "linkpath") as its raw bytes, neither checked nor converted. So does one too
//    long for its field, except a long ASCII name that splits into USTAR's prefix and name fields;
//  - the main header's name and linkname fields then hold the name with every byte from 0x80 up dropped
//    (toASCII: Go ranges over the string, and every byte of a multi-byte or invalid sequence is ≥ 0x80),
//    cut to the field's width (a cut field ending in "/" loses its trailing slashes), and no prefix;
//  - the extended header is named path.Join(dir, "PaxHeaders.0", base) of the real name, with the same
//    bytes dropped, cut to 100 bytes, trailing slashes removed; mode, uid, gid and mtime 0, and uname,
//    gname, devmajor and devminor left NUL.
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
  /** Path inside the layer as bytes (a string is taken as UTF-8), directories ending in "/". */
  name: Buffer | string;
  type: (typeof TYPE)[keyof typeof TYPE];
  /** Permission bits plus setuid/setgid/sticky, and the file type bits Docker adds (0o40000 for a dir …). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  /** A link's target as bytes (a string is taken as UTF-8). */
  linkname?: Buffer | string;
  uname?: string;
  gname?: string;
  devmajor?: number;
  devminor?: number;
  /** Extended attributes, written as SCHILY.xattr.<name> PAX records. */
  xattrs?: Record<string, Buffer>;
}

const NAME_SIZE = 100;
const PREFIX_SIZE = 155;
const UNAME_SIZE = 32;
const EMPTY = Buffer.alloc(0);
const SLASH = 0x2f;

function bytesOf(v: Buffer | string | undefined): Buffer {
  if (v === undefined) return EMPTY;
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
}

/** Go's isASCII: no byte from 0x80 up, and no NUL. */
function isAscii(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] >= 0x80 || b[i] === 0) return false;
  return true;
}

/** Go's toASCII: the bytes without those from 0x80 up and without NULs. */
function toAscii(b: Buffer): Buffer {
  if (isAscii(b)) return b;
  return Buffer.from(b.filter((c) => c !== 0 && c < 0x80));
}

const fitsOctal = (n: number, width: number) => n >= 0 && n < 8 ** (width - 1);

/**
 * Go's formatString: the bytes that fit, NUL-terminated when there is room. A value cut short whose field
 * ends in "/" is cut before its trailing slashes (so no reader takes a cut file name for a directory).
 */
function writeField(block: Buffer, offset: number, width: number, value: Uint8Array): void {
  const n = Math.min(width, value.length);
  for (let i = 0; i < n; i++) block[offset + i] = value[i];
  if (n < width) block[offset + n] = 0;
  if (value.length > width && block[offset + width - 1] === SLASH) {
    let end = width;
    while (end > 0 && value[end - 1] === SLASH) end--;
    block[offset + end] = 0;
  }
}

/** `value` in octal, zero-padded to width - 1 digits, then a NUL; 0 when it does not fit (as Go writes it). */
function writeOctal(block: Buffer, offset: number, width: number, value: number): void {
  let v = fitsOctal(value, width) ? value : 0;
  for (let i = offset + width - 2; i >= offset; i--) {
    block[i] = 0x30 + (v % 8);
    v = Math.floor(v / 8);
  }
  block[offset + width - 1] = 0;
}

/** Go's splitUSTARPath: where a long ASCII path splits into prefix (≤ 155) and name (≤ 100), or -1. */
function ustarSplit(name: Buffer): number {
  let length = name.length;
  if (length <= NAME_SIZE || !isAscii(name)) return -1;
  if (length > PREFIX_SIZE + 1) length = PREFIX_SIZE + 1;
  else if (name[length - 1] === SLASH) length--;
  const i = name.lastIndexOf(SLASH, length - 1);
  const suffix = name.length - i - 1;
  if (i <= 0 || suffix > NAME_SIZE || suffix === 0 || i > PREFIX_SIZE) return -1;
  return i;
}

/** Splits a long ASCII path into ustar prefix and name at a slash, as Go does; null when it cannot be. */
export function splitUstarPath(name: string | Buffer): [string, string] | null {
  const bytes = bytesOf(name);
  const i = ustarSplit(bytes);
  return i < 0 ? null : [bytes.subarray(0, i).toString('latin1'), bytes.subarray(i + 1).toString('latin1')];
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

/** A main header block (Go's templateV7Plus, then the USTAR magic). */
function mainBlock(h: TarHeader, name: Uint8Array, prefix: Uint8Array, linkname: Uint8Array, uname: Uint8Array, gname: Uint8Array): Buffer {
  const b = Buffer.alloc(BLOCK);
  writeField(b, 0, NAME_SIZE, name);
  writeOctal(b, 100, 8, h.mode & 0o7777777);
  writeOctal(b, 108, 8, h.uid);
  writeOctal(b, 116, 8, h.gid);
  writeOctal(b, 124, 12, h.size);
  writeOctal(b, 136, 12, h.mtime);
  b[156] = h.type.charCodeAt(0);
  writeField(b, 157, NAME_SIZE, linkname);
  b.set(USTAR_MAGIC, 257);
  writeField(b, 265, UNAME_SIZE, uname);
  writeField(b, 297, UNAME_SIZE, gname);
  writeOctal(b, 329, 8, h.devmajor ?? 0);
  writeOctal(b, 337, 8, h.devminor ?? 0);
  writeField(b, 345, PREFIX_SIZE, prefix);
  writeChecksum(b);
  return b;
}

/** The 'x' block before the main one (Go's writeRawFile): only name, zero numbers, size, type and magic. */
function extendedBlock(name: Buffer, size: number): Buffer {
  const b = Buffer.alloc(BLOCK);
  writeField(b, 0, NAME_SIZE, name);
  writeOctal(b, 100, 8, 0);
  writeOctal(b, 108, 8, 0);
  writeOctal(b, 116, 8, 0);
  writeOctal(b, 124, 12, size);
  writeOctal(b, 136, 12, 0);
  b[156] = 0x78; // 'x'
  b.set(USTAR_MAGIC, 257);
  writeChecksum(b);
  return b;
}

/** Go's path.Clean of a relative or absolute path held as a ByteString (one char per byte). */
function cleanPath(p: string): string {
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  return rooted ? `/${joined}` : joined || '.';
}

/** The extended header's name: path.Join(dir, "PaxHeaders.0", base) of the real name, made ASCII, ≤ 100 bytes, no trailing "/". */
function paxHeaderName(name: Buffer): Buffer {
  const s = name.toString('latin1');
  const cut = s.lastIndexOf('/') + 1;
  const parts = [s.slice(0, cut), 'PaxHeaders.0', s.slice(cut)].filter((x) => x !== '');
  let ascii = toAscii(Buffer.from(cleanPath(parts.join('/')), 'latin1')).subarray(0, NAME_SIZE);
  let end = ascii.length;
  while (end > 0 && ascii[end - 1] === SLASH) end--;
  ascii = ascii.subarray(0, end);
  return ascii;
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

const fitsString = (value: Buffer, width: number) => value.length <= width && isAscii(value);

/** The header blocks for one entry (not its content). */
export function encodeHeader(h: TarHeader): Buffer {
  const name = bytesOf(h.name);
  const linkname = bytesOf(h.linkname);
  const uname = bytesOf(h.uname);
  const gname = bytesOf(h.gname);
  // Go's allowedFormats: USTAR when every field fits (a long ASCII name may split into prefix and name)
  // and there are no xattrs; this test allocates nothing, for it runs once per entry of an export.
  const split = ustarSplit(name);
  const ustar =
    (fitsString(name, NAME_SIZE) || split >= 0) &&
    fitsString(linkname, NAME_SIZE) &&
    fitsString(uname, UNAME_SIZE) &&
    fitsString(gname, UNAME_SIZE) &&
    fitsOctal(h.uid, 8) &&
    fitsOctal(h.gid, 8) &&
    fitsOctal(h.size, 12) &&
    fitsOctal(h.mtime, 12) &&
    (h.xattrs === undefined || Object.keys(h.xattrs).length === 0);
  if (ustar) {
    return split < 0 ? mainBlock(h, name, EMPTY, linkname, uname, gname) : mainBlock(h, name.subarray(split + 1), name.subarray(0, split), linkname, uname, gname);
  }
  // Otherwise every field USTAR cannot hold becomes a PAX record of its own value (bytes as they are).
  const pax: Array<[string, Buffer]> = [];
  if (!fitsString(name, NAME_SIZE)) pax.push(['path', name]);
  if (!fitsString(linkname, NAME_SIZE)) pax.push(['linkpath', linkname]);
  if (!fitsString(uname, UNAME_SIZE)) pax.push(['uname', uname]);
  if (!fitsString(gname, UNAME_SIZE)) pax.push(['gname', gname]);
  for (const [key, value, width] of [['uid', h.uid, 8], ['gid', h.gid, 8], ['size', h.size, 12], ['mtime', h.mtime, 12]] as const) {
    if (!fitsOctal(value, width)) pax.push([key, Buffer.from(String(value))]);
  }
  for (const [key, value] of Object.entries(h.xattrs ?? {})) pax.push([`SCHILY.xattr.${key}`, value]);
  pax.sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const records = Buffer.concat(pax.map(([k, v]) => paxRecord(k, v)));
  const main = mainBlock(h, toAscii(name), EMPTY, toAscii(linkname), toAscii(uname), toAscii(gname));
  return Buffer.concat([extendedBlock(paxHeaderName(name), records.length), padToBlock(records), main]);
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
