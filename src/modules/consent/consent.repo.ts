import { CompiledQuery, sql } from 'kysely';
import type { Db } from '../../platform/db.ts';
import type { ConsentAction, ConsentStatusValue, Purpose, PurposeKind, Wording } from './consent.schemas.ts';

/** All SQL of the consent module. Every statement is scoped by workspace. */

export interface SettingsRow {
  signing_key: string;
  stop_keywords: string[];
  pending_hours: number;
}

/** The workspace's settings, created with defaults (and a fresh signing key) on first use. */
export async function ensureSettings(
  db: Db,
  workspaceId: string,
  fresh: { signingKey: string; purposes: Purpose[] },
): Promise<SettingsRow> {
  const inserted = await sql<SettingsRow>`insert into consent_settings (workspace_id, signing_key)
    values (${workspaceId}, ${fresh.signingKey}) on conflict (workspace_id) do nothing
    returning signing_key, stop_keywords, pending_hours`.execute(db);
  if (inserted.rows[0]) {
    await upsertPurposes(db, workspaceId, fresh.purposes);
    return inserted.rows[0];
  }
  const row = await sql<SettingsRow>`select signing_key, stop_keywords, pending_hours from consent_settings
    where workspace_id = ${workspaceId}`.execute(db);
  return row.rows[0] as SettingsRow;
}

export async function updateSettings(db: Db, workspaceId: string, stopKeywords: string[], pendingHours: number) {
  await sql`update consent_settings set stop_keywords = ${stopKeywords}::text[], pending_hours = ${pendingHours},
    updated_at = now() where workspace_id = ${workspaceId}`.execute(db);
}

export async function upsertPurposes(db: Db, workspaceId: string, purposes: Purpose[]) {
  if (purposes.length === 0) return;
  await sql`insert into consent_purposes (workspace_id, key, kind, name_en, name_ru)
    select ${workspaceId}, key, kind, name_en, name_ru
    from unnest(${purposes.map((p) => p.key)}::text[], ${purposes.map((p) => p.kind)}::text[],
                ${purposes.map((p) => p.nameEn)}::text[], ${purposes.map((p) => p.nameRu)}::text[]) as v(key, kind, name_en, name_ru)
    on conflict (workspace_id, key) do update set kind = excluded.kind, name_en = excluded.name_en, name_ru = excluded.name_ru`.execute(
    db,
  );
}

export async function listPurposes(db: Db, workspaceId: string): Promise<Purpose[]> {
  const rows = await sql<{ key: string; kind: PurposeKind; name_en: string; name_ru: string }>`
    select key, kind, name_en, name_ru from consent_purposes where workspace_id = ${workspaceId} order by created_at, key`.execute(
    db,
  );
  return rows.rows.map((r) => ({ key: r.key, kind: r.kind, nameEn: r.name_en, nameRu: r.name_ru }));
}

/** Purposes no entry refers to may be removed; the others stay (their history must remain readable). */
export async function removeUnusedPurposes(db: Db, workspaceId: string, keep: string[]) {
  await sql`delete from consent_purposes p where p.workspace_id = ${workspaceId} and not (p.key = any(${keep}::text[]))
    and not exists (select 1 from consent_entries e where e.workspace_id = p.workspace_id and e.purpose = p.key)`.execute(
    db,
  );
}

export async function insertWording(db: Db, workspaceId: string, w: Wording) {
  const result = await sql`insert into consent_wordings (workspace_id, purpose, version, locale, text)
    values (${workspaceId}, ${w.purpose}, ${w.version}, ${w.locale}, ${w.text})
    on conflict do nothing`.execute(db);
  return Number(result.numAffectedRows ?? 0) > 0;
}

export async function listWordings(db: Db, workspaceId: string) {
  const rows = await sql<{ purpose: string; version: string; locale: 'en' | 'ru'; text: string; created_at: Date }>`
    select purpose, version, locale, text, created_at from consent_wordings where workspace_id = ${workspaceId}
    order by purpose, created_at desc`.execute(db);
  return rows.rows;
}

export interface EntryWrite {
  id: string;
  profileId: string;
  channel: string;
  purpose: string;
  address: string | null;
  action: ConsentAction;
  source: string;
  wordingVersion: string | null;
  occurredAt: Date;
  ip: string | null;
  userAgent: string | null;
  operator: string | null;
  tokenHash: string | null;
  expiresAt: Date | null;
  details: Record<string, unknown>;
}

const STATUS_OF: Record<ConsentAction, ConsentStatusValue> = {
  grant: 'granted',
  revoke: 'revoked',
  pending: 'pending',
};

/**
 * Appends entries and moves the projection: the latest entry per profile, channel and purpose decides, except
 * that a pending request never downgrades a grant (asking again someone already subscribed changes nothing).
 */
