import { sql } from 'kysely';
import type { Db } from '../../platform/db.ts';
import type { AttemptOutcome, BatchStatus, Reward } from './codes.schemas.ts';

/** All SQL of the codes module but the bulk loads (codes.bulk.ts). Every statement is scoped by workspace. */

// ---- settings

export interface SettingsRow {
  secret: string;
  /** The keyed hash of this workspace's codes (migration 202612050000). */
  code_mac: 'hmac-sha256' | 'aes-cmac';
  guesses_per_minute: number;
  limits: Record<string, unknown>;
}

export async function ensureSettings(db: Db, workspaceId: string, freshSecret: string): Promise<SettingsRow> {
  const inserted = await sql<SettingsRow>`insert into code_settings (workspace_id, secret)
    values (${workspaceId}, ${freshSecret}) on conflict (workspace_id) do nothing
    returning secret, code_mac, guesses_per_minute, limits`.execute(db);
  if (inserted.rows[0]) return inserted.rows[0];
  const row = await sql<SettingsRow>`select secret, code_mac, guesses_per_minute, limits from code_settings
    where workspace_id = ${workspaceId}`.execute(db);
  return row.rows[0] as SettingsRow;
}

export async function updateSettings(db: Db, workspaceId: string, guessesPerMinute: number, limits: object) {
  await sql`update code_settings set guesses_per_minute = ${guessesPerMinute}, limits = ${JSON.stringify(limits)}::jsonb
    where workspace_id = ${workspaceId}`.execute(db);
}

// ---- promotions

export interface PromotionRow {
  id: string;
  workspace_id: string;
  key: string;
  name: string;
  time_zone: string;
  starts_at: Date;
  ends_at: Date;
  starts_local: string;
  ends_local: string;
  reward: Reward;
  per_person_per_day: number | null;
  per_person_total: number | null;
  budget: number | null;
  budget_used: number;
  guesses_per_minute: number;
  status: 'active' | 'paused';
  created_at: Date;
}

const PROMOTION_COLUMNS = sql`id, workspace_id, key, name, time_zone, starts_at, ends_at,
  to_char(starts_at at time zone time_zone, 'YYYY-MM-DD"T"HH24:MI') as starts_local,
  to_char(ends_at at time zone time_zone, 'YYYY-MM-DD"T"HH24:MI') as ends_local,
  reward, per_person_per_day, per_person_total, budget, budget_used, guesses_per_minute, status, created_at`;

export async function workspaceTimeZone(db: Db, workspaceId: string): Promise<string | undefined> {
  const row = await sql<{ time_zone: string }>`select time_zone from workspaces where id = ${workspaceId}`.execute(db);
  return row.rows[0]?.time_zone;
}

export async function insertPromotion(
  db: Db,
  workspaceId: string,
  p: {
    id: string;
    key: string;
    name: string;
    timeZone: string;
    startsLocal: string;
    endsLocal: string;
    reward: Reward;
    perPersonPerDay: number | null;
    perPersonTotal: number | null;
    budget: number | null;
    guessesPerMinute: number;
  },
): Promise<boolean> {
  const result = await sql`insert into code_promotions (id, workspace_id, key, name, time_zone, starts_at, ends_at,
      reward, per_person_per_day, per_person_total, budget, guesses_per_minute)
    values (${p.id}, ${workspaceId}, ${p.key}, ${p.name}, ${p.timeZone},
      ${p.startsLocal}::timestamp at time zone ${p.timeZone}, ${p.endsLocal}::timestamp at time zone ${p.timeZone},
      ${JSON.stringify(p.reward)}::jsonb, ${p.perPersonPerDay}, ${p.perPersonTotal}, ${p.budget}, ${p.guessesPerMinute})
    on conflict (workspace_id, key) do nothing`.execute(db);
  return Number(result.numAffectedRows ?? 0) > 0;
}

