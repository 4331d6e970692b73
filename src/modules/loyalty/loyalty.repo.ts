import { sql } from 'kysely';
import type { Db } from '../../platform/db.ts';
import type { EarnRule } from './loyalty.rules.ts';
import type { CardKind, ProgrammeSettings } from './loyalty.schemas.ts';

/** SQL of programmes, rules, card ranges, cards and members. Every statement is scoped by workspace. */

export interface ProgrammeRow {
  id: string;
  workspace_id: string;
  key: string;
  name: string;
  currency: string;
  time_zone: string;
  settings: ProgrammeSettings;
  version: number;
  created_at: Date;
}

const PROGRAMME_COLUMNS = sql`id, workspace_id, key, name, currency, time_zone, settings, version, created_at`;

export async function insertProgramme(
  db: Db,
  p: {
    id: string;
    workspaceId: string;
    key: string;
    name: string;
    currency: string;
    timeZone: string;
    settings: ProgrammeSettings;
  },
): Promise<boolean> {
  const r = await sql`insert into loyalty_programmes (id, workspace_id, key, name, currency, time_zone, settings)
    values (${p.id}, ${p.workspaceId}, ${p.key}, ${p.name}, ${p.currency}, ${p.timeZone}, ${JSON.stringify(p.settings)}::jsonb)
    on conflict (workspace_id, key) do nothing`.execute(db);
  return Number(r.numAffectedRows ?? 0) > 0;
}

export async function programmeByKey(db: Db, workspaceId: string, key: string): Promise<ProgrammeRow | undefined> {
  const r = await sql<ProgrammeRow>`select ${PROGRAMME_COLUMNS} from loyalty_programmes
    where workspace_id = ${workspaceId} and key = ${key}`.execute(db);
  return r.rows[0];
}

export async function programmeById(db: Db, workspaceId: string, id: string): Promise<ProgrammeRow | undefined> {
  const r = await sql<ProgrammeRow>`select ${PROGRAMME_COLUMNS} from loyalty_programmes
    where workspace_id = ${workspaceId} and id = ${id}`.execute(db);
  return r.rows[0];
}

export async function listProgrammes(db: Db, workspaceId: string): Promise<ProgrammeRow[]> {
  const r = await sql<ProgrammeRow>`select ${PROGRAMME_COLUMNS} from loyalty_programmes
    where workspace_id = ${workspaceId} order by created_at, key`.execute(db);
  return r.rows;
}

/** Programmes of every workspace that have tiers (the daily tier review). */
export async function programmesWithTiers(db: Db): Promise<ProgrammeRow[]> {
  const r = await sql<ProgrammeRow>`select ${PROGRAMME_COLUMNS} from loyalty_programmes where settings ? 'tiers'
    order by id`.execute(db);
  return r.rows;
}

/** Programmes of a workspace that have active rules for an event name (for the event listener). */
export async function programmesHearing(db: Db, workspaceId: string, eventNames: string[]): Promise<ProgrammeRow[]> {
  const r = await sql<ProgrammeRow>`/*prepared*/ select ${PROGRAMME_COLUMNS} from loyalty_programmes p
    where p.workspace_id = ${workspaceId} and exists (select 1 from loyalty_rules r where r.workspace_id = p.workspace_id
      and r.programme_id = p.id and r.trigger = 'event' and r.status = 'active' and r.event_name = any(${eventNames}::text[]))`.execute(
    db,
  );
  return r.rows;
}

/** Every event name an active rule names, in any workspace (what the event listener must hear). */
export async function eventNamesWithRules(db: Db): Promise<string[]> {
  const r = await sql<{ event_name: string }>`select distinct event_name from loyalty_rules
    where trigger = 'event' and status = 'active' and event_name is not null`.execute(db);
  return r.rows.map((x) => x.event_name);
}

export async function updateProgramme(
  db: Db,
  workspaceId: string,
  id: string,
  patch: { name?: string; timeZone?: string; settings?: ProgrammeSettings },
) {
  await sql`update loyalty_programmes set
      name = coalesce(${patch.name ?? null}, name),
      time_zone = coalesce(${patch.timeZone ?? null}, time_zone),
      settings = coalesce(${patch.settings ? JSON.stringify(patch.settings) : null}::jsonb, settings),
      version = version + 1, updated_at = now()
    where workspace_id = ${workspaceId} and id = ${id}`.execute(db);
}

/** Rules and settings changed: every process reloads its cached copy at its next transaction. */
export async function bumpVersion(db: Db, workspaceId: string, programmeId: string) {
  await sql`update loyalty_programmes set version = version + 1, updated_at = now()
    where workspace_id = ${workspaceId} and id = ${programmeId}`.execute(db);
}

