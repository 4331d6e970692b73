import { sql } from 'kysely';
import type { Db } from '../../platform/db.ts';
import { type TransactionRow, TX_COLUMNS } from './loyalty.ledger.repo.ts';

/** SQL of invite codes, referrals, the signals the fraud screen compares, and adjustment approval requests. */

export interface InviteCodeRow {
  programme_id: string;
  profile_id: string;
  code: string;
  created_at: Date;
}

export async function inviteCodeOf(db: Db, workspaceId: string, programmeId: string, profileId: string) {
  const r = await sql<InviteCodeRow>`select programme_id, profile_id, code, created_at from loyalty_invite_codes
    where workspace_id = ${workspaceId} and programme_id = ${programmeId} and profile_id = ${profileId}`.execute(db);
  return r.rows[0];
}

/** Inserts a code; false when the profile has one already or the code is taken (the caller reads or retries). */
export async function insertInviteCode(
  db: Db,
  workspaceId: string,
  c: { programmeId: string; profileId: string; code: string; now: Date },
): Promise<boolean> {
  const r = await sql`insert into loyalty_invite_codes (workspace_id, programme_id, profile_id, code, created_at)
    values (${workspaceId}, ${c.programmeId}, ${c.profileId}, ${c.code}, ${c.now.toISOString()})
    on conflict do nothing`.execute(db);
  return Number(r.numAffectedRows ?? 0) > 0;
}

/** The code's row, locked when asked (one referral of a referrer at a time: the daily count stays exact). */
export async function inviteCodeByCode(db: Db, workspaceId: string, code: string, lock = false) {
  const r = await sql<InviteCodeRow & { programme_key: string }>`select c.programme_id, c.profile_id, c.code,
      c.created_at, p.key as programme_key
    from loyalty_invite_codes c join loyalty_programmes p on p.id = c.programme_id
    where c.workspace_id = ${workspaceId} and c.code = ${code} ${lock ? sql`for update of c` : sql``}`.execute(db);
  return r.rows[0];
}

export interface ReferralRow {
  id: string;
  programme_id: string;
  programme_key: string;
  code: string;
  referrer_profile_id: string;
  invitee_profile_id: string;
  status: 'pending' | 'held' | 'rejected' | 'completed' | 'revoked';
  reason: string | null;
  source: string;
  created_at: Date;
  decided_at: Date | null;
  decided_by: string | null;
  completed_at: Date | null;
  revoked_at: Date | null;
  completion_ref: string | null;
}

const REFERRAL_COLUMNS = sql`r.id, r.programme_id, p.key as programme_key, r.code, r.referrer_profile_id,
  r.invitee_profile_id, r.status, r.reason, r.source, r.created_at, r.decided_at, r.decided_by, r.completed_at,
  r.revoked_at, r.completion_ref`;

/** Records a referral; undefined when the invitee was referred in this programme already. */
export async function insertReferral(
  db: Db,
  workspaceId: string,
  r: {
    id: string;
    programmeId: string;
    code: string;
    referrerProfileId: string;
    inviteeProfileId: string;
    status: string;
    reason: string | null;
    source: string;
    messageId: string | null;
    now: Date;
  },
): Promise<boolean> {
  const res = await sql`insert into loyalty_referrals (id, workspace_id, programme_id, code, referrer_profile_id,
      invitee_profile_id, status, reason, source, message_id, created_at, decided_at)
    values (${r.id}, ${workspaceId}, ${r.programmeId}, ${r.code}, ${r.referrerProfileId}, ${r.inviteeProfileId},
      ${r.status}, ${r.reason}, ${r.source}, ${r.messageId}, ${r.now.toISOString()},
      ${r.status === 'rejected' ? r.now.toISOString() : null})
    on conflict (workspace_id, programme_id, invitee_profile_id) do nothing`.execute(db);
  return Number(res.numAffectedRows ?? 0) > 0;
}

export async function referralById(db: Db, workspaceId: string, id: string, lock = false) {
  const r = await sql<ReferralRow>`select ${REFERRAL_COLUMNS}
    from loyalty_referrals r join loyalty_programmes p on p.id = r.programme_id
    where r.workspace_id = ${workspaceId} and r.id = ${id} ${lock ? sql`for update of r` : sql``}`.execute(db);
  return r.rows[0];
}

