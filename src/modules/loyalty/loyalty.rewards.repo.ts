import { sql } from 'kysely';
import type { Db } from '../../platform/db.ts';

/**
 * SQL of the rewards catalogue and redemptions. Stock is taken only by loyalty_apply_reward, in the statement
 * that burns the points; everything here reads or edits the catalogue. Every statement is scoped by workspace.
 */

export interface RewardRow {
  id: string;
  programme_id: string;
  kind: 'product' | 'discount' | 'prize' | 'donation' | 'coupon';
  name_en: string;
  name_ru: string | null;
  description_en: string | null;
  description_ru: string | null;
  wallet: string;
  cost: number;
  stock: number | null;
  redeemed: number;
  per_member_limit: number | null;
  starts_at: Date | null;
  ends_at: Date | null;
  tier: string | null;
  club_id: string | null;
  image_url: string | null;
  coupon_value_minor: number | null;
  coupon_min_basket_minor: number;
  coupon_valid_days: number | null;
  status: 'active' | 'draft' | 'archived';
  created_at: Date;
  updated_at: Date;
}

const REWARD = sql`id, programme_id, kind, name_en, name_ru, description_en, description_ru, wallet, cost, stock,
  redeemed, per_member_limit, starts_at, ends_at, tier, club_id, image_url, coupon_value_minor, coupon_min_basket_minor,
  coupon_valid_days, status, created_at, updated_at`;

const norm = (r: RewardRow): RewardRow => ({
  ...r,
  cost: Number(r.cost),
  stock: r.stock === null ? null : Number(r.stock),
  redeemed: Number(r.redeemed),
  coupon_value_minor: r.coupon_value_minor === null ? null : Number(r.coupon_value_minor),
  coupon_min_basket_minor: Number(r.coupon_min_basket_minor),
});

/** Columns a create or an update may set (snake_case, as stored). */
export type RewardColumns = Partial<Omit<RewardRow, 'id' | 'programme_id' | 'redeemed' | 'created_at' | 'updated_at'>>;

export async function insertReward(
  db: Db,
  workspaceId: string,
  programmeId: string,
  id: string,
  values: RewardColumns,
  now: Date,
) {
  const cols = Object.entries(values).filter(([, v]) => v !== undefined);
  await sql`insert into loyalty_rewards (id, workspace_id, programme_id, created_at, updated_at,
      ${sql.join(cols.map(([k]) => sql.ref(k)))})
    values (${id}, ${workspaceId}, ${programmeId}, ${now.toISOString()}, ${now.toISOString()},
      ${sql.join(cols.map(([, v]) => (v instanceof Date ? v.toISOString() : v)))})`.execute(db);
}

export async function updateReward(db: Db, workspaceId: string, id: string, values: RewardColumns, now: Date) {
  const cols = Object.entries(values).filter(([, v]) => v !== undefined);
  await sql`update loyalty_rewards set updated_at = ${now.toISOString()}
      ${cols.length > 0 ? sql`, ${sql.join(cols.map(([k, v]) => sql`${sql.ref(k)} = ${v instanceof Date ? v.toISOString() : v}`))}` : sql``}
    where workspace_id = ${workspaceId} and id = ${id}`.execute(db);
}

export async function rewardById(db: Db, workspaceId: string, id: string) {
  const r = await sql<RewardRow>`select ${REWARD} from loyalty_rewards
    where workspace_id = ${workspaceId} and id = ${id}`.execute(db);
  return r.rows[0] ? norm(r.rows[0]) : undefined;
}

export async function listRewards(
  db: Db,
  workspaceId: string,
  programmeId: string,
  options: { status?: string; limit: number; after?: string },
) {
  const r = await sql<RewardRow>`select ${REWARD} from loyalty_rewards
    where workspace_id = ${workspaceId} and programme_id = ${programmeId}
      ${options.status ? sql`and status = ${options.status}` : sql``}
      ${options.after ? sql`and id > ${options.after}` : sql``}
    order by id limit ${options.limit}`.execute(db);
  return r.rows.map(norm);
}

export async function redemptionsOfMember(db: Db, workspaceId: string, memberId: string, rewardId: string) {
  const r = await sql<{ n: number }>`select count(*) as n from loyalty_redemptions
    where workspace_id = ${workspaceId} and member_id = ${memberId} and reward_id = ${rewardId}
      and cancelled_at is null`.execute(db);
  return Number(r.rows[0]?.n ?? 0);
}

export async function listRedemptions(db: Db, workspaceId: string, memberId: string, limit: number) {
  const r = await sql<{
    id: string;
    reward_id: string;
    name_en: string;
    points: number;
    wallet: string;
    channel: string | null;
    branch: string | null;
    last4: string | null;
    redeemed_at: Date;
    cancelled_at: Date | null;
    cancel_reason: string | null;
    coupon_used: boolean;
  }>`select d.id, d.reward_id, w.name_en, d.points, d.wallet, d.channel, d.branch, c.last4, d.redeemed_at,
      d.cancelled_at, d.cancel_reason,
      exists (select 1 from loyalty_coupon_uses u where u.coupon_id = d.coupon_id and u.reversed_at is null)
        as coupon_used
    from loyalty_redemptions d join loyalty_rewards w on w.id = d.reward_id
    left join loyalty_coupons c on c.id = d.coupon_id
    where d.workspace_id = ${workspaceId} and d.member_id = ${memberId}
    order by d.redeemed_at desc, d.id desc limit ${limit}`.execute(db);
  return r.rows;
}

export interface RedemptionRecord {
  id: string;
  programme_id: string;
  member_id: string;
  reward_id: string;
  reward_name: string;
  entry_id: string;
  wallet: string;
  points: number;
  coupon_id: string | null;
  branch_id: string | null;
  cancelled_at: Date | null;
  coupon_used: boolean;
}

export async function redemptionById(db: Db, workspaceId: string, id: string) {
  const r = await sql<RedemptionRecord>`select d.id, d.programme_id, d.member_id, d.reward_id, w.name_en as reward_name,
      d.entry_id, d.wallet, d.points, d.coupon_id, d.branch_id, d.cancelled_at,
      exists (select 1 from loyalty_coupon_uses u where u.coupon_id = d.coupon_id and u.reversed_at is null)
        as coupon_used
    from loyalty_redemptions d join loyalty_rewards w on w.id = d.reward_id
    where d.workspace_id = ${workspaceId} and d.id = ${id}`.execute(db);
  const row = r.rows[0];
  return row ? { ...row, points: Number(row.points) } : undefined;
}
