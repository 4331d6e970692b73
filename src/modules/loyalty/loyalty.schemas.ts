import { z } from 'zod';
import { ReferralSettings } from './loyalty.referrals.schemas.ts';

/** Public shapes of the loyalty module: programmes, cards, members, transactions, earn rules. The console imports this file. */

const Id = z.uuid();
const Timestamp = z.iso.datetime({ offset: true });
const Points = z.number().int().min(1).max(1_000_000_000);
/** Money in integer minor units (kopecks, cents). */
const Minor = z.number().int().min(0).max(1_000_000_000_000);

export const ProgrammeKey = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'lower-case letters, digits and hyphens (it appears in the API path)');
export const WalletKey = z.string().regex(/^[a-z][a-z0-9_]{0,29}$/, 'lower-case letters, digits and _');

export const WalletSettings = z.object({
  key: WalletKey,
  name: z.string().min(1).max(100),
  /** Days after a purchase before its points can be spent (the return window); 0 = at once. */
  pendingDays: z.number().int().min(0).max(365).default(0),
  /** Days points stay spendable after they become available; null = they never expire. */
  lifetimeDays: z.number().int().min(1).max(3650).nullable().default(365),
  /** What one unit is worth when paying at the till, in minor units of the programme's currency (0 = cannot pay). */
  valueMinor: z.number().int().min(0).max(1_000_000).default(0),
});
export type WalletSettings = z.infer<typeof WalletSettings>;

export const TierLevel = z.object({
  key: z.string().regex(/^[a-z][a-z0-9_]{0,29}$/, 'lower-case letters, digits and _'),
  name: z.string().min(1).max(100),
  /** What reaching the level takes over the window: minor units spent, or points earned. */
  threshold: z.number().int().min(0),
});
export type TierLevel = z.infer<typeof TierLevel>;

/**
 * Status levels: reached by money spent (net of returns) or points earned over a rolling window, at once; lost
 * only when a member has stayed below the level's threshold for `graceDays`, and never within `windowDays` of
 * reaching it. Benefits are earn rules with a condition on the `tier` field.
 */
export const TierSettings = z.object({
  metric: z.enum(['spend', 'points']),
  windowDays: z.number().int().min(1).max(1095).default(365),
  graceDays: z.number().int().min(0).max(365).default(30),
  levels: z
    .array(TierLevel)
    .min(1)
    .max(10)
    .refine((ls) => new Set(ls.map((l) => l.key)).size === ls.length, 'tier keys must differ')
    .refine((ls) => ls.every((l, i) => i === 0 || l.threshold > (ls[i - 1] as TierLevel).threshold), {
      message: 'levels go up: each threshold above the one before',
    }),
});
export type TierSettings = z.infer<typeof TierSettings>;

export const ProgrammeSettings = z.object({
  wallets: z
    .array(WalletSettings)
    .min(1)
    .max(5)
    .refine((ws) => new Set(ws.map((w) => w.key)).size === ws.length, 'wallet keys must differ'),
  /** At most this share of a purchase may be paid with points (percent). */
  maxPaymentPercent: z.number().int().min(0).max(100).default(100),
  /** Burning needs proof that the customer is there: a one-time code or the card's QR token. */
  otpTtlSeconds: z.number().int().min(60).max(3600).default(300),
  tiers: TierSettings.optional(),
  /** Invite codes and links, and what completes a referral (loyalty.referrals.ts). */
  referrals: ReferralSettings.optional(),
  /** A manual adjustment of more than this many units (either sign) waits for a second staff user's approval. */
  adjustmentApprovalThreshold: z.number().int().min(1).max(1_000_000_000).optional(),
});
export type ProgrammeSettings = z.infer<typeof ProgrammeSettings>;

export const DEFAULT_SETTINGS: ProgrammeSettings = {
  wallets: [{ key: 'points', name: 'Points', pendingDays: 14, lifetimeDays: 365, valueMinor: 100 }],
  maxPaymentPercent: 100,
  otpTtlSeconds: 300,
};

export const ProgrammeCreate = z.object({
  key: ProgrammeKey,
  name: z.string().trim().min(1).max(120),
  currency: z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as RUB'),
  timeZone: z.string().max(60).optional(),
  settings: ProgrammeSettings.optional(),
});
export type ProgrammeCreate = z.infer<typeof ProgrammeCreate>;

export const ProgrammeUpdate = z
  .object({ name: z.string().trim().min(1).max(120), timeZone: z.string().max(60), settings: ProgrammeSettings })
  .partial()
  .strict();
export type ProgrammeUpdate = z.infer<typeof ProgrammeUpdate>;

export const Programme = z
  .object({
    id: Id,
    key: z.string(),
    name: z.string(),
    currency: z.string(),
    timeZone: z.string(),
    settings: ProgrammeSettings,
    createdAt: Timestamp,
  })
  .meta({ id: 'LoyaltyProgramme' });
export type Programme = z.infer<typeof Programme>;

// ---- cards

export const CardKind = z.enum(['physical', 'virtual']);
export type CardKind = z.infer<typeof CardKind>;
export const CardStatus = z.enum(['active', 'blocked', 'replaced']);