/** Which of these profiles are invitees with a referral still pending (in any programme of the workspace). */
export async function pendingInvitees(db: Db, workspaceId: string, profileIds: string[]): Promise<Set<string>> {
  // A probe of the (workspace, programme, invitee) key per programme and profile.
  const r = await sql<{ id: string }>`/*prepared*/ select distinct u.id
    from unnest(${profileIds}::uuid[]) as u(id)
    cross join loyalty_programmes p
    cross join lateral (
      select 1 from loyalty_referrals r
      where r.workspace_id = ${workspaceId} and r.programme_id = p.id and r.invitee_profile_id = u.id
        and r.status = 'pending'
      limit 1
    ) as pending
    where p.workspace_id = ${workspaceId}`.execute(db);
  return new Set(r.rows.map((x) => x.id));
}

export async function referralOfInvitee(db: Db, workspaceId: string, programmeId: string, profileId: string) {
  // Every purchase asks it (a first purchase completes a referral): prepared, not planned per till transaction.
  const r = await sql<ReferralRow>`/*prepared*/ select ${REFERRAL_COLUMNS}
    from loyalty_referrals r join loyalty_programmes p on p.id = r.programme_id
    where r.workspace_id = ${workspaceId} and r.programme_id = ${programmeId}
      and r.invitee_profile_id = ${profileId}`.execute(db);
  return r.rows[0];
}

export async function listReferrals(
  db: Db,
  workspaceId: string,
  programmeId: string,
  q: { status?: string; profileId?: string; after?: string; limit: number },
) {
  const r = await sql<ReferralRow>`select ${REFERRAL_COLUMNS}
    from loyalty_referrals r join loyalty_programmes p on p.id = r.programme_id
    where r.workspace_id = ${workspaceId} and r.programme_id = ${programmeId}
      ${q.status ? sql`and r.status = ${q.status}` : sql``}
      ${q.profileId ? sql`and (r.referrer_profile_id = ${q.profileId} or r.invitee_profile_id = ${q.profileId})` : sql``}
      ${q.after ? sql`and r.id < ${q.after}` : sql``}
    order by r.id desc limit ${q.limit + 1}`.execute(db);
  return r.rows;
}

/** Whether `b` referred `a` already (A→B after B→A is a ring), in any status but rejected. */
export async function mutualReferral(db: Db, workspaceId: string, programmeId: string, a: string, b: string) {
  const r = await sql<{ id: string }>`select id from loyalty_referrals where workspace_id = ${workspaceId}
    and programme_id = ${programmeId} and referrer_profile_id = ${a} and invitee_profile_id = ${b}
    and status <> 'rejected' limit 1`.execute(db);
  return r.rows.length > 0;
}

/** Referrals of a referrer since the start of today in the time zone (not counting refused ones). */
export async function referralsToday(
  db: Db,
  workspaceId: string,
  programmeId: string,
  referrer: string,
  now: Date,
  timeZone: string,
) {
  const r = await sql<{ n: number }>`select count(*)::int as n from loyalty_referrals
    where workspace_id = ${workspaceId} and programme_id = ${programmeId} and referrer_profile_id = ${referrer}
      and status <> 'rejected'
      and created_at >= (date_trunc('day', ${now.toISOString()}::timestamptz at time zone ${timeZone}) at time zone ${timeZone})`.execute(
    db,
  );
  return Number(r.rows[0]?.n ?? 0);
}

export async function setReferralStatus(
  db: Db,
  workspaceId: string,
  id: string,
  from: string[],
  to: { status: string; reason: string | null; by: string | null; now: Date },
): Promise<boolean> {
  const r = await sql`update loyalty_referrals set status = ${to.status}, reason = ${to.reason},
      decided_by = ${to.by}, decided_at = ${to.now.toISOString()}
    where workspace_id = ${workspaceId} and id = ${id} and status = any(${from}::text[])`.execute(db);
  return Number(r.numAffectedRows ?? 0) > 0;
}

/** pending → completed, once: only the caller that moved it writes the events. */
export async function completeReferral(db: Db, workspaceId: string, id: string, ref: string, now: Date) {
  const r = await sql`update loyalty_referrals set status = 'completed', completed_at = ${now.toISOString()},
      completion_ref = ${ref}
    where workspace_id = ${workspaceId} and id = ${id} and status = 'pending'`.execute(db);
  return Number(r.numAffectedRows ?? 0) > 0;
}

/** Completed referrals of a programme that these purchases completed. */
export async function referralsCompletedBy(db: Db, workspaceId: string, purchaseIds: string[]) {
  if (purchaseIds.length === 0) return [];
  const r = await sql<ReferralRow>`select ${REFERRAL_COLUMNS} from loyalty_referrals r
    join loyalty_programmes p on p.id = r.programme_id
    where r.workspace_id = ${workspaceId} and r.status = 'completed'
      and r.completion_ref = any(${purchaseIds}::text[])`.execute(db);
  return r.rows;
}

