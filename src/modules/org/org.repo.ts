import type { Generated, Insertable, Kysely, Selectable } from 'kysely';
import { sql } from 'kysely';
import { type Db, tables } from '../../platform/db.ts';
import { decodeCursor, type Page, toPage } from '../../platform/pagination.ts';
import { prepared } from '../../platform/prepared.ts';
import type { Scope } from '../../platform/scope.ts';
import type { KeyKind, Role } from './org.schemas.ts';

/** All SQL of the org module. Every function that reads workspace data takes a Scope and applies it here. */

interface WorkspacesTable {
  id: string;
  slug: string;
  name: string;
  time_zone: string;
  locale: string;
  currency: string;
  /** HMAC key for an erased person's identifiers; set on first use (subjectKey), never leaves the server. */
  subject_key: string | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}
interface UsersTable {
  id: string;
  email: string;
  name: string;
  password_hash: string;
  created_at: Generated<Date>;
  last_login_at: Date | null;
}
interface MembershipsTable {
  workspace_id: string;
  user_id: string;
  role: Role;
  branch_id: string | null;
  created_at: Generated<Date>;
}
interface BranchesTable {
  id: string;
  workspace_id: string;
  parent_id: string | null;
  path: string;
  name: string;
  code: string;
  time_zone: string | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}
interface ApiKeysTable {
  id: string;
  workspace_id: string;
  kind: KeyKind;
  name: string;
  prefix: string;
  secret_hash: string;
  write_key: string | null;
  role: Role | null;
  branch_id: string | null;
  created_by: string | null;
  created_at: Generated<Date>;
  last_used_at: Date | null;
  revoked_at: Date | null;
}
interface SessionsTable {
  id: string;
  token_hash: string;
  user_id: string;
  csrf_token: string;
  created_at: Generated<Date>;
  expires_at: Date;
}
export interface AuditLogTable {
  id: string;
  workspace_id: string;
  at: Generated<Date>;
  actor_kind: 'user' | 'key' | 'system';
  actor_id: string | null;
  actor_label: string | null;
  action: string;
  target_kind: string | null;
  target_id: string | null;
  ip: string | null;
  user_agent: string | null;
  details: Record<string, unknown>;
}
export interface OrgTables {
  workspaces: WorkspacesTable;
  users: UsersTable;
  memberships: MembershipsTable;
  branches: BranchesTable;
  api_keys: ApiKeysTable;
  sessions: SessionsTable;
  audit_log: AuditLogTable;
}

export type WorkspaceRow = Selectable<WorkspacesTable>;
export type UserRow = Selectable<UsersTable>;
export type BranchRow = Selectable<BranchesTable>;
export type ApiKeyRow = Selectable<ApiKeysTable>;
export type AuditRow = Selectable<AuditLogTable>;
export type MemberRow = UserRow & { role: Role; branch_id: string | null };

/** The org tables through Kysely (org.audit.repo.ts uses it too). */
export const q = (db: Db) => tables<OrgTables>(db);

// ---- workspaces

