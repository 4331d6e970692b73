import { z } from 'zod';
import { CustomerRef, Verification, WalletKey } from './loyalty.schemas.ts';

/** Public shapes of the rewards catalogue, redemptions, coupons and clubs. The console imports this file. */

const Id = z.uuid();
const Timestamp = z.iso.datetime({ offset: true });
const Minor = z.number().int().min(1).max(1_000_000_000_000);
const TillFields = {
  channel: z.enum(['pos', 'web', 'app', 'call_centre']).default('pos'),
  branch: z.string().min(1).max(60).optional(),
  cashier: z.string().min(1).max(100).optional(),
};
const IdempotencyKey = z.string().min(8).max(100).optional();

export const RewardKind = z.enum(['product', 'discount', 'prize', 'donation', 'coupon']);
export type RewardKind = z.infer<typeof RewardKind>;
export const RewardStatus = z.enum(['active', 'draft', 'archived']);

const HttpsUrl = z
  .url({ protocol: /^https$/ })
  .max(2000)
  .refine((u) => u.startsWith('https://'), 'an https:// address');

const RewardFields = z.object({
  kind: RewardKind,
  nameEn: z.string().trim().min(1).max(120),
  nameRu: z.string().trim().min(1).max(120).nullable().optional(),
  descriptionEn: z.string().trim().max(2000).nullable().optional(),
  descriptionRu: z.string().trim().max(2000).nullable().optional(),
  /** The wallet the cost is paid from (the programme's first wallet when not given). */
  wallet: WalletKey.optional(),
  cost: z.number().int().min(1).max(1_000_000_000),
  /** Units left; null = unlimited. */
  stock: z.number().int().min(0).max(1_000_000_000).nullable().default(null),
  /** Redemptions one member may make of this reward; null = no limit. */
  perMemberLimit: z.number().int().min(1).max(1_000_000).nullable().default(null),
  startsAt: Timestamp.nullable().optional(),
  endsAt: Timestamp.nullable().optional(),
  /** The lowest tier (a key of the programme's levels) that may redeem it; null = everyone. */
  tier: z.string().max(30).nullable().optional(),
  /** Only members of this club may redeem it. */
  clubId: Id.nullable().optional(),
  imageUrl: HttpsUrl.nullable().optional(),
  /** For discount and coupon rewards: the coupon's value in minor units of the programme's currency. */
  couponValueMinor: Minor.nullable().optional(),
  couponMinBasketMinor: z.number().int().min(0).max(1_000_000_000_000).default(0),
  /** Days the issued coupon stays valid; null = until the reward's end, or forever. */
  couponValidDays: z.number().int().min(1).max(3650).nullable().optional(),
  status: RewardStatus.default('active'),
});

const windowOk = (r: { startsAt?: string | null; endsAt?: string | null }) =>
  !r.startsAt || !r.endsAt || new Date(r.startsAt) < new Date(r.endsAt);
const couponOk = (r: { kind?: RewardKind; couponValueMinor?: number | null }) =>
  !(r.kind === 'discount' || r.kind === 'coupon') || (r.couponValueMinor ?? 0) > 0;

export const RewardCreate = RewardFields.strict()
  .refine(windowOk, { message: 'startsAt comes before endsAt', path: ['endsAt'] })
  .refine(couponOk, { message: 'discount and coupon rewards need couponValueMinor', path: ['couponValueMinor'] });
export type RewardCreate = z.infer<typeof RewardCreate>;

export const RewardUpdate = RewardFields.omit({ kind: true, wallet: true })
  .partial()
  .strict()
  .refine(windowOk, { message: 'startsAt comes before endsAt', path: ['endsAt'] });
export type RewardUpdate = z.infer<typeof RewardUpdate>;