/** A member's transactions earned on a referral's events (not reversed yet), oldest first. */
export async function referralEarnings(
  db: Db,
  workspaceId: string,
  programmeId: string,
  profileId: string,
  eventName: string,
  referralId: string,
) {
  const r = await sql<TransactionRow>`select ${TX_COLUMNS} from loyalty_transactions
    where workspace_id = ${workspaceId} and programme_id = ${programmeId} and kind = 'event'
      and event_name = ${eventName} and properties ->> 'referralId' = ${referralId} and reversed_at is null
      and member_id in (select id from loyalty_members where workspace_id = ${workspaceId}
        and programme_id = ${programmeId} and profile_id = ${profileId} and status = 'active')
    order by occurred_at, id`.execute(db);
  return r.rows;
}

/** What is left of a purchase after its returns, and whether it was reversed. */
export async function purchaseRemainder(db: Db, workspaceId: string, id: string) {
  const r = await sql<{ remaining: number; reversed: boolean }>`select (amount - returned_amount)::bigint as remaining,
      reversed_at is not null as reversed
    from loyalty_transactions where workspace_id = ${workspaceId} and id = ${id}`.execute(db);
  const row = r.rows[0];
  return row ? { remaining: Number(row.remaining), reversed: row.reversed } : undefined;
}

/** completed → completed on another purchase (one that still qualifies), or → revoked; false if it moved meanwhile. */
export async function moveCompletion(db: Db, workspaceId: string, id: string, from: string, to: string) {
  const r = await sql`update loyalty_referrals set completion_ref = ${to}
    where workspace_id = ${workspaceId} and id = ${id} and status = 'completed' and completion_ref = ${from}`.execute(
    db,
  );
  return Number(r.numAffectedRows ?? 0) > 0;
}

export async function revokeReferral(db: Db, workspaceId: string, id: string, from: string, now: Date) {
  const r = await sql`update loyalty_referrals set status = 'revoked', revoked_at = ${now.toISOString()}
    where workspace_id = ${workspaceId} and id = ${id} and status = 'completed' and completion_ref = ${from}`.execute(
    db,
  );
  return Number(r.numAffectedRows ?? 0) > 0;
}

/** The invitee's qualifying purchase since a time, if any (a held referral approved later completes at once). */
export async function qualifyingPurchase(
  db: Db,
  workspaceId: string,
  programmeId: string,
  profileId: string,
  since: Date,
  minAmount: number,
) {
  const r = await sql<{ id: string }>`select t.id from loyalty_transactions t
    join loyalty_members m on m.id = t.member_id
    where t.workspace_id = ${workspaceId} and t.programme_id = ${programmeId} and m.profile_id = ${profileId}
      and t.kind = 'purchase' and t.amount - t.returned_amount >= ${minAmount} and t.amount - t.returned_amount > 0
      and t.reversed_at is null and t.occurred_at >= ${since.toISOString()}
    order by t.occurred_at limit 1`.execute(db);
  return r.rows[0]?.id;
}

/** Two Referral Completed events in the timeline outbox (handed to the events module by the drain, message id loyalty-<id>). */
export async function insertTimelineEvents(
  db: Db,
  workspaceId: string,
  rows: { id: string; profileId: string; name: string; properties: Record<string, unknown>; occurredAt: Date }[],
) {
  for (const row of rows)
    await sql`insert into loyalty_timeline_outbox (id, workspace_id, profile_id, name, properties, channel, occurred_at)
      values (${row.id}, ${workspaceId}, ${row.profileId}, ${row.name}, ${JSON.stringify(row.properties)}::jsonb,
        'loyalty', ${row.occurredAt.toISOString()})`.execute(db);
}

// ---- signals

export async function recordSignals(
  db: Db,
  workspaceId: string,
  profileId: string,
  signals: { kind: string; hash: string }[],
  now: Date,
) {
  for (const s of signals)
    await sql`insert into loyalty_referral_signals (workspace_id, profile_id, kind, value_hash, seen_at)
      values (${workspaceId}, ${profileId}, ${s.kind}, ${s.hash}, ${now.toISOString()})
      on conflict do nothing`.execute(db);
}

