import { createHash, createHmac, randomBytes, randomFillSync, timingSafeEqual } from 'node:crypto';
import { stringify as uuidText, v7 as uuidv7 } from 'uuid';

/** Row ids: time-ordered UUIDv7, so inserts stay index-friendly and ids reveal no sequence. */
export function newId(): string {
  newIdInto(bytes, 0);
  return uuidText(bytes);
}

/**
 * newId's 16 bytes, written into `target` at `offset`: for ids that go to the database in binary (an import's events)
 * and are only written out as text when something asks (uuid's `stringify`).
 */
export function newIdInto(target: Uint8Array, offset: number): void {
  const now = Date.now();
  // As the uuid package's v7: a 31-bit sequence, random at each new millisecond and counted up within one, keeps
  // the ids of one process in creation order. Its random bytes come from a pool: a system call per id (what the
  // package does) costs more than the rest of an event's import.
  if (now > v7State.msecs) {
    const r = randomSlice(4);
    v7State.seq =
      (((pool[r] as number) & 0x7f) << 24) |
      ((pool[r + 1] as number) << 16) |
      ((pool[r + 2] as number) << 8) |
      (pool[r + 3] as number);
    v7State.msecs = now;
  } else {
    v7State.seq = (v7State.seq + 1) | 0;
    if (v7State.seq === 0) v7State.msecs++;
  }
  // The random bytes through a reused array: a typed array made per id cost more than laying the id out.
  const at = randomSlice(16);
  pool.copy(random, 0, at, at + 16);
  uuidv7({ random, msecs: v7State.msecs, seq: v7State.seq }, target, offset);
}

const random = new Uint8Array(16);
const bytes = new Uint8Array(16);
const v7State = { msecs: Number.NEGATIVE_INFINITY, seq: 0 };
const pool = Buffer.allocUnsafe(16 * 1024);
let poolAt = pool.length;

function randomSlice(n: number): number {
  if (poolAt + n > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const at = poolAt;
  poolAt += n;
  return at;
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
