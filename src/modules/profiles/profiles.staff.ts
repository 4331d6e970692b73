import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db.ts';
import { DomainError, notFound } from '../../platform/errors.ts';
import { newId } from '../../platform/ids.ts';
import type { Actor } from '../../platform/principal.ts';
import { isPersonLevel } from './profiles.identifiers.ts';
import { displayName } from './profiles.masking.ts';
import * as repo from './profiles.repo.ts';
import type { ProfilesDeps } from './profiles.service.ts';

/** Records a staff action in the audit log inside the action's transaction (the org module's recordAudit). */
export type AuditRecorder = (
  db: Db,
  actor: Actor,
  action: string,
  target: { kind: string; id: string },
  details?: Record<string, unknown>,
) => Promise<void>;

/** Records a staff read of personal data, awaited before answering (the org module's readAudit.record). */
export interface ReadAuditRecorder {
  record(
    actor: Actor,
    action: string,
    target: { kind: string; id: string } | null,
    details?: Record<string, unknown>,
  ): Promise<void>;
}

export interface StaffDeps extends ProfilesDeps {
  db: Db;
  clock: Clock;
  audit: AuditRecorder;
}

/**
 * A staff member merges two profiles they know to be one person. The same rule as automatic resolution applies:
 * two different values of one person-level kind refuse the merge. Both profiles are locked exclusively, which
 * waits for in-flight ingestion batches of either and holds new ones until the merge commits.
 */
export async function mergeProfiles(deps: StaffDeps, actor: Actor, survivorId: string, absorbedId: string) {
  const workspaceId = actor.principal.scope.workspaceId;
  if (survivorId === absorbedId)
    throw new DomainError('invalid', 'MERGE_WITH_ITSELF', 'Choose two different profiles.');
  return deps.db.transaction().execute(async (trx) => {
    await repo.lockKeys(trx, workspaceId, [`profile:${survivorId}`, `profile:${absorbedId}`]);
    const [survivor, absorbed] = await Promise.all([
      repo.findProfile(trx, workspaceId, survivorId),
      repo.findProfile(trx, workspaceId, absorbedId),
    ]);
    if (!survivor || !absorbed) throw notFound('Profile', 'PROFILE_NOT_FOUND');
    if (survivor.erased_at || absorbed.erased_at) {
      throw new DomainError('conflict', 'PROFILE_ERASED', 'An erased person cannot be merged with anyone.');
    }
    if (survivor.merged_into || absorbed.merged_into) {
      throw new DomainError(
        'conflict',
        'PROFILE_ALREADY_MERGED',
        'One of these profiles was already merged; open the survivor.',
      );
    }
    const identities = await repo.personIdentifiersOf(trx, workspaceId, [survivorId, absorbedId]);
    const held = new Map<string, string>();
    for (const i of identities.filter((i) => i.profile_id === survivorId)) held.set(i.kind, i.value);
    const conflicts = identities
      .filter(
        (i) => i.profile_id === absorbedId && isPersonLevel(i.kind) && held.has(i.kind) && held.get(i.kind) !== i.value,
      )
      .map((i) => i.kind);
    if (conflicts.length > 0) {
      throw new DomainError(
        'conflict',
        'MERGE_CONFLICT',
        `Both profiles hold a different ${conflicts.join(', ')}: they look like two people. Remove the wrong identifier first.`,
        { conflictingKinds: [...new Set(conflicts)] },
      );
    }
    await repo.foldInto(trx, workspaceId, survivorId, absorbedId);
    const merge = { absorbedId, survivorId, mergeId: newId() };
    await repo.applyMerges(trx, workspaceId, [merge], 'manual', actor.principal.actorLabel);
    for (const listener of deps.mergeListeners) await listener(trx, workspaceId, [{ survivorId, absorbedId }]);
    await deps.audit(trx, actor, 'profile.merged', { kind: 'profile', id: survivorId }, { absorbedId });
    return survivorId;
  });
}

/** A staff edit of traits, newest-wins like any other source (audited with the keys, never the values). */
export async function editProfileTraits(
  deps: StaffDeps,
  actor: Actor,
  id: string,
  change: { set: Record<string, unknown>; unset: string[] },
) {
  const workspaceId = actor.principal.scope.workspaceId;
  await deps.db.transaction().execute(async (trx) => {
    const updated = await repo.editTraits(trx, workspaceId, id, change.set, change.unset, deps.clock.now());
    if (!updated) throw notFound('Profile', 'PROFILE_NOT_FOUND');
    await deps.audit(
      trx,
      actor,
      'profile.traits_edited',
      { kind: 'profile', id },
      {
        set: Object.keys(change.set),
        unset: change.unset,
      },
    );
  });
}

/**
 * Names of profiles another module lists to staff (loyalty's referrals): each id's live profile's name (null when it
 * has none or is erased). The read is audited as the customer list's is: `profile.listed` with the profile ids and
 * what listed them.
 */
export async function namesFor(
  deps: { db: Db; readAudit: ReadAuditRecorder },
  actor: Actor,
  workspaceId: string,
  ids: string[],
  listedBy: string,
): Promise<Map<string, string | null>> {
  const wanted = [...new Set(ids)];
  const names = new Map<string, string | null>();
  if (wanted.length === 0) return names;
  const rows = await repo.profilesByIds(deps.db, workspaceId, wanted);
  const byId = new Map(rows.map((r) => [r.id, r]));
  const survivors = rows.flatMap((r) => (r.merged_into && !byId.has(r.merged_into) ? [r.merged_into] : []));
  for (const r of await repo.profilesByIds(deps.db, workspaceId, survivors)) byId.set(r.id, r);
  for (const id of wanted) {
    const row = byId.get(id);
    const live = row?.merged_into ? byId.get(row.merged_into) : row;
    names.set(id, live && !live.erased_at ? displayName(live.traits as Record<string, unknown>) : null);
  }
  await deps.readAudit.record(actor, 'profile.listed', null, { by: listedBy, profileIds: wanted });
  return names;
}