export async function signalsOf(db: Db, workspaceId: string, profileId: string) {
  const r = await sql<{ kind: string; value_hash: string }>`select kind, value_hash from loyalty_referral_signals
    where workspace_id = ${workspaceId} and profile_id = ${profileId}`.execute(db);
  return r.rows;
}

// ---- merges and data subjects

export async function followMerge(db: Db, workspaceId: string, survivorId: string, absorbedId: string, now: Date) {
  await sql`update loyalty_referrals set referrer_profile_id = ${survivorId}
    where workspace_id = ${workspaceId} and referrer_profile_id = ${absorbedId}`.execute(db);
  // One referral per invitee and programme: the survivor's own stays; the absorbed one's moves only where it has none.
  await sql`update loyalty_referrals r set invitee_profile_id = ${survivorId}
    where r.workspace_id = ${workspaceId} and r.invitee_profile_id = ${absorbedId}
      and not exists (select 1 from loyalty_referrals s where s.workspace_id = ${workspaceId}
        and s.programme_id = r.programme_id and s.invitee_profile_id = ${survivorId})`.execute(db);
  await sql`update loyalty_referrals set status = 'rejected', reason = 'MERGED_SELF_REFERRAL',
      decided_by = 'merge', decided_at = ${now.toISOString()}
    where workspace_id = ${workspaceId} and referrer_profile_id = ${survivorId}
      and invitee_profile_id = ${survivorId} and status in ('pending', 'held')`.execute(db);
  await sql`update loyalty_invite_codes c set profile_id = ${survivorId}
    where c.workspace_id = ${workspaceId} and c.profile_id = ${absorbedId}
      and not exists (select 1 from loyalty_invite_codes s where s.workspace_id = ${workspaceId}
        and s.programme_id = c.programme_id and s.profile_id = ${survivorId})`.execute(db);
  await sql`insert into loyalty_referral_signals (workspace_id, profile_id, kind, value_hash, seen_at)
    select workspace_id, ${survivorId}, kind, value_hash, seen_at from loyalty_referral_signals
    where workspace_id = ${workspaceId} and profile_id = ${absorbedId} on conflict do nothing`.execute(db);
  await sql`delete from loyalty_referral_signals where workspace_id = ${workspaceId}
    and profile_id = ${absorbedId}`.execute(db);
}

// ---- adjustment approval requests

export interface AdjustmentRequestRow {
  id: string;
  programme_id: string;
  programme_key: string;
  idempotency_key: string;
  body: Record<string, unknown>;
  points: number;
  profile_id: string | null;
  status: 'pending' | 'approved' | 'rejected';
  requested_by: string;
  requested_by_user: string | null;
  requested_at: Date;
  decided_by: string | null;
  decided_at: Date | null;
  decision_reason: string | null;
  result: Record<string, unknown> | null;
}

const REQUEST_COLUMNS = sql`a.id, a.programme_id, p.key as programme_key, a.idempotency_key, a.body, a.points,
  a.profile_id, a.status, a.requested_by, a.requested_by_user, a.requested_at, a.decided_by, a.decided_at,
  a.decision_reason, a.result`;

export async function insertAdjustmentRequest(
  db: Db,
  workspaceId: string,
  a: {
    id: string;
    programmeId: string;
    key: string;
    body: unknown;
    points: number;
    profileId: string | null;
    requestedBy: string;
    requestedByUser: string | null;
    now: Date;
  },
): Promise<boolean> {
  const r = await sql`insert into loyalty_adjustment_requests (id, workspace_id, programme_id, idempotency_key, body,
      points, profile_id, status, requested_by, requested_by_user, requested_at)
    values (${a.id}, ${workspaceId}, ${a.programmeId}, ${a.key}, ${JSON.stringify(a.body)}::jsonb, ${a.points},
      ${a.profileId}, 'pending', ${a.requestedBy}, ${a.requestedByUser}, ${a.now.toISOString()})
    on conflict (workspace_id, idempotency_key) do nothing`.execute(db);
  return Number(r.numAffectedRows ?? 0) > 0;
}

export async function adjustmentRequestByKey(db: Db, workspaceId: string, key: string) {
  const r = await sql<AdjustmentRequestRow>`select ${REQUEST_COLUMNS}
    from loyalty_adjustment_requests a join loyalty_programmes p on p.id = a.programme_id
    where a.workspace_id = ${workspaceId} and a.idempotency_key = ${key}`.execute(db);
  return r.rows[0];
}

