import { createHmac } from 'node:crypto';

/**
 * The keyed hash codes are stored as: HMAC-SHA-256 with the workspace's code key over the normalised code,
 * truncated to its first 64 bits (a PostgreSQL bigint, so the unique index stays small).
 *
 * Generation hashes millions of codes, and Node's createHmac costs 3–14 µs a call in object set-up alone. A code is
 * shorter than one SHA-256 block, so HMAC is exactly two compressions after the key's inner and outer blocks,
 * which are computed once per key: this file does that in plain JavaScript (≈0.7 µs a code). It is checked
 * against node:crypto's HMAC for every length in codes.alphabet.test.ts.
 */

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);
const IV = new Int32Array([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);

/** One SHA-256 compression of the 16-word block `m` on `state`, into `out`. `w` is scratch space (64 words). */
function compress(state: Int32Array, m: Int32Array, out: Int32Array, w: Int32Array) {
  for (let i = 0; i < 16; i++) w[i] = m[i] as number;
  for (let i = 16; i < 64; i++) {
    const x = w[i - 15] as number;
    const y = w[i - 2] as number;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    w[i] = ((w[i - 16] as number) + s0 + (w[i - 7] as number) + s1) | 0;
  }
  let a = state[0] as number;
  let b = state[1] as number;
  let c = state[2] as number;
  let d = state[3] as number;
  let e = state[4] as number;
  let f = state[5] as number;
  let g = state[6] as number;
  let h = state[7] as number;
  for (let i = 0; i < 64; i++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const t1 = (h + s1 + ch + (K[i] as number) + (w[i] as number)) | 0;
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = (s0 + maj) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  out[0] = ((state[0] as number) + a) | 0;
  out[1] = ((state[1] as number) + b) | 0;
  out[2] = ((state[2] as number) + c) | 0;
  out[3] = ((state[3] as number) + d) | 0;
  out[4] = ((state[4] as number) + e) | 0;
  out[5] = ((state[5] as number) + f) | 0;
  out[6] = ((state[6] as number) + g) | 0;
  out[7] = ((state[7] as number) + h) | 0;
}

/** Codes of at most this many bytes fit the single-block shortcut (a SHA-256 block holds 55 bytes of message). */
export const MAX_HASHED_LENGTH = 55;

/** A keyed hash of codes as stored: HMAC-SHA-256 (CodeHasher) or AES-CMAC (cmac.ts), first 64 bits. */
export interface CodeMac {
  /** The stored form of one ASCII code: a signed 64-bit integer as a decimal string. */
  hash(code: string): string;
  /**
   * `count` codes of `length` bytes laid end to end in `text` from `at`, into `words`: per code its 64 bits as the
   * little-endian 32-bit words of a BigInt64Array element (low word first).
   */
  hashFixed(text: Uint8Array, length: number, count: number, words: Int32Array, at?: number): void;
}

export class CodeHasher implements CodeMac {
  readonly #inner = new Int32Array(8);
  readonly #outer = new Int32Array(8);
  readonly #m = new Int32Array(16);
  readonly #w = new Int32Array(64);
  readonly #t = new Int32Array(8);
  /** The last digest: its words 0 and 1 are the stored 64 bits. */
  readonly digest = new Int32Array(8);

  readonly #key: Uint8Array | undefined;

  constructor(key: Uint8Array) {
    if (key.length > 64) throw new Error('HMAC keys longer than a block are not used here');
    this.#key = key;
    for (const [pad, state] of [
      [0x36, this.#inner],
      [0x5c, this.#outer],
    ] as const) {
      const block = new Uint8Array(64).fill(pad);
      for (let i = 0; i < key.length; i++) block[i] = (block[i] as number) ^ (key[i] as number);
      const m = new Int32Array(16);
      for (let i = 0; i < 16; i++)
        m[i] =
          ((block[i * 4] as number) << 24) |
          ((block[i * 4 + 1] as number) << 16) |
          ((block[i * 4 + 2] as number) << 8) |
          (block[i * 4 + 3] as number);
      compress(IV, m, state, this.#w);
    }
  }

  /** HMAC-SHA-256 of `length` bytes of `bytes` (an ASCII code) from `at`, into `this.digest`. */
  hashBytes(bytes: Uint8Array, length: number, at = 0): Int32Array {
    if (length > MAX_HASHED_LENGTH) throw new Error('code too long to hash');
    const m = this.#m;
    m.fill(0);
    for (let i = 0; i < length; i++)
      m[i >> 2] = (m[i >> 2] as number) | ((bytes[at + i] as number) << (24 - 8 * (i & 3)));
    m[length >> 2] = (m[length >> 2] as number) | (0x80 << (24 - 8 * (length & 3)));
    m[15] = (64 + length) * 8;
    compress(this.#inner, m, this.#t, this.#w);
    for (let i = 0; i < 8; i++) m[i] = this.#t[i] as number;
    m[8] = 0x80000000 | 0;
    for (let i = 9; i < 15; i++) m[i] = 0;
    m[15] = (64 + 32) * 8;
    compress(this.#outer, m, this.digest, this.#w);
    return this.digest;
  }

  hashFixed(text: Uint8Array, length: number, count: number, words: Int32Array, at = 0) {
    for (let i = 0; i < count; i++) {
      const d = this.hashBytes(text, length, at + i * length);
      words[2 * i] = d[1] as number;
      words[2 * i + 1] = d[0] as number;
    }
  }

  /**
   * The first 128 bits of HMAC-SHA-256 of a string (UTF-8) as hex: for identifiers, devices and addresses in counter
   * names and attempt rows. Long values take node:crypto's path; the result is the same.
   */
  hex128(value: string): string {
    const bytes = Buffer.from(value, 'utf8');
    if (bytes.length > MAX_HASHED_LENGTH) {
      if (!this.#key) throw new Error('no key for long values');
      return createHmac('sha256', this.#key).update(bytes).digest('hex').slice(0, 32);
    }
    const d = this.hashBytes(bytes, bytes.length);
    let out = '';
    for (let i = 0; i < 4; i++) out += ((d[i] as number) >>> 0).toString(16).padStart(8, '0');
    return out;
  }

  /** The stored form of an ASCII code: the first 64 bits of its HMAC as a signed bigint (decimal string). */
  hash(code: string): string {
    const bytes = Buffer.from(code, 'latin1');
    const d = this.hashBytes(bytes, bytes.length);
    return int64Of(d[0] as number, d[1] as number).toString();
  }
}

export function int64Of(high: number, low: number): bigint {
  return BigInt.asIntN(64, (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0));
}

/** The reference implementation, for tests. */
export function referenceHash(key: Uint8Array, code: string): string {
  const d = createHmac('sha256', key).update(code, 'latin1').digest();
  return d.readBigInt64BE(0).toString();
}
