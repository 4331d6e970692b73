import { createCipheriv, randomBytes } from 'node:crypto';
import type { PassThrough } from 'node:stream';
import { codeFromBytes, formatCode, isWellFormed, normalizeCode } from '../../platform/codes/alphabet.ts';
import { CodeHasher } from '../../platform/codes/hash.ts';
import { keyDeriver, newSecret, type Sealer, sealer } from '../../platform/codes/keys.ts';
import type { Db } from '../../platform/db.ts';
import { DomainError, notFound } from '../../platform/errors.ts';
import { newId } from '../../platform/ids.ts';
import type { Actor } from '../../platform/principal.ts';
import { hitRateLimit, peekRateLimit } from '../../platform/ratelimit.ts';
import * as repo from './loyalty.coupons.repo.ts';
import type {
  CouponBatchCreate,
  CouponCheck,
  CouponRedeem,
  CouponUse,
  CouponValidity,
} from './loyalty.rewards.schemas.ts';
import { keyReused, type LoyaltyDeps, requestHash } from './loyalty.service.ts';

/**
 * Coupons: unique codes from the promo-code alphabet (platform/codes: CSPRNG, check character), stored as a keyed
 * hash (HMAC-SHA-256 with a workspace key, first 64 bits) plus the last four characters for display. The clear
 * code exists once: in the answer that issued it (and the customer's SMS), or in a batch's one download.
 *
 * At the till a code is valid or not — an unknown, used, expired or not-yet-valid code gets the same answer, so
 * the API tells nothing about which codes exist. Wrong codes are limited per key (or user) and branch, in the
 * database. A redemption is one insert; a partial unique index on the coupon's live use makes exactly one of many
 * concurrent redemptions win. A reversal (the sale was cancelled) frees the coupon.
 */

/** Code length with the check character: 11 random characters, 31^11 ≈ 2.5·10^16 codes. */
export const COUPON_LENGTH = 12;
export const WRONG_COUPONS = { limit: 20, windowSeconds: 600 };

export interface CouponKeys extends Sealer {
  hasher: CodeHasher;
}

/** Keys derived from one CSPRNG secret per workspace (created on first use, never shown), as codes.service does. */
export function createCouponKeyRing() {
  const known = new Map<string, CouponKeys>();
  return {
    async of(db: Db, workspaceId: string): Promise<CouponKeys> {
      const hit = known.get(workspaceId);
      if (hit) return hit;
      const derive = keyDeriver(Buffer.from(await repo.ensureCouponSecret(db, workspaceId, newSecret()), 'base64url'));
      const keys: CouponKeys = {
        hasher: new CodeHasher(derive('rapport/loyalty/coupons/hash')),
        ...sealer(derive('rapport/loyalty/coupons/seal')),
      };
      known.set(workspaceId, keys);
      return keys;
    },
  };
}
export type CouponKeyRing = ReturnType<typeof createCouponKeyRing>;
export const couponKeys = createCouponKeyRing();

/** A fresh code from the CSPRNG: its clear form, stored hash and display tail. */
export function newCouponCode(hasher: CodeHasher): { code: string; hash: string; last4: string } {
  const out = new Uint8Array(COUPON_LENGTH);
  for (;;) {
    if (codeFromBytes(randomBytes(32), 0, COUPON_LENGTH, out) >= 0) break;
  }
  const code = Buffer.from(out).toString('latin1');
  return { code, hash: hasher.hash(code), last4: code.slice(-4) };
}

/** The codes of a batch, in order, from its seed (AES-256-CTR keystream): the same seed gives the same codes. */
function* codesFromSeed(seed: Buffer, count: number) {
  const stream = createCipheriv('aes-256-ctr', seed, Buffer.alloc(16));
  let bytes = new Uint8Array(0);
  let offset = 0;
  const out = new Uint8Array(COUPON_LENGTH);
  for (let i = 0; i < count; i++) {
    for (;;) {
      const next = codeFromBytes(bytes, offset, COUPON_LENGTH, out);
      if (next >= 0) {
        offset = next;
        break;
      }
      bytes = Uint8Array.from([...bytes.subarray(offset), ...stream.update(Buffer.alloc(4096))]);
      offset = 0;
    }
    yield Buffer.from(out).toString('latin1');
  }
}

