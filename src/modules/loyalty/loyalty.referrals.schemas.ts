import { z } from 'zod';

/** Public shapes of referrals, approvals of large adjustments and the member lookup. The console imports this file. */

/** A programme's referral settings (`settings.referrals`). */
export const ReferralSettings = z.object({
  /** The invitee's first purchase of at least this amount (minor units, paid in money) completes the referral. */
  minPurchaseMinor: z.number().int().min(0).max(1_000_000_000_000).default(0),
  /** A referrer with more referrals than this in a day (the programme's time zone) is held for review. */
  maxPerDay: z.number().int().min(1).max(10_000).default(10),
  /** Where an invite link leads (http or https); `?ref=<code>` is added. */
  landingUrl: z
    .url({ protocol: /^https?$/ })
    .max(500)
    .optional(),
  /** Written on each `Referral Completed` event as `rewardPoints` (a `from_event` rule pays them). */
  referrerPoints: z.number().int().min(0).max(1_000_000).default(0),
  inviteePoints: z.number().int().min(0).max(1_000_000).default(0),
});
export type ReferralSettings = z.infer<typeof ReferralSettings>;

/** The event a revoked referral writes for each side; its rewards (the Referral Completed earnings) are clawed back. */
export const REFERRAL_REVOKED = 'Referral Revoked';
export const REFERRAL_COMPLETED = 'Referral Completed';

export const InviteCode = z
  .object({ code: z.string(), link: z.string(), programme: z.string(), profileId: z.uuid(), createdAt: z.string() })
  .meta({ id: 'LoyaltyInviteCode' });
export type InviteCode = z.infer<typeof InviteCode>;

export const ReferralStatus = z.enum(['pending', 'held', 'rejected', 'completed', 'revoked']);
export type ReferralStatus = z.infer<typeof ReferralStatus>;

/** Why a referral was refused or held (stable codes). */
export const ReferralReason = z.enum([
  'SELF_REFERRAL',
  'SHARED_DEVICE',
  'SHARED_PHONE',
  'SHARED_EMAIL',
  'SHARED_CARD',
  'SHARED_ADDRESS',
  'MUTUAL_REFERRAL',
  'DAILY_LIMIT',
  'MERGED_SELF_REFERRAL',
  'REJECTED_BY_STAFF',
]);

export const Referral = z
  .object({
    id: z.uuid(),
    programme: z.string(),
    code: z.string(),
    referrerProfileId: z.uuid(),
    inviteeProfileId: z.uuid(),
    /** In lists: the people's names, as the customer list shows them (null without one; the read is audited). */
    referrerName: z.string().nullable().optional(),
    inviteeName: z.string().nullable().optional(),
    status: ReferralStatus,
    reason: z.string().nullable(),
    source: z.string(),
    createdAt: z.string(),
    decidedAt: z.string().nullable(),
    decidedBy: z.string().nullable(),
    completedAt: z.string().nullable(),
    /** When the qualifying purchase was returned or reversed with no other to stand in: rewards clawed back. */
    revokedAt: z.string().nullable(),
  })
  .meta({ id: 'LoyaltyReferral' });
export type Referral = z.infer<typeof Referral>;

export const ReferralCreate = z
  .object({
    code: z.string().trim().min(4).max(40),
    profileId: z.uuid(),
    /** Signals of the invitee seen by the caller (compared with the referrer's, never stored in clear). */
    device: z.string().trim().min(1).max(200).optional(),
    address: z.string().trim().min(3).max(500).optional(),
  })
  .strict();
export type ReferralCreate = z.infer<typeof ReferralCreate>;

export const ReferralReview = z
  .object({ decision: z.enum(['approve', 'reject']), reason: z.string().trim().min(3).max(300).optional() })
  .strict();
export type ReferralReview = z.infer<typeof ReferralReview>;

export const ReferralQuery = z.object({
  status: ReferralStatus.optional(),
  profileId: z.uuid().optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
});

// ---- approvals of large manual adjustments

export const AdjustmentRequestStatus = z.enum(['pending', 'approved', 'rejected']);

export const AdjustmentRequest = z
  .object({
    id: z.uuid(),
    programme: z.string(),
    status: AdjustmentRequestStatus,
    points: z.number(),
    wallet: z.string(),
    reason: z.string(),
    profileId: z.uuid().nullable(),
    customer: z.record(z.string(), z.unknown()),
    requestedBy: z.string(),
    requestedAt: z.string(),
    decidedBy: z.string().nullable(),
    decidedAt: z.string().nullable(),
    decisionReason: z.string().nullable(),
    transactionId: z.string().nullable(),
  })
  .meta({ id: 'LoyaltyAdjustmentRequest' });
export type AdjustmentRequest = z.infer<typeof AdjustmentRequest>;

export const AdjustmentDecision = z
  .object({ decision: z.enum(['approve', 'reject']), reason: z.string().trim().min(3).max(300).optional() })
  .strict()
  .refine((d) => d.decision === 'approve' || d.reason !== undefined, {
    message: 'a rejection needs a reason',
    path: ['reason'],
  });
export type AdjustmentDecision = z.infer<typeof AdjustmentDecision>;

// ---- member lookup

export const MemberLookup = z
  .object({
    profileId: z.uuid(),
    memberships: z.array(
      z.object({
        programme: z.string(),
        programmeName: z.string(),
        memberId: z.uuid(),
        tier: z.string().nullable(),
        joinedAt: z.string(),
        balances: z.array(
          z.object({
            wallet: z.string(),
            total: z.number(),
            available: z.number(),
            pending: z.number(),
            expired: z.number(),
          }),
        ),
      }),
    ),
  })
  .meta({ id: 'LoyaltyMemberLookup' });
export type MemberLookup = z.infer<typeof MemberLookup>;