export async function updatePromotion(
  db: Db,
  workspaceId: string,
  id: string,
  p: {
    name: string;
    timeZone: string;
    startsLocal: string;
    endsLocal: string;
    reward: Reward;
    perPersonPerDay: number | null;
    perPersonTotal: number | null;
    budget: number | null;
    guessesPerMinute: number;
    status: 'active' | 'paused';
  },
) {
  await sql`update code_promotions set name = ${p.name}, time_zone = ${p.timeZone},
      starts_at = ${p.startsLocal}::timestamp at time zone ${p.timeZone},
      ends_at = ${p.endsLocal}::timestamp at time zone ${p.timeZone}, reward = ${JSON.stringify(p.reward)}::jsonb,
      per_person_per_day = ${p.perPersonPerDay}, per_person_total = ${p.perPersonTotal}, budget = ${p.budget},
      guesses_per_minute = ${p.guessesPerMinute}, status = ${p.status}, updated_at = now()
    where workspace_id = ${workspaceId} and id = ${id}`.execute(db);
}

export async function promotionById(db: Db, workspaceId: string, id: string) {
  const rows = await sql<PromotionRow>`select ${PROMOTION_COLUMNS} from code_promotions
    where workspace_id = ${workspaceId} and id = ${id}`.execute(db);
  return rows.rows[0];
}

export async function promotionByKey(db: Db, workspaceId: string, key: string) {
  const rows = await sql<PromotionRow>`select ${PROMOTION_COLUMNS} from code_promotions
    where workspace_id = ${workspaceId} and key = ${key}`.execute(db);
  return rows.rows[0];
}

export async function listPromotions(db: Db, workspaceId: string) {
  const rows = await sql<PromotionRow>`select ${PROMOTION_COLUMNS} from code_promotions
    where workspace_id = ${workspaceId} order by created_at desc, id desc limit 500`.execute(db);
  return rows.rows;
}

/** Budgets as they stand (the cached promotion rows are seconds old; a pre-check wants the current count). */
export async function budgetsUsed(db: Db, workspaceId: string, ids: string[]) {
  if (ids.length === 0) return new Map<string, number>();
  const rows = await sql<{ id: string; budget_used: number }>`/*prepared*/ select id, budget_used from code_promotions
    where workspace_id = ${workspaceId} and id = any(${ids}::uuid[])`.execute(db);
  return new Map(rows.rows.map((r) => [r.id, r.budget_used]));
}

// ---- batches

export interface BatchRow {
  id: string;
  workspace_id: string;
  promotion_id: string;
  source: 'generated' | 'imported';
  label: string | null;
  size: number;
  loaded: number;
  length: number | null;
  min_length: number | null;
  max_length: number | null;
  sealed_seed: string | null;
  skipped: (string | number)[];
  status: BatchStatus;
  attack_budget: number | null;
  expected_guessable: number | null;
  exports: number;
  created_by: string | null;
  created_at: Date;
  completed_at: Date | null;
}

export async function insertBatch(
  db: Db,
  workspaceId: string,
  b: {
    id: string;
    promotionId: string;
    source: 'generated' | 'imported';
    label: string | null;
    size: number;
    length: number | null;
    sealedSeed: string | null;
    status: BatchStatus;
    attackBudget: number | null;
    expectedGuessable: number | null;
    createdBy: string | null;
  },
) {
  await sql`insert into code_batches (id, workspace_id, promotion_id, source, label, size, length, sealed_seed, status,
      attack_budget, expected_guessable, created_by)
    values (${b.id}, ${workspaceId}, ${b.promotionId}, ${b.source}, ${b.label}, ${b.size}, ${b.length}, ${b.sealedSeed},
      ${b.status}, ${b.attackBudget}, ${b.expectedGuessable}, ${b.createdBy})`.execute(db);
}

export async function batchById(db: Db, workspaceId: string, id: string) {
  const rows =
    await sql<BatchRow>`select * from code_batches where workspace_id = ${workspaceId} and id = ${id}`.execute(db);
  return rows.rows[0];
}

export async function batchesOf(db: Db, workspaceId: string, promotionId: string) {
  const rows = await sql<BatchRow>`select * from code_batches
    where workspace_id = ${workspaceId} and promotion_id = ${promotionId} order by created_at desc, id desc`.execute(
    db,
  );
  return rows.rows;
}