function limitBucket(actor: Actor, branch: string | undefined) {
  const p = actor.principal;
  return `loyalty-coupon:${p.scope.workspaceId}:${p.keyId ?? p.userId ?? p.actorLabel}:${p.scope.branchId ?? branch ?? '-'}`;
}

const NOT_VALID: CouponValidity = {
  valid: false,
  reason: 'NOT_VALID',
  valueMinor: null,
  currency: null,
  minBasketMinor: null,
  last4: null,
};

/**
 * The live coupon a code names, or undefined — for unknown, malformed, used, expired and not-yet-valid codes alike.
 * Counts a wrong code against the caller's limit; refuses when the limit is reached.
 */
async function liveCoupon(deps: LoyaltyDeps, actor: Actor, raw: string, branch: string | undefined) {
  const { workspaceId } = actor.principal.scope;
  const bucket = limitBucket(actor, branch);
  const limit = await peekRateLimit(deps.db, deps.clock, bucket, WRONG_COUPONS);
  if (!limit.allowed)
    throw new DomainError('rate_limited', 'RATE_LIMITED', 'Too many wrong coupon codes; try again later.', {
      retryAfterSeconds: limit.retryAfterSeconds,
    });
  const code = normalizeCode(raw);
  const now = deps.clock.now();
  let coupon: repo.CouponRow | undefined;
  if (code.length === COUPON_LENGTH && isWellFormed(code)) {
    const keys = await couponKeys.of(deps.db, workspaceId);
    coupon = await repo.couponByHash(deps.db, workspaceId, keys.hasher.hash(code));
  }
  const live =
    coupon &&
    !coupon.used_at &&
    !coupon.voided_at &&
    (!coupon.valid_from || coupon.valid_from <= now) &&
    (!coupon.valid_until || coupon.valid_until > now);
  if (!live) {
    await hitRateLimit(deps.db, deps.clock, bucket, WRONG_COUPONS);
    return { code, coupon: undefined, now };
  }
  return { code, coupon, now };
}

function fits(coupon: repo.CouponRow, input: CouponCheck): CouponValidity {
  const reason =
    coupon.currency !== input.currency
      ? ('CURRENCY_MISMATCH' as const)
      : input.basketMinor < coupon.min_basket_minor
        ? ('BASKET_TOO_SMALL' as const)
        : null;
  return {
    valid: reason === null,
    reason,
    valueMinor: coupon.value_minor,
    currency: coupon.currency,
    minBasketMinor: coupon.min_basket_minor,
    last4: coupon.last4,
  };
}

/** Whether a code is good for this basket now, and what it is worth. Unknown, used and expired: the same answer. */
export async function validateCoupon(deps: LoyaltyDeps, actor: Actor, input: CouponCheck): Promise<CouponValidity> {
  const { coupon } = await liveCoupon(deps, actor, input.code, input.branch);
  return coupon ? fits(coupon, input) : NOT_VALID;
}

function couponUseOut(use: repo.UseRow, coupon: repo.CouponRow): CouponUse {
  return {
    useId: use.id,
    couponId: coupon.id,
    last4: coupon.last4,
    valueMinor: coupon.value_minor,
    currency: coupon.currency,
    basketMinor: Number(use.basket_minor),
    branch: use.branch,
    cashier: use.cashier,
    usedAt: use.used_at.toISOString(),
    reversedAt: use.reversed_at?.toISOString() ?? null,
  };
}

const notValid = () =>
  new DomainError('conflict', 'COUPON_NOT_VALID', 'This coupon code cannot be used (unknown, used or expired).');

/**
 * Redeems a coupon at a till, exactly once: one insert that the unique index on the coupon's live use arbitrates.
 * The idempotency key makes a retry answer the first result.
 */
