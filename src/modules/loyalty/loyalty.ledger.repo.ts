import { CompiledQuery, type RawBuilder, sql } from 'kysely';
import type { Db } from '../../platform/db.ts';
import type { LedgerKind } from './loyalty.schemas.ts';

/**
 * SQL of the ledger: the locking read that starts every change of a member's wallets, and the one statement that
 * writes all of a change (transactions, entries, lots, wallets, cap counters, the idempotent answer, the timeline
 * outbox) — so a till transaction costs BEGIN, two statements and COMMIT. Every statement is scoped by workspace.
 */

export interface OpenLot {
  id: string;
  wallet: string;
  amount: number;
  remaining: number;
  earnedAt: Date;
  availableAt: Date;
  expiresAt: Date | null;
}

export interface LockedMember {
  memberId: string;
  profileId: string;
  programmeId: string;
  tier: string | null;
  cardId: string | null;
  cardStatus: string | null;
  /** The card's number when it is the profile's card identifier (it leads timeline events to the profile). */
  cardIdentifier: string | null;
  version: number;
  /** Whether this call claimed its idempotency key (null: no key given). */
  claimed: boolean | null;
  wallets: Map<string, number>;
  lots: OpenLot[];
  usage: { ruleId: string; period: string; points: number; times: number }[];
}

export type MemberKey = { card: string } | { qrHash: string } | { memberId: string };

interface LockedRow {
  member_id: string;
  profile_id: string;
  programme_id: string;
  tier: string | null;
  card_id: string | null;
  card_status: string | null;
  card_identifier: string | null;
  version: number;
  claimed: number | null;
  wallets: [string, number][];
  lots: [string, string, number, number, string, string, string | null][];
  usage: [string, string, number, number][];
}

/**
 * Locks a member (the row every change of its wallets locks first) and reads what a change needs in the same
 * statement: wallets, open lots, the cap counters of the given periods, the programme's version — and, when an
 * idempotency key is given, claims it (a concurrent holder of the same key makes this wait for its commit).
 */
export async function lockMember(
  trx: Db,
  workspaceId: string,
  programmeId: string,
  key: MemberKey,
  options: { periods: string[]; claim?: { key: string; hash: string; now: Date } },
): Promise<LockedMember | undefined> {
  const claim = options.claim;
  const claimCte = claim
    ? sql`with req as (insert into loyalty_requests (workspace_id, key, hash, status, response, created_at)
        values (${workspaceId}, ${claim.key}, ${claim.hash}, 0, 'null'::jsonb, ${claim.now.toISOString()})
        on conflict do nothing returning 1) `
    : sql``;
  const claimed = claim ? sql`(select count(*) from req)::int` : sql`null::int`;
  const from: RawBuilder<unknown> =
    'card' in key
      ? sql`from loyalty_cards c join loyalty_members m on m.id = c.member_id
          where c.workspace_id = ${workspaceId} and c.programme_id = ${programmeId} and c.number = ${key.card}`
      : 'qrHash' in key
        ? sql`from loyalty_cards c join loyalty_members m on m.id = c.member_id
          where c.workspace_id = ${workspaceId} and c.programme_id = ${programmeId} and c.qr_hash = ${key.qrHash}`
        : sql`from loyalty_members m left join loyalty_cards c on false
          where m.workspace_id = ${workspaceId} and m.programme_id = ${programmeId} and m.id = ${key.memberId}
            and m.status = 'active'`;
  const r = await sql<LockedRow>`${claimCte}select m.id as member_id, m.profile_id, m.programme_id, m.tier,
      c.id as card_id, c.status as card_status, case when c.is_identifier then c.number end as card_identifier,
      (select version from loyalty_programmes p where p.id = m.programme_id) as version,
      ${claimed} as claimed,
      (select coalesce(jsonb_agg(jsonb_build_array(w.wallet, w.balance)), '[]'::jsonb)
         from loyalty_wallets w where w.member_id = m.id) as wallets,
      (select coalesce(jsonb_agg(jsonb_build_array(l.id, l.wallet, l.amount, l.remaining, l.earned_at, l.available_at,
           l.expires_at) order by l.earned_at, l.id), '[]'::jsonb)
         from loyalty_lots l where l.member_id = m.id and l.remaining > 0) as lots,
      (select coalesce(jsonb_agg(jsonb_build_array(u.rule_id, u.period, u.points, u.times)), '[]'::jsonb)
         from loyalty_rule_usage u where u.member_id = m.id and u.period = any(${options.periods}::text[])) as usage
    ${from}
    for update of m`.execute(trx);
  const row = r.rows[0];
  if (!row) return undefined;
  return {
    memberId: row.member_id,
    profileId: row.profile_id,
    programmeId: row.programme_id,
    tier: row.tier,
    cardId: row.card_id,
    cardStatus: row.card_status,
    cardIdentifier: row.card_identifier,
    version: Number(row.version),
    claimed: row.claimed === null ? null : row.claimed > 0,
    wallets: new Map(row.wallets.map(([w, b]) => [w, Number(b)])),
    lots: row.lots.map(([id, wallet, amount, remaining, earnedAt, availableAt, expiresAt]) => ({
      id,
      wallet,
      amount: Number(amount),
      remaining: Number(remaining),
      earnedAt: new Date(earnedAt),
      availableAt: new Date(availableAt),
      expiresAt: expiresAt ? new Date(expiresAt) : null,
    })),
    usage: row.usage.map(([ruleId, period, points, times]) => ({
      ruleId,
      period,
      points: Number(points),
      times: Number(times),
    })),
  };
}

