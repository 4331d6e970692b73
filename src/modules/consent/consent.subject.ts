import { sql } from 'kysely';
import type { Db } from '../../platform/db.ts';
import type { PersonalDataContributor } from '../../platform/personal-data.ts';

/**
 * The consent module's part of a data subject's export and erasure. Erasure keeps the ledger (what was granted or
 * refused, when, from which source) so that counts and proofs of other people stay consistent, but removes what
 * tells who the person was: addresses, IPs, user agents, and the confirmation messages sent to them.
 */
export function consentContributor(): PersonalDataContributor {
  return {
    name: 'consents',
    async export(db, workspaceId, _profileId, subject) {
      const ids = [...subject.profileIds];
      const entries = await sql<
        Record<string, unknown>
      >`select id, profile_id, channel, purpose, address, action, source,
          wording_version, occurred_at, recorded_at, ip, user_agent, operator, expires_at
        from consent_entries where workspace_id = ${workspaceId} and profile_id = any(${ids}::uuid[])
        order by occurred_at`.execute(db);
      const outbox = await sql<
        Record<string, unknown>
      >`select id, profile_id, channel, address, subject, body, created_at
        from consent_outbox where workspace_id = ${workspaceId} and profile_id = any(${ids}::uuid[])
        order by created_at`.execute(db);
      return [
        ...entries.rows.map((r) => ({ record: 'ledger entry', ...r })),
        ...outbox.rows.map((r) => ({ record: 'confirmation message', ...r })),
      ];
    },
    async personalValues(db, workspaceId, _profileId, subject) {
      const rows = await sql<{ v: string }>`select distinct address as v from consent_entries
        where workspace_id = ${workspaceId} and profile_id = any(${[...subject.profileIds]}::uuid[]) and address is not null`.execute(
        db,
      );
      return rows.rows.map((r) => r.v);
    },
    async erase(trx: Db, workspaceId, _profileId, subject) {
      const ids = [...subject.profileIds];
      await sql`update consent_entries set address = null, ip = null, user_agent = null, token_hash = null
        where workspace_id = ${workspaceId} and profile_id = any(${ids}::uuid[])`.execute(trx);
      await sql`update consent_status set address = null
        where workspace_id = ${workspaceId} and profile_id = any(${ids}::uuid[])`.execute(trx);
      await sql`delete from consent_outbox where workspace_id = ${workspaceId} and profile_id = any(${ids}::uuid[])`.execute(
        trx,
      );
    },
  };
}
