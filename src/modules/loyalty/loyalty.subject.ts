import { sql } from 'kysely';
import type { Db } from '../../platform/db.ts';
import type { PersonalDataContributor } from '../../platform/personal-data.ts';
import { eraseReferralData, referralDataOf } from './loyalty.referrals.repo.ts';

/**
 * The loyalty module's part of a data subject's export and erasure. Erasure keeps the ledger's amounts and times
 * (balances and programme costs stay right) but removes what tells who the person was: card numbers become
 * `erased-<card id>` and the cards are blocked, reasons and cashier names are dropped, the one-time-code messages
 * and pending timeline events are deleted.
 */
export function loyaltyContributor(): PersonalDataContributor {
  const membersOf = (db: Db, workspaceId: string, ids: string[]) =>
    sql<{ id: string }>`select id from loyalty_members where workspace_id = ${workspaceId}
      and profile_id = any(${ids}::uuid[])`.execute(db);
  return {
    name: 'loyalty',
    async export(db, workspaceId, _profileId, subject) {
      const ids = [...subject.profileIds];
      const members = (await membersOf(db, workspaceId, ids)).rows.map((m) => m.id);
      const rows = async (label: string, q: Promise<{ rows: Record<string, unknown>[] }>) =>
        (await q).rows.map((r) => ({ record: label, ...r }));
      return [
        ...(await rows(
          'member',
          sql<Record<string, unknown>>`select m.id, p.key as programme, m.profile_id, m.status, m.tier, m.joined_at
            from loyalty_members m join loyalty_programmes p on p.id = m.programme_id
            where m.workspace_id = ${workspaceId} and m.id = any(${members}::uuid[])`.execute(db),
        )),
        ...(await rows(
          'card',
          sql<
            Record<string, unknown>
          >`select id, number, kind, status, status_reason, issued_at, status_at from loyalty_cards
            where workspace_id = ${workspaceId} and member_id = any(${members}::uuid[]) order by issued_at`.execute(db),
        )),
        ...(await rows(
          'transaction',
          sql<Record<string, unknown>>`select id, kind, original_id, external_id, occurred_at, channel, branch, cashier,
              currency, amount, points_spent, lines, event_name, earned, returned_amount, reversed_at
            from loyalty_transactions where workspace_id = ${workspaceId} and member_id = any(${members}::uuid[])
            order by occurred_at`.execute(db),
        )),
        ...(await rows(
          'ledger entry',
          sql<Record<string, unknown>>`select id, wallet, kind, amount, transaction_id, reverses, reason, occurred_at
            from loyalty_ledger where workspace_id = ${workspaceId} and member_id = any(${members}::uuid[])
            order by id`.execute(db),
        )),
        ...(await rows(
          'code message',
          sql<Record<string, unknown>>`select id, channel, address, body, created_at from loyalty_outbox
            where workspace_id = ${workspaceId} and profile_id = any(${ids}::uuid[]) order by created_at`.execute(db),
        )),
        ...(await referralDataOf(db, workspaceId, ids).then((d) => [
          ...d.codes.map((r) => ({ record: 'invite code', ...r })),
          ...d.referrals.map((r) => ({ record: 'referral', ...r })),
        ])),
      ];
    },
    async personalValues(db, workspaceId, _profileId, subject) {
      const ids = [...subject.profileIds];
      const r = await sql<{ v: string }>`select c.number as v from loyalty_cards c
        join loyalty_members m on m.id = c.member_id
        where c.workspace_id = ${workspaceId} and m.profile_id = any(${ids}::uuid[])`.execute(db);
      return r.rows.map((x) => x.v);
    },
    async erase(trx, workspaceId, _profileId, subject) {
      const ids = [...subject.profileIds];
      const members = (await membersOf(trx, workspaceId, ids)).rows.map((m) => m.id);
      await sql`update loyalty_cards set number = 'erased-' || id::text, qr_hash = null, status = 'blocked',
          status_reason = 'erased', is_identifier = false
        where workspace_id = ${workspaceId} and member_id = any(${members}::uuid[])`.execute(trx);
      await sql`update loyalty_ledger set reason = null, recorded_by = null
        where workspace_id = ${workspaceId} and member_id = any(${members}::uuid[])`.execute(trx);
      await sql`update loyalty_transactions set cashier = null, recorded_by = null, external_id = null,
          properties = case when kind = 'event' then properties - 'code' else null end
        where workspace_id = ${workspaceId} and member_id = any(${members}::uuid[])`.execute(trx);
      await sql`delete from loyalty_outbox where workspace_id = ${workspaceId} and profile_id = any(${ids}::uuid[])`.execute(
        trx,
      );
      await sql`delete from loyalty_timeline_outbox where workspace_id = ${workspaceId} and profile_id = any(${ids}::uuid[])`.execute(
        trx,
      );
      await sql`delete from loyalty_verifications where workspace_id = ${workspaceId} and member_id = any(${members}::uuid[])`.execute(
        trx,
      );
      await eraseReferralData(trx, workspaceId, ids);
    },
  };
}
