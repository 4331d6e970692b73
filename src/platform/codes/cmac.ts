import { type Cipheriv, createCipheriv } from 'node:crypto';

/**
 * AES-CMAC (NIST SP 800-38B, RFC 4493) of codes, truncated to its first 64 bits: the keyed hash promo codes are
 * stored as in workspaces created since it was introduced (those created before keep HMAC-SHA-256, hash.ts).
 *
 * Why: generation hashes millions of codes, and HMAC-SHA-256 costs two SHA-256 compressions a code in JavaScript
 * (≈ 0.7 µs, the largest part of generation's own CPU). A CMAC is AES encryptions, and AES in ECB mode over a whole
 * chunk of blocks is one call into OpenSSL's hardware AES: the chunk's codes are hashed block column by block column
 * (a code of up to 16 characters is one block), a few nanoseconds a code. It is a standard MAC with a 256-bit key;
 * truncated to 64 bits it is as good a lookup key, and as useless to someone holding the table without the key, as
 * truncated HMAC.
 */

const BLOCK = 16;
const ZERO_BLOCK = Buffer.alloc(BLOCK);

/** Doubling in GF(2^128) as CMAC defines it for its subkeys. */
function double(block: Buffer): Buffer {
  const out = Buffer.alloc(BLOCK);
  for (let i = 0; i < BLOCK; i++) out[i] = (((block[i] as number) << 1) | ((block[i + 1] ?? 0) >>> 7)) & 0xff;
  if ((block[0] as number) & 0x80) out[BLOCK - 1] = (out[BLOCK - 1] as number) ^ 0x87;
  return out;
}

export class CodeCmac {
  readonly #ecb: Cipheriv;
  readonly #k1: Buffer;
  readonly #k2: Buffer;

  /** `key`: 16, 24 or 32 bytes (AES-128, -192 or -256). */
  constructor(key: Uint8Array) {
    if (![16, 24, 32].includes(key.length)) throw new Error('an AES key is 16, 24 or 32 bytes');
    // ECB without padding keeps no state between calls: one cipher serves every call of this key.
    this.#ecb = createCipheriv(`aes-${key.length * 8}-ecb`, key, null);
    this.#ecb.setAutoPadding(false);
    this.#k1 = double(this.#encrypt(ZERO_BLOCK));
    this.#k2 = double(this.#k1);
  }

  #encrypt(blocks: Uint8Array): Buffer {
    return this.#ecb.update(blocks);
  }

  /**
   * The CMACs of `count` codes of `length` bytes each, laid end to end in `text` from `at`: the full 16-byte tags,
   * code by code. Every code's i-th block is encrypted in the same call.
   */
  tags(text: Uint8Array, length: number, count: number, at = 0): Buffer {
    const blocks = Math.max(1, Math.ceil(length / BLOCK));
    const complete = length > 0 && length % BLOCK === 0;
    const lastBytes = length - (blocks - 1) * BLOCK;
    const subkey = complete ? this.#k1 : this.#k2;
    const input = Buffer.allocUnsafe(count * BLOCK);
    let state: Buffer = Buffer.alloc(count * BLOCK);
    for (let b = 0; b < blocks; b++) {
      const last = b === blocks - 1;
      const take = last ? lastBytes : BLOCK;
      for (let i = 0; i < count; i++) {
        const src = at + i * length + b * BLOCK;
        const o = i * BLOCK;
        for (let j = 0; j < take; j++) input[o + j] = (state[o + j] as number) ^ (text[src + j] as number);
        if (last) {
          if (take < BLOCK) {
            input[o + take] = (state[o + take] as number) ^ 0x80;
            for (let j = take + 1; j < BLOCK; j++) input[o + j] = state[o + j] as number;
          }
          for (let j = 0; j < BLOCK; j++) input[o + j] = (input[o + j] as number) ^ (subkey[j] as number);
        }
      }
      state = this.#encrypt(input);
    }
    return state;
  }

  /**
   * The stored form of `count` codes of `length` bytes (see `tags`) into `words`: per code its first 64 bits as the
   * little-endian 32-bit words of a BigInt64Array element (low word first), so no BigInt is made per code.
   */
  hashFixed(text: Uint8Array, length: number, count: number, words: Int32Array, at = 0) {
    const tags = this.tags(text, length, count, at);
    for (let i = 0; i < count; i++) {
      words[2 * i] = tags.readInt32BE(i * BLOCK + 4);
      words[2 * i + 1] = tags.readInt32BE(i * BLOCK);
    }
  }

  /** The stored form of one ASCII code: the first 64 bits of its CMAC as a signed bigint (decimal string). */
  hash(code: string): string {
    const bytes = Buffer.from(code, 'latin1');
    return this.tags(bytes, bytes.length, 1).readBigInt64BE(0).toString();
  }
}