/** Moves a batch from one status to another; false when it was not in `from` (someone else got there first). */
export async function moveBatch(db: Db, workspaceId: string, id: string, from: BatchStatus[], to: BatchStatus) {
  const result = await sql`update code_batches set status = ${to},
      completed_at = case when ${to} in ('active', 'failed') then now() else completed_at end
    where workspace_id = ${workspaceId} and id = ${id} and status = any(${from}::text[])`.execute(db);
  return Number(result.numAffectedRows ?? 0) > 0;
}

export async function finishBatch(
  db: Db,
  workspaceId: string,
  id: string,
  done: { loaded: number; skipped: string[]; minLength: number | null; maxLength: number | null; size?: number },
) {
  await sql`update code_batches set status = 'active', loaded = ${done.loaded}, skipped = ${done.skipped}::bigint[],
      min_length = ${done.minLength}, max_length = ${done.maxLength}, size = coalesce(${done.size ?? null}::int, size),
      exports = case when source = 'generated' then 1 else 0 end, completed_at = now()
    where workspace_id = ${workspaceId} and id = ${id}`.execute(db);
}

export async function countExport(db: Db, workspaceId: string, id: string) {
  await sql`update code_batches set exports = exports + 1 where workspace_id = ${workspaceId} and id = ${id}`.execute(
    db,
  );
}

/** Codes already live in the promotion with this length: they share the guess space with a new batch. */
export async function liveCodesOfLength(db: Db, workspaceId: string, promotionId: string, length: number) {
  const rows = await sql<{ n: number }>`select coalesce(sum(loaded), 0)::int8 as n from code_batches
    where workspace_id = ${workspaceId} and promotion_id = ${promotionId} and length = ${length}
      and status in ('active', 'generating')`.execute(db);
  return Number(rows.rows[0]?.n ?? 0);
}

/** The shapes of imported codes that are live, so that a check-character failure is not called a typo for them. */
export async function importedShapes(db: Db, workspaceId: string) {
  const rows = await sql<{ promotion_id: string; min_length: number; max_length: number }>`
    select promotion_id, min_length, max_length from code_batches
    where workspace_id = ${workspaceId} and source = 'imported' and status = 'active' and min_length is not null`.execute(
    db,
  );
  return rows.rows;
}

export async function deleteBatchCodes(db: Db, workspaceId: string, batchId: string) {
  await sql`delete from codes where workspace_id = ${workspaceId} and batch_id = ${batchId}`.execute(db);
}

/** Which of these hashes are taken (by any workspace: the hash is unique across the database). */
export async function takenHashes(db: Db, hashes: string[]): Promise<Set<string>> {
  if (hashes.length === 0) return new Set();
  const rows = await sql<{ hash: string }>`select c.hash::text as hash from codes c
    join unnest(${hashes}::int8[]) as h(hash) on h.hash = c.hash`.execute(db);
  return new Set(rows.rows.map((r) => r.hash));
}

// ---- registration

export interface Candidate {
  ord: number;
  code_hash: string;
  batch_id: string;
  promotion_id: string;
  /** Why the code cannot be accepted, or null when it can (as far as a read without locks can tell). */
  refusal: 'used' | 'expired' | 'paused' | 'revoked' | 'other_promotion' | null;
}

/**
 * The codes of a group that exist in the workspace, with what stands in their way. Unknown codes (including every
 * other workspace's) are simply absent. `promotionIds[i]` limits attempt i to one promotion when not null. Each
 * code is a primary-key probe (lateral, limit 1): statistics lagging behind a freshly loaded batch cannot turn it
 * into a scan of millions of codes.
 */
export async function lookUpCodes(
  db: Db,
  workspaceId: string,
  now: Date,
  hashes: string[],
  promotionIds: (string | null)[],
) {
  const rows = await sql<Candidate>`/*prepared*/ select i.ord, c.hash::text as code_hash, c.batch_id, b.promotion_id,
      case when b.status <> 'active' then 'revoked'
           when i.promotion_id is not null and i.promotion_id <> b.promotion_id then 'other_promotion'
           when p.status <> 'active' then 'paused'
           when ${now} < p.starts_at or ${now} >= p.ends_at then 'expired'
           when exists (select 1 from code_redemptions r where r.code_hash = c.hash) then 'used'
      end as refusal
    from unnest(${hashes}::int8[], ${promotionIds}::uuid[]) with ordinality as i(hash, promotion_id, ord)
    cross join lateral (select c.hash, c.batch_id from codes c
      where c.hash = i.hash and c.workspace_id = ${workspaceId} limit 1) c
    join code_batches b on b.id = c.batch_id and b.workspace_id = ${workspaceId}
    join code_promotions p on p.id = b.promotion_id and p.workspace_id = ${workspaceId}`.execute(db);
  return rows.rows.map((r) => ({ ...r, ord: Number(r.ord) - 1 }));
}

