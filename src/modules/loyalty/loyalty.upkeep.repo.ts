import { sql } from 'kysely';
import type { Db } from '../../platform/db.ts';

/**
 * SQL of the loyalty module's upkeep: the expiry job's work list, the tier review, merges, the timeline outbox and
 * the purge of old idempotency keys. Every statement is scoped by workspace where it acts on one.
 */

/** Members with lots past their expiry (the expiry job's work list). */
export async function membersWithExpiredLots(db: Db, now: Date, limit: number) {
  const r = await sql<{ workspace_id: string; member_id: string; programme_id: string }>`
    select distinct l.workspace_id, l.member_id, m.programme_id from (
      select workspace_id, member_id from loyalty_lots
      where remaining > 0 and expires_at is not null and expires_at <= ${now.toISOString()}
      order by expires_at limit ${limit}) l
    join loyalty_members m on m.id = l.member_id`.execute(db);
  return r.rows;
}

/** What counts for tiers since a time: spent net of returns and points earned by purchases and events. */
export async function qualifyingOf(db: Db, workspaceId: string, memberId: string, since: Date) {
  const r = await sql<{ spend: number; points: number }>`select
      coalesce(sum(amount - returned_amount) filter (where kind = 'purchase'), 0)::bigint as spend,
      coalesce(sum(earned), 0)::bigint as points
    from loyalty_transactions where member_id = ${memberId} and workspace_id = ${workspaceId}
      and occurred_at >= ${since.toISOString()} and kind in ('purchase', 'event') and reversed_at is null`.execute(db);
  return { spend: Number(r.rows[0]?.spend ?? 0), points: Number(r.rows[0]?.points ?? 0) };
}

export interface TierReviewRow {
  id: string;
  workspace_id: string;
  tier: string | null;
  tier_since: Date | null;
  tier_at_risk_since: Date | null;
  version: number;
  spend: number;
  points: number;
}

/** Members of a programme holding a tier, with what counts in the window, in id order after `after`. */
export async function membersForTierReview(db: Db, programmeId: string, since: Date, after: string, limit: number) {
  const r = await sql<TierReviewRow>`select m.id, m.workspace_id, m.tier, m.tier_since, m.tier_at_risk_since, m.version,
      coalesce(q.spend, 0)::bigint as spend, coalesce(q.points, 0)::bigint as points
    from loyalty_members m
    left join lateral (select sum(t.amount - t.returned_amount) filter (where t.kind = 'purchase') as spend,
        sum(t.earned) as points
      from loyalty_transactions t where t.member_id = m.id and t.occurred_at >= ${since.toISOString()}
        and t.kind in ('purchase', 'event') and t.reversed_at is null) q on true
    where m.programme_id = ${programmeId} and m.status = 'active' and m.tier is not null and m.id > ${after}
    order by m.id limit ${limit}`.execute(db);
  return r.rows.map((x) => ({ ...x, version: Number(x.version), spend: Number(x.spend), points: Number(x.points) }));
}

/** The tier review's decision for one member, only on the version it read (a till change meanwhile wins). */
export async function setTierReview(
  db: Db,
  workspaceId: string,
  memberId: string,
  version: number,
  change: { tier: string | null; since: Date | null; atRiskSince: Date | null },
) {
  const r =
    await sql`update loyalty_members set tier = ${change.tier}, tier_since = ${change.since?.toISOString() ?? null},
      tier_at_risk_since = ${change.atRiskSince?.toISOString() ?? null}, version = version + 1
    where workspace_id = ${workspaceId} and id = ${memberId} and version = ${version}`.execute(db);
  return Number(r.numAffectedRows ?? 0) > 0;
}

/** Ledger sums per wallet (tests and the consistency check: the balance row must equal it). */
export async function ledgerSums(db: Db, workspaceId: string, memberId: string) {
  const r = await sql<{ wallet: string; sum: number }>`select wallet, sum(amount)::bigint as sum from loyalty_ledger
    where member_id = ${memberId} and workspace_id = ${workspaceId} group by wallet`.execute(db);
  return new Map(r.rows.map((x) => [x.wallet, Number(x.sum)]));
}

// ---- merges

/** Moves everything of an absorbed member to the survivor's member (inside the merge's transaction). */
export async function foldMember(db: Db, workspaceId: string, survivorId: string, absorbedId: string, now: Date) {
  await sql`with
    e as (update loyalty_ledger set member_id = ${survivorId} where workspace_id = ${workspaceId} and member_id = ${absorbedId}),
    l as (update loyalty_lots set member_id = ${survivorId} where workspace_id = ${workspaceId} and member_id = ${absorbedId}),
    t as (update loyalty_transactions set member_id = ${survivorId} where workspace_id = ${workspaceId} and member_id = ${absorbedId}),
    c as (update loyalty_cards set member_id = ${survivorId} where workspace_id = ${workspaceId} and member_id = ${absorbedId}),
    v as (delete from loyalty_verifications where workspace_id = ${workspaceId} and member_id = ${absorbedId}),
    m as (update loyalty_members set status = 'merged', merged_into = ${survivorId}, version = version + 1
      where workspace_id = ${workspaceId} and id = ${absorbedId}),
    s as (update loyalty_members set version = version + 1 where workspace_id = ${workspaceId} and id = ${survivorId})
    select 1`.execute(db);
  // Balances and cap counters add up; the absorbed rows go (a projection, rebuilt from the re-pointed ledger).
  await sql`with gone as (delete from loyalty_wallets where workspace_id = ${workspaceId} and member_id = ${absorbedId}
      returning wallet, balance)
    insert into loyalty_wallets (member_id, wallet, workspace_id, balance)
    select ${survivorId}, wallet, ${workspaceId}, balance from gone
    on conflict (member_id, wallet) do update set balance = loyalty_wallets.balance + excluded.balance`.execute(db);
  await sql`with gone as (delete from loyalty_rule_usage where workspace_id = ${workspaceId} and member_id = ${absorbedId}
      returning rule_id, period, points, times)
    insert into loyalty_rule_usage (member_id, rule_id, period, workspace_id, points, times)
    select ${survivorId}, rule_id, period, ${workspaceId}, points, times from gone
    on conflict (member_id, rule_id, period) do update set points = loyalty_rule_usage.points + excluded.points,
      times = loyalty_rule_usage.times + excluded.times`.execute(db);
  void now;
}

export async function repointTimeline(db: Db, workspaceId: string, survivorId: string, absorbedId: string) {
  await sql`update loyalty_timeline_outbox set profile_id = ${survivorId}
    where workspace_id = ${workspaceId} and profile_id = ${absorbedId}`.execute(db);
}

// ---- the timeline outbox

/** The oldest timeline events not handed to the events module yet. */
export async function peekTimeline(db: Db, limit: number) {
  const r = await sql<{
    id: string;
    workspace_id: string;
    profile_id: string;
    name: string;
    properties: Record<string, unknown>;
    channel: string | null;
    occurred_at: Date;
    identifier_kind: string | null;
    identifier_value: string | null;
  }>`select id, workspace_id, profile_id, name, properties, channel, occurred_at, identifier_kind, identifier_value
    from loyalty_timeline_outbox order by id limit ${limit}`.execute(db);
  return r.rows;
}

export async function deleteTimeline(db: Db, ids: string[]) {
  await sql`delete from loyalty_timeline_outbox where id = any(${ids}::uuid[])`.execute(db);
}

export async function purgeRequests(db: Db, olderThan: Date) {
  const r = await sql`delete from loyalty_requests where created_at < ${olderThan.toISOString()}`.execute(db);
  return Number(r.numAffectedRows ?? 0);
}