export const CardRangeCreate = z
  .object({
    kind: CardKind,
    /** Leading digits of every number in the range (the issuer prefix). */
    prefix: z.string().regex(/^[0-9]{1,12}$/),
    /** Total digits of a number, check digit included. */
    length: z.number().int().min(8).max(19),
    firstSerial: z.number().int().min(0),
    lastSerial: z.number().int().min(0),
  })
  .refine((r) => r.firstSerial <= r.lastSerial, {
    message: 'firstSerial must not exceed lastSerial',
    path: ['lastSerial'],
  })
  .refine((r) => String(r.lastSerial).length <= r.length - r.prefix.length - 1, {
    message: 'the serials do not fit between the prefix and the check digit',
    path: ['lastSerial'],
  });
export type CardRangeCreate = z.infer<typeof CardRangeCreate>;

export const CardRange = z.object({
  id: Id,
  kind: CardKind,
  prefix: z.string(),
  length: z.number(),
  firstSerial: z.number(),
  lastSerial: z.number(),
  nextSerial: z.number(),
});

export const CardNumber = z
  .string()
  .trim()
  .transform((s) => s.replace(/[\s-]/g, ''))
  .pipe(z.string().regex(/^[0-9]{8,19}$/, 'digits only, 8 to 19'));

export const CardIssue = z.object({
  /** A pre-printed physical card's number (must lie in a physical range, with a valid check digit). */
  number: CardNumber.optional(),
  kind: CardKind.default('virtual'),
  /** The person it belongs to; without it a profile is made with the card as its only identifier. */
  profileId: Id.optional(),
  idempotencyKey: z.string().min(8).max(100).optional(),
});
export type CardIssue = z.infer<typeof CardIssue>;

export const Card = z
  .object({
    id: Id,
    number: z.string(),
    kind: CardKind,
    status: CardStatus,
    programme: z.string(),
    profileId: Id,
    memberId: Id,
    issuedAt: Timestamp,
    replacedBy: z.string().nullable(),
    statusReason: z.string().nullable(),
  })
  .meta({ id: 'LoyaltyCard' });
export type Card = z.infer<typeof Card>;

// ---- customers at the till

/** How a till names the customer: the card number, the QR token from the app (also proof of presence), a profile. */
export const CustomerRef = z.union([
  z.object({ card: CardNumber }).strict(),
  z.object({ qr: z.string().min(16).max(100) }).strict(),
  z.object({ profileId: Id }).strict(),
]);
export type CustomerRef = z.infer<typeof CustomerRef>;

/** Proof that the customer is present when points are spent. */
export const Verification = z.union([
  z.object({ id: Id, code: z.string().regex(/^[0-9]{6}$/) }).strict(),
  z.object({ qr: z.string().min(16).max(100) }).strict(),
]);
export type Verification = z.infer<typeof Verification>;

export const Line = z.object({
  sku: z.string().min(1).max(100),
  category: z.string().max(100).optional(),
  quantity: z.number().positive().max(1_000_000),
  /** Unit price in minor units. */
  price: Minor,
  /** The line's total in minor units, when it is not quantity × price (discounts); defaults to their product. */
  amount: Minor.optional(),
});
export type Line = z.infer<typeof Line>;

const Channel = z.string().regex(/^[a-z][a-z0-9_]{0,29}$/);
const TillFields = {
  idempotencyKey: z.string().min(8).max(100).optional(),
  /** The store or branch code. */
  branch: z.string().min(1).max(60).optional(),
  /** The cashier or agent at the till (their own id; the API key's label is recorded too). */
  cashier: z.string().min(1).max(80).optional(),
  channel: Channel.default('pos'),
};

export const PurchaseCreate = z
  .object({
    customer: CustomerRef,
    /** The receipt number. */
    externalId: z.string().min(1).max(100).optional(),
    currency: z.string().regex(/^[A-Z]{3}$/),
    lines: z.array(Line).min(1).max(500),
    /** Points to pay with (from the first wallet with a value); needs `verification`. */
    pointsToSpend: z.number().int().min(0).max(1_000_000_000).default(0),
    verification: Verification.optional(),
    occurredAt: Timestamp.optional(),
    ...TillFields,
  })
  .strict();
export type PurchaseCreate = z.infer<typeof PurchaseCreate>;

export const ReturnCreate = z
  .object({
    /** Lines returned (by SKU and quantity); without lines, `amount` says how much money is refunded. */
    lines: z
      .array(z.object({ sku: z.string().min(1).max(100), quantity: z.number().positive().max(1_000_000) }))
      .min(1)
      .max(500)
      .optional(),
    amount: Minor.optional(),
    externalId: z.string().min(1).max(100).optional(),
    ...TillFields,
  })
  .strict()
  .refine((r) => (r.lines ? 1 : 0) + (r.amount !== undefined ? 1 : 0) === 1, {
    message: 'send either lines or amount',
  });
export type ReturnCreate = z.infer<typeof ReturnCreate>;

export const ReversalCreate = z.object({ reason: z.string().min(1).max(200).optional(), ...TillFields }).strict();
export type ReversalCreate = z.infer<typeof ReversalCreate>;

