import type { Clock } from '../../platform/clock.ts';
import type { Config } from '../../platform/config.ts';
import type { Db } from '../../platform/db.ts';
import type { Logger } from '../../platform/logger.ts';
import type { PersonalDataRegistry } from '../../platform/personal-data.ts';
import type { QueueDefinition } from '../../platform/queue.ts';
import * as auditRepo from './org.audit.repo.ts';
import { auditContributor, createReadAudit } from './org.audit.ts';
import { bootstrap, createAuthenticator, resolveWriteKey } from './org.auth.ts';
import * as repo from './org.repo.ts';
import { orgRoutes } from './org.routes.ts';
import { type OrgDeps, recordAudit, subjectKeys } from './org.service.ts';

export type { ReadAudit } from './org.audit.ts';
export type { BootstrapInput, BootstrapOutcome } from './org.auth.ts';
export type { Permission, Role } from './org.schemas.ts';
export { CSRF_HEADER, PERMISSIONS, ROLE_PERMISSIONS, ROLES, WORKSPACE_HEADER } from './org.schemas.ts';

/**
 * org: workspaces, users and their roles, branches, API keys, console sessions and the audit log.
 *
 * ```ts
 * const org = createOrgModule({ db, clock, logger, config });
 * await org.bootstrap({ workspaceName: 'Acme', timeZone: 'Europe/Moscow' });
 * app.register(org.routes);             // under /api/v1
 * const principal = await org.authenticator.authenticate(request);
 * ```
 */
export function createOrgModule(input: {
  db: Db;
  clock: Clock;
  logger: Logger;
  config: Config;
  /** Where the audit log registers its part of a data subject's export and erasure. */
  personalData?: PersonalDataRegistry;
}) {
  let auth: ReturnType<typeof createAuthenticator> | undefined;
  const deps: OrgDeps = {
    db: input.db,
    clock: input.clock,
    logger: input.logger,
    onCredentialRevoked: (id) => auth?.forget(id),
    onMembershipChanged: () => auth?.forgetMemberships(),
  };
  auth = createAuthenticator(deps, input.config);
  input.personalData?.register(auditContributor());
  const secureCookies = input.config.secureCookies ?? Boolean(input.config.publicUrl?.startsWith('https://'));
  return {
    authenticator: auth.authenticator,
    routes: orgRoutes(deps, { secureCookies }),
    bootstrap: (options: Parameters<typeof bootstrap>[1]) => bootstrap(deps, options),
    /** For ingestion: which workspace a write key belongs to (null when unknown, revoked or not a write key). */
    resolveWriteKey: (key: string) => resolveWriteKey(deps, key),
    /**
     * The workspace's newest active write key, for snippets that go into web pages (forms' embed code). Write keys
     * only append events and are public by design; secret keys are never returned.
     */
    publishableWriteKey: (workspaceId: string) => repo.newestWriteKey(deps.db, workspaceId),
    /** For command-line tools: a workspace by id or slug, or the first one when none is named. */
    findWorkspace: async (idOrSlug?: string) =>
      idOrSlug ? repo.findWorkspaceByIdOrSlug(input.db, idOrSlug) : repo.firstWorkspace(input.db),
    /** Other modules record staff actions here, inside their own transaction. */
    recordAudit,
    /** Staff reads of personal data (no transaction to join): group-committed, awaited before answering. */
    readAudit: createReadAudit(input.db),
    /** The workspace's HMAC key for an erased person's identifiers (created on first use, never shown). */
    subjectKey: subjectKeys(),
    /** Nightly: expired sessions go, and audit entries older than RAPPORT_AUDIT_RETENTION_DAYS when it is set. */
    jobs: [
      {
        name: 'org.maintenance',
        schedule: '23 3 * * *',
        handler: async () => {
          const now = input.clock.now();
          const sessions = await repo.deleteExpiredSessions(input.db, now);
          const days = input.config.auditRetentionDays;
          const audit =
            days > 0 ? await auditRepo.purgeAuditBefore(input.db, new Date(now.getTime() - days * 86_400_000)) : 0;
          input.logger.info({ sessions, audit, auditRetentionDays: days }, 'org maintenance done');
        },
      },
    ] satisfies QueueDefinition[],
  };
}
export type OrgModule = ReturnType<typeof createOrgModule>;