export async function redeemCoupon(
  deps: LoyaltyDeps,
  actor: Actor,
  input: CouponRedeem,
  key: string,
): Promise<{ status: number; body: CouponUse; replayed: boolean }> {
  const { workspaceId, branchId } = actor.principal.scope;
  const hash = requestHash('coupon-redeem', { ...input, code: normalizeCode(input.code) });
  const replay = async (use: repo.UseRow) => {
    if (use.hash !== hash) throw keyReused();
    const coupon = (await repo.couponById(deps.db, workspaceId, use.coupon_id)) as repo.CouponRow;
    return { status: 201, body: couponUseOut(use, coupon), replayed: true };
  };
  const prior = await repo.couponUseByKey(deps.db, workspaceId, key);
  if (prior) return replay(prior);
  const { coupon, now } = await liveCoupon(deps, actor, input.code, input.branch);
  if (!coupon) throw notValid();
  const fit = fits(coupon, input);
  if (fit.reason === 'CURRENCY_MISMATCH')
    throw new DomainError('invalid', 'CURRENCY_MISMATCH', `The coupon is in ${coupon.currency}.`);
  if (fit.reason === 'BASKET_TOO_SMALL')
    throw new DomainError('conflict', 'BASKET_TOO_SMALL', `The coupon needs a basket of ${coupon.min_basket_minor}.`, {
      minBasketMinor: coupon.min_basket_minor,
    });
  const id = newId();
  const inserted = await repo.insertUse(deps.db, workspaceId, {
    id,
    couponId: coupon.id,
    key,
    hash,
    basketMinor: input.basketMinor,
    currency: input.currency,
    branch: input.branch ?? null,
    branchId,
    cashier: input.cashier ?? null,
    recordedBy: actor.principal.actorLabel,
    externalId: input.externalId ?? null,
    now,
  });
  if (!inserted) {
    // Either this key's first request committed meanwhile (answer it), or another till used the coupon first.
    const again = await repo.couponUseByKey(deps.db, workspaceId, key);
    if (again) return replay(again);
    throw notValid();
  }
  const use = (await repo.couponUseById(deps.db, workspaceId, id)) as repo.UseRow;
  return { status: 201, body: couponUseOut(use, coupon), replayed: false };
}

/** Cancels a coupon's use (the sale was cancelled): the coupon is valid again. Repeating it changes nothing. */
export async function reverseCouponUse(deps: LoyaltyDeps, actor: Actor, useId: string): Promise<CouponUse> {
  const { workspaceId, branchId } = actor.principal.scope;
  const use = await repo.couponUseById(deps.db, workspaceId, useId);
  if (!use || (branchId && use.branch_id !== branchId)) throw notFound('Coupon use', 'COUPON_USE_NOT_FOUND');
  await repo.reverseUse(deps.db, workspaceId, use.id, actor.principal.actorLabel, deps.clock.now());
  const after = (await repo.couponUseById(deps.db, workspaceId, useId)) as repo.UseRow;
  const coupon = (await repo.couponById(deps.db, workspaceId, use.coupon_id)) as repo.CouponRow;
  return couponUseOut(after, coupon);
}

// ---- campaign batches

export function batchOut(b: repo.BatchRow, currency: string, programmeKey: string) {
  return {
    id: b.id,
    label: b.label,
    count: b.count,
    valueMinor: b.value_minor,
    currency,
    minBasketMinor: b.min_basket_minor,
    validFrom: b.valid_from?.toISOString() ?? null,
    validUntil: b.valid_until?.toISOString() ?? null,
    createdAt: b.created_at.toISOString(),
    downloadedAt: b.downloaded_at?.toISOString() ?? null,
    downloadUrl: b.downloaded_at
      ? null
      : `/api/v1/loyalty/programmes/${programmeKey}/coupons/batches/${b.id}/codes.csv`,
  };
}

const CHUNK = 1000;