/** The stored answer of an idempotency key (read after a claim failed: the other holder has committed). */
export async function storedRequest(trx: Db, workspaceId: string, key: string) {
  const r = await sql<{ hash: string; status: number; response: unknown }>`select hash, status, response
    from loyalty_requests where workspace_id = ${workspaceId} and key = ${key}`.execute(trx);
  return r.rows[0];
}

/** Claims a key without locking a member (writes that do not touch a ledger: card issue). */
export async function claimKey(trx: Db, workspaceId: string, claim: { key: string; hash: string; now: Date }) {
  const r = await sql`insert into loyalty_requests (workspace_id, key, hash, status, response, created_at)
    values (${workspaceId}, ${claim.key}, ${claim.hash}, 0, 'null'::jsonb, ${claim.now.toISOString()})
    on conflict do nothing`.execute(trx);
  return Number(r.numAffectedRows ?? 0) > 0;
}

export async function storeResponse(trx: Db, workspaceId: string, key: string, status: number, body: unknown) {
  await sql`update loyalty_requests set status = ${status}, response = ${JSON.stringify(body)}::jsonb
    where workspace_id = ${workspaceId} and key = ${key}`.execute(trx);
}

// ---- the write

export interface TransactionInsert {
  id: string;
  programmeId: string;
  memberId: string;
  kind: 'purchase' | 'return' | 'event' | 'adjustment' | 'reversal';
  originalId: string | null;
  externalId: string | null;
  occurredAt: Date;
  recordedAt: Date;
  channel: string | null;
  branch: string | null;
  branchId: string | null;
  cashier: string | null;
  recordedBy: string | null;
  currency: string | null;
  amount: number;
  pointsSpent: number;
  lines: unknown[] | null;
  eventName: string | null;
  properties: Record<string, unknown> | null;
  tier: string | null;
  localWeekday: string | null;
  localHour: number | null;
  earned: number;
}

export interface EntryInsert {
  id: string;
  memberId: string;
  wallet: string;
  kind: LedgerKind;
  amount: number;
  transactionId: string | null;
  ruleId: string | null;
  reverses: string | null;
  /** [lot id, amount] the entry took from (negative) or gave back to (positive) existing lots. */
  lots: [string, number][] | null;
  reason: string | null;
  occurredAt: Date;
  recordedBy: string | null;
}

export interface LotInsert {
  id: string;
  memberId: string;
  wallet: string;
  amount: number;
  earnedAt: Date;
  availableAt: Date;
  expiresAt: Date | null;
}

export interface Changes {
  transactions: TransactionInsert[];
  /** Increments of a purchase's returned amount, and reversals. */
  transactionUpdates: { id: string; returned: number; reversedAt: Date | null }[];
  entries: EntryInsert[];
  lots: LotInsert[];
  lotDeltas: Map<string, number>;
  /** `${memberId}\u0001${wallet}` → delta */
  walletDeltas: Map<string, number>;
  usage: { memberId: string; ruleId: string; period: string; points: number; times: number }[];
  timeline: {
    id: string;
    profileId: string;
    name: string;
    properties: Record<string, unknown>;
    channel: string | null;
    occurredAt: Date;
    card: string | null;
  }[];
  response: { key: string; status: number; body: unknown } | null;
}

