import type { Db } from '../../platform/db.ts';
import { newId } from '../../platform/ids.ts';
import type { PersonalDataContributor } from '../../platform/personal-data.ts';
import type { Actor } from '../../platform/principal.ts';
import * as auditRepo from './org.audit.repo.ts';

/**
 * Audit entries of staff reads of personal data (a profile opened, a timeline, a search's results, an export).
 * A read has no transaction of its own to join, so entries are group-committed: while inserts are in flight (two at
 * most) the entries of other requests wait and go together in the next one, many rows to a statement. Each caller awaits its own
 * entry's commit before answering, so an answered read is always on record, even after `kill -9`, and a shutdown
 * (which lets requests in flight finish) loses nothing.
 */
export interface ReadAudit {
  record(
    actor: Actor,
    action: string,
    target: { kind: string; id: string } | null,
    details?: Record<string, unknown>,
  ): Promise<void>;
}

interface Waiting {
  row: Parameters<typeof auditRepo.insertAudits>[1][number];
  done: (error?: unknown) => void;
}

const MAX_ROWS = 500;
/** Inserts in flight at once: a second request need not wait for the first one's commit to start its own. */
const LANES = 2;

export function createReadAudit(db: Db): ReadAudit {
  const queue: Waiting[] = [];
  let inFlight = 0;

  function pump() {
    while (inFlight < LANES && queue.length > 0) {
      const group = queue.splice(0, MAX_ROWS);
      inFlight++;
      auditRepo
        .insertAudits(
          db,
          group.map((w) => w.row),
        )
        .then(
          () => {
            for (const w of group) w.done();
          },
          (error) => {
            for (const w of group) w.done(error ?? new Error('audit insert failed'));
          },
        )
        .finally(() => {
          inFlight--;
          pump();
        });
    }
  }

  return {
    record(actor, action, target, details = {}) {
      return new Promise<void>((resolve, reject) => {
        queue.push({
          row: {
            id: newId(),
            workspace_id: actor.principal.scope.workspaceId,
            actor_kind: actor.principal.kind,
            actor_id: actor.principal.userId ?? actor.principal.keyId,
            actor_label: actor.principal.actorLabel,
            action,
            target_kind: target?.kind ?? null,
            target_id: target?.id ?? null,
            ip: actor.ip,
            user_agent: actor.userAgent ?? null,
            details,
          },
          done: (error) => (error === undefined ? resolve() : reject(error)),
        });
        pump();
      });
    },
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const isId = (v: unknown) => typeof v === 'string' && UUID.test(v);

/** What an erased person's audit entries keep of their details: ids, and lists of ids; nothing else. */
export function idsOnly(details: Record<string, unknown>): Record<string, unknown> {
  const kept: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(details)) {
    if (isId(value)) kept[key] = value;
    else if (Array.isArray(value) && value.length > 0 && value.every(isId)) kept[key] = value;
  }
  return kept;
}

/**
 * The audit log's part of a data subject's export and erasure: entries about the profile (or one it absorbed), and
 * those of lists and searches that showed it. An export shows who did what and when (staff labels, not their IP
 * addresses); an erasure keeps the entries — the record that staff acted stays — with only ids in their details.
 */
export function auditContributor(): PersonalDataContributor {
  return {
    name: 'audit',
    async export(db, workspaceId, _profileId, subject) {
      const rows = await auditRepo.auditAboutProfiles(db, workspaceId, [...subject.profileIds]);
      return rows.map((r) => ({
        at: r.at.toISOString(),
        action: r.action,
        actorKind: r.actor_kind,
        actorLabel: r.actor_label,
        targetKind: r.target_kind,
        targetId: r.target_id,
        details: r.details,
      }));
    },
    async erase(trx, workspaceId, _profileId, subject) {
      await auditRepo.reduceAuditDetails(trx, workspaceId, [...subject.profileIds], idsOnly);
    },
  };
}
