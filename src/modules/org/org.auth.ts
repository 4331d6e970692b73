import type { FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import type { Config } from '../../platform/config.ts';
import { DomainError } from '../../platform/errors.ts';
import type { Authentication, Authenticator, SessionIdentity } from '../../platform/http/auth.ts';
import { newId, randomToken, sha256Hex } from '../../platform/ids.ts';
import type { Principal } from '../../platform/principal.ts';
import { clearRateLimit, hitRateLimit, peekRateLimit, type RateLimit } from '../../platform/ratelimit.ts';
import { hashPassword, verifyPassword } from './org.passwords.ts';
import * as repo from './org.repo.ts';
import { type Locale, ROLE_PERMISSIONS, type Role, type Session, WORKSPACE_HEADER } from './org.schemas.ts';
import {
  keyDisplayPrefix,
  type OrgDeps,
  recordAudit,
  SECRET_KEY_PREFIX,
  toWorkspace,
  WRITE_KEY_PREFIX,
} from './org.service.ts';

export const SESSION_COOKIE = 'rapport_session';
export const SESSION_TTL_MS = 7 * 24 * 3600 * 1000;

/** Failed sign-ins allowed per e-mail and per IP address in a window; the next attempt is refused. */
export const LOGIN_LIMIT_PER_EMAIL: RateLimit = { limit: 5, windowSeconds: 15 * 60 };
export const LOGIN_LIMIT_PER_IP: RateLimit = { limit: 30, windowSeconds: 15 * 60 };

// ---- sign-in

export async function signIn(
  deps: OrgDeps,
  input: { email: string; password: string; ip: string },
): Promise<{ token: string; session: Session }> {
  const email = input.email.trim().toLowerCase();
  const emailBucket = `login:email:${sha256Hex(email)}`;
  const ipBucket = `login:ip:${input.ip}`;
  for (const [bucket, rule] of [
    [emailBucket, LOGIN_LIMIT_PER_EMAIL],
    [ipBucket, LOGIN_LIMIT_PER_IP],
  ] as const) {
    const state = await peekRateLimit(deps.db, deps.clock, bucket, rule);
    if (!state.allowed) {
      throw new DomainError('rate_limited', 'RATE_LIMITED', 'Too many failed sign-in attempts. Try again later.', {
        retryAfterSeconds: state.retryAfterSeconds,
      });
    }
  }
  const user = await repo.findUserByEmail(deps.db, email);
  if (!(await verifyPassword(user?.password_hash, input.password)) || !user) {
    await hitRateLimit(deps.db, deps.clock, emailBucket, LOGIN_LIMIT_PER_EMAIL);
    await hitRateLimit(deps.db, deps.clock, ipBucket, LOGIN_LIMIT_PER_IP);
    throw new DomainError('unauthenticated', 'INVALID_CREDENTIALS', 'The e-mail or the password is wrong.');
  }
  await clearRateLimit(deps.db, emailBucket);
  const token = randomToken(43);
  const csrfToken = randomToken(32);
  const now = deps.clock.now();
  await deps.db.transaction().execute(async (trx) => {
    await repo.insertSession(trx, {
      id: newId(),
      token_hash: sha256Hex(token),
      user_id: user.id,
      csrf_token: csrfToken,
      created_at: now,
      expires_at: new Date(now.getTime() + SESSION_TTL_MS),
    });
    await repo.touchUserLogin(trx, user.id, now);
  });
  return { token, session: await describeSession(deps, { sessionId: '', userId: user.id, csrfToken }) };
}

export async function describeSession(deps: OrgDeps, identity: SessionIdentity): Promise<Session> {
  const user = await repo.findUserById(deps.db, identity.userId);
  if (!user) throw new DomainError('unauthenticated', 'SESSION_REQUIRED', 'Sign in to the console first.');
  return {
    user: { id: user.id, email: user.email, name: user.name },
    memberships: await listMemberships(deps, user.id),
    csrfToken: identity.csrfToken,
  };
}

export async function listMemberships(deps: OrgDeps, userId: string) {
  const rows = await repo.listMembershipsOfUser(deps.db, userId);
  return rows.map((row) => ({ workspace: toWorkspace(row), role: row.role, branchId: row.branch_id }));
}

export async function signOut(deps: OrgDeps, identity: SessionIdentity): Promise<void> {
  await repo.deleteSession(deps.db, identity.sessionId);
  deps.onCredentialRevoked?.(identity.sessionId);
}

// ---- authentication of each request

interface CacheEntry<T> {
  value: T;
  expires: number;
}

/**
 * A small time-bounded cache of verified credentials. Keys and sessions are looked up again after
 * `authCacheSeconds` (5 s by default), so a revocation made through another process takes effect within that
 * delay and at once in the process that made it.
 */
class CredentialCache<T> {
  readonly #entries = new Map<string, CacheEntry<T>>();
  readonly #ttlMs: number;
  constructor(ttlSeconds: number) {
    this.#ttlMs = ttlSeconds * 1000;
  }
  get(key: string): T | undefined {
    const hit = this.#entries.get(key);
    if (!hit) return undefined;
    if (hit.expires < Date.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return hit.value;
  }
  set(key: string, value: T) {
    if (this.#ttlMs <= 0) return;
    if (this.#entries.size >= 10_000) this.#entries.clear();
    this.#entries.set(key, { value, expires: Date.now() + this.#ttlMs });
  }
  deleteWhere(match: (key: string, value: T) => boolean) {
    for (const [key, entry] of this.#entries) if (match(key, entry.value)) this.#entries.delete(key);
  }
}

function principalFor(input: {
  kind: 'user' | 'key';
  workspaceId: string;
  role: Role;
  branchId: string | null;
  branchPath: string | null;
  userId: string | null;
  keyId: string | null;
  label: string;
}): Principal {
  return {
    kind: input.kind,
    scope: {
      workspaceId: input.workspaceId,
      branchId: input.branchId,
      branchPath: input.branchId ? input.branchPath : null,
    },
    role: input.role,
    permissions: new Set(ROLE_PERMISSIONS[input.role] ?? []),
    userId: input.userId,
    keyId: input.keyId,
    actorLabel: input.label,
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function createAuthenticator(deps: OrgDeps, config: Pick<Config, 'authCacheSeconds'>) {
  // Keyed by the presented token so that a cache hit costs a map lookup, not a hash; the hash is kept for forget().
  const keys = new CredentialCache<{ hash: string; principal: Principal | 'write' }>(config.authCacheSeconds);
  const sessions = new CredentialCache<SessionIdentity>(config.authCacheSeconds);
  const members = new CredentialCache<Principal | null>(config.authCacheSeconds);
  const lastTouched = new Map<string, number>();

  async function byKey(token: string): Promise<Principal> {
    let cached = keys.get(token)?.principal;
    if (!cached) {
      const hash = sha256Hex(token);
      const row = await repo.findActiveKeyByHash(deps.db, hash);
      if (!row) throw new DomainError('unauthenticated', 'INVALID_API_KEY', 'This API key is unknown or revoked.');
      cached =
        row.kind === 'write'
          ? 'write'
          : principalFor({
              kind: 'key',
              workspaceId: row.workspace_id,
              role: row.role as Role,
              branchId: row.branch_id,
              branchPath: row.branch_path,
              userId: null,
              keyId: row.id,
              label: `key:${keyDisplayPrefix(token)}`,
            });
      keys.set(token, { hash, principal: cached });
      touchKey(row.id);
    }
    if (cached === 'write') {
      throw new DomainError(
        'forbidden',
        'WRITE_KEY_NOT_ALLOWED',
        'A write key can only send events; use a secret key here.',
      );
    }
    return cached;
  }

  // last_used_at is informative; refreshing it at most once a minute keeps authentication free of writes.
  function touchKey(id: string) {
    const now = Date.now();
    if ((lastTouched.get(id) ?? 0) > now - 60_000) return;
    lastTouched.set(id, now);
    repo.touchKeyUse(deps.db, id, new Date(now)).catch((err) => deps.logger.warn({ err }, 'could not record key use'));
  }

  async function bySession(token: string): Promise<SessionIdentity> {
    const hash = sha256Hex(token);
    let identity = sessions.get(hash);
    if (!identity) {
      const row = await repo.findSessionByHash(deps.db, hash, deps.clock.now());
      if (!row) throw new DomainError('unauthenticated', 'SESSION_EXPIRED', 'Your session has ended; sign in again.');
      identity = {
        sessionId: row.id,
        userId: row.user_id,
        csrfToken: row.csrf_token,
        label: row.name ? `${row.name} <${row.email}>` : row.email,
      };
      sessions.set(hash, identity);
    }
    return identity;
  }

  async function memberPrincipal(identity: SessionIdentity, requested: string | undefined): Promise<Principal | null> {
    let workspaceId = requested;
    if (workspaceId !== undefined && !UUID.test(workspaceId)) {
      throw new DomainError(
        'invalid',
        'INVALID_WORKSPACE_HEADER',
        `The ${WORKSPACE_HEADER} header must be a workspace id.`,
      );
    }
    const cacheKey = `${identity.sessionId}:${workspaceId ?? '*'}`;
    const cached = members.get(cacheKey);
    if (cached !== undefined) return cached;
    if (!workspaceId) workspaceId = (await repo.listMembershipsOfUser(deps.db, identity.userId))[0]?.id;
    const membership = workspaceId ? await repo.findMembership(deps.db, workspaceId, identity.userId) : undefined;
    if (requested && !membership) {
      throw new DomainError('not_found', 'WORKSPACE_NOT_FOUND', 'You are not a member of that workspace.');
    }
    const principal =
      membership && workspaceId
        ? principalFor({
            kind: 'user',
            workspaceId,
            role: membership.role,
            branchId: membership.branch_id,
            branchPath: membership.branch_path,
            userId: identity.userId,
            keyId: null,
            label: identity.label ?? `user:${identity.userId}`,
          })
        : null;
    members.set(cacheKey, principal);
    return principal;
  }

  const authenticator: Authenticator = {
    async authenticate(request: FastifyRequest): Promise<Authentication> {
      const header = request.headers.authorization;
      if (header) {
        const match = /^Bearer\s+(\S+)$/i.exec(header);
        if (!match?.[1]) {
          throw new DomainError(
            'unauthenticated',
            'INVALID_AUTHORIZATION',
            'Use "Authorization: Bearer <secret key>".',
          );
        }
        return { principal: await byKey(match[1]), session: null };
      }
      const cookie = request.cookies?.[SESSION_COOKIE];
      if (cookie) {
        const session = await bySession(cookie);
        const requested = request.headers[WORKSPACE_HEADER];
        const principal = await memberPrincipal(session, typeof requested === 'string' ? requested : undefined);
        return { principal, session };
      }
      return { principal: null, session: null };
    },
  };

  return {
    authenticator,
    /** Drops cached credentials after a revocation or sign-out, so this process stops honouring them at once. */
    forget(secretHashOrSessionId: string) {
      keys.deleteWhere((_token, entry) => entry.hash === secretHashOrSessionId);
      sessions.deleteWhere((_hash, identity) => identity.sessionId === secretHashOrSessionId);
      members.deleteWhere((key) => key.startsWith(`${secretHashOrSessionId}:`));
    },
    /** Membership changes (role, branch, removal) apply at the next lookup; this makes them apply at once here. */
    forgetMemberships() {
      members.deleteWhere(() => true);
    },
  };
}

/** Write keys authenticate ingestion (`/v1/…`): they can only append events to their workspace. */
export async function resolveWriteKey(
  deps: OrgDeps,
  key: string,
): Promise<{ workspaceId: string; keyId: string } | null> {
  const row = await repo.findActiveKeyByHash(deps.db, sha256Hex(key));
  return row && row.kind === 'write' ? { workspaceId: row.workspace_id, keyId: row.id } : null;
}

// ---- first start

export interface BootstrapInput {
  adminEmail?: string;
  adminPassword?: string;
  writeKey?: string;
  secretKey?: string;
  workspaceName: string;
  timeZone: string;
  locale?: Locale;
  currency?: string;
}

export interface BootstrapOutcome {
  createdWorkspace: boolean;
  workspaceId: string | null;
  adminEmail: string | null;
  /** Set only when Rapport generated the owner's password: printed once, never stored in clear. */
  generatedPassword: string | null;
}

/**
 * On an empty database: one workspace and its owner. Keys given in the environment are created if missing, on any
 * start, so automation can rely on them. Runs under an advisory lock so that two processes starting together
 * create one workspace, not two.
 */
export async function bootstrap(deps: OrgDeps, input: BootstrapInput): Promise<BootstrapOutcome> {
  const generated = input.adminPassword ? null : randomToken(16);
  const passwordHash = await hashPassword(input.adminPassword ?? (generated as string));
  return deps.db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext('rapport.bootstrap'))`.execute(trx);
    const outcome: BootstrapOutcome = {
      createdWorkspace: false,
      workspaceId: null,
      adminEmail: null,
      generatedPassword: null,
    };
    if ((await repo.countWorkspaces(trx)) === 0) {
      const workspaceId = newId();
      await repo.insertWorkspace(trx, {
        id: workspaceId,
        slug: 'main',
        name: input.workspaceName,
        time_zone: input.timeZone,
        locale: input.locale ?? 'en',
        currency: input.currency ?? 'EUR',
      });
      const email = (input.adminEmail ?? 'admin@rapport.local').toLowerCase();
      let user = await repo.findUserByEmail(trx, email);
      user ??= await repo.insertUser(trx, { id: newId(), email, name: 'Owner', password_hash: passwordHash });
      await repo.insertMembership(trx, { workspace_id: workspaceId, user_id: user.id, role: 'owner', branch_id: null });
      await recordAudit(trx, { system: true, workspaceId }, 'install.bootstrapped', {
        kind: 'workspace',
        id: workspaceId,
      });
      Object.assign(outcome, { createdWorkspace: true, workspaceId, adminEmail: email, generatedPassword: generated });
    }
    const firstWorkspace = (await trx
      .selectFrom('workspaces')
      .select('id')
      .orderBy('created_at')
      .limit(1)
      .executeTakeFirst()) as { id: string } | undefined;
    if (!firstWorkspace) return outcome;
    outcome.workspaceId ??= firstWorkspace.id;
    for (const [kind, secret] of [
      ['write', input.writeKey],
      ['secret', input.secretKey],
    ] as const) {
      if (!secret || (await repo.apiKeyHashExists(trx, sha256Hex(secret)))) continue;
      const id = newId();
      await repo.insertApiKey(trx, {
        id,
        workspace_id: firstWorkspace.id,
        kind,
        name: kind === 'write' ? 'Write key (from environment)' : 'Secret key (from environment)',
        prefix: keyDisplayPrefix(secret),
        secret_hash: sha256Hex(secret),
        write_key: kind === 'write' ? secret : null,
        role: kind === 'secret' ? 'owner' : null,
        branch_id: null,
        created_by: null,
      });
      await recordAudit(
        trx,
        { system: true, workspaceId: firstWorkspace.id },
        'key.created',
        { kind: 'api_key', id },
        {
          keyKind: kind,
          source: 'environment',
        },
      );
    }
    return outcome;
  });
}

export { SECRET_KEY_PREFIX, WRITE_KEY_PREFIX };