export const Reward = z
  .object({
    id: Id,
    programme: z.string(),
    kind: RewardKind,
    nameEn: z.string(),
    nameRu: z.string().nullable(),
    descriptionEn: z.string().nullable(),
    descriptionRu: z.string().nullable(),
    wallet: z.string(),
    cost: z.number(),
    stock: z.number().nullable(),
    redeemed: z.number(),
    perMemberLimit: z.number().nullable(),
    startsAt: z.string().nullable(),
    endsAt: z.string().nullable(),
    tier: z.string().nullable(),
    clubId: z.string().nullable(),
    imageUrl: z.string().nullable(),
    couponValueMinor: z.number().nullable(),
    couponMinBasketMinor: z.number(),
    couponValidDays: z.number().nullable(),
    status: RewardStatus,
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'LoyaltyReward' });
export type Reward = z.infer<typeof Reward>;

export const RewardListQuery = z.object({
  status: RewardStatus.optional(),
  limit: z.coerce.number().int().min(1).max(200).default(100),
  cursor: z.string().max(200).optional(),
});

export const RedeemRequest = z
  .object({
    customer: CustomerRef,
    verification: Verification.optional(),
    idempotencyKey: IdempotencyKey,
    ...TillFields,
  })
  .strict();
export type RedeemRequest = z.infer<typeof RedeemRequest>;

const WalletBalance = z.object({
  wallet: z.string(),
  total: z.number(),
  available: z.number(),
  pending: z.number(),
  expired: z.number(),
});

export const IssuedCoupon = z.object({
  id: Id,
  /** The clear code: in the first answer only (a replay, and every later read, shows `last4`). */
  code: z.string().nullable(),
  last4: z.string(),
  valueMinor: z.number(),
  currency: z.string(),
  minBasketMinor: z.number(),
  validFrom: z.string().nullable(),
  validUntil: z.string().nullable(),
  /** Whether the code was also sent to the customer's phone. */
  sentToPhone: z.boolean(),
});

export const Redemption = z
  .object({
    redemptionId: Id,
    rewardId: Id,
    memberId: Id,
    profileId: Id,
    wallet: z.string(),
    points: z.number(),
    balances: z.array(WalletBalance),
    coupon: IssuedCoupon.nullable(),
    redeemedAt: z.string(),
  })
  .meta({ id: 'LoyaltyRedemption' });
export type Redemption = z.infer<typeof Redemption>;

export const RedemptionRow = z.object({
  id: Id,
  rewardId: Id,
  rewardName: z.string(),
  points: z.number(),
  wallet: z.string(),
  channel: z.string().nullable(),
  branch: z.string().nullable(),
  couponLast4: z.string().nullable(),
  /** Whether the coupon it issued has been used (a redemption whose coupon was used cannot be cancelled). */
  couponUsed: z.boolean(),
  redeemedAt: z.string(),
  cancelledAt: z.string().nullable(),
  cancelReason: z.string().nullable(),
});
export type RedemptionRow = z.infer<typeof RedemptionRow>;

export const RedemptionCancel = z
  .object({
    reason: z.string().trim().min(1).max(200).optional(),
    idempotencyKey: IdempotencyKey,
    ...TillFields,
  })
  .strict();
export type RedemptionCancel = z.infer<typeof RedemptionCancel>;

export const RedemptionCancelled = z
  .object({
    redemptionId: Id,
    rewardId: Id,
    memberId: Id,
    profileId: Id,
    wallet: z.string(),
    /** Points back in the customer's wallet. */
    pointsReturned: z.number(),
    /** Points that would have gone back to lots that have expired since: not returned. */
    pointsExpired: z.number(),
    balances: z.array(WalletBalance),
    cancelledAt: z.string(),
  })
  .strict();
export type RedemptionCancelled = z.infer<typeof RedemptionCancelled>;

// ---- coupons

export const CouponBatchCreate = z
  .object({
    label: z.string().trim().min(1).max(100).optional(),
    count: z.number().int().min(1).max(100_000),
    valueMinor: Minor,
    minBasketMinor: z.number().int().min(0).max(1_000_000_000_000).default(0),
    validFrom: Timestamp.optional(),
    validUntil: Timestamp.optional(),
  })
  .strict()
  .refine((b) => !b.validFrom || !b.validUntil || new Date(b.validFrom) < new Date(b.validUntil), {
    message: 'validFrom comes before validUntil',
    path: ['validUntil'],
  });
export type CouponBatchCreate = z.infer<typeof CouponBatchCreate>;

