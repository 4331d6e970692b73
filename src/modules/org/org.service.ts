import { randomBytes } from 'node:crypto';
import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db.ts';
import { DomainError, notFound } from '../../platform/errors.ts';
import { newId, prefixedSecret, randomToken, sha256Hex } from '../../platform/ids.ts';
import type { Logger } from '../../platform/logger.ts';
import type { Page, PageQuery } from '../../platform/pagination.ts';
import type { Actor } from '../../platform/principal.ts';
import type { Scope } from '../../platform/scope.ts';
import * as auditRepo from './org.audit.repo.ts';
import { hashPassword } from './org.passwords.ts';
import * as repo from './org.repo.ts';
import type {
  ApiKey,
  ApiKeyCreate,
  ApiKeyCreated,
  AuditEntry,
  AuditQuery,
  Branch,
  BranchCreate,
  BranchUpdate,
  Locale,
  Membership,
  User,
  UserCreate,
  UserCreated,
  UserUpdate,
  Workspace,
  WorkspaceCreate,
  WorkspaceUpdate,
} from './org.schemas.ts';

export interface OrgDeps {
  db: Db;
  clock: Clock;
  logger: Logger;
  /** Called when a key is revoked or a session ends, so cached authentications are dropped at once. */
  onCredentialRevoked?: (secretHashOrSessionId: string) => void;
  /** Called after a role, branch or membership changes, so cached principals are rebuilt. */
  onMembershipChanged?: () => void;
}

// ---- mapping rows to API shapes

export function toWorkspace(row: repo.WorkspaceRow): Workspace {
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    timeZone: row.time_zone,
    locale: row.locale as Locale,
    currency: row.currency,
    createdAt: row.created_at.toISOString(),
  };
}

function toUser(row: repo.MemberRow): User {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    role: row.role,
    branchId: row.branch_id,
    createdAt: row.created_at.toISOString(),
    lastLoginAt: row.last_login_at?.toISOString() ?? null,
  };
}

function toBranch(row: repo.BranchRow): Branch {
  return {
    id: row.id,
    parentId: row.parent_id,
    name: row.name,
    code: row.code,
    timeZone: row.time_zone,
    depth: row.path.split('/').filter(Boolean).length - 1,
    createdAt: row.created_at.toISOString(),
  };
}

function toApiKey(row: repo.ApiKeyRow): ApiKey {
  return {
    id: row.id,
    kind: row.kind,
    name: row.name,
    prefix: row.prefix,
    role: row.role,
    branchId: row.branch_id,
    writeKey: row.kind === 'write' ? row.write_key : null,
    createdAt: row.created_at.toISOString(),
    lastUsedAt: row.last_used_at?.toISOString() ?? null,
    revokedAt: row.revoked_at?.toISOString() ?? null,
  };
}

function toAudit(row: repo.AuditRow): AuditEntry {
  return {
    id: row.id,
    at: row.at.toISOString(),
    actorKind: row.actor_kind,
    actorId: row.actor_id,
    actorLabel: row.actor_label,
    action: row.action,
    targetKind: row.target_kind,
    targetId: row.target_id,
    ip: row.ip,
    userAgent: row.user_agent,
    details: row.details ?? {},
  };
}

function mapPage<R, T>(page: Page<R>, map: (row: R) => T): Page<T> {
  return { items: page.items.map(map), nextCursor: page.nextCursor };
}

// ---- audit

/** Records a staff action. Call it inside the transaction of the change, so the change and its record commit together. */
export async function recordAudit(
  db: Db,
  actor: Actor | { system: true; workspaceId: string },
  action: string,
  target: { kind: string; id: string } | null,
  details: Record<string, unknown> = {},
) {
  const isSystem = 'system' in actor;
  await auditRepo.insertAudit(db, {
    id: newId(),
    workspace_id: isSystem ? actor.workspaceId : actor.principal.scope.workspaceId,
    actor_kind: isSystem ? 'system' : actor.principal.kind,
    actor_id: isSystem ? null : (actor.principal.userId ?? actor.principal.keyId),
    actor_label: isSystem ? 'system' : actor.principal.actorLabel,
    action,
    target_kind: target?.kind ?? null,
    target_id: target?.id ?? null,
    ip: isSystem ? null : actor.ip,
    user_agent: isSystem ? null : (actor.userAgent ?? null),
    details,
  });
}