export interface RedemptionWrite {
  id: string;
  codeHash: string;
  promotionId: string;
  batchId: string;
  profileId: string;
  channel: string;
  reward: Reward;
}

export interface CountKey {
  promotionId: string;
  subject: string;
  period: string;
}

/** Current counts (absent = 0) without locking: the pre-check before a code is looked at. One probe per key. */
export async function personCounts(db: Db, workspaceId: string, keys: CountKey[]) {
  if (keys.length === 0) return new Map<string, number>();
  const rows = await sql<{ promotion_id: string; subject: string; period: string; n: number }>`/*prepared*/
    select k.promotion_id, k.subject, k.period, c.n
    from unnest(${keys.map((k) => k.promotionId)}::uuid[], ${keys.map((k) => k.subject)}::text[],
      ${keys.map((k) => k.period)}::text[]) as k(promotion_id, subject, period)
    cross join lateral (select n from code_person_counts c where c.workspace_id = ${workspaceId}
      and c.promotion_id = k.promotion_id and c.subject = k.subject and c.period = k.period limit 1) c`.execute(db);
  return new Map(rows.rows.map((r) => [countKey(r.promotion_id, r.subject, r.period), r.n]));
}

export const countKey = (promotionId: string, subject: string, period: string) =>
  `${promotionId}\u0001${subject}\u0001${period}`;

/**
 * Adds to the counts (creating them) and returns the new values: the post-check inside the registration's
 * transaction, in one statement. The rows stay locked until the commit, so concurrent registrations of one person
 * see each other's counts; keys go in sorted order so that they cannot deadlock.
 */
