import { sql } from 'kysely';
import type { Db } from '../../platform/db.ts';
import type { PlacementMedium } from './codes.schemas.ts';

/** SQL of placements, their contacts, first touches and the report; every statement scoped by workspace. */

export interface PlacementRow {
  id: string;
  workspace_id: string;
  name: string;
  medium: PlacementMedium;
  details: Record<string, string>;
  keyword: string;
  promotion_id: string | null;
  landing_url: string | null;
  cost_minor: number;
  currency: string;
  starts_at: Date | null;
  ends_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface PlacementWrite {
  name: string;
  medium: PlacementMedium;
  details: Record<string, string>;
  keyword: string;
  promotionId: string | null;
  landingUrl: string | null;
  costMinor: number;
  currency: string;
  startsAt: Date | null;
  endsAt: Date | null;
}

const COLUMNS = sql`id, workspace_id, name, medium, details, keyword, promotion_id, landing_url, cost_minor::int8 as cost_minor,
  currency, starts_at, ends_at, created_at, updated_at`;

/** Inserts a placement; undefined when the keyword is taken in the workspace. */
export async function insertPlacement(db: Db, workspaceId: string, id: string, p: PlacementWrite, now: Date) {
  const rows = await sql<PlacementRow>`insert into code_placements (id, workspace_id, name, medium, details, keyword,
      promotion_id, landing_url, cost_minor, currency, starts_at, ends_at, created_at, updated_at)
    values (${id}, ${workspaceId}, ${p.name}, ${p.medium}, ${JSON.stringify(p.details)}::jsonb, ${p.keyword},
      ${p.promotionId}, ${p.landingUrl}, ${p.costMinor}, ${p.currency}, ${p.startsAt}, ${p.endsAt}, ${now}, ${now})
    on conflict (workspace_id, keyword) do nothing
    returning ${COLUMNS}`.execute(db);
  return rows.rows[0];
}

/** Replaces a placement's fields; undefined when the new keyword is another placement's. */
export async function updatePlacement(db: Db, workspaceId: string, id: string, p: PlacementWrite, now: Date) {
  const taken = await sql`select 1 from code_placements
    where workspace_id = ${workspaceId} and keyword = ${p.keyword} and id <> ${id}`.execute(db);
  if (taken.rows.length > 0) return undefined;
  const rows = await sql<PlacementRow>`update code_placements set name = ${p.name}, medium = ${p.medium},
      details = ${JSON.stringify(p.details)}::jsonb, keyword = ${p.keyword}, promotion_id = ${p.promotionId},
      landing_url = ${p.landingUrl}, cost_minor = ${p.costMinor}, currency = ${p.currency}, starts_at = ${p.startsAt},
      ends_at = ${p.endsAt}, updated_at = ${now}
    where workspace_id = ${workspaceId} and id = ${id}
    returning ${COLUMNS}`.execute(db);
  return rows.rows[0];
}

export async function findPlacement(db: Db, workspaceId: string, id: string) {
  const rows = await sql<PlacementRow>`select ${COLUMNS} from code_placements
    where workspace_id = ${workspaceId} and id = ${id}`.execute(db);
  return rows.rows[0];
}

/** Placements by keyword (already upper-cased). */
export async function placementsByKeywords(db: Db, workspaceId: string, keywords: string[]) {
  if (keywords.length === 0) return [];
  const rows = await sql<PlacementRow>`select ${COLUMNS} from code_placements
    where workspace_id = ${workspaceId} and keyword = any(${keywords}::text[])`.execute(db);
  return rows.rows;
}

/** Newest first, keyset-paginated on (created_at, id). */
export async function listPlacements(
  db: Db,
  workspaceId: string,
  filter: { medium?: PlacementMedium; before?: { at: Date; id: string } },
  limit: number,
) {
  const rows = await sql<PlacementRow>`select ${COLUMNS} from code_placements
    where workspace_id = ${workspaceId}
      ${filter.medium ? sql`and medium = ${filter.medium}` : sql``}
      ${filter.before ? sql`and (created_at, id) < (${filter.before.at}, ${filter.before.id})` : sql``}
    order by created_at desc, id desc limit ${limit}`.execute(db);
  return rows.rows;
}

export async function countContacts(db: Db, workspaceId: string, placementId: string) {
  const rows = await sql<{ n: number }>`select count(*)::int as n from placement_contacts
    where workspace_id = ${workspaceId} and placement_id = ${placementId}`.execute(db);
  return rows.rows[0]?.n ?? 0;
}

export async function deletePlacement(db: Db, workspaceId: string, id: string) {
  const result = await sql`delete from code_placements where workspace_id = ${workspaceId} and id = ${id}`.execute(db);
  return Number(result.numAffectedRows ?? 0) > 0;
}

// ---- contacts

export interface ContactWrite {
  id: string;
  placementId: string;
  profileId: string | null;
  kind: string;
  at: Date;
  /** What the contact came from (an event's message id …): the same source is recorded once. */
  sourceId: string | null;
}

/** Records contacts; returns those recorded now (a source already recorded is skipped). */
export async function insertContacts(db: Db, workspaceId: string, rows: ContactWrite[]) {
  if (rows.length === 0) return new Set<string>();
  const c = <T>(f: (r: ContactWrite) => T) => rows.map(f);
  const inserted = await sql<{ id: string }>`insert into placement_contacts
      (id, workspace_id, placement_id, profile_id, kind, at, source_id)
    select id, ${workspaceId}, placement_id, profile_id, kind, at, source_id
    from unnest(${c((r) => r.id)}::uuid[], ${c((r) => r.placementId)}::uuid[], ${c((r) => r.profileId)}::uuid[],
      ${c((r) => r.kind)}::text[], ${c((r) => r.at.toISOString())}::timestamptz[], ${c((r) => r.sourceId)}::text[])
      as v(id, placement_id, profile_id, kind, at, source_id)
    on conflict (workspace_id, kind, source_id) do nothing
    returning id`.execute(db);
  return new Set(inserted.rows.map((r) => r.id));
}

/**
 * The first placement that reached each person, if none did before: one row per profile decides it, whatever
 * the concurrency. Returns the profiles whose first touch this was; their contact is marked as a new profile.
 */
export async function claimFirstTouches(
  db: Db,
  workspaceId: string,
  rows: { contactId: string; profileId: string; placementId: string; medium: string; at: Date }[],
) {
  if (rows.length === 0) return new Set<string>();
  const c = <T>(f: (r: (typeof rows)[number]) => T) => rows.map(f);
  const won = await sql<{ profile_id: string }>`insert into placement_first_touch
      (workspace_id, profile_id, placement_id, medium, at)
    select ${workspaceId}, profile_id, placement_id, medium, at
    from unnest(${c((r) => r.profileId)}::uuid[], ${c((r) => r.placementId)}::uuid[], ${c((r) => r.medium)}::text[],
      ${c((r) => r.at.toISOString())}::timestamptz[]) as v(profile_id, placement_id, medium, at)
    order by profile_id
    on conflict (workspace_id, profile_id) do nothing
    returning profile_id`.execute(db);
  const profiles = new Set(won.rows.map((r) => r.profile_id));
  const contacts = rows.filter((r) => profiles.has(r.profileId)).map((r) => r.contactId);
  if (contacts.length > 0)
    await sql`update placement_contacts set new_profile = true
      where workspace_id = ${workspaceId} and id = any(${contacts}::uuid[])`.execute(db);
  return profiles;
}

export async function firstTouchOf(db: Db, workspaceId: string, profileId: string) {
  const rows = await sql<{ placement_id: string; medium: string; at: Date }>`select placement_id, medium, at
    from placement_first_touch where workspace_id = ${workspaceId} and profile_id = ${profileId}`.execute(db);
  return rows.rows[0];
}

// ---- the report

export interface ReportRow {
  placement_id: string;
  name: string;
  keyword: string;
  medium: PlacementMedium;
  currency: string;
  cost_minor: number;
  contacts: number;
  people: number;
  new_profiles: number;
  registrations: number;
}

/** Per placement, the contacts in [from, to): every placement of the workspace, those without contacts too. */
export async function reportByPlacement(db: Db, workspaceId: string, from: Date, to: Date) {
  const rows = await sql<ReportRow>`select p.id as placement_id, p.name, p.keyword, p.medium, p.currency,
      p.cost_minor::int8 as cost_minor,
      count(c.id)::int as contacts,
      count(distinct c.profile_id)::int as people,
      count(c.id) filter (where c.new_profile)::int as new_profiles,
      count(c.id) filter (where c.kind = 'registration')::int as registrations
    from code_placements p
    left join placement_contacts c on c.workspace_id = p.workspace_id and c.placement_id = p.id
      and c.at >= ${from} and c.at < ${to}
    where p.workspace_id = ${workspaceId}
    group by p.id order by p.medium, p.name, p.id`.execute(db);
  return rows.rows;
}

/** Per medium and currency: people counted once across the medium's placements. */
export async function reportByMedium(db: Db, workspaceId: string, from: Date, to: Date) {
  const rows = await sql<Omit<ReportRow, 'placement_id' | 'name' | 'keyword'>>`
    with costs as (
      select medium, currency, sum(cost_minor)::int8 as cost_minor from code_placements
      where workspace_id = ${workspaceId} group by 1, 2
    ), contacts as (
      select p.medium, p.currency, count(*)::int as contacts, count(distinct c.profile_id)::int as people,
        count(*) filter (where c.new_profile)::int as new_profiles,
        count(*) filter (where c.kind = 'registration')::int as registrations
      from placement_contacts c
      join code_placements p on p.workspace_id = c.workspace_id and p.id = c.placement_id
      where c.workspace_id = ${workspaceId} and c.at >= ${from} and c.at < ${to}
      group by 1, 2
    )
    select k.medium, k.currency, k.cost_minor, coalesce(n.contacts, 0)::int as contacts,
      coalesce(n.people, 0)::int as people, coalesce(n.new_profiles, 0)::int as new_profiles,
      coalesce(n.registrations, 0)::int as registrations
    from costs k left join contacts n on n.medium = k.medium and n.currency = k.currency
    order by k.medium, k.currency`.execute(db);
  return rows.rows;
}

// ---- the live dashboard's split by medium

export async function attemptsByMedium(db: Db, workspaceId: string, since: Date, promotionId?: string) {
  const rows = await sql<{ medium: string; accepted: number; rejected: number }>`
    select coalesce(p.medium, 'none') as medium,
      count(*) filter (where a.outcome = 'accepted')::int as accepted,
      count(*) filter (where a.outcome <> 'accepted')::int as rejected
    from code_attempts a
    left join code_placements p on p.workspace_id = a.workspace_id and p.keyword = a.placement
    where a.workspace_id = ${workspaceId} and a.at >= ${since}
      ${promotionId ? sql`and a.promotion_id = ${promotionId}` : sql``}
    group by 1 order by 2 desc, 1`.execute(db);
  return rows.rows;
}

// ---- merges, retention

/** The absorbed profile's contacts follow the survivor; the earlier of the two first touches is kept. */
export async function repointContacts(db: Db, workspaceId: string, survivorId: string, absorbedId: string) {
  await sql`update placement_contacts set profile_id = ${survivorId}
    where workspace_id = ${workspaceId} and profile_id = ${absorbedId}`.execute(db);
  await sql`with gone as (
      delete from placement_first_touch where workspace_id = ${workspaceId} and profile_id = ${absorbedId}
      returning placement_id, medium, at
    )
    insert into placement_first_touch (workspace_id, profile_id, placement_id, medium, at)
    select ${workspaceId}, ${survivorId}, placement_id, medium, at from gone
    on conflict (workspace_id, profile_id) do update
      set placement_id = excluded.placement_id, medium = excluded.medium, at = excluded.at
      where excluded.at < placement_first_touch.at`.execute(db);
}

export async function retentionOf(db: Db, workspaceId: string) {
  const rows = await sql<{ days: number }>`select attempt_retention_days as days from code_settings
    where workspace_id = ${workspaceId}`.execute(db);
  return rows.rows[0]?.days ?? 180;
}

export async function setRetention(db: Db, workspaceId: string, days: number) {
  await sql`update code_settings set attempt_retention_days = ${days} where workspace_id = ${workspaceId}`.execute(db);
}

/**
 * Deletes attempts older than each workspace's retention (180 days for a workspace that never set one; 0 keeps
 * them forever), at most `batch` rows a statement so that no statement holds many locks; returns how many.
 */
export async function purgeOldAttempts(db: Db, now: Date, batch = 10_000) {
  let total = 0;
  for (;;) {
    const result = await sql`delete from code_attempts where id in (
        select a.id from code_attempts a
        left join code_settings s on s.workspace_id = a.workspace_id
        where coalesce(s.attempt_retention_days, 180) > 0
          and a.at < ${now}::timestamptz - make_interval(days => coalesce(s.attempt_retention_days, 180))
        limit ${batch})`.execute(db);
    const n = Number(result.numAffectedRows ?? 0);
    total += n;
    if (n < batch) return total;
  }
}