export async function listAudit(deps: OrgDeps, scope: Scope, filter: AuditQuery, page: PageQuery) {
  const rows = await auditRepo.listAudit(
    deps.db,
    scope,
    {
      action: filter.action,
      actorId: filter.actorId,
      targetKind: filter.targetKind,
      targetId: filter.targetId,
      from: filter.from ? new Date(filter.from) : undefined,
      to: filter.to ? new Date(filter.to) : undefined,
    },
    page,
  );
  return mapPage(rows, toAudit);
}

// ---- the workspace's key for erased identifiers

/**
 * The workspace's HMAC key for the hashes that stand in for an erased person's identifiers: 32 CSPRNG bytes, made
 * on first use. It never changes (a new key would orphan every hash made with the old one), so a process keeps it.
 */
export function subjectKeys() {
  const known = new Map<string, string>();
  /** `db`: the caller's transaction when inside one (on PGlite the root handle would wait for it forever). */
  return async (db: Db, workspaceId: string): Promise<string> => {
    const hit = known.get(workspaceId);
    if (hit) return hit;
    const key = await repo.subjectKey(db, workspaceId, randomBytes(32).toString('base64url'));
    if (!key) throw notFound('Workspace', 'WORKSPACE_NOT_FOUND');
    known.set(workspaceId, key);
    return key;
  };
}

// ---- workspaces

function slugFrom(name: string): string {
  const base = name
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
  return base.length >= 3 ? base : `ws-${base || randomToken(6).toLowerCase()}`;
}

async function uniqueSlug(db: Db, wanted: string | undefined, name: string): Promise<string> {
  if (wanted) {
    if (await repo.slugTaken(db, wanted))
      throw new DomainError('conflict', 'SLUG_TAKEN', `The slug ${wanted} is taken.`);
    return wanted;
  }
  let slug = slugFrom(name);
  while (await repo.slugTaken(db, slug)) slug = `${slugFrom(name).slice(0, 40)}-${randomToken(5).toLowerCase()}`;
  return slug;
}

export async function createWorkspace(
  deps: OrgDeps,
  userId: string,
  input: WorkspaceCreate,
  ip: string | null,
): Promise<Membership> {
  return deps.db.transaction().execute(async (trx) => {
    const row = await repo.insertWorkspace(trx, {
      id: newId(),
      slug: await uniqueSlug(trx, input.slug, input.name),
      name: input.name,
      time_zone: input.timeZone,
      locale: input.locale,
      currency: input.currency,
    });
    await repo.insertMembership(trx, { workspace_id: row.id, user_id: userId, role: 'owner', branch_id: null });
    await recordAudit(
      trx,
      { system: true, workspaceId: row.id },
      'workspace.created',
      { kind: 'workspace', id: row.id },
      {
        byUser: userId,
        ip,
      },
    );
    return { workspace: toWorkspace(row), role: 'owner' as const, branchId: null };
  });
}

export async function getWorkspace(deps: OrgDeps, scope: Scope): Promise<Workspace> {
  const row = await repo.findWorkspace(deps.db, scope);
  if (!row) throw notFound('Workspace', 'WORKSPACE_NOT_FOUND');
  return toWorkspace(row);
}

