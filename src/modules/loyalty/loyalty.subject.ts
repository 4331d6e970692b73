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
          'reward redemption',
          sql<Record<string, unknown>>`select d.id, w.name_en as reward, d.wallet, d.points, d.channel, d.branch,
              d.cashier, d.redeemed_at
            from loyalty_redemptions d join loyalty_rewards w on w.id = d.reward_id
            where d.workspace_id = ${workspaceId} and d.member_id = any(${members}::uuid[]) order by d.redeemed_at`.execute(
            db,
          ),
        )),
        ...(await rows(
          'coupon',
          sql<Record<string, unknown>>`select c.id, c.last4, c.value_minor, c.currency, c.valid_from, c.valid_until,
              c.created_at, (select max(u.used_at) from loyalty_coupon_uses u where u.coupon_id = c.id
                and u.reversed_at is null) as used_at
            from loyalty_coupons c
            where c.workspace_id = ${workspaceId} and c.member_id = any(${members}::uuid[]) order by c.created_at`.execute(
            db,
          ),
        )),
        ...(await rows(
          'club membership',
          sql<Record<string, unknown>>`select c.key as club, c.name_en as name, cm.joined_at
            from loyalty_club_members cm join loyalty_clubs c on c.id = cm.club_id
            where cm.workspace_id = ${workspaceId} and cm.member_id = any(${members}::uuid[])
            order by cm.joined_at`.execute(db),
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
      await sql`update loyalty_redemptions set cashier = null, recorded_by = null
        where workspace_id = ${workspaceId} and member_id = any(${members}::uuid[])`.execute(trx);
      await sql`delete from loyalty_club_members
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
