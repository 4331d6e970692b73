import type { Db } from '../../platform/db.ts';
import { DomainError, notFound } from '../../platform/errors.ts';
import { hmacHex } from '../../platform/ids.ts';
import type { PersonalDataContributor, PersonalDataRegistry } from '../../platform/personal-data.ts';
import type { Actor } from '../../platform/principal.ts';
import { type Identifier, identifierKey } from './profiles.identifiers.ts';
import * as repo from './profiles.repo.ts';
import type { ErasureRequest, ErasureResult, SubjectExport } from './profiles.schemas.ts';
import type { StaffDeps } from './profiles.staff.ts';

/**
 * Data-subject rights on profiles: export (everything kept about a person, from every module that registered in the
 * personal-data registry) and erasure (irreversible, in one transaction).
 *
 * An erased profile stays as a tombstone: its id keeps the events' aggregates whole, its traits are emptied, and its
 * identifiers are replaced by keyed hashes (HMAC-SHA-256 of kind and value under the workspace's own key) in
 * `erased_identities`. The hashes let ingestion recognise the person — `erasedIdentifiers` below — without keeping
 * the e-mail or phone. The rule (docs/operations.md): imports and write-key ingestion that carry an erased
 * identifier are refused with ERASED_SUBJECT, so nobody re-creates the person by accident; only the person coming
 * back themselves (their own sign-up through a hosted form, a code they enter) lifts it: `resolveObservations(…,
 * { readmit: true })`, with the hashes from `erasedHashesOf`.
 */

/** The workspace's HMAC key (org), read inside the caller's transaction when there is one. */
export type SubjectKeyOf = (db: Db, workspaceId: string) => Promise<string>;

export interface SubjectDeps extends StaffDeps {
  personalData: PersonalDataRegistry;
  subjectKey: SubjectKeyOf;
}

export const ERASED_SUBJECT = 'ERASED_SUBJECT';

export function identifierHash(key: string, id: { kind: string; value: string }): string {
  return hmacHex(key, `${id.kind}\u0001${id.value}`);
}

/**
 * Trait names whose values say who a person is (compared without case, `_` and `-`). Their values, with the
 * identifiers, are what other sections scrub out of free-form fields. Other traits (plan, locale, city) are emptied
 * with the profile but not hunted down elsewhere: an event named like someone's favourite drink keeps its name.
 */
const PERSONAL_TRAITS = new Set([
  'name',
  'firstname',
  'lastname',
  'middlename',
  'fullname',
  'patronymic',
  'username',
  'email',
  'phone',
  'mobile',
  'card',
  'cardnumber',
  'address',
  'street',
  'birthday',
  'birthdate',
  'dateofbirth',
  'passport',
]);
const CONTACT = /@|^\+?[\d\s()-]{7,}$/;

function personalStrings(value: unknown, key: string, out: string[]) {
  if (typeof value === 'string' || typeof value === 'number') {
    const text = String(value);
    if (PERSONAL_TRAITS.has(key.toLowerCase().replace(/[-_]/g, '')) || CONTACT.test(text)) out.push(text);
  } else if (Array.isArray(value)) for (const v of value) personalStrings(v, key, out);
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) personalStrings(v, k, out);
  return out;
}

/** The profiles module's sections: the profile rows, their identities, their merges. */
export function profileContributors(subjectKey: SubjectKeyOf): PersonalDataContributor[] {
  return [
    {
      name: 'profile',
      async export(db, workspaceId, _profileId, subject) {
        const rows = await repo.profilesByIds(db, workspaceId, subject.profileIds);
        return rows.map((r) => ({
          id: r.id,
          mergedInto: r.merged_into,
          traits: r.traits,
          channels: r.channels,
          firstSeenAt: r.first_seen_at.toISOString(),
          lastSeenAt: r.last_seen_at.toISOString(),
          createdAt: r.created_at.toISOString(),
          erasedAt: r.erased_at?.toISOString() ?? null,
        }));
      },
      async personalValues(trx, workspaceId, _profileId, subject) {
        const rows = await repo.profilesByIds(trx, workspaceId, subject.profileIds);
        return rows.flatMap((r) => personalStrings(r.traits, '', []));
      },
      async erase(trx, workspaceId, _profileId, subject) {
        await repo.tombstoneProfiles(trx, workspaceId, subject.profileIds, new Date());
      },
    },
    {
      name: 'identities',
      async export(db, workspaceId, _profileId, subject) {
        const rows = await repo.identitiesOfProfiles(db, workspaceId, subject.profileIds);
        return rows.map((r) => ({
          profileId: r.profile_id,
          kind: r.kind,
          value: r.value,
          since: r.created_at.toISOString(),
        }));
      },
      async personalValues(trx, workspaceId, _profileId, subject) {
        return (await repo.identitiesOfProfiles(trx, workspaceId, subject.profileIds)).map((i) => i.value);
      },
      async erase(trx, workspaceId, _profileId, subject) {
        const key = await subjectKey(trx, workspaceId);
        const rows = await repo.identitiesOfProfiles(trx, workspaceId, subject.profileIds);
        await repo.replaceIdentitiesByHashes(
          trx,
          workspaceId,
          subject.profileIds,
          rows.map((r) => ({ kind: r.kind, hash: identifierHash(key, r), profileId: r.profile_id })),
        );
      },
    },
    {
      // Ids, reasons and staff labels only: nothing to erase, but part of what the person may see.
      name: 'merges',
      async export(db, workspaceId, _profileId, subject) {
        const rows = await repo.mergesOfProfiles(db, workspaceId, subject.profileIds);
        return rows.map((r) => ({
          survivorId: r.survivor_id,
          absorbedId: r.absorbed_id,
          reason: r.reason,
          actor: r.actor,
          at: r.at.toISOString(),
        }));
      },
      async erase() {},
    },
  ];
}