export async function updateWorkspace(deps: OrgDeps, actor: Actor, patch: WorkspaceUpdate): Promise<Workspace> {
  return deps.db.transaction().execute(async (trx) => {
    const row = await repo.updateWorkspace(trx, actor.principal.scope, {
      name: patch.name,
      time_zone: patch.timeZone,
      locale: patch.locale,
      currency: patch.currency,
    });
    if (!row) throw notFound('Workspace', 'WORKSPACE_NOT_FOUND');
    await recordAudit(
      trx,
      actor,
      'workspace.updated',
      { kind: 'workspace', id: row.id },
      { fields: Object.keys(patch) },
    );
    return toWorkspace(row);
  });
}

// ---- users

async function assertBranchInScope(db: Db, scope: Scope, branchId: string | null | undefined) {
  if (!branchId) return;
  if (!(await repo.findBranch(db, scope, branchId))) throw notFound('Branch', 'BRANCH_NOT_FOUND');
}

function assertRoleBranch(role: string, branchId: string | null | undefined) {
  if (role === 'branch_manager' && !branchId) {
    throw new DomainError('invalid', 'BRANCH_REQUIRED', 'A branch manager must be given the branch they manage.');
  }
}

export async function listUsers(deps: OrgDeps, scope: Scope, page: PageQuery): Promise<Page<User>> {
  return mapPage(await repo.listMembers(deps.db, scope, page), toUser);
}

export async function getUser(deps: OrgDeps, scope: Scope, userId: string): Promise<User> {
  const row = await repo.findMember(deps.db, scope, userId);
  if (!row) throw notFound('User', 'USER_NOT_FOUND');
  return toUser(row);
}

export async function createUser(deps: OrgDeps, actor: Actor, input: UserCreate): Promise<UserCreated> {
  const scope = actor.principal.scope;
  assertRoleBranch(input.role, input.branchId);
  const email = input.email.toLowerCase();
  const generated = input.password ? null : randomToken(16);
  const passwordHash = await hashPassword(input.password ?? (generated as string));
  return deps.db.transaction().execute(async (trx) => {
    await assertBranchInScope(trx, scope, input.branchId);
    let user = await repo.findUserByEmail(trx, email);
    const isNew = !user;
    if (!user) user = await repo.insertUser(trx, { id: newId(), email, name: input.name, password_hash: passwordHash });
    else if (await repo.findMember(trx, { ...scope, branchPath: null }, user.id)) {
      throw new DomainError('conflict', 'USER_ALREADY_MEMBER', 'This person is already a user of this workspace.');
    }
    await repo.insertMembership(trx, {
      workspace_id: scope.workspaceId,
      user_id: user.id,
      role: input.role,
      branch_id: input.branchId ?? null,
    });
    await recordAudit(
      trx,
      actor,
      'user.created',
      { kind: 'user', id: user.id },
      { role: input.role, newAccount: isNew },
    );
    const member = await repo.findMember(trx, { ...scope, branchPath: null }, user.id);
    if (!member) throw new Error('membership vanished inside its own transaction');
    // An existing account keeps its own password; only a new one gets the generated password.
    return { user: toUser(member), temporaryPassword: isNew ? generated : null };
  });
}

export async function updateUser(deps: OrgDeps, actor: Actor, userId: string, patch: UserUpdate): Promise<User> {
  const scope = actor.principal.scope;
  return deps.db
    .transaction()
    .execute(async (trx) => {
      const current = await repo.findMember(trx, scope, userId);
      if (!current) throw notFound('User', 'USER_NOT_FOUND');
      const role = patch.role ?? current.role;
      const branchId = patch.branchId === undefined ? current.branch_id : patch.branchId;
      assertRoleBranch(role, branchId);
      await assertBranchInScope(trx, scope, patch.branchId);
      if (current.role === 'owner' && role !== 'owner' && (await repo.countOwners(trx, scope)) <= 1) {
        throw new DomainError(
          'conflict',
          'LAST_OWNER',
          'A workspace needs at least one owner; make someone else owner first.',
        );
      }
      if (patch.name) await repo.updateUserName(trx, userId, patch.name);
      if (patch.role || patch.branchId !== undefined) {
        await repo.updateMembership(trx, scope, userId, { role, branch_id: role === 'owner' ? null : branchId });
      }
      await recordAudit(trx, actor, 'user.updated', { kind: 'user', id: userId }, { fields: Object.keys(patch), role });
      const updated = await repo.findMember(trx, { ...scope, branchPath: null }, userId);
      if (!updated) throw notFound('User', 'USER_NOT_FOUND');
      return toUser(updated);
    })
    .finally(() => deps.onMembershipChanged?.());
}

