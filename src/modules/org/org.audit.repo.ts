import { CompiledQuery, type Insertable, sql } from 'kysely';
import { type Db, PREPARED } from '../../platform/db.ts';
import { decodeCursor, toPage } from '../../platform/pagination.ts';
import type { Scope } from '../../platform/scope.ts';
import { type AuditLogTable, q } from './org.repo.ts';

/** The audit log's SQL: appends (one or group-committed), the filtered list, a subject's entries, retention. */

/** Deletes audit entries older than `before`, a chunk at a time so that no long lock is held. */
export async function purgeAuditBefore(db: Db, before: Date, chunk = 10_000): Promise<number> {
  let total = 0;
  for (;;) {
    const result = await sql`delete from audit_log where id in (
        select id from audit_log where at < ${before.toISOString()}::timestamptz limit ${chunk})`.execute(db);
    const n = Number(result.numAffectedRows ?? 0);
    total += n;
    if (n < chunk) return total;
  }
}

export async function insertAudit(db: Db, row: Insertable<AuditLogTable>) {
  await insertAudits(db, [row]);
}

// One fixed statement text for any number of rows (arrays, not a VALUES list), so a hot path pays no query building.
const INSERT_AUDITS = `${PREPARED} insert into audit_log (id, workspace_id, actor_kind, actor_id, actor_label, action, target_kind,
    target_id, ip, user_agent, details)
  select * from unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
    $8::text[], $9::text[], $10::text[], $11::jsonb[])`;

/** Several entries in one statement (the group-committed read audit). */
export async function insertAudits(db: Db, rows: Insertable<AuditLogTable>[]) {
  if (rows.length === 0) return;
  const col = <T>(f: (r: Insertable<AuditLogTable>) => T) => rows.map(f);
  await db.executeQuery(
    CompiledQuery.raw(INSERT_AUDITS, [
      col((r) => r.id),
      col((r) => r.workspace_id),
      col((r) => r.actor_kind),
      col((r) => r.actor_id ?? null),
      col((r) => r.actor_label ?? null),
      col((r) => r.action),
      col((r) => r.target_kind ?? null),
      col((r) => r.target_id ?? null),
      col((r) => r.ip ?? null),
      col((r) => r.user_agent ?? null),
      col((r) => JSON.stringify(r.details ?? {})),
    ]),
  );
}

export interface AuditFilter {
  action?: string;
  actorId?: string;
  targetKind?: string;
  targetId?: string;
  from?: Date;
  to?: Date;
}

export async function listAudit(db: Db, scope: Scope, filter: AuditFilter, page: { limit: number; cursor?: string }) {
  const before = decodeCursor(page.cursor);
  let query = q(db).selectFrom('audit_log').selectAll().where('workspace_id', '=', scope.workspaceId);
  if (filter.action) query = query.where('action', 'like', `${filter.action.replace(/[%_\\]/g, '\\$&')}%`);
  if (filter.actorId) query = query.where('actor_id', '=', filter.actorId);
  if (filter.targetKind) query = query.where('target_kind', '=', filter.targetKind);
  if (filter.targetId) {
    const target = filter.targetId;
    // A profile is also the target of the lists and searches that showed it (their entries name it in profileIds).
    query = query.where((eb) => eb.or([eb('target_id', '=', target), eb(sql`details -> 'profileIds'`, '?', target)]));
  }
  if (filter.from) query = query.where('at', '>=', filter.from);
  if (filter.to) query = query.where('at', '<', filter.to);
  if (before) query = query.where('id', '<', before);
  // Newest first: the id is a UUIDv7, so its order is the order of insertion.
  return toPage(
    await query
      .orderBy('id', 'desc')
      .limit(page.limit + 1)
      .execute(),
    page.limit,
  );
}

/** Entries about a profile (any of `profileIds`: itself and the profiles it absorbed), oldest first. */
export async function auditAboutProfiles(db: Db, workspaceId: string, profileIds: string[]) {
  return q(db)
    .selectFrom('audit_log')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where((eb) =>
      eb.or([
        eb.and([eb('target_kind', '=', 'profile'), eb('target_id', 'in', profileIds)]),
        eb(sql`details -> 'profileIds'`, '?|', sql`${profileIds}::text[]`),
      ]),
    )
    .orderBy('id')
    .execute();
}

/** Replaces the details of a profile's own entries by their id-valued fields only (an erasure). */
export async function reduceAuditDetails(
  db: Db,
  workspaceId: string,
  profileIds: string[],
  reduce: (details: Record<string, unknown>) => Record<string, unknown>,
) {
  const rows = await q(db)
    .selectFrom('audit_log')
    .select(['id', 'details'])
    .where('workspace_id', '=', workspaceId)
    .where('target_kind', '=', 'profile')
    .where('target_id', 'in', profileIds)
    .execute();
  const changed = rows
    .map((r) => ({ id: r.id, before: JSON.stringify(r.details ?? {}), after: JSON.stringify(reduce(r.details ?? {})) }))
    .filter((r) => r.before !== r.after);
  if (changed.length === 0) return;
  await sql`update audit_log a set details = v.details
    from unnest(${changed.map((c) => c.id)}::uuid[], ${changed.map((c) => c.after)}::jsonb[]) as v(id, details)
    where a.workspace_id = ${workspaceId} and a.id = v.id`.execute(db);
}

// ---- the workspace's key for erased identifiers