/** Everything kept about the person an id stands for (itself, or the survivor it was merged into). */
export async function exportSubject(deps: SubjectDeps, workspaceId: string, id: string): Promise<SubjectExport> {
  const asked = await repo.findProfile(deps.db, workspaceId, id);
  if (!asked) throw notFound('Profile', 'PROFILE_NOT_FOUND');
  const liveId = asked.merged_into ?? asked.id;
  const absorbed = await repo.absorbedInto(deps.db, workspaceId, liveId);
  return deps.personalData.exportSubject(deps.db, workspaceId, { profileIds: [liveId, ...absorbed] }, deps.clock.now());
}

/**
 * Erases the person an id stands for, in one transaction: every registered section erases its part, then the
 * erasure is audited with ids and the reason code only. Locks as a merge does — the person's identifiers, then the
 * profile, exclusively — so ingestion batches already writing to them finish first and later ones wait.
 */
export async function eraseSubject(
  deps: SubjectDeps,
  actor: Actor,
  id: string,
  request: ErasureRequest,
): Promise<ErasureResult> {
  const workspaceId = actor.principal.scope.workspaceId;
  return deps.db.transaction().execute(async (trx) => {
    const asked = await repo.findProfile(trx, workspaceId, id);
    if (!asked) throw notFound('Profile', 'PROFILE_NOT_FOUND');
    const liveId = asked.merged_into ?? asked.id;
    const identities = await repo.identitiesOfProfiles(trx, workspaceId, [liveId]);
    await repo.lockKeys(
      trx,
      workspaceId,
      identities.map((i) => identifierKey(i as Identifier)),
    );
    await repo.lockKeys(trx, workspaceId, [`profile:${liveId}`]);
    const live = await repo.findProfile(trx, workspaceId, liveId);
    if (!live) throw notFound('Profile', 'PROFILE_NOT_FOUND');
    if (live.merged_into) {
      throw new DomainError('conflict', 'PROFILE_ALREADY_MERGED', 'This profile was merged meanwhile; try again.');
    }
    if (live.erased_at) {
      throw new DomainError('conflict', 'PROFILE_ALREADY_ERASED', 'This person has already been erased.');
    }
    const absorbed = await repo.absorbedInto(trx, workspaceId, liveId);
    await deps.personalData.eraseSubject(trx, workspaceId, { profileIds: [liveId, ...absorbed] });
    const erased = await repo.findProfile(trx, workspaceId, liveId);
    const sections = deps.personalData.contributors.map((c) => c.name);
    await deps.audit(
      trx,
      actor,
      'profile.erased',
      { kind: 'profile', id: liveId },
      { reason: request.reason, ...(request.ticket ? { ticket: request.ticket } : {}), absorbedIds: absorbed },
    );
    return {
      profileId: liveId,
      erasedAt: (erased?.erased_at ?? new Date()).toISOString(),
      absorbedProfiles: absorbed.length,
      sections,
    };
  });
}

/**
 * For ingestion and imports: which identifiers of each message belong to an erased person (empty when none).
 * A message with any is to be refused with `erasedSubjectRejection`. One probe whether the workspace has erased
 * anyone, then (if so) one primary-key probe per distinct identifier; pass the transaction when inside one.
 */
export async function erasedIdentifiers(
  subjectKey: SubjectKeyOf,
  db: Db,
  workspaceId: string,
  messages: readonly (readonly Identifier[])[],
): Promise<Identifier[][]> {
  const distinct = new Map<string, Identifier>();
  for (const ids of messages) for (const id of ids) distinct.set(identifierKey(id), id);
  if (distinct.size === 0) return messages.map(() => []);
  // Most workspaces have erased nobody (or nobody lately): then nothing is hashed (an HMAC per identifier was 4% of
  // a tracking server's CPU).
  if (!(await repo.anyErased(db, workspaceId))) return messages.map(() => []);
  const key = await subjectKey(db, workspaceId);
  const hashes = new Map<string, string>();
  for (const [k, id] of distinct) hashes.set(k, identifierHash(key, id));
  const all = [...distinct.entries()];
  const found = await repo.findErasedHashes(
    db,
    workspaceId,
    all.map(([, id]) => id.kind),
    all.map(([k]) => hashes.get(k) as string),
  );
  if (found.length === 0) return messages.map(() => []);
  const erased = new Set(found.map((f) => `${f.kind}\u0001${f.hash}`));
  return messages.map((ids) =>
    ids.filter((id) => erased.has(`${id.kind}\u0001${hashes.get(identifierKey(id)) as string}`)),
  );
}

const KIND_NAMES: Record<string, string> = { email: 'e-mail', phone: 'phone', card: 'card', user_id: 'user id' };

/** The rejection for a message of an erased person: names the kinds of identifier, never their values. */
export function erasedSubjectRejection(matched: readonly Identifier[]): { code: string; message: string } {
  const kinds = [...new Set(matched.map((m) => KIND_NAMES[m.kind] ?? m.kind.replace('_', ' ')))].join(', ');
  return {
    code: ERASED_SUBJECT,
    message: `This person's data was erased (recognised by ${kinds}); it is not taken again from imports or tracking.`,
  };
}

/** The kinds and keyed hashes under which identifiers would be on the workspace's erasure list. */
export async function erasedHashesOf(
  subjectKey: SubjectKeyOf,
  db: Db,
  workspaceId: string,
  ids: readonly Identifier[],
): Promise<{ kinds: string[]; hashes: string[] }> {
  if (ids.length === 0) return { kinds: [], hashes: [] };
  const key = await subjectKey(db, workspaceId);
  return { kinds: ids.map((i) => i.kind), hashes: ids.map((i) => identifierHash(key, i)) };
}
