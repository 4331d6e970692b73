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

export interface MemberState {
  memberId: string;
  profileId: string;
  tier: string | null;
  cardId: string | null;
  cardStatus: string | null;
  /** The card's number when it is the profile's card identifier (it leads timeline events to the profile). */
  cardIdentifier: string | null;
  /** Moves with every change of the member: a change applies only on the version it was planned on. */
  version: number;
  programmeVersion: number;
  wallets: Map<string, number>;
  lots: OpenLot[];
  usage: { ruleId: string; period: string; points: number; times: number }[];
  /** The stored answer of the idempotency key asked about, when it was used before. */
  request: { hash: string; status: number; response: unknown } | null;
  tierSince: Date | null;
  /** What counts for tiers in the window asked about (spent net of returns, points earned); null when not asked. */
  qualifying: { spend: number; points: number } | null;
  /** Keys of the active clubs the member belongs to (`member.clubs` in earn rules). */
  clubs: string[];
}

export type MemberKey = { card: string } | { qrHash: string } | { memberId: string };

interface StateDocument {
  memberId: string;
  profileId: string;
  tier: string | null;
  version: number;
  programmeVersion: number;
  cardId: string | null;
  cardStatus: string | null;
  cardIdentifier: string | null;
  wallets: [string, number][];
  lots: [string, string, number, number, string, string, string | null][];
  usage: [string, string, number, number][];
  request: { hash: string; status: number; response: unknown } | null;
  tierSince: string | null;
  qualifying: [number, number] | null;
  clubs?: string[];
}

/**
 * What a change of a member's wallets needs, in one statement and without a lock: wallets, open lots, the cap
 * counters of the given periods, the member's and the programme's versions, and the stored answer of an
 * idempotency key. `loyalty_apply` later writes the change only if the member's version is still this one.
 */
export async function readMember(
  db: Db,
  workspaceId: string,
  programmeId: string,
  key: MemberKey,
  options: { periods: string[]; idempotencyKey?: string; tiersSince?: Date | null },
): Promise<MemberState | undefined> {
  const card = 'card' in key ? key.card : null;
  const qr = 'qrHash' in key ? key.qrHash : null;
  const member = 'memberId' in key ? key.memberId : null;
  const r = await db.executeQuery<{ state: StateDocument | null }>(
    CompiledQuery.raw(STATE_SQL, [
      workspaceId,
      programmeId,
      card,
      qr,
      member,
      options.periods,
      options.idempotencyKey ?? null,
      options.tiersSince?.toISOString() ?? null,
    ]),
  );
  return memberState(r.rows[0]?.state);
}

/** A state read as one item of a group (loyalty_member_states). */
export interface StateItem {
  ws: string;
  programme: string;
  card?: string;
  qr?: string;
  member?: string;
  periods: string[];
  key?: string;
  since?: string;
}

export function stateItem(
  workspaceId: string,
  programmeId: string,
  key: MemberKey,
  options: { periods: string[]; idempotencyKey?: string; tiersSince?: Date | null },
): StateItem {
  return {
    ws: workspaceId,
    programme: programmeId,
    ...('card' in key ? { card: key.card } : 'qrHash' in key ? { qr: key.qrHash } : { member: key.memberId }),
    periods: options.periods,
    ...(options.idempotencyKey ? { key: options.idempotencyKey } : {}),
    ...(options.tiersSince ? { since: options.tiersSince.toISOString() } : {}),
  };
}

/** Reads a group of states in one call. */
export async function readStates(db: Db, items: StateItem[]): Promise<(MemberState | undefined)[]> {
  const r = await db.executeQuery<{ s: (StateDocument | null)[] }>(
    CompiledQuery.raw('select loyalty_member_states($1::jsonb) as s', [JSON.stringify(items)]),
  );
  return (r.rows[0]?.s ?? []).map((d) => memberState(d));
}