export async function appendEntries(db: Db, workspaceId: string, entries: EntryWrite[]) {
  if (entries.length === 0) return;
  const col = <T>(f: (e: EntryWrite) => T) => entries.map(f);
  await sql`insert into consent_entries (id, workspace_id, profile_id, channel, purpose, address, action, source,
      wording_version, occurred_at, ip, user_agent, operator, token_hash, expires_at, details)
    select id, ${workspaceId}, profile_id, channel, purpose, address, action, source, wording_version, occurred_at, ip,
      user_agent, operator, token_hash, expires_at, details
    from unnest(${col((e) => e.id)}::uuid[], ${col((e) => e.profileId)}::uuid[], ${col((e) => e.channel)}::text[],
      ${col((e) => e.purpose)}::text[], ${col((e) => e.address)}::text[], ${col((e) => e.action)}::text[],
      ${col((e) => e.source)}::text[], ${col((e) => e.wordingVersion)}::text[],
      ${col((e) => e.occurredAt.toISOString())}::timestamptz[], ${col((e) => e.ip)}::text[], ${col((e) => e.userAgent)}::text[],
      ${col((e) => e.operator)}::text[], ${col((e) => e.tokenHash)}::text[],
      ${col((e) => e.expiresAt?.toISOString() ?? null)}::timestamptz[], ${col((e) => JSON.stringify(e.details))}::jsonb[])
      as v(id, profile_id, channel, purpose, address, action, source, wording_version, occurred_at, ip, user_agent,
           operator, token_hash, expires_at, details)`.execute(db);
  // In time order, so that several statements about one key in one call end in the latest.
  const ordered = [...entries].sort((a, b) => a.occurredAt.getTime() - b.occurredAt.getTime());
  for (const e of ordered) {
    await sql`insert into consent_status (workspace_id, profile_id, channel, purpose, status, address, entry_id, since)
      values (${workspaceId}, ${e.profileId}, ${e.channel}, ${e.purpose}, ${STATUS_OF[e.action]}, ${e.address}, ${e.id},
              ${e.occurredAt.toISOString()})
      on conflict (workspace_id, profile_id, channel, purpose) do update
        set status = excluded.status, address = excluded.address, entry_id = excluded.entry_id, since = excluded.since
        where consent_status.since <= excluded.since
          and not (excluded.status = 'pending' and consent_status.status = 'granted')`.execute(db);
  }
}

export interface CheckRow {
  kind: PurposeKind;
  status: ConsentStatusValue | null;
  address: string | null;
}

const CHECK_SQL = `select p.kind, s.status, s.address
    from consent_purposes p
    left join consent_status s on s.workspace_id = p.workspace_id and s.profile_id = $2
      and s.channel = $3 and s.purpose = p.key
    where p.workspace_id = $1 and p.key = $4`;

/**
 * The send check's single read: the purpose's kind and the current status, both by primary key. The hottest
 * query of every campaign, so its text is fixed here rather than built per call.
 */
export async function checkRow(
  db: Db,
  workspaceId: string,
  profileId: string,
  channel: string,
  purpose: string,
): Promise<CheckRow | undefined> {
  const result = await db.executeQuery<CheckRow>(
    CompiledQuery.raw(CHECK_SQL, [workspaceId, profileId, channel, purpose]),
  );
  return result.rows[0];
}

export async function statesOf(db: Db, workspaceId: string, profileId: string) {
  const rows = await sql<{
    channel: string;
    purpose: string;
    status: ConsentStatusValue;
    address: string | null;
    since: Date;
  }>`select channel, purpose, status, address, since from consent_status
    where workspace_id = ${workspaceId} and profile_id = ${profileId} order by channel, purpose`.execute(db);
  return rows.rows;
}

export interface EntryRow {
  id: string;
  profile_id: string;
  channel: string;
  purpose: string;
  address: string | null;
  action: ConsentAction;
  source: string;
  wording_version: string | null;
  occurred_at: Date;
  recorded_at: Date;
  ip: string | null;
  user_agent: string | null;
  operator: string | null;
  expires_at: Date | null;
  details: Record<string, unknown>;
}

/** How many profiles stand where, per channel, purpose and status (the consent overview). */
export async function statusCounts(db: Db, workspaceId: string) {
  const rows = await sql<{ channel: string; purpose: string; status: string; count: number }>`select channel, purpose,
      status, count(*)::int as count from consent_status where workspace_id = ${workspaceId}
    group by channel, purpose, status order by channel, purpose, status`.execute(db);
  return rows.rows;
}