export async function adjustmentRequestById(db: Db, workspaceId: string, id: string) {
  const r = await sql<AdjustmentRequestRow>`select ${REQUEST_COLUMNS}
    from loyalty_adjustment_requests a join loyalty_programmes p on p.id = a.programme_id
    where a.workspace_id = ${workspaceId} and a.id = ${id}`.execute(db);
  return r.rows[0];
}

export async function listAdjustmentRequests(
  db: Db,
  workspaceId: string,
  q: { status?: string; after?: string; limit: number },
) {
  const r = await sql<AdjustmentRequestRow>`select ${REQUEST_COLUMNS}
    from loyalty_adjustment_requests a join loyalty_programmes p on p.id = a.programme_id
    where a.workspace_id = ${workspaceId} ${q.status ? sql`and a.status = ${q.status}` : sql``}
      ${q.after ? sql`and a.id < ${q.after}` : sql``}
    order by a.id desc limit ${q.limit + 1}`.execute(db);
  return r.rows;
}

export async function decideAdjustmentRequest(
  db: Db,
  workspaceId: string,
  id: string,
  d: { status: 'approved' | 'rejected'; by: string; reason: string | null; result: unknown; now: Date },
): Promise<boolean> {
  const r = await sql`update loyalty_adjustment_requests set status = ${d.status}, decided_by = ${d.by},
      decided_at = ${d.now.toISOString()}, decision_reason = ${d.reason},
      result = ${d.result === null ? null : JSON.stringify(d.result)}::jsonb
    where workspace_id = ${workspaceId} and id = ${id} and status = 'pending'`.execute(db);
  return Number(r.numAffectedRows ?? 0) > 0;
}

// ---- member lookup

export async function membershipsOf(db: Db, workspaceId: string, profileId: string) {
  const r = await sql<{
    id: string;
    programme_key: string;
    programme_name: string;
    tier: string | null;
    joined_at: Date;
  }>`select m.id, p.key as programme_key, p.name as programme_name, m.tier, m.joined_at
    from loyalty_members m join loyalty_programmes p on p.id = m.programme_id
    where m.workspace_id = ${workspaceId} and m.profile_id = ${profileId} and m.status = 'active'
    order by p.created_at, p.key`.execute(db);
  return r.rows;
}

/** A data subject's invite codes and referrals (either side), for the export. */
export async function referralDataOf(db: Db, workspaceId: string, profileIds: string[]) {
  const codes = await sql<Record<string, unknown>>`select p.key as programme, c.code, c.created_at
    from loyalty_invite_codes c join loyalty_programmes p on p.id = c.programme_id
    where c.workspace_id = ${workspaceId} and c.profile_id = any(${profileIds}::uuid[])`.execute(db);
  const referrals = await sql<Record<string, unknown>>`select r.id, p.key as programme, r.code,
      case when r.referrer_profile_id = any(${profileIds}::uuid[]) then 'referrer' else 'invitee' end as role,
      r.status, r.reason, r.source, r.created_at, r.decided_at, r.completed_at
    from loyalty_referrals r join loyalty_programmes p on p.id = r.programme_id
    where r.workspace_id = ${workspaceId} and (r.referrer_profile_id = any(${profileIds}::uuid[])
      or r.invitee_profile_id = any(${profileIds}::uuid[])) order by r.created_at`.execute(db);
  return { codes: codes.rows, referrals: referrals.rows };
}

/** Erasure: the person's invite codes and signals go; referrals keep their status and times, not the code; adjustment
 * requests lose their reason and how the customer was named. */
export async function eraseReferralData(trx: Db, workspaceId: string, profileIds: string[]) {
  await sql`delete from loyalty_invite_codes where workspace_id = ${workspaceId}
    and profile_id = any(${profileIds}::uuid[])`.execute(trx);
  await sql`delete from loyalty_referral_signals where workspace_id = ${workspaceId}
    and profile_id = any(${profileIds}::uuid[])`.execute(trx);
  // An adjustment request names the customer as it was asked (possibly by card) and gives a reason: both go.
  await sql`update loyalty_adjustment_requests
    set body = (body - 'reason' - 'customer') || jsonb_build_object('customer', jsonb_build_object('profileId', profile_id))
    where workspace_id = ${workspaceId} and profile_id = any(${profileIds}::uuid[])`.execute(trx);
  await sql`update loyalty_referrals set code = 'erased' where workspace_id = ${workspaceId}
    and (referrer_profile_id = any(${profileIds}::uuid[]) or invitee_profile_id = any(${profileIds}::uuid[]))`.execute(
    trx,
  );
}