export async function removeUser(deps: OrgDeps, actor: Actor, userId: string): Promise<void> {
  const scope = actor.principal.scope;
  await deps.db.transaction().execute(async (trx) => {
    const current = await repo.findMember(trx, scope, userId);
    if (!current) throw notFound('User', 'USER_NOT_FOUND');
    if (current.role === 'owner' && (await repo.countOwners(trx, scope)) <= 1) {
      throw new DomainError('conflict', 'LAST_OWNER', 'A workspace needs at least one owner.');
    }
    await repo.deleteMembership(trx, scope, userId);
    await recordAudit(trx, actor, 'user.removed', { kind: 'user', id: userId });
  });
  deps.onMembershipChanged?.();
}

// ---- branches

export async function listBranches(deps: OrgDeps, scope: Scope, page: PageQuery): Promise<Page<Branch>> {
  return mapPage(await repo.listBranches(deps.db, scope, page), toBranch);
}

export async function getBranch(deps: OrgDeps, scope: Scope, id: string): Promise<Branch> {
  const row = await repo.findBranch(deps.db, scope, id);
  if (!row) throw notFound('Branch', 'BRANCH_NOT_FOUND');
  return toBranch(row);
}

/** Branch-scoped principals may change branches below their own, never their own branch or anything above it. */
function assertBelowOwnBranch(scope: Scope, branchId: string) {
  if (scope.branchId && scope.branchId === branchId) {
    throw new DomainError('forbidden', 'OWN_BRANCH_READ_ONLY', 'Your own branch is managed by the workspace owner.');
  }
}

export async function createBranch(deps: OrgDeps, actor: Actor, input: BranchCreate): Promise<Branch> {
  const scope = actor.principal.scope;
  if (scope.branchId && !input.parentId) {
    throw new DomainError(
      'forbidden',
      'BRANCH_OUTSIDE_SCOPE',
      'Create branches inside the branch you manage (give parentId).',
    );
  }
  return deps.db.transaction().execute(async (trx) => {
    let parentPath = '/';
    if (input.parentId) {
      const parent = await repo.findBranch(trx, scope, input.parentId);
      if (!parent) throw notFound('Parent branch', 'PARENT_BRANCH_NOT_FOUND');
      parentPath = parent.path;
    }
    if (await repo.branchCodeTaken(trx, scope, input.code)) {
      throw new DomainError('conflict', 'BRANCH_CODE_TAKEN', `Another branch already has the code ${input.code}.`);
    }
    const id = newId();
    const row = await repo.insertBranch(trx, {
      id,
      workspace_id: scope.workspaceId,
      parent_id: input.parentId ?? null,
      path: `${parentPath}${id}/`,
      name: input.name,
      code: input.code,
      time_zone: input.timeZone ?? null,
    });
    await recordAudit(trx, actor, 'branch.created', { kind: 'branch', id }, { code: input.code });
    return toBranch(row);
  });
}

