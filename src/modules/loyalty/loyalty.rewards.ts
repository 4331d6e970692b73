import { formatCode } from '../../platform/codes/alphabet.ts';
import { DomainError, notFound } from '../../platform/errors.ts';
import { newId } from '../../platform/ids.ts';
import type { Actor } from '../../platform/principal.ts';
import * as clubsRepo from './loyalty.clubs.repo.ts';
import { couponKeys, newCouponCode } from './loyalty.coupons.ts';
import * as ledgerRepo from './loyalty.ledger.repo.ts';
import { checkProof } from './loyalty.proof.ts';
import * as repo from './loyalty.rewards.repo.ts';
import type {
  RedeemRequest,
  Redemption,
  RedemptionCancel,
  RedemptionCancelled,
  Reward,
  RewardCreate,
  RewardUpdate,
} from './loyalty.rewards.schemas.ts';
import type { LoyaltyDeps, ProgrammeState } from './loyalty.service.ts';
import { type Answer, change, idempotencyOf, memberKeyOf, tillFields } from './loyalty.till.ts';

/**
 * The rewards catalogue and redeeming a reward. A redemption is a ledger change like a payment with points: the
 * member's state is read, the burn planned in memory (LedgerDraft.debit, reason naming the reward), and
 * loyalty_apply writes it in one statement together with the reward part (loyalty_apply_reward: one unit of stock
 * under the reward row's lock — never below 0 —, the per-member limit, the redemption, the coupon). It needs the
 * customer's proof exactly as spending at a till does (checkProof). Failure codes: REWARD_NOT_FOUND,
 * REWARD_NOT_AVAILABLE, OUT_OF_STOCK, INSUFFICIENT_POINTS, TIER_REQUIRED, CLUB_REQUIRED, REWARD_LIMIT, VERIFICATION_REQUIRED
 * (and the proof's own VERIFICATION_* codes).
 */