export async function addPersonCounts(db: Db, workspaceId: string, adds: Map<string, number>) {
  if (adds.size === 0) return new Map<string, number>();
  const entries = [...adds.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  const parts = entries.map(([k]) => k.split('\u0001') as [string, string, string]);
  const rows = await sql<{ promotion_id: string; subject: string; period: string; n: number }>`
    insert into code_person_counts (workspace_id, promotion_id, subject, period, n)
    select ${workspaceId}, promotion_id, subject, period, n
    from unnest(${parts.map((p) => p[0])}::uuid[], ${parts.map((p) => p[1])}::text[], ${parts.map((p) => p[2])}::text[],
      ${entries.map((e) => e[1])}::int[]) with ordinality as k(promotion_id, subject, period, n, ord)
    order by ord
    on conflict (workspace_id, promotion_id, subject, period) do update set n = code_person_counts.n + excluded.n
    returning promotion_id, subject, period, n`.execute(db);
  return new Map(rows.rows.map((r) => [countKey(r.promotion_id, r.subject, r.period), r.n]));
}

/**
 * Takes up to `wanted` units of a promotion's budget (locks its row until the commit). Returns how many it got.
 */
export async function takeBudget(db: Db, workspaceId: string, promotionId: string, wanted: number) {
  const rows = await sql<{ granted: number }>`with p as (
      select id, budget, budget_used from code_promotions
      where workspace_id = ${workspaceId} and id = ${promotionId} for update
    ), u as (
      update code_promotions c set budget_used = c.budget_used + least(${wanted}::int, greatest(p.budget - p.budget_used, 0))
      from p where c.id = p.id
      returning least(${wanted}::int, greatest(p.budget - p.budget_used, 0)) as granted
    ) select granted from u`.execute(db);
  return Number(rows.rows[0]?.granted ?? 0);
}

export interface AttemptWrite {
  id: string;
  at: Date;
  outcome: AttemptOutcome;
  reason: string | null;
  channel: string;
  promotionId: string | null;
  batchId: string | null;
  codeHash: string | null;
  ip: string | null;
  net: string | null;
  deviceHash: string | null;
  identifierKind: string | null;
  identifierHash: string | null;
  profileId: string | null;
  /** The placement keyword the attempt carried. */
  placement: string | null;
}

export async function insertAttempts(db: Db, workspaceId: string, rows: AttemptWrite[]) {
  if (rows.length === 0) return;
  const col = <T>(f: (r: AttemptWrite) => T) => rows.map(f);
  await sql`insert into code_attempts (id, workspace_id, at, outcome, reason, channel, promotion_id, batch_id, code_hash,
      ip, net, device_hash, identifier_kind, identifier_hash, profile_id, placement)
    select id, ${workspaceId}, at, outcome, reason, channel, promotion_id, batch_id, code_hash, ip, net, device_hash,
      identifier_kind, identifier_hash, profile_id, placement
    from unnest(${col((r) => r.id)}::uuid[], ${col((r) => r.at.toISOString())}::timestamptz[],
      ${col((r) => r.outcome)}::text[], ${col((r) => r.reason)}::text[], ${col((r) => r.channel)}::text[],
      ${col((r) => r.promotionId)}::uuid[], ${col((r) => r.batchId)}::uuid[], ${col((r) => r.codeHash)}::int8[],
      ${col((r) => r.ip)}::text[], ${col((r) => r.net)}::text[], ${col((r) => r.deviceHash)}::text[],
      ${col((r) => r.identifierKind)}::text[], ${col((r) => r.identifierHash)}::text[],
      ${col((r) => r.profileId)}::uuid[], ${col((r) => r.placement)}::text[])
      as v(id, at, outcome, reason, channel, promotion_id, batch_id, code_hash, ip, net, device_hash, identifier_kind,
           identifier_hash, profile_id, placement)`.execute(db);
}

// ---- the fraud screen

export interface AttemptRow {
  id: string;
  at: Date;
  outcome: AttemptOutcome;
  reason: string | null;
  channel: string;
  promotion_id: string | null;
  ip: string | null;
  net: string | null;
  device_hash: string | null;
  identifier_kind: string | null;
  identifier_hash: string | null;
  profile_id: string | null;
}

export async function listAttempts(
  db: Db,
  workspaceId: string,
  filter: {
    promotionId?: string;
    outcome?: string;
    net?: string;
    identifierHash?: string;
    deviceHash?: string;
    before?: { at: Date; id: string };
  },
  limit: number,
) {
  const rows = await sql<AttemptRow>`select id, at, outcome, reason, channel, promotion_id, ip, net, device_hash,
      identifier_kind, identifier_hash, profile_id
    from code_attempts where workspace_id = ${workspaceId}
      ${filter.promotionId ? sql`and promotion_id = ${filter.promotionId}` : sql``}
      ${filter.outcome ? sql`and outcome = ${filter.outcome}` : sql``}
      ${filter.net ? sql`and net = ${filter.net}` : sql``}
      ${filter.identifierHash ? sql`and identifier_hash = ${filter.identifierHash}` : sql``}
      ${filter.deviceHash ? sql`and device_hash = ${filter.deviceHash}` : sql``}
      ${filter.before ? sql`and (at, id) < (${filter.before.at}, ${filter.before.id})` : sql``}
    order by at desc, id desc limit ${limit}`.execute(db);
  return rows.rows;
}

export async function summarizeAttempts(db: Db, workspaceId: string, since: Date, promotionId?: string) {
  const scope = sql`workspace_id = ${workspaceId} and at >= ${since}
    ${promotionId ? sql`and promotion_id = ${promotionId}` : sql``}`;
  const [perMinute, byChannel, nets, identifiers, devices] = await Promise.all([
    sql<{ minute: Date; accepted: number; refused: number; typo: number; limited: number }>`
      select date_trunc('minute', at) as minute,
        count(*) filter (where outcome = 'accepted')::int as accepted,
        count(*) filter (where outcome = 'refused')::int as refused,
        count(*) filter (where outcome = 'typo')::int as typo,
        count(*) filter (where outcome = 'limited')::int as limited
      from code_attempts where ${scope} group by 1 order by 1`.execute(db),
    sql<{ channel: string; accepted: number; rejected: number }>`
      select channel, count(*) filter (where outcome = 'accepted')::int as accepted,
        count(*) filter (where outcome <> 'accepted')::int as rejected
      from code_attempts where ${scope} group by 1 order by 2 desc`.execute(db),
    top(db, scope, sql`net`),
    top(db, scope, sql`identifier_hash`),
    top(db, scope, sql`device_hash`),
  ]);
  return { perMinute: perMinute.rows, byChannel: byChannel.rows, nets, identifiers, devices };
}

async function top(db: Db, scope: ReturnType<typeof sql>, column: ReturnType<typeof sql>) {
  const rows = await sql<{ value: string; failures: number; accepted: number }>`
    select ${column} as value, count(*) filter (where outcome in ('refused', 'limited'))::int as failures,
      count(*) filter (where outcome = 'accepted')::int as accepted
    from code_attempts where ${scope} and ${column} is not null
    group by 1 having count(*) filter (where outcome in ('refused', 'limited')) > 0
    order by 2 desc limit 20`.execute(db);
  return rows.rows;
}

// ---- merges and data subjects

export async function repointProfile(db: Db, workspaceId: string, survivorId: string, absorbedId: string) {
  await sql`update code_redemptions set profile_id = ${survivorId}
    where workspace_id = ${workspaceId} and profile_id = ${absorbedId}`.execute(db);
  await sql`update code_attempts set profile_id = ${survivorId}
    where workspace_id = ${workspaceId} and profile_id = ${absorbedId}`.execute(db);
  // The absorbed person's counts add to the survivor's: two profiles that were one person used both allowances.
  await sql`with gone as (
      delete from code_person_counts where workspace_id = ${workspaceId} and subject = ${`p:${absorbedId}`}
      returning promotion_id, period, n
    )
    insert into code_person_counts (workspace_id, promotion_id, subject, period, n)
    select ${workspaceId}, promotion_id, ${`p:${survivorId}`}, period, n from gone
    on conflict (workspace_id, promotion_id, subject, period) do update set n = code_person_counts.n + excluded.n`.execute(
    db,
  );
}

export async function countBatchCodes(db: Db, workspaceId: string, batchId: string) {
  const rows = await sql<{ n: number; distinct: number }>`select count(*)::int8 as n,
      count(distinct hash)::int8 as distinct from codes where workspace_id = ${workspaceId} and batch_id = ${batchId}`.execute(
    db,
  );
  return { codes: Number(rows.rows[0]?.n ?? 0), distinct: Number(rows.rows[0]?.distinct ?? 0) };
}

export interface ClaimedAttempt extends AttemptWrite {
  /** The redemption this attempt claims, when it claims one: its outcome follows whether the claim won. */
  claimId: string | null;
}

/**
 * The registration transaction's writes in one statement: the claims (the unique code_hash decides which win),
 * the allowance counts of the winners raised (rows locked until the commit; read back), and every attempt of the
 * group recorded — an attempt that claimed a code is `accepted` if its claim won, else `refused`/`used`. Claims go
 * in hash order and counts in key order, so that concurrent groups cannot deadlock.
 */
export async function claimAndRecord(
  db: Db,
  workspaceId: string,
  now: Date,
  claims: RedemptionWrite[],
  counts: { claimId: string; key: CountKey }[],
  attempts: ClaimedAttempt[],
) {
  const c = <T>(f: (r: RedemptionWrite) => T) => claims.map(f);
  const a = <T>(f: (r: ClaimedAttempt) => T) => attempts.map(f);
  const rows = await sql<{
    kind: 'won' | 'count';
    id: string | null;
    key: string | null;
    n: number | null;
  }>`/*prepared*/
    with r as (
      insert into code_redemptions (id, workspace_id, code_hash, promotion_id, batch_id, profile_id, channel, reward,
        registered_at)
      select id, ${workspaceId}, code_hash, promotion_id, batch_id, profile_id, channel, reward, ${now}
      from unnest(${c((r) => r.id)}::uuid[], ${c((r) => r.codeHash)}::int8[], ${c((r) => r.promotionId)}::uuid[],
        ${c((r) => r.batchId)}::uuid[], ${c((r) => r.profileId)}::uuid[], ${c((r) => r.channel)}::text[],
        ${c((r) => JSON.stringify(r.reward))}::jsonb[])
        as v(id, code_hash, promotion_id, batch_id, profile_id, channel, reward)
      order by code_hash
      on conflict (code_hash) do nothing
      returning id
    ), k as (
      select k.promotion_id, k.subject, k.period, count(*)::int as n
      from unnest(${counts.map((x) => x.key.promotionId)}::uuid[], ${counts.map((x) => x.key.subject)}::text[],
        ${counts.map((x) => x.key.period)}::text[], ${counts.map((x) => x.claimId)}::uuid[])
        as k(promotion_id, subject, period, claim_id)
      join r on r.id = k.claim_id
      group by 1, 2, 3
    ), raised as (
      insert into code_person_counts (workspace_id, promotion_id, subject, period, n)
      select ${workspaceId}, promotion_id, subject, period, n from k order by promotion_id, subject, period
      on conflict (workspace_id, promotion_id, subject, period) do update set n = code_person_counts.n + excluded.n
      returning promotion_id, subject, period, n
    ), recorded as (
      insert into code_attempts (id, workspace_id, at, outcome, reason, channel, promotion_id, batch_id, code_hash, ip,
        net, device_hash, identifier_kind, identifier_hash, profile_id, placement)
      select v.id, ${workspaceId}, v.at,
        case when v.claim_id is null then v.outcome when r.id is not null then 'accepted' else 'refused' end,
        case when v.claim_id is null then v.reason when r.id is not null then null else 'used' end,
        v.channel, v.promotion_id, v.batch_id, v.code_hash, v.ip, v.net, v.device_hash, v.identifier_kind,
        v.identifier_hash, case when v.claim_id is null or r.id is not null then v.profile_id end, v.placement
      from unnest(${a((r) => r.id)}::uuid[], ${a((r) => r.at.toISOString())}::timestamptz[], ${a((r) => r.outcome)}::text[],
        ${a((r) => r.reason)}::text[], ${a((r) => r.channel)}::text[], ${a((r) => r.promotionId)}::uuid[],
        ${a((r) => r.batchId)}::uuid[], ${a((r) => r.codeHash)}::int8[], ${a((r) => r.ip)}::text[], ${a((r) => r.net)}::text[],
        ${a((r) => r.deviceHash)}::text[], ${a((r) => r.identifierKind)}::text[], ${a((r) => r.identifierHash)}::text[],
        ${a((r) => r.profileId)}::uuid[], ${a((r) => r.claimId)}::uuid[], ${a((r) => r.placement)}::text[])
        as v(id, at, outcome, reason, channel, promotion_id, batch_id, code_hash, ip, net, device_hash, identifier_kind,
             identifier_hash, profile_id, claim_id, placement)
      left join r on r.id = v.claim_id
    )
    select 'won' as kind, id::text as id, null as key, null::int as n from r
    union all
    select 'count', null, promotion_id::text || chr(1) || subject || chr(1) || period, n from raised`.execute(db);
  const won = new Set<string>();
  const raised = new Map<string, number>();
  for (const row of rows.rows) {
    if (row.kind === 'won') won.add(row.id as string);
    else raised.set(row.key as string, row.n as number);
  }
  return { won, raised };
}

/** A claim undone before the commit (allowance or budget): its redemption goes, its attempt says why. */
export async function undoClaims(
  db: Db,
  workspaceId: string,
  undone: { redemptionId: string; attemptId: string; reason: string }[],
) {
  if (undone.length === 0) return;
  await sql`delete from code_redemptions where workspace_id = ${workspaceId}
    and id = any(${undone.map((u) => u.redemptionId)}::uuid[])`.execute(db);
  await sql`update code_attempts a set outcome = 'refused', reason = v.reason, profile_id = null
    from unnest(${undone.map((u) => u.attemptId)}::uuid[], ${undone.map((u) => u.reason)}::text[]) as v(id, reason)
    where a.workspace_id = ${workspaceId} and a.id = v.id`.execute(db);
}
