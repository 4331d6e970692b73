import { sql } from 'kysely';
import type { Db } from '../../platform/db.ts';

/** SQL of clubs and their members. Every statement is scoped by workspace. */

export interface ClubRow {
  id: string;
  programme_id: string;
  key: string;
  name_en: string;
  name_ru: string | null;
  description_en: string | null;
  description_ru: string | null;
  earn_multiplier: number | null;
  earn_rule_id: string | null;
  status: 'active' | 'archived';
  created_at: Date;
  members: number;
}

const CLUB = sql`c.id, c.programme_id, c.key, c.name_en, c.name_ru, c.description_en, c.description_ru,
  c.earn_multiplier, c.earn_rule_id, c.status, c.created_at,
  (select count(*) from loyalty_club_members cm where cm.club_id = c.id) as members`;

const norm = (c: ClubRow) => ({
  ...c,
  earn_multiplier: c.earn_multiplier === null ? null : Number(c.earn_multiplier),
  members: Number(c.members),
});

export async function insertClub(
  db: Db,
  workspaceId: string,
  c: {
    id: string;
    programmeId: string;
    key: string;
    nameEn: string;
    nameRu: string | null;
    descriptionEn: string | null;
    descriptionRu: string | null;
    earnMultiplier: number | null;
    status: string;
    now: Date;
  },
): Promise<boolean> {
  const r = await sql`insert into loyalty_clubs (id, workspace_id, programme_id, key, name_en, name_ru, description_en,
      description_ru, earn_multiplier, status, created_at)
    values (${c.id}, ${workspaceId}, ${c.programmeId}, ${c.key}, ${c.nameEn}, ${c.nameRu}, ${c.descriptionEn},
      ${c.descriptionRu}, ${c.earnMultiplier}, ${c.status}, ${c.now.toISOString()})
    on conflict (programme_id, key) do nothing`.execute(db);
  return Number(r.numAffectedRows ?? 0) > 0;
}

export async function updateClub(
  db: Db,
  workspaceId: string,
  id: string,
  patch: Partial<{
    name_en: string;
    name_ru: string | null;
    description_en: string | null;
    description_ru: string | null;
    earn_multiplier: number | null;
    earn_rule_id: string | null;
    status: string;
  }>,
) {
  const sets = Object.entries(patch).filter(([, v]) => v !== undefined);
  if (sets.length === 0) return;
  await sql`update loyalty_clubs set ${sql.join(sets.map(([k, v]) => sql`${sql.ref(k)} = ${v}`))}
    where workspace_id = ${workspaceId} and id = ${id}`.execute(db);
}

export async function clubById(db: Db, workspaceId: string, id: string) {
  const r = await sql<ClubRow>`select ${CLUB} from loyalty_clubs c
    where c.workspace_id = ${workspaceId} and c.id = ${id}`.execute(db);
  return r.rows[0] ? norm(r.rows[0]) : undefined;
}

export async function listClubs(db: Db, workspaceId: string, programmeId: string) {
  const r = await sql<ClubRow>`select ${CLUB} from loyalty_clubs c
    where c.workspace_id = ${workspaceId} and c.programme_id = ${programmeId} order by c.created_at, c.id`.execute(db);
  return r.rows.map(norm);
}

/** Joins a member to a club and moves the member's version (a change planned before the join plans again). */
export async function join(db: Db, workspaceId: string, clubId: string, memberId: string, now: Date) {
  const r = await sql`insert into loyalty_club_members (club_id, member_id, workspace_id, joined_at)
    values (${clubId}, ${memberId}, ${workspaceId}, ${now.toISOString()}) on conflict do nothing`.execute(db);
  await bumpMember(db, workspaceId, memberId);
  return Number(r.numAffectedRows ?? 0) > 0;
}

export async function leave(db: Db, workspaceId: string, clubId: string, memberId: string) {
  const r = await sql`delete from loyalty_club_members
    where workspace_id = ${workspaceId} and club_id = ${clubId} and member_id = ${memberId}`.execute(db);
  await bumpMember(db, workspaceId, memberId);
  return Number(r.numAffectedRows ?? 0) > 0;
}

async function bumpMember(db: Db, workspaceId: string, memberId: string) {
  await sql`update loyalty_members set version = version + 1
    where workspace_id = ${workspaceId} and id = ${memberId}`.execute(db);
}

export async function clubsOfMember(db: Db, workspaceId: string, memberId: string) {
  const r = await sql<{
    club_id: string;
    key: string;
    name_en: string;
    name_ru: string | null;
    status: string;
    joined_at: Date;
  }>`select c.id as club_id, c.key, c.name_en, c.name_ru, c.status, cm.joined_at
    from loyalty_club_members cm join loyalty_clubs c on c.id = cm.club_id
    where cm.workspace_id = ${workspaceId} and cm.member_id = ${memberId} order by cm.joined_at`.execute(db);
  return r.rows;
}

export async function isMember(db: Db, workspaceId: string, clubId: string, memberId: string) {
  const r = await sql`select 1 from loyalty_club_members
    where workspace_id = ${workspaceId} and club_id = ${clubId} and member_id = ${memberId}`.execute(db);
  return r.rows.length > 0;
}

/** Merges: the absorbed member's club memberships, redemptions and coupons move to the survivor's member. */
export async function moveMemberRewards(db: Db, workspaceId: string, survivorId: string, absorbedId: string) {
  await sql`insert into loyalty_club_members (club_id, member_id, workspace_id, joined_at)
    select club_id, ${survivorId}, workspace_id, joined_at from loyalty_club_members
    where workspace_id = ${workspaceId} and member_id = ${absorbedId}
    on conflict (member_id, club_id) do nothing`.execute(db);
  await sql`delete from loyalty_club_members where workspace_id = ${workspaceId} and member_id = ${absorbedId}`.execute(
    db,
  );
  await sql`update loyalty_redemptions set member_id = ${survivorId}
    where workspace_id = ${workspaceId} and member_id = ${absorbedId}`.execute(db);
  await sql`update loyalty_coupons set member_id = ${survivorId}
    where workspace_id = ${workspaceId} and member_id = ${absorbedId}`.execute(db);
}
