import { sql } from 'kysely';
import type { PersonalDataContributor } from '../../platform/personal-data.ts';
import type { KeyRing } from './codes.service.ts';

/**
 * The codes module's part of a data subject's export and erasure. Registrations are kept (a prize fund and its
 * counts must add up) but nothing in them tells who the person was beyond the profile id, which the erasure turns
 * into a tombstone. Attempts lose their IP, network, device and identifier hashes — both the accepted ones (tied
 * to the profile) and the refused ones made with the person's own phone, e-mail or user id. Placement contacts
 * are kept too (the report's counts must add up); they hold only the profile id, which becomes a tombstone.
 */
export function codesContributor(keys: KeyRing): PersonalDataContributor {
  return {
    name: 'codes',
    async export(db, workspaceId, _profileId, subject) {
      const ids = [...subject.profileIds];
      const registrations = await sql<Record<string, unknown>>`select r.id, r.registered_at, r.channel, r.reward,
          p.key as promotion, p.name as promotion_name
        from code_redemptions r join code_promotions p on p.id = r.promotion_id
        where r.workspace_id = ${workspaceId} and r.profile_id = any(${ids}::uuid[]) order by r.registered_at`.execute(
        db,
      );
      const attempts = await sql<Record<string, unknown>>`select id, at, outcome, channel, ip
        from code_attempts where workspace_id = ${workspaceId} and profile_id = any(${ids}::uuid[]) order by at`.execute(
        db,
      );
      // Which placements (TV slot, print ad …) reached the person, and the first of them.
      const contacts = await sql<Record<string, unknown>>`select c.at, c.kind, c.new_profile as first_touch,
          p.keyword as placement, p.name as placement_name, p.medium
        from placement_contacts c join code_placements p on p.id = c.placement_id
        where c.workspace_id = ${workspaceId} and c.profile_id = any(${ids}::uuid[]) order by c.at`.execute(db);
      return [
        ...registrations.rows.map((r) => ({ record: 'code registration', ...r })),
        ...attempts.rows.map((r) => ({ record: 'code entry', ...r })),
        ...contacts.rows.map((r) => ({ record: 'placement contact', ...r })),
      ];
    },
    async erase(trx, workspaceId, _profileId, subject) {
      const ids = [...subject.profileIds];
      const ring = await keys.of(trx, workspaceId);
      // The person's identifiers as the attempts hash them (kind:value); values of other kinds simply match nothing.
      const hashes = subject.values.flatMap((v) =>
        ['phone', 'email', 'user_id'].map((kind) => ring.identify(`${kind}:${v}`)),
      );
      await sql`update code_attempts set ip = null, net = null, device_hash = null, identifier_hash = null
        where workspace_id = ${workspaceId}
          and (profile_id = any(${ids}::uuid[]) or identifier_hash = any(${hashes}::text[]))`.execute(trx);
      await sql`delete from code_person_counts where workspace_id = ${workspaceId}
        and subject = any(${hashes.map((h) => `i:${h}`)}::text[])`.execute(trx);
    },
  };
}