function memberState(d: StateDocument | null | undefined): MemberState | undefined {
  if (!d) return undefined;
  return {
    memberId: d.memberId,
    profileId: d.profileId,
    tier: d.tier,
    cardId: d.cardId,
    cardStatus: d.cardStatus,
    cardIdentifier: d.cardIdentifier,
    version: Number(d.version),
    programmeVersion: Number(d.programmeVersion),
    wallets: new Map(d.wallets.map(([w, b]) => [w, Number(b)])),
    lots: d.lots.map(([id, wallet, amount, remaining, earnedAt, availableAt, expiresAt]) => ({
      id,
      wallet,
      amount: Number(amount),
      remaining: Number(remaining),
      earnedAt: new Date(earnedAt),
      availableAt: new Date(availableAt),
      expiresAt: expiresAt ? new Date(expiresAt) : null,
    })),
    usage: d.usage.map(([ruleId, period, points, times]) => ({
      ruleId,
      period,
      points: Number(points),
      times: Number(times),
    })),
    request: d.request,
    tierSince: d.tierSince ? new Date(d.tierSince) : null,
    qualifying: d.qualifying ? { spend: Number(d.qualifying[0]), points: Number(d.qualifying[1]) } : null,
    clubs: d.clubs ?? [],
  };
}

const STATE_SQL =
  'select loyalty_member_state($1::uuid, $2::uuid, $3::text, $4::text, $5::uuid, $6::text[], $7::text, $8::timestamptz) as state';

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
  /** A tier the change reaches (upgrades apply with the change). */
  tier: { key: string; since: Date } | null;
  /** A reward redeemed by the change: stock, limit, redemption and coupon (loyalty_apply_reward, loyalty.rewards.ts). */
  reward?: Record<string, unknown>;
  /** A redemption cancelled by the change: stock back, coupon void (loyalty_cancel_reward, loyalty.rewards.ts). */
  cancelReward?: { id: string; at: string; by: string | null; reason: string | null };
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
    tier: null,
  };
}

const APPLY_SQL = 'select loyalty_apply($1::uuid, $2::uuid, $3::bigint, $4::jsonb, $5::jsonb)';

/**
 * Writes a change in one statement (loyalty_apply): the idempotency key with its answer, the member's version
 * check, the verification used, transactions, entries, lots, wallets, cap counters, the timeline outbox — all or
 * nothing. Raises 40001 when the member changed since `version` was read (plan again), 23505 when the idempotency
 * key was taken meanwhile, LY001 when the verification was used meanwhile.
 */
export interface Apply {
  memberId: string;
  version: number;
  request: { key: string; hash: string; status: number; response: unknown; at: Date } | null;
  verification: { id: string; at: Date } | null;
  changes: Changes;
  /** `${memberId}\u0001${wallet}` of the wallets that exist (read with the state). */
  existingWallets: ReadonlySet<string>;
}

/** The change document loyalty_apply reads: only the parts there are. */
function changeDocument(apply: Apply): Record<string, unknown> {
  const ch = apply.changes;
  const doc: Record<string, unknown> = {};
  if (ch.transactions.length > 0) doc.transactions = ch.transactions;
  if (ch.transactionUpdates.length > 0) doc.transactionUpdates = ch.transactionUpdates;
  if (ch.entries.length > 0) doc.entries = ch.entries;
  if (ch.lots.length > 0) doc.lots = ch.lots;
  const lotDeltas = [...ch.lotDeltas].filter(([, d]) => d !== 0);
  if (lotDeltas.length > 0) doc.lotDeltas = lotDeltas;
  const wallets = [...ch.walletDeltas].filter(([, d]) => d !== 0).map(([k, d]) => [...k.split('\u0001'), d]);
  if (wallets.length > 0) doc.walletDeltas = wallets;
  // Wallets the member did not have yet (added to the programme since it joined) are created first.
  const missing = wallets.filter(([member, wallet]) => !apply.existingWallets.has(`${member}\u0001${wallet}`));
  if (missing.length > 0) doc.newWallets = missing;
  if (ch.usage.length > 0) doc.usage = ch.usage;
  if (ch.timeline.length > 0) doc.timeline = ch.timeline;
  if (apply.verification) doc.verification = apply.verification;
  if (ch.tier) doc.tier = ch.tier;
  if (ch.reward) doc.reward = ch.reward;
  if (ch.cancelReward) doc.cancelReward = ch.cancelReward;
  return doc;
}