export async function programmeVersion(db: Db, workspaceId: string, programmeId: string): Promise<number | undefined> {
  const r = await sql<{ version: number }>`select version from loyalty_programmes
    where workspace_id = ${workspaceId} and id = ${programmeId}`.execute(db);
  return r.rows[0]?.version;
}

// ---- rules

interface RuleRow {
  id: string;
  name: string;
  status: EarnRule['status'];
  trigger: EarnRule['trigger'];
  event_name: string | null;
  scope: EarnRule['scope'];
  condition: EarnRule['condition'];
  formula: EarnRule['formula'];
  wallet: string;
  priority: number;
  stop_after: boolean;
  caps: EarnRule['caps'];
  starts_at: Date | null;
  ends_at: Date | null;
}

const toRule = (r: RuleRow): EarnRule => ({
  id: r.id,
  name: r.name,
  status: r.status,
  trigger: r.trigger,
  eventName: r.event_name,
  scope: r.scope,
  condition: r.condition,
  formula: r.formula,
  wallet: r.wallet,
  priority: r.priority,
  stopAfter: r.stop_after,
  caps: r.caps,
  startsAt: r.starts_at,
  endsAt: r.ends_at,
});

export async function listRules(db: Db, workspaceId: string, programmeId: string): Promise<EarnRule[]> {
  const r =
    await sql<RuleRow>`select id, name, status, trigger, event_name, scope, condition, formula, wallet, priority,
      stop_after, caps, starts_at, ends_at
    from loyalty_rules where workspace_id = ${workspaceId} and programme_id = ${programmeId}
    order by priority, id`.execute(db);
  return r.rows.map(toRule);
}

export async function upsertRule(db: Db, workspaceId: string, programmeId: string, rule: EarnRule, create: boolean) {
  const values = {
    condition: rule.condition ? JSON.stringify(rule.condition) : null,
    formula: JSON.stringify(rule.formula),
    caps: JSON.stringify(rule.caps),
    startsAt: rule.startsAt?.toISOString() ?? null,
    endsAt: rule.endsAt?.toISOString() ?? null,
  };
  if (create) {
    await sql`insert into loyalty_rules (id, workspace_id, programme_id, name, status, trigger, event_name, scope,
        condition, formula, wallet, priority, stop_after, caps, starts_at, ends_at)
      values (${rule.id}, ${workspaceId}, ${programmeId}, ${rule.name}, ${rule.status}, ${rule.trigger}, ${rule.eventName},
        ${rule.scope}, ${values.condition}::jsonb, ${values.formula}::jsonb, ${rule.wallet}, ${rule.priority},
        ${rule.stopAfter}, ${values.caps}::jsonb, ${values.startsAt}::timestamptz, ${values.endsAt}::timestamptz)`.execute(
      db,
    );
    return true;
  }
  const r = await sql`update loyalty_rules set name = ${rule.name}, status = ${rule.status}, trigger = ${rule.trigger},
      event_name = ${rule.eventName}, scope = ${rule.scope}, condition = ${values.condition}::jsonb,
      formula = ${values.formula}::jsonb, wallet = ${rule.wallet}, priority = ${rule.priority},
      stop_after = ${rule.stopAfter}, caps = ${values.caps}::jsonb, starts_at = ${values.startsAt}::timestamptz,
      ends_at = ${values.endsAt}::timestamptz, updated_at = now()
    where workspace_id = ${workspaceId} and programme_id = ${programmeId} and id = ${rule.id}`.execute(db);
  return Number(r.numAffectedRows ?? 0) > 0;
}

// ---- card ranges

export interface RangeRow {
  id: string;
  kind: CardKind;
  prefix: string;
  length: number;
  first_serial: number;
  last_serial: number;
  next_serial: number;
}

export async function insertRange(
  db: Db,
  workspaceId: string,
  programmeId: string,
  r: { id: string; kind: CardKind; prefix: string; length: number; firstSerial: number; lastSerial: number },
) {
  await sql`insert into loyalty_card_ranges (id, workspace_id, programme_id, kind, prefix, length, first_serial,
      last_serial, next_serial)
    values (${r.id}, ${workspaceId}, ${programmeId}, ${r.kind}, ${r.prefix}, ${r.length}, ${r.firstSerial},
      ${r.lastSerial}, ${r.firstSerial})`.execute(db);
}

export async function listRanges(db: Db, workspaceId: string, programmeId?: string): Promise<RangeRow[]> {
  const r = await sql<RangeRow>`select id, kind, prefix, length, first_serial, last_serial, next_serial
    from loyalty_card_ranges where workspace_id = ${workspaceId}
      and (${programmeId ?? null}::uuid is null or programme_id = ${programmeId ?? null}::uuid)
    order by created_at, id`.execute(db);
  return r.rows;
}

