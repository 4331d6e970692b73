import { sql } from 'kysely';
import type { Db } from '../../platform/db.ts';

/** SQL of coupons: keys, coupons, their uses at tills, campaign batches. Every statement is scoped by workspace. */

export async function ensureCouponSecret(db: Db, workspaceId: string, fresh: string): Promise<string> {
  await sql`insert into loyalty_coupon_keys (workspace_id, secret) values (${workspaceId}, ${fresh})
    on conflict (workspace_id) do nothing`.execute(db);
  const r = await sql<{ secret: string }>`select secret from loyalty_coupon_keys
    where workspace_id = ${workspaceId}`.execute(db);
  return (r.rows[0] as { secret: string }).secret;
}

export interface CouponRow {
  id: string;
  programme_id: string;
  last4: string;
  currency: string;
  value_minor: number;
  min_basket_minor: number;
  valid_from: Date | null;
  valid_until: Date | null;
  member_id: string | null;
  redemption_id: string | null;
  batch_id: string | null;
  created_at: Date;
  /** Set when the redemption that issued the coupon was cancelled: never valid again. */
  voided_at: Date | null;
  /** The live (not reversed) use, if any. */
  used_at: Date | null;
}

const COUPON = sql`c.id, c.programme_id, c.last4, c.currency, c.value_minor, c.min_basket_minor, c.valid_from,
  c.valid_until, c.member_id, c.redemption_id, c.batch_id, c.created_at, c.voided_at,
  (select u.used_at from loyalty_coupon_uses u where u.coupon_id = c.id and u.reversed_at is null) as used_at`;

export async function couponByHash(db: Db, workspaceId: string, codeHash: string) {
  const r = await sql<CouponRow>`select ${COUPON} from loyalty_coupons c
    where c.workspace_id = ${workspaceId} and c.code_hash = ${codeHash}::bigint`.execute(db);
  return norm(r.rows[0]);
}

export async function couponById(db: Db, workspaceId: string, id: string) {
  const r = await sql<CouponRow>`select ${COUPON} from loyalty_coupons c
    where c.workspace_id = ${workspaceId} and c.id = ${id}`.execute(db);
  return norm(r.rows[0]);
}

export async function couponsOfMember(db: Db, workspaceId: string, memberId: string) {
  const r = await sql<CouponRow>`select ${COUPON} from loyalty_coupons c
    where c.workspace_id = ${workspaceId} and c.member_id = ${memberId} order by c.created_at desc limit 200`.execute(
    db,
  );
  return r.rows.map((x) => norm(x) as CouponRow);
}

function norm(c: CouponRow | undefined) {
  return c ? { ...c, value_minor: Number(c.value_minor), min_basket_minor: Number(c.min_basket_minor) } : undefined;
}

export interface UseRow {
  id: string;
  coupon_id: string;
  key: string;
  hash: string;
  basket_minor: number;
  currency: string;
  branch: string | null;
  branch_id: string | null;
  cashier: string | null;
  used_at: Date;
  reversed_at: Date | null;
}

const USE = sql`id, coupon_id, key, hash, basket_minor, currency, branch, branch_id, cashier, used_at, reversed_at`;

/**
 * Records a use: nothing when the coupon has a live use already (the partial unique index arbitrates concurrent
 * redemptions) or when the idempotency key was used (the caller then reads which it was).
 */
export async function insertUse(
  db: Db,
  workspaceId: string,
  u: {
    id: string;
    couponId: string;
    key: string;
    hash: string;
    basketMinor: number;
    currency: string;
    branch: string | null;
    branchId: string | null;
    cashier: string | null;
    recordedBy: string;
    externalId: string | null;
    now: Date;
  },
): Promise<boolean> {
  // The coupon is share-locked and must not be void: a cancellation of its redemption (which locks it for update,
  // loyalty_cancel_reward) is waited for, and the coupon it voided is then not used.
  const r = await sql`insert into loyalty_coupon_uses (id, workspace_id, coupon_id, key, hash, basket_minor, currency,
      branch, branch_id, cashier, recorded_by, external_id, used_at)
    select ${u.id}, ${workspaceId}, c.id, ${u.key}, ${u.hash}, ${u.basketMinor}, ${u.currency}, ${u.branch},
      ${u.branchId}, ${u.cashier}, ${u.recordedBy}, ${u.externalId}, ${u.now.toISOString()}
    from (select id from loyalty_coupons where workspace_id = ${workspaceId} and id = ${u.couponId} and voided_at is null
      for share) c
    on conflict do nothing`.execute(db);
  return Number(r.numAffectedRows ?? 0) > 0;
}

export async function couponUseByKey(db: Db, workspaceId: string, key: string) {
  const r = await sql<UseRow>`select ${USE} from loyalty_coupon_uses
    where workspace_id = ${workspaceId} and key = ${key}`.execute(db);
  return r.rows[0];
}

export async function couponUseById(db: Db, workspaceId: string, id: string) {
  const r = await sql<UseRow>`select ${USE} from loyalty_coupon_uses
    where workspace_id = ${workspaceId} and id = ${id}`.execute(db);
  return r.rows[0];
}