export const AdjustmentCreate = z
  .object({
    customer: CustomerRef,
    wallet: WalletKey.default('points'),
    /** Positive to credit, negative to debit. */
    points: z
      .number()
      .int()
      .min(-1_000_000_000)
      .max(1_000_000_000)
      .refine((n) => n !== 0, 'not zero'),
    reason: z.string().trim().min(3).max(300),
    idempotencyKey: z.string().min(8).max(100).optional(),
  })
  .strict();
export type AdjustmentCreate = z.infer<typeof AdjustmentCreate>;

export const VerificationRequest = z
  .object({ customer: CustomerRef, channel: z.enum(['sms']).default('sms') })
  .strict();

export const LedgerKind = z.enum(['earn', 'burn', 'expire', 'adjust', 'reverse']);
export type LedgerKind = z.infer<typeof LedgerKind>;

export const LedgerEntry = z
  .object({
    id: Id,
    wallet: z.string(),
    kind: LedgerKind,
    amount: z.number(),
    transactionId: z.string().nullable(),
    ruleId: z.string().nullable(),
    reverses: z.string().nullable(),
    reason: z.string().nullable(),
    occurredAt: Timestamp,
    recordedBy: z.string().nullable(),
  })
  .meta({ id: 'LoyaltyLedgerEntry' });
export type LedgerEntry = z.infer<typeof LedgerEntry>;

export const Balance = z.object({
  wallet: z.string(),
  /** Sum of the ledger. */
  total: z.number(),
  available: z.number(),
  pending: z.number(),
  /** Points past their expiry date that the next expiry run writes off (not spendable). */
  expired: z.number(),
});
export type Balance = z.infer<typeof Balance>;

export const TransactionResult = z
  .object({
    transactionId: Id,
    kind: z.enum(['purchase', 'return', 'event', 'adjustment', 'reversal']),
    memberId: Id,
    profileId: Id,
    earned: z.array(z.object({ wallet: z.string(), points: z.number(), ruleId: z.string().nullable() })),
    spent: z.number(),
    /** Points a return or reversal took back, and those it could not (already spent) — the till may charge them. */
    clawedBack: z.number(),
    notRecovered: z.number(),
    refunded: z.number(),
    balances: z.array(Balance),
    /** The member's tier after the transaction (an upgrade it earned applies at once). */
    tier: z.string().nullable(),
  })
  .meta({ id: 'LoyaltyTransactionResult' });
export type TransactionResult = z.infer<typeof TransactionResult>;

export const Member = z
  .object({
    id: Id,
    profileId: Id,
    programme: z.string(),
    tier: z.string().nullable(),
    /** Where the member stands for tiers, when the programme has them. */
    tierProgress: z
      .object({
        metric: z.enum(['spend', 'points']),
        /** Spent (minor units) or earned (points) in the window so far. */
        value: z.number(),
        since: Timestamp,
        next: TierLevel.nullable(),
        /** The member has been below their level's threshold since then; the level is lost after the grace period. */
        atRiskSince: Timestamp.nullable(),
      })
      .nullable(),
    joinedAt: Timestamp,
    balances: z.array(Balance),
    lots: z.array(
      z.object({
        id: Id,
        wallet: z.string(),
        amount: z.number(),
        remaining: z.number(),
        earnedAt: Timestamp,
        availableAt: Timestamp,
        expiresAt: Timestamp.nullable(),
      }),
    ),
    cards: z.array(Card),
  })
  .meta({ id: 'LoyaltyMember' });
export type Member = z.infer<typeof Member>;

// ---- earn rules

export const Formula = z.discriminatedUnion('kind', [
  /** `points` for every `per` minor units of the amount paid in money (the line's, for line rules). */
  z.object({ kind: z.literal('per_unit'), points: Points, per: z.number().int().min(1).max(1_000_000_000) }).strict(),
  /** A fixed number of points per matching transaction or line (× quantity with perItem). */
  z.object({ kind: z.literal('fixed'), points: Points, perItem: z.boolean().default(false) }).strict(),
  /** Multiplies what the rules before it gave in this transaction (or line): factor 2 adds as much again. */
  z.object({ kind: z.literal('multiplier'), factor: z.number().min(1).max(100) }).strict(),
  /** For events: the points named by the event (`properties.rewardPoints`), times factor. */
  z.object({ kind: z.literal('from_event'), factor: z.number().min(0).max(100).default(1) }).strict(),
]);
export type Formula = z.infer<typeof Formula>;

export const Cap = z
  .object({
    period: z.enum(['day', 'week', 'month', 'year', 'ever']),
    maxPoints: z.number().int().min(0).optional(),
    maxTimes: z.number().int().min(0).optional(),
  })
  .strict()
  .refine((c) => c.maxPoints !== undefined || c.maxTimes !== undefined, 'give maxPoints or maxTimes');
export type Cap = z.infer<typeof Cap>;

export const RuleStatus = z.enum(['active', 'draft', 'archived']);
export const RuleTrigger = z.enum(['purchase', 'event']);
export const RuleScope = z.enum(['transaction', 'line']);

export const EventName = z.string().min(1).max(200);