export async function historyOf(db: Db, workspaceId: string, profileId: string, limit = 500) {
  const rows = await sql<EntryRow>`select id, profile_id, channel, purpose, address, action, source, wording_version,
      occurred_at, recorded_at, ip, user_agent, operator, expires_at, details
    from consent_entries where workspace_id = ${workspaceId} and profile_id = ${profileId}
    order by occurred_at desc, id desc limit ${limit}`.execute(db);
  return rows.rows;
}

/** A pending entry by its token (confirmation link or code), locked so that it is confirmed once. */
export async function pendingByToken(db: Db, tokenHash: string) {
  const rows = await sql<EntryRow & { workspace_id: string }>`select id, workspace_id, profile_id, channel, purpose,
      address, action, source, wording_version, occurred_at, recorded_at, ip, user_agent, operator, expires_at, details
    from consent_entries where token_hash = ${tokenHash} and action = 'pending' for update`.execute(db);
  return rows.rows[0];
}

/** Whether a pending request was already answered (confirmed or superseded) after it was made. */
export async function answeredSince(db: Db, workspaceId: string, entry: EntryRow) {
  const rows = await sql<{ n: number }>`select count(*)::int as n from consent_entries
    where workspace_id = ${workspaceId} and profile_id = ${entry.profile_id} and channel = ${entry.channel}
      and purpose = ${entry.purpose} and action <> 'pending' and details ->> 'confirms' = ${entry.id}`.execute(db);
  return (rows.rows[0]?.n ?? 0) > 0;
}

export async function countPendingSince(db: Db, workspaceId: string, channel: string, address: string, since: Date) {
  const rows = await sql<{ n: number }>`select count(*)::int as n from consent_entries
    where workspace_id = ${workspaceId} and channel = ${channel} and address = ${address} and action = 'pending'
      and occurred_at >= ${since.toISOString()}`.execute(db);
  return rows.rows[0]?.n ?? 0;
}

/** After a merge: the absorbed profiles' entries and statuses belong to the survivor. */
export async function repointEntries(db: Db, workspaceId: string, survivorId: string, absorbedId: string) {
  await sql`update consent_entries set profile_id = ${survivorId}
    where workspace_id = ${workspaceId} and profile_id = ${absorbedId}`.execute(db);
  const absorbed = await sql<{
    channel: string;
    purpose: string;
    status: ConsentStatusValue;
    address: string | null;
    entry_id: string;
    since: Date;
  }>`delete from consent_status where workspace_id = ${workspaceId} and profile_id = ${absorbedId}
    returning channel, purpose, status, address, entry_id, since`.execute(db);
  return absorbed.rows;
}

export async function statusRow(db: Db, workspaceId: string, profileId: string, channel: string, purpose: string) {
  const rows = await sql<{ status: ConsentStatusValue; address: string | null; since: Date }>`
    select status, address, since from consent_status where workspace_id = ${workspaceId} and profile_id = ${profileId}
      and channel = ${channel} and purpose = ${purpose} for update`.execute(db);
  return rows.rows[0];
}

export async function insertOutbox(
  db: Db,
  workspaceId: string,
  row: { id: string; profileId: string; channel: string; address: string; subject: string; body: string },
) {
  await sql`insert into consent_outbox (id, workspace_id, profile_id, channel, address, subject, body)
    values (${row.id}, ${workspaceId}, ${row.profileId}, ${row.channel}, ${row.address}, ${row.subject}, ${row.body})`.execute(
    db,
  );
}

export async function listOutbox(db: Db, workspaceId: string, limit: number) {
  const rows = await sql<{
    id: string;
    profile_id: string;
    channel: string;
    address: string;
    subject: string;
    body: string;
    created_at: Date;
  }>`select id, profile_id, channel, address, subject, body, created_at from consent_outbox
    where workspace_id = ${workspaceId} order by created_at desc, id desc limit ${limit}`.execute(db);
  return rows.rows;
}

/** Moves an absorbed profile's status onto the survivor when it is the later one (merges without a refusal). */
export async function appendStatus(
  db: Db,
  workspaceId: string,
  profileId: string,
  s: {
    channel: string;
    purpose: string;
    status: ConsentStatusValue;
    address: string | null;
    entry_id: string;
    since: Date;
  },
) {
  await sql`insert into consent_status (workspace_id, profile_id, channel, purpose, status, address, entry_id, since)
    values (${workspaceId}, ${profileId}, ${s.channel}, ${s.purpose}, ${s.status}, ${s.address}, ${s.entry_id},
            ${s.since.toISOString()})
    on conflict (workspace_id, profile_id, channel, purpose) do update
      set status = excluded.status, address = excluded.address, entry_id = excluded.entry_id, since = excluded.since
      where consent_status.since <= excluded.since
        and not (excluded.status = 'pending' and consent_status.status = 'granted')`.execute(db);
}
