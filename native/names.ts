// File names are bytes: Linux does not require them to be UTF-8, and Docker keeps them as bytes in layers,
// tar headers and tar-split. These helpers show such names the way docker does and compare them bytewise.

/** Length of the valid UTF-8 sequence at `i`, or 0 when the byte there starts none (Go's utf8.DecodeRune rules). */
export function utf8SequenceAt(b: Uint8Array, i: number): number {
  const c = b[i];
  if (c < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf) => i + k < b.length && b[i + k] >= lo && b[i + k] <= hi;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((c >= 0xe1 && c <= 0xec) || c === 0xee || c === 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (c === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0; // no UTF-16 surrogates
  if (c === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

/** Whether the bytes are valid UTF-8. */
export function isUtf8(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; ) {
    const n = utf8SequenceAt(bytes, i);
    if (n === 0) return false;
    i += n;
  }
  return true;
}

/**
 * A name as docker prints it: its bytes as UTF-8, each byte that is not part of a valid sequence replaced
 * by U+FFFD (what Go's encoding/json does to the paths `docker diff` receives from the daemon).
 */
export function displayPath(bytes: Uint8Array | string): string {
  if (typeof bytes === 'string') return bytes;
  let ascii = true;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] >= 0x80) ascii = false;
  if (ascii) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  let out = '';
  let start = 0;
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < buf.length; ) {
    const n = utf8SequenceAt(buf, i);
    if (n > 0) {
      i += n;
      continue;
    }
    out += buf.toString('utf8', start, i) + '\ufffd';
    i += 1;
    start = i;
  }
  return out + buf.toString('utf8', start);
}

/** Bytewise order of two names (Go's string order; the order Docker walks and archives in). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

/** The bytes of a name given as a string (UTF-8) or as bytes. */
export function nameBytes(name: string | Uint8Array): Buffer {
  return typeof name === 'string' ? Buffer.from(name, 'utf8') : Buffer.from(name.buffer, name.byteOffset, name.byteLength);
}

/** Joins path parts as bytes with "/" between them. */
export function joinBytes(...parts: Array<string | Uint8Array>): Buffer {
  const pieces: Buffer[] = [];
  parts.forEach((p, i) => {
    if (i > 0) pieces.push(SLASH);
    pieces.push(nameBytes(p));
  });
  return Buffer.concat(pieces);
}

const SLASH = Buffer.from('/');
