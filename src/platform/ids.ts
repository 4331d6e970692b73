import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';

/** Row ids: time-ordered UUIDv7, so inserts stay index-friendly and ids reveal no sequence. */
export function newId(): string {
  return uuidv7();
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** A CSPRNG token in base62 without modulo bias (rejection sampling). */
export function randomToken(length = 32): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248) out += BASE62[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

/** A prefixed secret such as `rk_sec_…`; the prefix tells a leaked string's kind at a glance. */
export function prefixedSecret(prefix: string, length = 40): string {
  return `${prefix}${randomToken(length)}`;
}

/** High-entropy secrets (API keys, session tokens) need no slow hash: SHA-256 is enough and keeps auth cheap. */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

export function hmacHex(key: string, value: string): string {
  return createHmac('sha256', key).update(value).digest('hex');
}

export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}