/** Takes the next serial of a virtual range of the programme (the row lock serialises issuers). */
export async function takeSerial(db: Db, workspaceId: string, programmeId: string) {
  const r = await sql<RangeRow>`update loyalty_card_ranges set next_serial = next_serial + 1
    where id = (select id from loyalty_card_ranges where workspace_id = ${workspaceId} and programme_id = ${programmeId}
      and kind = 'virtual' and next_serial <= last_serial order by created_at, id limit 1)
    returning id, kind, prefix, length, first_serial, last_serial, next_serial - 1 as next_serial`.execute(db);
  return r.rows[0];
}

// ---- members

export interface MemberRow {
  id: string;
  profile_id: string;
  programme_id: string;
  tier: string | null;
  tier_since: Date | null;
  tier_at_risk_since: Date | null;
  joined_at: Date;
}

/** The active member of a profile in a programme, created (with empty wallets) when there is none. */
export async function ensureMember(
  db: Db,
  workspaceId: string,
  programmeId: string,
  profileId: string,
  fresh: { id: string; now: Date; wallets: string[] },
): Promise<MemberRow> {
  await sql`with m as (insert into loyalty_members (id, workspace_id, programme_id, profile_id, joined_at)
      values (${fresh.id}, ${workspaceId}, ${programmeId}, ${profileId}, ${fresh.now.toISOString()})
      on conflict (workspace_id, programme_id, profile_id) where status = 'active' do nothing returning id)
    insert into loyalty_wallets (member_id, wallet, workspace_id)
    select m.id, w, ${workspaceId} from m, unnest(${fresh.wallets}::text[]) w`.execute(db);
  const member = await memberOfProfile(db, workspaceId, programmeId, profileId);
  if (!member) throw new Error('member vanished');
  return member;
}

export async function memberOfProfile(
  db: Db,
  workspaceId: string,
  programmeId: string,
  profileId: string,
): Promise<MemberRow | undefined> {
  const r =
    await sql<MemberRow>`select id, profile_id, programme_id, tier, tier_since, tier_at_risk_since, joined_at from loyalty_members
    where workspace_id = ${workspaceId} and programme_id = ${programmeId} and profile_id = ${profileId}
      and status = 'active'`.execute(db);
  return r.rows[0];
}

export async function memberById(db: Db, workspaceId: string, memberId: string): Promise<MemberRow | undefined> {
  const r =
    await sql<MemberRow>`select id, profile_id, programme_id, tier, tier_since, tier_at_risk_since, joined_at from loyalty_members
    where workspace_id = ${workspaceId} and id = ${memberId}`.execute(db);
  return r.rows[0];
}

/** Active members of the given profiles, locked in id order (merges). */
export async function lockMembersOfProfiles(db: Db, workspaceId: string, profileIds: string[]) {
  const r =
    await sql<MemberRow>`select id, profile_id, programme_id, tier, tier_since, tier_at_risk_since, joined_at from loyalty_members
    where workspace_id = ${workspaceId} and profile_id = any(${profileIds}::uuid[]) and status = 'active'
    order by id for update`.execute(db);
  return r.rows;
}

export async function repointMemberProfile(db: Db, workspaceId: string, memberId: string, profileId: string) {
  await sql`update loyalty_members set profile_id = ${profileId}, version = version + 1
    where workspace_id = ${workspaceId} and id = ${memberId}`.execute(db);
}

// ---- cards

export interface CardRow {
  id: string;
  programme_id: string;
  programme_key: string;
  member_id: string;
  profile_id: string;
  number: string;
  kind: CardKind;
  status: 'active' | 'blocked' | 'replaced';
  replaced_by: string | null;
  status_reason: string | null;
  issued_at: Date;
}

const CARD_SELECT = sql`select c.id, c.programme_id, p.key as programme_key, c.member_id, m.profile_id, c.number, c.kind,
    c.status, c.replaced_by, c.status_reason, c.issued_at
  from loyalty_cards c join loyalty_members m on m.id = c.member_id join loyalty_programmes p on p.id = c.programme_id`;

export async function insertCard(
  db: Db,
  workspaceId: string,
  c: {
    id: string;
    programmeId: string;
    memberId: string;
    number: string;
    kind: CardKind;
    qrHash: string;
    isIdentifier: boolean;
    now: Date;
  },
): Promise<boolean> {
  const r =
    await sql`insert into loyalty_cards (id, workspace_id, programme_id, member_id, number, kind, status, qr_hash,
      is_identifier, issued_at)
    values (${c.id}, ${workspaceId}, ${c.programmeId}, ${c.memberId}, ${c.number}, ${c.kind}, 'active', ${c.qrHash},
      ${c.isIdentifier}, ${c.now.toISOString()})
    on conflict (workspace_id, number) do nothing`.execute(db);
  return Number(r.numAffectedRows ?? 0) > 0;
}