export async function countWorkspaces(db: Db): Promise<number> {
  const row = await q(db)
    .selectFrom('workspaces')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function insertWorkspace(db: Db, row: Insertable<WorkspacesTable>) {
  return q(db).insertInto('workspaces').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function findWorkspace(db: Db, scope: Scope): Promise<WorkspaceRow | undefined> {
  return q(db).selectFrom('workspaces').selectAll().where('id', '=', scope.workspaceId).executeTakeFirst();
}

export async function findWorkspaceByIdOrSlug(db: Db, idOrSlug: string): Promise<WorkspaceRow | undefined> {
  const byId = /^[0-9a-f-]{36}$/i.test(idOrSlug);
  return q(db)
    .selectFrom('workspaces')
    .selectAll()
    .where(byId ? 'id' : 'slug', '=', idOrSlug)
    .executeTakeFirst();
}

export async function firstWorkspace(db: Db): Promise<WorkspaceRow | undefined> {
  return q(db).selectFrom('workspaces').selectAll().orderBy('created_at').limit(1).executeTakeFirst();
}

export async function slugTaken(db: Db, slug: string): Promise<boolean> {
  return Boolean(await q(db).selectFrom('workspaces').select('id').where('slug', '=', slug).executeTakeFirst());
}

export async function updateWorkspace(
  db: Db,
  scope: Scope,
  patch: Partial<Pick<WorkspaceRow, 'name' | 'time_zone' | 'locale' | 'currency'>>,
) {
  return q(db)
    .updateTable('workspaces')
    .set({ ...patch, updated_at: new Date() })
    .where('id', '=', scope.workspaceId)
    .returningAll()
    .executeTakeFirst();
}

// ---- users and memberships

export async function findUserByEmail(db: Db, email: string): Promise<UserRow | undefined> {
  return q(db).selectFrom('users').selectAll().where('email', '=', email.toLowerCase()).executeTakeFirst();
}

export async function findUserById(db: Db, id: string): Promise<UserRow | undefined> {
  return q(db).selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function insertUser(db: Db, row: Insertable<UsersTable>) {
  return q(db).insertInto('users').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function touchUserLogin(db: Db, userId: string, at: Date) {
  await q(db).updateTable('users').set({ last_login_at: at }).where('id', '=', userId).execute();
}

export async function insertMembership(db: Db, row: Insertable<MembershipsTable>) {
  await q(db).insertInto('memberships').values(row).execute();
}

export async function listMembershipsOfUser(db: Db, userId: string) {
  return q(db)
    .selectFrom('memberships as m')
    .innerJoin('workspaces as w', 'w.id', 'm.workspace_id')
    .selectAll('w')
    .select(['m.role', 'm.branch_id'])
    .where('m.user_id', '=', userId)
    .orderBy('w.created_at')
    .execute();
}

export async function findMembership(db: Db, workspaceId: string, userId: string) {
  return q(db)
    .selectFrom('memberships as m')
    .leftJoin('branches as b', 'b.id', 'm.branch_id')
    .select(['m.role', 'm.branch_id', 'b.path as branch_path'])
    .where('m.workspace_id', '=', workspaceId)
    .where('m.user_id', '=', userId)
    .executeTakeFirst();
}

function membersQuery(db: Db, scope: Scope) {
  let query = q(db)
    .selectFrom('memberships as m')
    .innerJoin('users as u', 'u.id', 'm.user_id')
    .selectAll('u')
    .select(['m.role', 'm.branch_id'])
    .where('m.workspace_id', '=', scope.workspaceId);
  if (scope.branchPath) {
    const prefix = scope.branchPath;
    query = query.where((eb) =>
      eb.exists(
        eb
          .selectFrom('branches as b')
          .select('b.id')
          .whereRef('b.id', '=', 'm.branch_id')
          .where('b.path', 'like', `${prefix}%`),
      ),
    );
  }
  return query;
}

export async function listMembers(
  db: Db,
  scope: Scope,
  page: { limit: number; cursor?: string },
): Promise<Page<MemberRow>> {
  const after = decodeCursor(page.cursor);
  let query = membersQuery(db, scope)
    .orderBy('u.id')
    .limit(page.limit + 1);
  if (after) query = query.where('u.id', '>', after);
  return toPage(await query.execute(), page.limit);
}

export async function findMember(db: Db, scope: Scope, userId: string): Promise<MemberRow | undefined> {
  return membersQuery(db, scope).where('u.id', '=', userId).executeTakeFirst();
}

export async function updateMembership(
  db: Db,
  scope: Scope,
  userId: string,
  patch: { role?: Role; branch_id?: string | null },
) {
  const result = await q(db)
    .updateTable('memberships')
    .set(patch)
    .where('workspace_id', '=', scope.workspaceId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function updateUserName(db: Db, userId: string, name: string) {
  await q(db).updateTable('users').set({ name }).where('id', '=', userId).execute();
}

export async function deleteMembership(db: Db, scope: Scope, userId: string) {
  const result = await q(db)
    .deleteFrom('memberships')
    .where('workspace_id', '=', scope.workspaceId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

export async function countOwners(db: Db, scope: Scope): Promise<number> {
  const row = await q(db)
    .selectFrom('memberships')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('workspace_id', '=', scope.workspaceId)
    .where('role', '=', 'owner')
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

// ---- branches

function branchesQuery(db: Db, scope: Scope) {
  let query = q(db).selectFrom('branches').selectAll().where('workspace_id', '=', scope.workspaceId);
  if (scope.branchPath) query = query.where('path', 'like', `${scope.branchPath}%`);
  return query;
}

export async function listBranches(db: Db, scope: Scope, page: { limit: number; cursor?: string }) {
  const after = decodeCursor(page.cursor);
  let query = branchesQuery(db, scope)
    .orderBy('id')
    .limit(page.limit + 1);
  if (after) query = query.where('id', '>', after);
  return toPage(await query.execute(), page.limit);
}

// Read on every branch-scoped request, so built once (see platform/prepared.ts).
const findBranchInWorkspace = prepared((db: Kysely<OrgTables>, workspaceId: string, id: string) =>
  db.selectFrom('branches').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id),
);
const findBranchInSubtree = prepared((db: Kysely<OrgTables>, workspaceId: string, id: string, pathPrefix: string) =>
  db
    .selectFrom('branches')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .where('path', 'like', pathPrefix),
);

export async function findBranch(db: Db, scope: Scope, id: string): Promise<BranchRow | undefined> {
  const rows = scope.branchPath
    ? await findBranchInSubtree(q(db), scope.workspaceId, id, `${scope.branchPath}%`)
    : await findBranchInWorkspace(q(db), scope.workspaceId, id);
  return rows[0];
}

export async function branchCodeTaken(db: Db, scope: Scope, code: string, exceptId?: string) {
  let query = q(db)
    .selectFrom('branches')
    .select('id')
    .where('workspace_id', '=', scope.workspaceId)
    .where(sql`lower(code)`, '=', code.toLowerCase());
  if (exceptId) query = query.where('id', '<>', exceptId);
  return Boolean(await query.executeTakeFirst());
}

export async function insertBranch(db: Db, row: Insertable<BranchesTable>) {
  return q(db).insertInto('branches').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function updateBranch(
  db: Db,
  scope: Scope,
  id: string,
  patch: Partial<Pick<BranchRow, 'name' | 'code' | 'time_zone'>>,
) {
  let query = q(db)
    .updateTable('branches')
    .set({ ...patch, updated_at: new Date() })
    .where('workspace_id', '=', scope.workspaceId)
    .where('id', '=', id);
  if (scope.branchPath) query = query.where('path', 'like', `${scope.branchPath}%`);
  return query.returningAll().executeTakeFirst();
}

export async function branchUsage(db: Db, scope: Scope, id: string) {
  const children = await q(db)
    .selectFrom('branches')
    .select('id')
    .where('workspace_id', '=', scope.workspaceId)
    .where('parent_id', '=', id)
    .limit(1)
    .executeTakeFirst();
  const member = await q(db)
    .selectFrom('memberships')
    .select('user_id')
    .where('workspace_id', '=', scope.workspaceId)
    .where('branch_id', '=', id)
    .limit(1)
    .executeTakeFirst();
  const key = await q(db)
    .selectFrom('api_keys')
    .select('id')
    .where('workspace_id', '=', scope.workspaceId)
    .where('branch_id', '=', id)
    .where('revoked_at', 'is', null)
    .limit(1)
    .executeTakeFirst();
  return { hasChildren: Boolean(children), inUse: Boolean(member || key) };
}

export async function deleteBranch(db: Db, scope: Scope, id: string) {
  let query = q(db).deleteFrom('branches').where('workspace_id', '=', scope.workspaceId).where('id', '=', id);
  if (scope.branchPath) query = query.where('path', 'like', `${scope.branchPath}%`);
  const result = await query.executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

// ---- API keys

export async function insertApiKey(db: Db, row: Insertable<ApiKeysTable>) {
  return q(db).insertInto('api_keys').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function apiKeyHashExists(db: Db, secretHash: string) {
  return Boolean(
    await q(db).selectFrom('api_keys').select('id').where('secret_hash', '=', secretHash).executeTakeFirst(),
  );
}

/** Authentication lookup: by hash, across workspaces (the key itself says which workspace it belongs to). */
export async function findActiveKeyByHash(db: Db, secretHash: string) {
  return q(db)
    .selectFrom('api_keys as k')
    .innerJoin('workspaces as w', 'w.id', 'k.workspace_id')
    .leftJoin('branches as b', 'b.id', 'k.branch_id')
    .select(['k.id', 'k.kind', 'k.workspace_id', 'k.role', 'k.branch_id', 'k.last_used_at', 'b.path as branch_path'])
    .where('k.secret_hash', '=', secretHash)
    .where('k.revoked_at', 'is', null)
    .executeTakeFirst();
}

/** The newest active write key in clear (write keys are publishable: they sit in web pages). */
export async function newestWriteKey(db: Db, workspaceId: string): Promise<string | null> {
  const row = await q(db)
    .selectFrom('api_keys')
    .select('write_key')
    .where('workspace_id', '=', workspaceId)
    .where('kind', '=', 'write')
    .where('revoked_at', 'is', null)
    .where('write_key', 'is not', null)
    .orderBy('created_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row?.write_key ?? null;
}

export async function touchKeyUse(db: Db, id: string, at: Date) {
  await q(db).updateTable('api_keys').set({ last_used_at: at }).where('id', '=', id).execute();
}

function keysQuery(db: Db, scope: Scope) {
  let query = q(db).selectFrom('api_keys').selectAll().where('workspace_id', '=', scope.workspaceId);
  if (scope.branchPath) {
    const prefix = scope.branchPath;
    query = query.where((eb) =>
      eb.exists(
        eb
          .selectFrom('branches as b')
          .select('b.id')
          .whereRef('b.id', '=', 'api_keys.branch_id')
          .where('b.path', 'like', `${prefix}%`),
      ),
    );
  }
  return query;
}

export async function listApiKeys(db: Db, scope: Scope, page: { limit: number; cursor?: string }) {
  const after = decodeCursor(page.cursor);
  let query = keysQuery(db, scope)
    .orderBy('id')
    .limit(page.limit + 1);
  if (after) query = query.where('id', '>', after);
  return toPage(await query.execute(), page.limit);
}

export async function findApiKey(db: Db, scope: Scope, id: string) {
  return keysQuery(db, scope).where('id', '=', id).executeTakeFirst();
}

export async function revokeApiKey(db: Db, scope: Scope, id: string, at: Date) {
  return q(db)
    .updateTable('api_keys')
    .set({ revoked_at: at })
    .where('workspace_id', '=', scope.workspaceId)
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
}

// ---- sessions

export async function insertSession(db: Db, row: Insertable<SessionsTable>) {
  await q(db).insertInto('sessions').values(row).execute();
}

export async function findSessionByHash(db: Db, tokenHash: string, now: Date) {
  return q(db)
    .selectFrom('sessions as s')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .select(['s.id', 's.user_id', 's.csrf_token', 's.expires_at', 'u.email', 'u.name'])
    .where('s.token_hash', '=', tokenHash)
    .where('s.expires_at', '>', now)
    .executeTakeFirst();
}

export async function deleteSession(db: Db, id: string) {
  await q(db).deleteFrom('sessions').where('id', '=', id).execute();
}

export async function deleteExpiredSessions(db: Db, now: Date) {
  const result = await q(db).deleteFrom('sessions').where('expires_at', '<', now).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** The workspace's HMAC key for erased identifiers; `candidate` (a CSPRNG value) becomes it if it has none yet. */
export async function subjectKey(db: Db, workspaceId: string, candidate: string): Promise<string | undefined> {
  const read = async () =>
    (await q(db).selectFrom('workspaces').select('subject_key').where('id', '=', workspaceId).executeTakeFirst())
      ?.subject_key;
  const existing = await read();
  if (existing !== null) return existing;
  // Two processes may race here: the first write wins, and both read back the same key.
  await q(db)
    .updateTable('workspaces')
    .set({ subject_key: candidate })
    .where('id', '=', workspaceId)
    .where('subject_key', 'is', null)
    .execute();
  return (await read()) ?? undefined;
}