export async function reverseUse(db: Db, workspaceId: string, id: string, by: string, now: Date) {
  await sql`update loyalty_coupon_uses set reversed_at = ${now.toISOString()}, reversed_by = ${by}
    where workspace_id = ${workspaceId} and id = ${id} and reversed_at is null`.execute(db);
}

// ---- batches

export interface BatchRow {
  id: string;
  programme_id: string;
  label: string | null;
  count: number;
  value_minor: number;
  min_basket_minor: number;
  valid_from: Date | null;
  valid_until: Date | null;
  sealed_seed: string | null;
  created_at: Date;
  downloaded_at: Date | null;
}

const BATCH = sql`id, programme_id, label, count, value_minor, min_basket_minor, valid_from, valid_until, sealed_seed,
  created_at, downloaded_at`;

export async function insertBatch(
  db: Db,
  workspaceId: string,
  b: {
    id: string;
    programmeId: string;
    label: string | null;
    count: number;
    valueMinor: number;
    minBasketMinor: number;
    validFrom: Date | null;
    validUntil: Date | null;
    sealedSeed: string;
    createdBy: string;
    now: Date;
  },
) {
  await sql`insert into loyalty_coupon_batches (id, workspace_id, programme_id, label, count, value_minor,
      min_basket_minor, valid_from, valid_until, sealed_seed, created_by, created_at)
    values (${b.id}, ${workspaceId}, ${b.programmeId}, ${b.label}, ${b.count}, ${b.valueMinor}, ${b.minBasketMinor},
      ${b.validFrom?.toISOString() ?? null}, ${b.validUntil?.toISOString() ?? null}, ${b.sealedSeed}, ${b.createdBy},
      ${b.now.toISOString()})`.execute(db);
}

/** Inserts a batch's coupons; a code whose hash exists already is skipped (the download skips it too). */
export async function insertBatchCoupons(
  db: Db,
  workspaceId: string,
  b: {
    batchId: string;
    programmeId: string;
    currency: string;
    valueMinor: number;
    minBasketMinor: number;
    validFrom: Date | null;
    validUntil: Date | null;
    now: Date;
  },
  codes: { id: string; hash: string; last4: string }[],
) {
  await sql`insert into loyalty_coupons (id, workspace_id, programme_id, code_hash, last4, currency, value_minor,
      min_basket_minor, valid_from, valid_until, batch_id, created_at)
    select x.id, ${workspaceId}, ${b.programmeId}, x.hash, x.last4, ${b.currency}, ${b.valueMinor}, ${b.minBasketMinor},
      ${b.validFrom?.toISOString() ?? null}::timestamptz, ${b.validUntil?.toISOString() ?? null}::timestamptz,
      ${b.batchId}, ${b.now.toISOString()}
    from unnest(${codes.map((c) => c.id)}::uuid[], ${codes.map((c) => c.hash)}::bigint[],
      ${codes.map((c) => c.last4)}::text[]) as x(id, hash, last4)
    on conflict do nothing`.execute(db);
}

export async function batchById(db: Db, workspaceId: string, id: string) {
  const r = await sql<BatchRow>`select ${BATCH} from loyalty_coupon_batches
    where workspace_id = ${workspaceId} and id = ${id}`.execute(db);
  return normBatch(r.rows[0]);
}

export async function listBatches(db: Db, workspaceId: string, programmeId: string, limit: number, before?: string) {
  const r = await sql<BatchRow>`select ${BATCH} from loyalty_coupon_batches
    where workspace_id = ${workspaceId} and programme_id = ${programmeId} ${before ? sql`and id < ${before}` : sql``}
    order by id desc limit ${limit}`.execute(db);
  return r.rows.map((b) => normBatch(b) as BatchRow);
}

/** Marks the one download and returns the sealed seed (null when it was downloaded already). */
export async function takeSeed(db: Db, workspaceId: string, id: string, now: Date) {
  const r = await sql<{ sealed_seed: string }>`update loyalty_coupon_batches set downloaded_at = ${now.toISOString()}
    where workspace_id = ${workspaceId} and id = ${id} and downloaded_at is null returning sealed_seed`.execute(db);
  return r.rows[0]?.sealed_seed ?? null;
}

/** Which of these hashes are this batch's coupons (a code that collided with an older one was skipped). */
export async function batchHashes(db: Db, workspaceId: string, batchId: string, hashes: string[]) {
  const r = await sql<{ h: string }>`select code_hash::text as h from loyalty_coupons
    where workspace_id = ${workspaceId} and batch_id = ${batchId} and code_hash = any(${hashes}::bigint[])`.execute(db);
  return new Set(r.rows.map((x) => x.h));
}

function normBatch(b: BatchRow | undefined) {
  return b
    ? { ...b, count: Number(b.count), value_minor: Number(b.value_minor), min_basket_minor: Number(b.min_basket_minor) }
    : undefined;
}