export async function cardByNumber(db: Db, workspaceId: string, number: string, lock = false) {
  const r = await sql<CardRow>`${CARD_SELECT} where c.workspace_id = ${workspaceId} and c.number = ${number}
    ${lock ? sql`for update of c` : sql``}`.execute(db);
  return r.rows[0];
}

export async function cardByQr(db: Db, workspaceId: string, qrHash: string) {
  const r = await sql<CardRow>`${CARD_SELECT} where c.workspace_id = ${workspaceId} and c.qr_hash = ${qrHash}`.execute(
    db,
  );
  return r.rows[0];
}

export async function cardsOfMember(db: Db, workspaceId: string, memberId: string) {
  const r = await sql<CardRow>`${CARD_SELECT} where c.workspace_id = ${workspaceId} and c.member_id = ${memberId}
    order by c.issued_at desc, c.id`.execute(db);
  return r.rows;
}

export async function setCardStatus(
  db: Db,
  workspaceId: string,
  id: string,
  change: { status: 'blocked' | 'replaced' | 'active'; reason: string | null; replacedBy?: string; now: Date },
) {
  // The member's version moves too: a till transaction planned on the card's old status does not apply.
  await sql`with c as (update loyalty_cards set status = ${change.status}, status_reason = ${change.reason},
        replaced_by = coalesce(${change.replacedBy ?? null}::uuid, replaced_by), status_at = ${change.now.toISOString()},
        qr_hash = case when ${change.status} = 'active' then qr_hash else null end
      where workspace_id = ${workspaceId} and id = ${id} returning member_id)
    update loyalty_members set version = version + 1 where id in (select member_id from c)`.execute(db);
}

export async function setCardQr(db: Db, workspaceId: string, id: string, qrHash: string) {
  await sql`update loyalty_cards set qr_hash = ${qrHash} where workspace_id = ${workspaceId} and id = ${id}`.execute(
    db,
  );
}

// ---- the embedded outbox of one-time codes

export async function insertOutbox(
  db: Db,
  workspaceId: string,
  row: { id: string; profileId: string; channel: string; address: string; body: string; now: Date },
) {
  await sql`insert into loyalty_outbox (id, workspace_id, profile_id, channel, address, body, created_at)
    values (${row.id}, ${workspaceId}, ${row.profileId}, ${row.channel}, ${row.address}, ${row.body},
      ${row.now.toISOString()})`.execute(db);
}

export async function listOutbox(db: Db, workspaceId: string, limit: number) {
  const r = await sql<{
    id: string;
    profile_id: string;
    channel: string;
    address: string;
    body: string;
    created_at: Date;
  }>`select id, profile_id, channel, address, body, created_at from loyalty_outbox
    where workspace_id = ${workspaceId} order by created_at desc, id desc limit ${limit}`.execute(db);
  return r.rows;
}

// ---- verifications

export async function insertVerification(
  db: Db,
  workspaceId: string,
  v: { id: string; memberId: string; channel: string; codeHash: string; expiresAt: Date; now: Date },
) {
  await sql`insert into loyalty_verifications (id, workspace_id, member_id, channel, code_hash, expires_at, created_at)
    values (${v.id}, ${workspaceId}, ${v.memberId}, ${v.channel}, ${v.codeHash}, ${v.expiresAt.toISOString()},
      ${v.now.toISOString()})`.execute(db);
}

export async function verificationById(db: Db, workspaceId: string, id: string) {
  const r = await sql<{
    id: string;
    member_id: string;
    code_hash: string;
    expires_at: Date;
    attempts: number;
    used_at: Date | null;
  }>`select id, member_id, code_hash, expires_at, attempts, used_at from loyalty_verifications
    where workspace_id = ${workspaceId} and id = ${id}`.execute(db);
  return r.rows[0];
}

export async function countFailedAttempt(db: Db, workspaceId: string, id: string) {
  await sql`update loyalty_verifications set attempts = attempts + 1 where workspace_id = ${workspaceId} and id = ${id}`.execute(
    db,
  );
}

/** Uses a verification once: false when it was used, expired or belongs to someone else meanwhile. */
export async function consumeVerification(db: Db, workspaceId: string, id: string, memberId: string, now: Date) {
  const r = await sql`update loyalty_verifications set used_at = ${now.toISOString()}
    where workspace_id = ${workspaceId} and id = ${id} and member_id = ${memberId} and used_at is null
      and expires_at > ${now.toISOString()}`.execute(db);
  return Number(r.numAffectedRows ?? 0) > 0;
}