export function emptyChanges(): Changes {
  return {
    transactions: [],
    transactionUpdates: [],
    entries: [],
    lots: [],
    lotDeltas: new Map(),
    walletDeltas: new Map(),
    usage: [],
    timeline: [],
    response: null,
  };
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/**
 * Writes a change in one statement (data-modifying CTEs): all or nothing, one round trip. Wallet balances are
 * upserted with relative deltas under the member lock; the CHECK (balance >= 0) is the last line of defence.
 */
export async function writeChanges(trx: Db, workspaceId: string, ch: Changes): Promise<void> {
  const parts: RawBuilder<unknown>[] = [];
  const ws = workspaceId;
  if (ch.transactions.length > 0) {
    const t = ch.transactions;
    const col = <T>(f: (x: TransactionInsert) => T) => t.map(f);
    parts.push(sql`insert into loyalty_transactions (id, workspace_id, programme_id, member_id, kind, original_id,
        external_id, occurred_at, recorded_at, channel, branch, branch_id, cashier, recorded_by, currency, amount,
        points_spent, lines, event_name, properties, tier, local_weekday, local_hour, earned)
      select id, ${ws}, programme_id, member_id, kind, original_id, external_id, occurred_at, recorded_at, channel, branch,
        branch_id, cashier, recorded_by, currency, amount, points_spent, lines, event_name, properties, tier,
        local_weekday, local_hour, earned
      from unnest(${col((x) => x.id)}::uuid[], ${col((x) => x.programmeId)}::uuid[], ${col((x) => x.memberId)}::uuid[],
        ${col((x) => x.kind)}::text[], ${col((x) => x.originalId)}::uuid[], ${col((x) => x.externalId)}::text[],
        ${col((x) => iso(x.occurredAt))}::timestamptz[], ${col((x) => iso(x.recordedAt))}::timestamptz[],
        ${col((x) => x.channel)}::text[], ${col((x) => x.branch)}::text[], ${col((x) => x.branchId)}::uuid[],
        ${col((x) => x.cashier)}::text[], ${col((x) => x.recordedBy)}::text[], ${col((x) => x.currency)}::text[],
        ${col((x) => x.amount)}::bigint[], ${col((x) => x.pointsSpent)}::bigint[],
        ${col((x) => (x.lines ? JSON.stringify(x.lines) : null))}::jsonb[], ${col((x) => x.eventName)}::text[],
        ${col((x) => (x.properties ? JSON.stringify(x.properties) : null))}::jsonb[], ${col((x) => x.tier)}::text[],
        ${col((x) => x.localWeekday)}::text[], ${col((x) => x.localHour)}::int[], ${col((x) => x.earned)}::bigint[])
        as v(id, programme_id, member_id, kind, original_id, external_id, occurred_at, recorded_at, channel, branch,
          branch_id, cashier, recorded_by, currency, amount, points_spent, lines, event_name, properties, tier,
          local_weekday, local_hour, earned)`);
  }
  if (ch.transactionUpdates.length > 0) {
    const u = ch.transactionUpdates;
    parts.push(sql`update loyalty_transactions t set returned_amount = t.returned_amount + v.returned,
        reversed_at = coalesce(v.reversed_at, t.reversed_at)
      from unnest(${u.map((x) => x.id)}::uuid[], ${u.map((x) => x.returned)}::bigint[],
        ${u.map((x) => iso(x.reversedAt))}::timestamptz[]) as v(id, returned, reversed_at)
      where t.workspace_id = ${ws} and t.id = v.id`);
  }
  if (ch.entries.length > 0) {
    const e = ch.entries;
    const col = <T>(f: (x: EntryInsert) => T) => e.map(f);
    parts.push(sql`insert into loyalty_ledger (id, workspace_id, member_id, wallet, kind, amount, transaction_id, rule_id,
        reverses, lots, reason, occurred_at, recorded_by)
      select id, ${ws}, member_id, wallet, kind, amount, transaction_id, rule_id, reverses, lots, reason, occurred_at,
        recorded_by
      from unnest(${col((x) => x.id)}::uuid[], ${col((x) => x.memberId)}::uuid[], ${col((x) => x.wallet)}::text[],
        ${col((x) => x.kind)}::text[], ${col((x) => x.amount)}::bigint[], ${col((x) => x.transactionId)}::uuid[],
        ${col((x) => x.ruleId)}::uuid[], ${col((x) => x.reverses)}::uuid[],
        ${col((x) => (x.lots ? JSON.stringify(x.lots) : null))}::jsonb[], ${col((x) => x.reason)}::text[],
        ${col((x) => iso(x.occurredAt))}::timestamptz[], ${col((x) => x.recordedBy)}::text[])
        as v(id, member_id, wallet, kind, amount, transaction_id, rule_id, reverses, lots, reason, occurred_at, recorded_by)`);
  }
  if (ch.lots.length > 0) {
    const l = ch.lots;
    const col = <T>(f: (x: LotInsert) => T) => l.map(f);
    parts.push(sql`insert into loyalty_lots (id, workspace_id, member_id, wallet, amount, remaining, earned_at,
        available_at, expires_at)
      select id, ${ws}, member_id, wallet, amount, amount, earned_at, available_at, expires_at
      from unnest(${col((x) => x.id)}::uuid[], ${col((x) => x.memberId)}::uuid[], ${col((x) => x.wallet)}::text[],
        ${col((x) => x.amount)}::bigint[], ${col((x) => iso(x.earnedAt))}::timestamptz[],
        ${col((x) => iso(x.availableAt))}::timestamptz[], ${col((x) => iso(x.expiresAt))}::timestamptz[])
        as v(id, member_id, wallet, amount, earned_at, available_at, expires_at)`);
  }
  const lotDeltas = [...ch.lotDeltas].filter(([, d]) => d !== 0);
  if (lotDeltas.length > 0) {
    parts.push(sql`update loyalty_lots l set remaining = l.remaining + v.delta
      from unnest(${lotDeltas.map(([id]) => id)}::uuid[], ${lotDeltas.map(([, d]) => d)}::bigint[]) as v(id, delta)
      where l.workspace_id = ${ws} and l.id = v.id`);
  }
  const wallets = [...ch.walletDeltas].filter(([, d]) => d !== 0);
  if (wallets.length > 0) {
    const members = wallets.map(([k]) => k.split('\u0001')[0]);
    const names = wallets.map(([k]) => k.split('\u0001')[1]);
    const deltas = wallets.map(([, d]) => d);
    // An update for wallets that exist, an insert for a wallet added to the programme since the member joined
    // (credits only: nothing can be spent from a wallet that does not exist). Not one upsert: its insert row would
    // meet CHECK (balance >= 0) with a negative delta before the conflict is seen.
    parts.push(sql`update loyalty_wallets w set balance = w.balance + v.delta
      from unnest(${members}::uuid[], ${names}::text[], ${deltas}::bigint[]) as v(member_id, wallet, delta)
      where w.member_id = v.member_id and w.wallet = v.wallet`);
    parts.push(sql`insert into loyalty_wallets (member_id, wallet, workspace_id, balance)
      select v.member_id, v.wallet, ${ws}, v.delta
      from unnest(${members}::uuid[], ${names}::text[], ${deltas}::bigint[]) as v(member_id, wallet, delta)
      where v.delta > 0 and not exists (select 1 from loyalty_wallets w where w.member_id = v.member_id and w.wallet = v.wallet)`);
  }
  if (ch.usage.length > 0) {
    const u = ch.usage;
    parts.push(sql`insert into loyalty_rule_usage (member_id, rule_id, period, workspace_id, points, times)
      select member_id, rule_id, period, ${ws}, points, times
      from unnest(${u.map((x) => x.memberId)}::uuid[], ${u.map((x) => x.ruleId)}::uuid[], ${u.map((x) => x.period)}::text[],
        ${u.map((x) => x.points)}::bigint[], ${u.map((x) => x.times)}::int[]) as v(member_id, rule_id, period, points, times)
      on conflict (member_id, rule_id, period) do update set points = loyalty_rule_usage.points + excluded.points,
        times = loyalty_rule_usage.times + excluded.times`);
  }
  if (ch.timeline.length > 0) {
    const t = ch.timeline;
    parts.push(sql`insert into loyalty_timeline_outbox (id, workspace_id, profile_id, name, properties, channel, occurred_at,
        identifier_kind, identifier_value)
      select id, ${ws}, profile_id, name, properties, channel, occurred_at, case when card is not null then 'card' end, card
      from unnest(${t.map((x) => x.id)}::uuid[], ${t.map((x) => x.profileId)}::uuid[], ${t.map((x) => x.name)}::text[],
        ${t.map((x) => JSON.stringify(x.properties))}::jsonb[], ${t.map((x) => x.channel)}::text[],
        ${t.map((x) => iso(x.occurredAt))}::timestamptz[], ${t.map((x) => x.card)}::text[])
        as v(id, profile_id, name, properties, channel, occurred_at, card)`);
  }
  if (ch.response) {
    parts.push(sql`update loyalty_requests set status = ${ch.response.status},
        response = ${JSON.stringify(ch.response.body)}::jsonb
      where workspace_id = ${ws} and key = ${ch.response.key}`);
  }
  if (parts.length === 0) return;
  const ctes = parts.map((p, i) => sql`${sql.raw(`w${i}`)} as (${p})`);
  await sql`with ${sql.join(ctes, sql`, `)} select 1`.execute(trx);
}

// ---- reads

export interface EntryRow {
  id: string;
  member_id: string;
  wallet: string;
  kind: LedgerKind;
  amount: number;
  transaction_id: string | null;
  rule_id: string | null;
  reverses: string | null;
  lots: [string, number][] | null;
  reason: string | null;
  occurred_at: Date;
  recorded_by: string | null;
}

const ENTRY_COLUMNS = sql`id, member_id, wallet, kind, amount, transaction_id, rule_id, reverses, lots, reason,
  occurred_at, recorded_by`;

/** A member's ledger, newest first (cursor: entries older than the given id). */
export async function ledgerOf(db: Db, workspaceId: string, memberId: string, limit: number, before?: string) {
  const r = await sql<EntryRow>`select ${ENTRY_COLUMNS} from loyalty_ledger
    where member_id = ${memberId} and workspace_id = ${workspaceId}
      ${before ? sql`and id < ${before}` : sql``}
    order by id desc limit ${limit}`.execute(db);
  return r.rows;
}

/** The entries a transaction wrote (returns and reversals undo them; the member index finds them). */
export async function entriesOfTransaction(db: Db, workspaceId: string, memberId: string, transactionId: string) {
  const r = await sql<EntryRow>`select ${ENTRY_COLUMNS} from loyalty_ledger
    where member_id = ${memberId} and workspace_id = ${workspaceId} and transaction_id = ${transactionId}
    order by id`.execute(db);
  return r.rows;
}

export interface TransactionRow {
  id: string;
  programme_id: string;
  member_id: string;
  kind: TransactionInsert['kind'];
  original_id: string | null;
  external_id: string | null;
  occurred_at: Date;
  recorded_at: Date;
  channel: string | null;
  branch: string | null;
  cashier: string | null;
  recorded_by: string | null;
  currency: string | null;
  amount: number;
  points_spent: number;
  lines: { sku: string; category: string | null; quantity: number; price: number; amount: number }[] | null;
  event_name: string | null;
  properties: Record<string, unknown> | null;
  tier: string | null;
  local_weekday: string | null;
  local_hour: number | null;
  earned: number;
  returned_amount: number;
  reversed_at: Date | null;
}

const TX_COLUMNS = sql`id, programme_id, member_id, kind, original_id, external_id, occurred_at, recorded_at, channel,
  branch, cashier, recorded_by, currency, amount, points_spent, lines, event_name, properties, tier, local_weekday,
  local_hour, earned, returned_amount, reversed_at`;

export async function transactionById(db: Db, workspaceId: string, id: string) {
  const r = await sql<TransactionRow>`select ${TX_COLUMNS} from loyalty_transactions
    where workspace_id = ${workspaceId} and id = ${id}`.execute(db);
  return r.rows[0];
}

export async function transactionByExternalId(db: Db, workspaceId: string, programmeId: string, externalId: string) {
  const r = await sql<TransactionRow>`select ${TX_COLUMNS} from loyalty_transactions
    where workspace_id = ${workspaceId} and programme_id = ${programmeId} and external_id = ${externalId}
      and kind = 'purchase' order by occurred_at limit 1`.execute(db);
  return r.rows[0];
}

/** Returns recorded against a purchase (their lines say what came back). */
export async function returnsOf(db: Db, workspaceId: string, memberId: string, purchaseId: string) {
  const r = await sql<TransactionRow>`select ${TX_COLUMNS} from loyalty_transactions
    where member_id = ${memberId} and workspace_id = ${workspaceId} and original_id = ${purchaseId} and kind = 'return'`.execute(
    db,
  );
  return r.rows;
}

export async function transactionsOf(db: Db, workspaceId: string, memberId: string, limit: number) {
  const r = await sql<TransactionRow>`select ${TX_COLUMNS} from loyalty_transactions
    where member_id = ${memberId} and workspace_id = ${workspaceId} order by occurred_at desc, id desc limit ${limit}`.execute(
    db,
  );
  return r.rows;
}

/** Past purchases or events of a programme in a period, oldest first (simulations); `where` is a compiled rule. */
export async function transactionsBetween(
  db: Db,
  workspaceId: string,
  programmeId: string,
  kind: 'purchase' | 'event',
  from: Date,
  to: Date,
  limit: number,
  where: RawBuilder<boolean> | null,
) {
  const r = await sql<TransactionRow>`select ${TX_COLUMNS} from loyalty_transactions t
    where t.workspace_id = ${workspaceId} and t.programme_id = ${programmeId} and t.kind = ${kind}
      and t.occurred_at >= ${from.toISOString()} and t.occurred_at < ${to.toISOString()} and t.reversed_at is null
      ${where ? sql`and ${where}` : sql``}
    order by t.occurred_at, t.id limit ${limit}`.execute(db);
  return r.rows;
}

export interface BalanceRow {
  wallet: string;
  balance: number;
  pending: number;
  expired: number;
}

const BALANCE_SQL = `select w.wallet, w.balance,
    coalesce(sum(l.remaining) filter (where l.available_at > $3), 0)::bigint as pending,
    coalesce(sum(l.remaining) filter (where l.expires_at <= $3 and l.available_at <= $3), 0)::bigint as expired
  from loyalty_wallets w
  left join loyalty_lots l on l.member_id = w.member_id and l.wallet = w.wallet and l.remaining > 0
  where w.member_id = $2 and w.workspace_id = $1
  group by w.wallet, w.balance order by w.wallet`;

/** Balances of a member now: the ledger's sum per wallet, and how much of it is pending or past its expiry. */
export async function balancesOf(db: Db, workspaceId: string, memberId: string, now: Date): Promise<BalanceRow[]> {
  const r = await db.executeQuery<BalanceRow>(
    CompiledQuery.raw(BALANCE_SQL, [workspaceId, memberId, now.toISOString()]),
  );
  return r.rows.map((b) => ({
    ...b,
    balance: Number(b.balance),
    pending: Number(b.pending),
    expired: Number(b.expired),
  }));
}

/** Lots by id, open or not (giving spent points back needs their expiry). */
export async function lotsByIds(db: Db, workspaceId: string, ids: string[]) {
  if (ids.length === 0) return [];
  const r = await sql<{
    id: string;
    wallet: string;
    amount: number;
    remaining: number;
    earned_at: Date;
    available_at: Date;
    expires_at: Date | null;
  }>`select id, wallet, amount, remaining, earned_at, available_at, expires_at from loyalty_lots
    where workspace_id = ${workspaceId} and id = any(${ids}::uuid[])`.execute(db);
  return r.rows;
}

export async function openLotsOf(db: Db, workspaceId: string, memberId: string) {
  const r = await sql<{
    id: string;
    wallet: string;
    amount: number;
    remaining: number;
    earned_at: Date;
    available_at: Date;
    expires_at: Date | null;
  }>`select id, wallet, amount, remaining, earned_at, available_at, expires_at from loyalty_lots
    where member_id = ${memberId} and workspace_id = ${workspaceId} and remaining > 0
    order by earned_at, id`.execute(db);
  return r.rows;
}

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
    m as (update loyalty_members set status = 'merged', merged_into = ${survivorId}
      where workspace_id = ${workspaceId} and id = ${absorbedId})
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
