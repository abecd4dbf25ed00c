// CRC-64 with the ISO polynomial, as Go's hash/crc64 computes it (crc64.MakeTable(crc64.ISO)); tar-split
// records one per file payload. Reflected algorithm on two 32-bit halves, sliced by 8 for speed.

// ISO polynomial x^64 + x^4 + x^3 + x + 1, reflected: 0xD800000000000000.
const POLY_HI = 0xd8000000 | 0;
const POLY_LO = 0;

// Int32 throughout: V8 keeps small integers unboxed, which unsigned values above 2^31 are not.
function makeTables(): { hi: Int32Array; lo: Int32Array } {
  const hi = new Int32Array(8 * 256);
  const lo = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let h = 0;
    let l = n;
    for (let k = 0; k < 8; k++) {
      const carry = l & 1;
      l = (l >>> 1) | ((h & 1) << 31);
      h = h >>> 1;
      if (carry) {
        h ^= POLY_HI;
        l ^= POLY_LO;
      }
    }
    hi[n] = h;
    lo[n] = l;
  }
  // Table k maps a byte that is k positions further back: T[k][n] = T[0][T[k-1][n] & 0xff] ^ (T[k-1][n] >> 8).
  for (let k = 1; k < 8; k++) {
    for (let n = 0; n < 256; n++) {
      const ph = hi[(k - 1) * 256 + n];
      const pl = lo[(k - 1) * 256 + n];
      const idx = pl & 0xff;
      hi[k * 256 + n] = hi[idx] ^ (ph >>> 8);
      lo[k * 256 + n] = lo[idx] ^ ((pl >>> 8) | ((ph & 0xff) << 24));
    }
  }
  return { hi, lo };
}

const { hi: TH, lo: TL } = makeTables();

/** Streaming CRC-64/ISO (Go's crc64.Update with the ISO table: initial ~0, final ~). */
export class Crc64 {
  private h = -1;
  private l = -1;

  update(buf: Uint8Array): this {
    let h = this.h;
    let l = this.l;
    let i = 0;
    const n = buf.length;
    // Whole 8-byte words through an aligned Int32Array view (little-endian, as every host Node runs on here).
    const head = (4 - (buf.byteOffset & 3)) & 3;
    for (; i < head && i < n; i++) {
      const idx = (l ^ buf[i]) & 0xff;
      l = TL[idx] ^ ((l >>> 8) | ((h & 0xff) << 24));
      h = TH[idx] ^ (h >>> 8);
    }
    const words = (n - i) >>> 3;
    if (words > 0) {
      const w = new Int32Array(buf.buffer, buf.byteOffset + i, words * 2);
      for (let j = 0; j < w.length; j += 2) {
        const l0 = l ^ w[j];
        const h0 = h ^ w[j + 1];
        const a = 1792 + (l0 & 0xff), b = 1536 + ((l0 >>> 8) & 0xff), c = 1280 + ((l0 >>> 16) & 0xff), d = 1024 + (l0 >>> 24);
        const e = 768 + (h0 & 0xff), f = 512 + ((h0 >>> 8) & 0xff), g = 256 + ((h0 >>> 16) & 0xff), k = h0 >>> 24;
        h = TH[a] ^ TH[b] ^ TH[c] ^ TH[d] ^ TH[e] ^ TH[f] ^ TH[g] ^ TH[k];
        l = TL[a] ^ TL[b] ^ TL[c] ^ TL[d] ^ TL[e] ^ TL[f] ^ TL[g] ^ TL[k];
      }
      i += words * 8;
    }
    for (; i < n; i++) {
      const idx = (l ^ buf[i]) & 0xff;
      l = TL[idx] ^ ((l >>> 8) | ((h & 0xff) << 24));
      h = TH[idx] ^ (h >>> 8);
    }
    this.h = h;
    this.l = l;
    return this;
  }

  /** The 8 bytes big-endian, as tar-split stores them (Go's hash.Sum). */
  digest(): Buffer {
    const out = Buffer.alloc(8);
    out.writeUInt32BE(~this.h >>> 0, 0);
    out.writeUInt32BE(~this.l >>> 0, 4);
    return out;
  }

  hex(): string {
    return this.digest().toString('hex');
  }
}
