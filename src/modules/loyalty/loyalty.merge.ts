import type { Db } from '../../platform/db.ts';
import { moveMemberRewards } from './loyalty.clubs.repo.ts';
import * as refRepo from './loyalty.referrals.repo.ts';
import * as repo from './loyalty.repo.ts';
import * as upkeep from './loyalty.upkeep.repo.ts';

/**
 * Balances follow merges. Inside the merge's transaction: when only the absorbed profile was a member of a
 * programme, its member now belongs to the survivor; when both were, the absorbed member's ledger, lots, cards,
 * transactions and cap counters move to the survivor's member and the balances add up (the absorbed member stays
 * as `merged`, pointing at the survivor's). Members are locked in id order, like every other change of them.
 */
export async function onMerge(
  trx: Db,
  workspaceId: string,
  merges: { survivorId: string; absorbedId: string }[],
  now: Date,
) {
  for (const { survivorId, absorbedId } of merges) {
    const members = await repo.lockMembersOfProfiles(trx, workspaceId, [survivorId, absorbedId]);
    const programmes = new Set(members.map((m) => m.programme_id));
    for (const programmeId of programmes) {
      const survivor = members.find((m) => m.programme_id === programmeId && m.profile_id === survivorId);
      const absorbed = members.find((m) => m.programme_id === programmeId && m.profile_id === absorbedId);
      if (!absorbed) continue;
      if (!survivor) await repo.repointMemberProfile(trx, workspaceId, absorbed.id, survivorId);
      else {
        await upkeep.foldMember(trx, workspaceId, survivor.id, absorbed.id, now);
        // Redemptions, coupons and club memberships follow the ledger.
        await moveMemberRewards(trx, workspaceId, survivor.id, absorbed.id);
      }
    }
    await upkeep.repointTimeline(trx, workspaceId, survivorId, absorbedId);
    // Referrals follow the survivor; one that now refers a person to themselves is rejected.
    await refRepo.followMerge(trx, workspaceId, survivorId, absorbedId, now);
  }
}