/** Issues `count` coupons for a campaign: codes from a sealed random seed, so the one download can list them. */
export async function createBatch(deps: LoyaltyDeps, actor: Actor, programmeKey: string, input: CouponBatchCreate) {
  const { workspaceId } = actor.principal.scope;
  const state = await deps.programmes.get(deps.db, workspaceId, programmeKey);
  const keys = await couponKeys.of(deps.db, workspaceId);
  const seed = randomBytes(32);
  const id = newId();
  const now = deps.clock.now();
  const spec = {
    batchId: id,
    programmeId: state.row.id,
    currency: state.row.currency,
    valueMinor: input.valueMinor,
    minBasketMinor: input.minBasketMinor,
    validFrom: input.validFrom ? new Date(input.validFrom) : null,
    validUntil: input.validUntil ? new Date(input.validUntil) : null,
    now,
  };
  await deps.db.transaction().execute(async (trx) => {
    await repo.insertBatch(trx, workspaceId, {
      id,
      programmeId: state.row.id,
      label: input.label ?? null,
      count: input.count,
      valueMinor: input.valueMinor,
      minBasketMinor: input.minBasketMinor,
      validFrom: spec.validFrom,
      validUntil: spec.validUntil,
      sealedSeed: keys.seal(seed),
      createdBy: actor.principal.actorLabel,
      now,
    });
    let chunk: { id: string; hash: string; last4: string }[] = [];
    for (const code of codesFromSeed(seed, input.count)) {
      chunk.push({ id: newId(), hash: keys.hasher.hash(code), last4: code.slice(-4) });
      if (chunk.length === CHUNK) {
        await repo.insertBatchCoupons(trx, workspaceId, spec, chunk);
        chunk = [];
      }
    }
    if (chunk.length > 0) await repo.insertBatchCoupons(trx, workspaceId, spec, chunk);
    await deps.audit(
      trx,
      actor,
      'loyalty.coupon_batch_created',
      { kind: 'loyalty_coupon_batch', id },
      {
        programme: programmeKey,
        count: input.count,
        valueMinor: input.valueMinor,
      },
    );
  });
  return (await repo.batchById(deps.db, workspaceId, id)) as repo.BatchRow;
}

/**
 * The batch's clear codes, once: marks the download, then writes CSV rows as it regenerates the codes from the
 * seed (codes that collided with an older coupon's hash were not issued and are left out).
 */
export async function takeBatchDownload(deps: LoyaltyDeps, actor: Actor, programmeKey: string, batchId: string) {
  const { workspaceId } = actor.principal.scope;
  const state = await deps.programmes.get(deps.db, workspaceId, programmeKey);
  const batch = await repo.batchById(deps.db, workspaceId, batchId);
  if (!batch || batch.programme_id !== state.row.id) throw notFound('Coupon batch', 'COUPON_BATCH_NOT_FOUND');
  const sealed = await repo.takeSeed(deps.db, workspaceId, batch.id, deps.clock.now());
  if (!sealed)
    throw new DomainError('conflict', 'ALREADY_DOWNLOADED', 'The codes of this batch were downloaded already.');
  await deps.audit(deps.db, actor, 'loyalty.coupon_batch_downloaded', { kind: 'loyalty_coupon_batch', id: batch.id });
  const keys = await couponKeys.of(deps.db, workspaceId);
  const seed = keys.unseal(sealed);
  const tail = [
    batch.value_minor,
    state.row.currency,
    batch.min_basket_minor,
    batch.valid_from?.toISOString() ?? '',
    batch.valid_until?.toISOString() ?? '',
  ].join(',');
  return {
    batch,
    write: async (out: PassThrough) => {
      out.write('code,value_minor,currency,min_basket_minor,valid_from,valid_until\n');
      let chunk: { code: string; hash: string }[] = [];
      const flush = async () => {
        const issued = await repo.batchHashes(
          deps.db,
          workspaceId,
          batch.id,
          chunk.map((c) => c.hash),
        );
        const lines = chunk.filter((c) => issued.has(c.hash)).map((c) => `${formatCode(c.code)},${tail}\n`);
        chunk = [];
        if (!out.write(lines.join(''))) await new Promise((r) => out.once('drain', r));
      };
      for (const code of codesFromSeed(seed, batch.count)) {
        chunk.push({ code, hash: keys.hasher.hash(code) });
        if (chunk.length === CHUNK) await flush();
      }
      if (chunk.length > 0) await flush();
    },
  };
}