export const CouponBatch = z
  .object({
    id: Id,
    label: z.string().nullable(),
    count: z.number(),
    valueMinor: z.number(),
    currency: z.string(),
    minBasketMinor: z.number(),
    validFrom: z.string().nullable(),
    validUntil: z.string().nullable(),
    createdAt: z.string(),
    downloadedAt: z.string().nullable(),
    downloadUrl: z.string().nullable(),
  })
  .meta({ id: 'LoyaltyCouponBatch' });

export const CouponCheck = z
  .object({
    code: z.string().min(1).max(60),
    /** The basket's total in minor units, and its currency. */
    basketMinor: z.number().int().min(0).max(1_000_000_000_000),
    currency: z.string().regex(/^[A-Z]{3}$/),
    branch: z.string().min(1).max(60).optional(),
  })
  .strict();
export type CouponCheck = z.infer<typeof CouponCheck>;

export const CouponValidity = z.object({
  valid: z.boolean(),
  /** Why a known, live coupon does not fit this basket; unknown, used and expired codes all answer NOT_VALID. */
  reason: z.enum(['NOT_VALID', 'BASKET_TOO_SMALL', 'CURRENCY_MISMATCH']).nullable(),
  valueMinor: z.number().nullable(),
  currency: z.string().nullable(),
  minBasketMinor: z.number().nullable(),
  last4: z.string().nullable(),
});
export type CouponValidity = z.infer<typeof CouponValidity>;

export const CouponRedeem = CouponCheck.extend({
  cashier: z.string().min(1).max(100).optional(),
  externalId: z.string().min(1).max(100).optional(),
  idempotencyKey: IdempotencyKey,
}).strict();
export type CouponRedeem = z.infer<typeof CouponRedeem>;

export const CouponUse = z
  .object({
    useId: Id,
    couponId: Id,
    last4: z.string(),
    valueMinor: z.number(),
    currency: z.string(),
    basketMinor: z.number(),
    branch: z.string().nullable(),
    cashier: z.string().nullable(),
    usedAt: z.string(),
    reversedAt: z.string().nullable(),
  })
  .meta({ id: 'LoyaltyCouponUse' });
export type CouponUse = z.infer<typeof CouponUse>;

export const CouponReverse = z.object({ reason: z.string().min(1).max(200).optional() }).strict();

// ---- clubs

export const ClubKey = z.string().regex(/^[a-z][a-z0-9_-]{0,39}$/, 'lower-case letters, digits, _ and -');

const ClubFields = z.object({
  key: ClubKey,
  nameEn: z.string().trim().min(1).max(120),
  nameRu: z.string().trim().min(1).max(120).nullable().optional(),
  descriptionEn: z.string().trim().max(2000).nullable().optional(),
  descriptionRu: z.string().trim().max(2000).nullable().optional(),
  /** Members earn this many times what the programme's rules give (an earn rule the club keeps). null = none. */
  earnMultiplier: z.number().min(1).max(10).nullable().default(null),
  status: z.enum(['active', 'archived']).default('active'),
});

export const ClubCreate = ClubFields.strict();
export type ClubCreate = z.infer<typeof ClubCreate>;
export const ClubUpdate = ClubFields.omit({ key: true }).partial().strict();
export type ClubUpdate = z.infer<typeof ClubUpdate>;

export const Club = z
  .object({
    id: Id,
    key: z.string(),
    nameEn: z.string(),
    nameRu: z.string().nullable(),
    descriptionEn: z.string().nullable(),
    descriptionRu: z.string().nullable(),
    earnMultiplier: z.number().nullable(),
    earnRuleId: z.string().nullable(),
    status: z.enum(['active', 'archived']),
    members: z.number(),
    createdAt: z.string(),
  })
  .meta({ id: 'LoyaltyClub' });
export type Club = z.infer<typeof Club>;

export const ClubJoin = z.object({ customer: CustomerRef }).strict();

export const MemberClub = z.object({
  clubId: Id,
  key: z.string(),
  nameEn: z.string(),
  nameRu: z.string().nullable(),
  joinedAt: z.string(),
});
export type MemberClub = z.infer<typeof MemberClub>;