export function rewardOut(r: repo.RewardRow, programmeKey: string): Reward {
  return {
    id: r.id,
    programme: programmeKey,
    kind: r.kind,
    nameEn: r.name_en,
    nameRu: r.name_ru,
    descriptionEn: r.description_en,
    descriptionRu: r.description_ru,
    wallet: r.wallet,
    cost: r.cost,
    stock: r.stock,
    redeemed: r.redeemed,
    perMemberLimit: r.per_member_limit,
    startsAt: r.starts_at?.toISOString() ?? null,
    endsAt: r.ends_at?.toISOString() ?? null,
    tier: r.tier,
    clubId: r.club_id,
    imageUrl: r.image_url,
    couponValueMinor: r.coupon_value_minor,
    couponMinBasketMinor: r.coupon_min_basket_minor,
    couponValidDays: r.coupon_valid_days,
    status: r.status,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

const date = (s: string | null | undefined) => (s === undefined ? undefined : s === null ? null : new Date(s));

async function checkRefs(
  deps: LoyaltyDeps,
  workspaceId: string,
  state: ProgrammeState,
  input: { tier?: string | null; clubId?: string | null },
) {
  if (input.tier && !state.row.settings.tiers?.levels.some((l) => l.key === input.tier))
    throw new DomainError('invalid', 'UNKNOWN_TIER', `The programme has no tier "${input.tier}".`);
  if (input.clubId) {
    const club = await clubsRepo.clubById(deps.db, workspaceId, input.clubId);
    if (!club || club.programme_id !== state.row.id) throw new DomainError('invalid', 'UNKNOWN_CLUB', 'No such club.');
  }
}

export async function createReward(deps: LoyaltyDeps, actor: Actor, programmeKey: string, input: RewardCreate) {
  const { workspaceId } = actor.principal.scope;
  const state = await deps.programmes.get(deps.db, workspaceId, programmeKey);
  const wallet = input.wallet ?? state.row.settings.wallets[0]?.key ?? 'points';
  if (!state.wallets.has(wallet))
    throw new DomainError('invalid', 'UNKNOWN_WALLET', `The programme has no wallet "${wallet}".`);
  await checkRefs(deps, workspaceId, state, input);
  const id = newId();
  const now = deps.clock.now();
  await deps.db.transaction().execute(async (trx) => {
    await repo.insertReward(
      trx,
      workspaceId,
      state.row.id,
      id,
      {
        kind: input.kind,
        name_en: input.nameEn,
        name_ru: input.nameRu ?? null,
        description_en: input.descriptionEn ?? null,
        description_ru: input.descriptionRu ?? null,
        wallet,
        cost: input.cost,
        stock: input.stock,
        per_member_limit: input.perMemberLimit,
        starts_at: date(input.startsAt) ?? null,
        ends_at: date(input.endsAt) ?? null,
        tier: input.tier ?? null,
        club_id: input.clubId ?? null,
        image_url: input.imageUrl ?? null,
        coupon_value_minor: input.couponValueMinor ?? null,
        coupon_min_basket_minor: input.couponMinBasketMinor,
        coupon_valid_days: input.couponValidDays ?? null,
        status: input.status,
      },
      now,
    );
    await deps.audit(trx, actor, 'loyalty.reward_created', { kind: 'loyalty_reward', id }, { programme: programmeKey });
  });
  return (await repo.rewardById(deps.db, workspaceId, id)) as repo.RewardRow;
}

export async function requireReward(deps: LoyaltyDeps, workspaceId: string, state: ProgrammeState, id: string) {
  const reward = await repo.rewardById(deps.db, workspaceId, id);
  if (!reward || reward.programme_id !== state.row.id) throw notFound('Reward', 'REWARD_NOT_FOUND');
  return reward;
}

export async function updateReward(
  deps: LoyaltyDeps,
  actor: Actor,
  programmeKey: string,
  id: string,
  patch: RewardUpdate,
) {
  const { workspaceId } = actor.principal.scope;
  const state = await deps.programmes.get(deps.db, workspaceId, programmeKey);
  const reward = await requireReward(deps, workspaceId, state, id);
  await checkRefs(deps, workspaceId, state, patch);
  const startsAt = patch.startsAt !== undefined ? date(patch.startsAt) : reward.starts_at;
  const endsAt = patch.endsAt !== undefined ? date(patch.endsAt) : reward.ends_at;
  if (startsAt && endsAt && startsAt >= endsAt)
    throw new DomainError('invalid', 'INVALID_WINDOW', 'startsAt comes before endsAt.');
  if ((reward.kind === 'discount' || reward.kind === 'coupon') && patch.couponValueMinor === null)
    throw new DomainError('invalid', 'COUPON_VALUE_REQUIRED', 'Discount and coupon rewards need couponValueMinor.');
  await deps.db.transaction().execute(async (trx) => {
    await repo.updateReward(
      trx,
      workspaceId,
      reward.id,
      {
        name_en: patch.nameEn,
        name_ru: patch.nameRu,
        description_en: patch.descriptionEn,
        description_ru: patch.descriptionRu,
        cost: patch.cost,
        stock: patch.stock,
        per_member_limit: patch.perMemberLimit,
        starts_at: date(patch.startsAt),
        ends_at: date(patch.endsAt),
        tier: patch.tier,
        club_id: patch.clubId,
        image_url: patch.imageUrl,
        coupon_value_minor: patch.couponValueMinor,
        coupon_min_basket_minor: patch.couponMinBasketMinor,
        coupon_valid_days: patch.couponValidDays,
        status: patch.status,
      },
      deps.clock.now(),
    );
    await deps.audit(
      trx,
      actor,
      'loyalty.reward_updated',
      { kind: 'loyalty_reward', id },
      {
        fields: Object.keys(patch),
      },
    );
  });
  return (await repo.rewardById(deps.db, workspaceId, id)) as repo.RewardRow;
}

/** Maps the apply's refusals to the catalogue's stable codes; the ledger's and the proof's keep the till's codes. */
function rewardError(error: unknown): unknown {
  const e = error as { code?: string };
  if (e.code === 'LY102') return new DomainError('conflict', 'OUT_OF_STOCK', 'This reward is out of stock.');
  if (e.code === 'LY101')
    return new DomainError('conflict', 'REWARD_LIMIT', 'The customer has redeemed this reward as often as allowed.');
  if (e.code === 'LY103') return alreadyCancelled();
  if (e.code === 'LY104') return couponUsed();
  return error;
}

/**
 * Redeems a reward for a member: checks availability, tier, club and limit, the customer's proof, then burns the
 * cost and takes one unit of stock in one statement; coupon and discount rewards issue a coupon whose clear code is
 * in this answer only (a replay shows its last four characters) and goes to the customer's phone.
 */
export async function redeemReward(
  deps: LoyaltyDeps,
  actor: Actor,
  programmeKey: string,
  rewardId: string,
  input: RedeemRequest,
  key: string,
): Promise<Answer<Redemption>> {
  const { workspaceId } = actor.principal.scope;
  const state = await deps.programmes.get(deps.db, workspaceId, programmeKey);
  const reward = await requireReward(deps, workspaceId, state, rewardId);
  const fields = tillFields(actor, input);
  const customerKey = memberKeyOf(input.customer);
  let clear: string | null = null;
  let answer: Answer<Redemption>;
  try {
    answer = await change(
      deps,
      workspaceId,
      programmeKey,
      customerKey,
      idempotencyOf(`redeem:${programmeKey}:${rewardId}`, key, input),
      fields.recordedBy,
      async (ctx) => {
        const { member, now } = ctx;
        if (
          reward.status !== 'active' ||
          (reward.starts_at && reward.starts_at > now) ||
          (reward.ends_at && reward.ends_at <= now)
        )
          throw new DomainError('conflict', 'REWARD_NOT_AVAILABLE', 'This reward cannot be redeemed now.');
        if (reward.stock === 0) throw new DomainError('conflict', 'OUT_OF_STOCK', 'This reward is out of stock.');
        if (reward.tier) {
          const levels = ctx.state.row.settings.tiers?.levels ?? [];
          const needed = levels.findIndex((l) => l.key === reward.tier);
          const has = member.tier ? levels.findIndex((l) => l.key === member.tier) : -1;
          if (has < needed)
            throw new DomainError(
              'forbidden',
              'TIER_REQUIRED',
              `This reward needs the tier "${reward.tier}" or higher.`,
              {
                tier: reward.tier,
              },
            );
        }
        if (reward.club_id) {
          const club = await clubsRepo.clubById(ctx.db, workspaceId, reward.club_id);
          if (!club || !member.clubs.includes(club.key))
            throw new DomainError('forbidden', 'CLUB_REQUIRED', 'This reward is for members of a club.', {
              club: club?.key ?? null,
            });
        }
        if (
          reward.per_member_limit !== null &&
          (await repo.redemptionsOfMember(ctx.db, workspaceId, member.memberId, reward.id)) >= reward.per_member_limit
        )
          throw new DomainError(
            'conflict',
            'REWARD_LIMIT',
            'The customer has redeemed this reward as often as allowed.',
          );
        await checkProof(ctx, workspaceId, input.verification, 'qrHash' in customerKey);
        const entry = ctx.draft.debit({
          kind: 'burn',
          wallet: reward.wallet,
          points: reward.cost,
          transactionId: null,
          reason: `Reward: ${reward.name_en} (${reward.id})`,
        });
        const redemptionId = newId();
        let coupon: Redemption['coupon'] = null;
        let couponDoc: Record<string, unknown> | undefined;
        if (reward.kind === 'coupon' || reward.kind === 'discount') {
          const keys = await couponKeys.of(ctx.db, workspaceId);
          const issued = newCouponCode(keys.hasher);
          clear = issued.code;
          const validUntil = reward.coupon_valid_days
            ? new Date(now.getTime() + reward.coupon_valid_days * 86_400_000)
            : reward.ends_at;
          const phone = (await deps.profiles.directory.identifiersOf(ctx.db, workspaceId, member.profileId)).find(
            (i) => i.kind === 'phone',
          )?.value;
          coupon = {
            id: newId(),
            code: null,
            last4: issued.last4,
            valueMinor: reward.coupon_value_minor ?? 0,
            currency: ctx.state.row.currency,
            minBasketMinor: reward.coupon_min_basket_minor,
            validFrom: now.toISOString(),
            validUntil: validUntil?.toISOString() ?? null,
            sentToPhone: Boolean(phone),
          };
          couponDoc = {
            id: coupon.id,
            codeHash: issued.hash,
            last4: issued.last4,
            currency: coupon.currency,
            valueMinor: coupon.valueMinor,
            minBasketMinor: coupon.minBasketMinor,
            validFrom: coupon.validFrom,
            validUntil: coupon.validUntil,
          };
          if (phone) {
            const text = formatCode(issued.code);
            const programmeName = ctx.state.row.name;
            ctx.alongside = (trx) =>
              deps.sender.send(trx, workspaceId, {
                profileId: member.profileId,
                channel: 'sms',
                address: phone,
                body: `${programmeName}: your coupon ${text} (${reward.name_en}). / ${programmeName}: ваш купон ${text} (${reward.name_ru ?? reward.name_en}).`,
                now,
              });
          }
        }
        ctx.changes.reward = {
          id: redemptionId,
          rewardId: reward.id,
          programmeId: ctx.state.row.id,
          entryId: entry.id,
          wallet: reward.wallet,
          points: reward.cost,
          ...fields,
          at: now.toISOString(),
          ...(couponDoc ? { coupon: couponDoc } : {}),
        };
        ctx.changes.timeline.push({
          id: redemptionId,
          profileId: member.profileId,
          name: 'Loyalty Reward Redeemed',
          properties: {
            programme: programmeKey,
            rewardId: reward.id,
            reward: reward.name_en,
            kind: reward.kind,
            points: reward.cost,
            wallet: reward.wallet,
          },
          channel: fields.channel,
          occurredAt: now,
          card: member.cardIdentifier,
        });
        return {
          status: 201,
          body: {
            redemptionId,
            rewardId: reward.id,
            memberId: member.memberId,
            profileId: member.profileId,
            wallet: reward.wallet,
            points: reward.cost,
            balances: ctx.draft.balancesAfter([...ctx.state.wallets.keys()]),
            coupon,
            redeemedAt: now.toISOString(),
          },
        };
      },
    );
  } catch (error) {
    throw rewardError(error);
  }
  if (answer.replayed || !answer.body.coupon || !clear) return answer;
  return { ...answer, body: { ...answer.body, coupon: { ...answer.body.coupon, code: formatCode(clear) } } };
}

const alreadyCancelled = () =>
  new DomainError('conflict', 'REDEMPTION_CANCELLED', 'This redemption has already been cancelled.');
const couponUsed = () =>
  new DomainError(
    'conflict',
    'COUPON_USED',
    'The coupon issued for this reward has been used; cancel its use at the till first.',
  );

/**
 * Cancels a redemption (the customer changed their mind, the prize could not be handed over): the points go back to
 * the lots they were taken from — points of lots that have expired since are not returned, as with any reversal —,
 * the unit of stock returns, and the coupon it issued becomes void. A redemption whose coupon has been used cannot be
 * cancelled (COUPON_USED) until that use is reversed. Giving points back needs no proof from the customer; the
 * cancellation is staff's act, recorded on the ledger, the redemption, the timeline and the audit log.
 */
export async function cancelRedemption(
  deps: LoyaltyDeps,
  actor: Actor,
  programmeKey: string,
  redemptionId: string,
  input: RedemptionCancel,
  key: string,
): Promise<Answer<RedemptionCancelled>> {
  const { workspaceId, branchId } = actor.principal.scope;
  const state = await deps.programmes.get(deps.db, workspaceId, programmeKey);
  const found = await repo.redemptionById(deps.db, workspaceId, redemptionId);
  // A branch-bound key sees only its branch's redemptions, as with coupon uses.
  if (!found || found.programme_id !== state.row.id || (branchId && found.branch_id !== branchId))
    throw notFound('Redemption', 'REDEMPTION_NOT_FOUND');
  const fields = tillFields(actor, input);
  let answer: Answer<RedemptionCancelled>;
  try {
    answer = await change(
      deps,
      workspaceId,
      programmeKey,
      { memberId: found.member_id },
      idempotencyOf(`cancel-redemption:${redemptionId}`, key, input),
      fields.recordedBy,
      async (ctx) => {
        const redemption = await repo.redemptionById(ctx.db, workspaceId, redemptionId);
        if (!redemption) throw notFound('Redemption', 'REDEMPTION_NOT_FOUND');
        if (redemption.cancelled_at) throw alreadyCancelled();
        if (redemption.coupon_used) throw couponUsed();
        const spending = await ledgerRepo.entryById(ctx.db, workspaceId, ctx.member.memberId, redemption.entry_id);
        if (!spending) throw new Error(`loyalty: the redemption ${redemption.id} has no ledger entry`);
        ctx.draft.knowLots(
          await ledgerRepo.lotsByIds(
            ctx.db,
            workspaceId,
            (spending.lots ?? []).map(([id]) => id),
          ),
        );
        const reason = `Reward cancelled: ${redemption.reward_name} (${redemption.id})${input.reason ? ` — ${input.reason}` : ''}`;
        const back = ctx.draft.giveBack(spending, 0, -Number(spending.amount), null, reason);
        const at = ctx.now.toISOString();
        ctx.changes.cancelReward = { id: redemption.id, at, by: fields.recordedBy, reason: input.reason ?? null };
        // The audit entry commits with the change.
        ctx.alongside = (trx) =>
          deps.audit(
            trx,
            actor,
            'loyalty.redemption_cancelled',
            { kind: 'profile', id: ctx.member.profileId },
            {
              redemptionId: redemption.id,
              pointsReturned: back.given,
              ...(input.reason ? { reason: input.reason } : {}),
            },
          );
        ctx.changes.timeline.push({
          id: newId(),
          profileId: ctx.member.profileId,
          name: 'Loyalty Reward Cancelled',
          properties: {
            programme: programmeKey,
            redemptionId: redemption.id,
            rewardId: redemption.reward_id,
            reward: redemption.reward_name,
            pointsReturned: back.given,
            pointsExpired: back.expired,
            ...(input.reason ? { reason: input.reason } : {}),
          },
          channel: fields.channel,
          occurredAt: ctx.now,
          card: ctx.member.cardIdentifier,
        });
        return {
          status: 200,
          body: {
            redemptionId: redemption.id,
            rewardId: redemption.reward_id,
            memberId: ctx.member.memberId,
            profileId: ctx.member.profileId,
            wallet: redemption.wallet,
            pointsReturned: back.given,
            pointsExpired: back.expired,
            balances: ctx.draft.balancesAfter([...ctx.state.wallets.keys()]),
            cancelledAt: at,
          },
        };
      },
    );
  } catch (error) {
    throw rewardError(error);
  }
  return answer;
}

export function redemptionOut(r: Awaited<ReturnType<typeof repo.listRedemptions>>[number]) {
  return {
    id: r.id,
    rewardId: r.reward_id,
    rewardName: r.name_en,
    points: Number(r.points),
    wallet: r.wallet,
    channel: r.channel,
    branch: r.branch,
    couponLast4: r.last4,
    couponUsed: r.coupon_used,
    redeemedAt: r.redeemed_at.toISOString(),
    cancelledAt: r.cancelled_at?.toISOString() ?? null,
    cancelReason: r.cancel_reason,
  };
}