/**
 * Writes a change in one statement (loyalty_apply): the idempotency key with its answer, the member's version
 * check, the verification used, transactions, entries, lots, wallets, cap counters, the timeline outbox — all or
 * nothing. Raises 40001 when the member changed since `version` was read (plan again), 23505 when the idempotency
 * key was taken meanwhile, LY001 when the verification was used meanwhile.
 */
export async function applyChanges(db: Db, workspaceId: string, apply: Apply): Promise<void> {
  await db.executeQuery(
    CompiledQuery.raw(APPLY_SQL, [
      workspaceId,
      apply.memberId,
      apply.version,
      apply.request ? JSON.stringify(apply.request) : null,
      JSON.stringify(changeDocument(apply)),
    ]),
  );
}

/** One change of a group (loyalty_apply_many). */
export interface ApplyItem {
  ws: string;
  member: string;
  version: number;
  request?: Apply['request'];
  change: Record<string, unknown>;
}

export function applyItem(workspaceId: string, apply: Apply): ApplyItem {
  return {
    ws: workspaceId,
    member: apply.memberId,
    version: apply.version,
    ...(apply.request ? { request: apply.request } : {}),
    change: changeDocument(apply),
  };
}

export interface ApplyOutcome {
  ok: boolean;
  code?: string;
  constraint?: string | null;
  message?: string;
}

/** Applies a group of changes in one call, each in its own subtransaction; an outcome per change. */
export async function applyMany(db: Db, items: ApplyItem[]): Promise<ApplyOutcome[]> {
  const r = await db.executeQuery<{ r: ApplyOutcome[] }>(
    CompiledQuery.raw('select loyalty_apply_many($1::jsonb) as r', [JSON.stringify(items)]),
  );
  return r.rows[0]?.r ?? [];
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

/** One of the member's entries (a cancelled redemption gives its burn back). */
export async function entryById(db: Db, workspaceId: string, memberId: string, id: string) {
  const r = await sql<EntryRow>`select ${ENTRY_COLUMNS} from loyalty_ledger
    where member_id = ${memberId} and workspace_id = ${workspaceId} and id = ${id}`.execute(db);
  return r.rows[0];
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

export const TX_COLUMNS = sql`id, programme_id, member_id, kind, original_id, external_id, occurred_at, recorded_at, channel,
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

/** Lots by id, open or not, as a draft knows them (giving spent points back needs their expiry). */
export async function lotsByIds(db: Db, workspaceId: string, ids: string[]): Promise<OpenLot[]> {
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
  return r.rows.map((l) => ({
    id: l.id,
    wallet: l.wallet,
    amount: Number(l.amount),
    remaining: Number(l.remaining),
    earnedAt: l.earned_at,
    availableAt: l.available_at,
    expiresAt: l.expires_at,
  }));
}

const CARD_BALANCE_SQL = 'select loyalty_card_balance($1::uuid, $2::text, $3::timestamptz) as b';

/** The till's balance read by card number: one call of a plan-cached function (card, member, wallets, open lots). */
export async function balancesByCard(db: Db, workspaceId: string, number: string, now: Date) {
  const r = await db.executeQuery<{
    b: {
      status: string;
      memberId: string;
      profileId: string;
      programme: string;
      wallets: [string, number, number, number][];
    } | null;
  }>(CompiledQuery.raw(CARD_BALANCE_SQL, [workspaceId, number, now.toISOString()]));
  const b = r.rows[0]?.b;
  if (!b) return undefined;
  return {
    status: b.status,
    memberId: b.memberId,
    profileId: b.profileId,
    programme: b.programme,
    balances: b.wallets.map(([wallet, total, pending, expired]) => {
      const [t, p, e] = [Number(total), Number(pending), Number(expired)];
      return { wallet, total: t, available: t - p - e, pending: p, expired: e };
    }),
  };
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
