// Part of the frozen format-2 fingerprint (baseline-v2.ts) for `npm run bench -- fingerprint`; not used by Castle itself.
// MurmurHash3_x86_128 (Austin Appleby, public domain) of one row, added lane by lane into a 128-bit multiset sum.
// Hand-written rather than a library: a keyless table is hashed row by row (millions of calls), and the npm
// implementations return a hex string or allocate per call; here a row is read in place from the socket's buffer
// and nothing is allocated (format 2 was checked against murmurhash3js-revisited in its tests).

const C1 = 0x239b961b;
const C2 = 0xab0e9789;
const C3 = 0x38b34ae5;
const C4 = 0xa1e38b93;

const rotl = (x: number, r: number): number => (x << r) | (x >>> (32 - r));

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** Sum (mod 2^32 per lane) of the 128-bit hashes of rows: the same for the same rows in any order, duplicates counted. */
export class RowSum {
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 0;

  /** Adds the hash of `len` bytes of `buf` from `off` (`view` is a DataView over all of `buf`). */
  add(buf: Uint8Array, view: DataView, off: number, len: number, seed = 0): void {
    let h1 = seed;
    let h2 = seed;
    let h3 = seed;
    let h4 = seed;
    const end = off + len;
    const blocks = off + (len & ~15);
    let i = off;
    for (; i < blocks; i += 16) {
      let k1 = view.getInt32(i, true);
      let k2 = view.getInt32(i + 4, true);
      let k3 = view.getInt32(i + 8, true);
      let k4 = view.getInt32(i + 12, true);
      k1 = Math.imul(rotl(Math.imul(k1, C1), 15), C2);
      h1 ^= k1;
      h1 = (Math.imul(rotl(h1, 19) + h2, 5) + 0x561ccd1b) | 0;
      k2 = Math.imul(rotl(Math.imul(k2, C2), 16), C3);
      h2 ^= k2;
      h2 = (Math.imul(rotl(h2, 17) + h3, 5) + 0x0bcaa747) | 0;
      k3 = Math.imul(rotl(Math.imul(k3, C3), 17), C4);
      h3 ^= k3;
      h3 = (Math.imul(rotl(h3, 15) + h4, 5) + 0x96cd1c35) | 0;
      k4 = Math.imul(rotl(Math.imul(k4, C4), 18), C1);
      h4 ^= k4;
      h4 = (Math.imul(rotl(h4, 13) + h1, 5) + 0x32ac3b17) | 0;
    }
    // the tail: lanes the tail does not reach stay 0, and mixing 0 changes nothing
    let k1 = 0;
    let k2 = 0;
    let k3 = 0;
    let k4 = 0;
    for (let j = 0; i < end; i++, j++) {
      const v = buf[i]! << ((j & 3) * 8);
      if (j < 4) k1 ^= v;
      else if (j < 8) k2 ^= v;
      else if (j < 12) k3 ^= v;
      else k4 ^= v;
    }
    h4 ^= Math.imul(rotl(Math.imul(k4, C4), 18), C1);
    h3 ^= Math.imul(rotl(Math.imul(k3, C3), 17), C4);
    h2 ^= Math.imul(rotl(Math.imul(k2, C2), 16), C3);
    h1 ^= Math.imul(rotl(Math.imul(k1, C1), 15), C2);
    h1 ^= len;
    h2 ^= len;
    h3 ^= len;
    h4 ^= len;
    h1 = (h1 + h2 + h3 + h4) | 0;
    h2 = (h2 + h1) | 0;
    h3 = (h3 + h1) | 0;
    h4 = (h4 + h1) | 0;
    h1 = fmix(h1);
    h2 = fmix(h2);
    h3 = fmix(h3);
    h4 = fmix(h4);
    h1 = (h1 + h2 + h3 + h4) | 0;
    h2 = (h2 + h1) | 0;
    h3 = (h3 + h1) | 0;
    h4 = (h4 + h1) | 0;
    this.a = (this.a + h1) | 0;
    this.b = (this.b + h2) | 0;
    this.c = (this.c + h3) | 0;
    this.d = (this.d + h4) | 0;
  }

  /** Adds another sum (the parts of a table hashed on several connections). */
  merge(hex: string): void {
    const v = (k: number) => parseInt(hex.slice(k * 8, k * 8 + 8), 16) | 0;
    this.a = (this.a + v(0)) | 0;
    this.b = (this.b + v(1)) | 0;
    this.c = (this.c + v(2)) | 0;
    this.d = (this.d + v(3)) | 0;
  }

  /** 32 hex digits: the four lanes, each big-endian (as murmurhash3js prints a single hash). */
  hex(): string {
    return [this.a, this.b, this.c, this.d].map((x) => (x >>> 0).toString(16).padStart(8, '0')).join('');
  }
}