export async function updateBranch(deps: OrgDeps, actor: Actor, id: string, patch: BranchUpdate): Promise<Branch> {
  const scope = actor.principal.scope;
  return deps.db.transaction().execute(async (trx) => {
    if (!(await repo.findBranch(trx, scope, id))) throw notFound('Branch', 'BRANCH_NOT_FOUND');
    assertBelowOwnBranch(scope, id);
    if (patch.code && (await repo.branchCodeTaken(trx, scope, patch.code, id))) {
      throw new DomainError('conflict', 'BRANCH_CODE_TAKEN', `Another branch already has the code ${patch.code}.`);
    }
    const row = await repo.updateBranch(trx, scope, id, {
      name: patch.name,
      code: patch.code,
      time_zone: patch.timeZone,
    });
    if (!row) throw notFound('Branch', 'BRANCH_NOT_FOUND');
    await recordAudit(trx, actor, 'branch.updated', { kind: 'branch', id }, { fields: Object.keys(patch) });
    return toBranch(row);
  });
}

export async function deleteBranch(deps: OrgDeps, actor: Actor, id: string): Promise<void> {
  const scope = actor.principal.scope;
  await deps.db.transaction().execute(async (trx) => {
    if (!(await repo.findBranch(trx, scope, id))) throw notFound('Branch', 'BRANCH_NOT_FOUND');
    assertBelowOwnBranch(scope, id);
    const usage = await repo.branchUsage(trx, scope, id);
    if (usage.hasChildren)
      throw new DomainError('conflict', 'BRANCH_HAS_CHILDREN', 'Delete or move the branches below it first.');
    if (usage.inUse) {
      throw new DomainError(
        'conflict',
        'BRANCH_IN_USE',
        'Users or active keys are bound to this branch; reassign them first.',
      );
    }
    await repo.deleteBranch(trx, scope, id);
    await recordAudit(trx, actor, 'branch.deleted', { kind: 'branch', id });
  });
}

// ---- API keys

export const SECRET_KEY_PREFIX = 'sk_';
export const WRITE_KEY_PREFIX = 'wk_';

export function keyDisplayPrefix(secret: string): string {
  return secret.slice(0, 10);
}

export async function listApiKeys(deps: OrgDeps, scope: Scope, page: PageQuery): Promise<Page<ApiKey>> {
  return mapPage(await repo.listApiKeys(deps.db, scope, page), toApiKey);
}

export async function createApiKey(deps: OrgDeps, actor: Actor, input: ApiKeyCreate): Promise<ApiKeyCreated> {
  const scope = actor.principal.scope;
  const isSecret = input.kind === 'secret';
  const secret = isSecret ? prefixedSecret(SECRET_KEY_PREFIX, 40) : prefixedSecret(WRITE_KEY_PREFIX, 32);
  const branchId = isSecret ? (input.branchId ?? null) : null;
  if (isSecret) assertRoleBranch(input.role, branchId);
  return deps.db.transaction().execute(async (trx) => {
    await assertBranchInScope(trx, scope, branchId);
    const row = await repo.insertApiKey(trx, {
      id: newId(),
      workspace_id: scope.workspaceId,
      kind: input.kind,
      name: input.name,
      prefix: keyDisplayPrefix(secret),
      secret_hash: sha256Hex(secret),
      write_key: isSecret ? null : secret,
      role: isSecret ? input.role : null,
      branch_id: branchId,
      created_by: actor.principal.userId,
    });
    await recordAudit(
      trx,
      actor,
      'key.created',
      { kind: 'api_key', id: row.id },
      {
        keyKind: input.kind,
        role: row.role,
        branchId,
      },
    );
    return { key: toApiKey(row), secret };
  });
}

export async function revokeApiKey(deps: OrgDeps, actor: Actor, id: string): Promise<ApiKey> {
  const scope = actor.principal.scope;
  const row = await deps.db.transaction().execute(async (trx) => {
    const existing = await repo.findApiKey(trx, scope, id);
    if (!existing) throw notFound('API key', 'KEY_NOT_FOUND');
    if (existing.revoked_at) return existing;
    const revoked = await repo.revokeApiKey(trx, scope, id, deps.clock.now());
    await recordAudit(trx, actor, 'key.revoked', { kind: 'api_key', id });
    return revoked ?? existing;
  });
  deps.onCredentialRevoked?.(row.secret_hash);
  return toApiKey(row);
}
