import { z } from 'zod';

/** Public shapes of the codes module: promotions, batches, registrations, attempts. The console imports this file. */

export const Reward = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('points'), points: z.number().int().min(1).max(1_000_000) }),
  z.object({
    kind: z.literal('draw_entry'),
    draw: z.string().min(1).max(100),
    entries: z.number().int().min(1).max(1000).default(1),
  }),
  z.object({
    kind: z.literal('coupon'),
    offer: z.string().min(1).max(100),
    valueMinor: z.number().int().min(0).optional(),
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/)
      .optional(),
  }),
  z.object({ kind: z.literal('registration_only') }),
]);
export type Reward = z.infer<typeof Reward>;

export const PromotionKey = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{1,59}$/, 'lower-case letters, digits and hyphens (it appears in the page address)');

/** A local date-time in the promotion's time zone, as people set it: 2026-03-01T00:00. */
export const LocalDateTime = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/, 'a local date and time such as 2026-03-01T00:00');

const TimeZoneName = z.string().refine(
  (tz) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  },
  { message: 'must be an IANA time zone such as Europe/Moscow' },
);

export const PromotionCreate = z.object({
  key: PromotionKey,
  name: z.string().trim().min(1).max(200),
  /** Defaults to the workspace's time zone. */
  timeZone: TimeZoneName.optional(),
  startsAt: LocalDateTime,
  endsAt: LocalDateTime,
  reward: Reward,
  perPersonPerDay: z.number().int().min(1).max(10_000).nullable().optional(),
  perPersonTotal: z.number().int().min(1).max(1_000_000).nullable().optional(),
  /** At most this many accepted codes over the whole promotion (the prize fund). */
  budget: z.number().int().min(1).max(2_000_000_000).nullable().optional(),
  /** Well-formed wrong codes per minute this promotion's page and API answer before refusing everyone for the minute. */
  guessesPerMinute: z.number().int().min(1).max(100_000).default(300),
});
export type PromotionCreate = z.infer<typeof PromotionCreate>;

export const PromotionUpdate = PromotionCreate.omit({ key: true, guessesPerMinute: true })
  .extend({
    guessesPerMinute: z.number().int().min(1).max(100_000),
    status: z.enum(['active', 'paused']),
  })
  .partial();
export type PromotionUpdate = z.infer<typeof PromotionUpdate>;

export const Promotion = z
  .object({
    id: z.string(),
    key: z.string(),
    name: z.string(),
    timeZone: z.string(),
    startsAt: z.string().describe('local, in timeZone'),
    endsAt: z.string().describe('local, in timeZone'),
    startsAtUtc: z.string(),
    endsAtUtc: z.string(),
    reward: Reward,
    perPersonPerDay: z.number().nullable(),
    perPersonTotal: z.number().nullable(),
    budget: z.number().nullable(),
    budgetUsed: z.number(),
    guessesPerMinute: z.number(),
    status: z.enum(['active', 'paused']),
    /** The hosted registration page. */
    pageUrl: z.string(),
    createdAt: z.string(),
  })
  .meta({ id: 'Promotion' });
export type Promotion = z.infer<typeof Promotion>;

export const BatchCreate = z.object({
  count: z.number().int().min(1).max(50_000_000),
  label: z.string().max(200).optional(),
  /** A longer code than the computed one (never shorter). */
  minLength: z.number().int().min(8).max(30).optional(),
});
export type BatchCreate = z.infer<typeof BatchCreate>;

export const BatchStatus = z.enum(['pending', 'generating', 'active', 'failed', 'revoked']);
export type BatchStatus = z.infer<typeof BatchStatus>;

export const Batch = z
  .object({
    id: z.string(),
    promotionId: z.string(),
    source: z.enum(['generated', 'imported']),
    label: z.string().nullable(),
    size: z.number(),
    loaded: z.number(),
    length: z.number().nullable(),
    status: BatchStatus,
    /** Well-formed guesses the rate limits allow over the promotion (both the promotion's and the workspace's). */
    attackBudget: z.number().nullable(),
    /** Codes of this promotion a bot is expected to guess if it spends the whole budget: kept under 0.001. */
    expectedGuessable: z.number().nullable(),
    /** The same as "1 in N" for people. */
    oneIn: z.number().nullable(),
    example: z.string().nullable().describe('what a code of this batch looks like (not a real code)'),
    exports: z.number(),
    createdAt: z.string(),
    completedAt: z.string().nullable(),
  })
  .meta({ id: 'CodeBatch' });
export type Batch = z.infer<typeof Batch>;

export const ExportFormat = z.enum(['csv', 'txt']);
export type ExportFormat = z.infer<typeof ExportFormat>;

/** What a batch's download and the owner's re-export offer: the lists, or an A4 sheet of labels with QR codes. */
export const DownloadFormat = z.enum(['csv', 'txt', 'pdf']);
export type DownloadFormat = z.infer<typeof DownloadFormat>;

/** A consent statement given with a code (see the consent module; validated there). */
export const GivenConsent = z.object({
  channel: z.string().max(20),
  purpose: z.string().max(40),
  action: z.enum(['grant', 'revoke']).default('grant'),
  address: z.string().max(320).optional(),
  wordingVersion: z.string().max(100).optional(),
  doubleOptIn: z.boolean().optional(),
});
export type GivenConsent = z.infer<typeof GivenConsent>;

export const RegisterBody = z
  .object({
    code: z.string().min(1).max(100),
    phone: z.string().max(40).optional(),
    email: z.string().max(320).optional(),
    userId: z.string().max(200).optional(),
    anonymousId: z.string().max(200).optional(),
    /** A promotion key: look the code up in this promotion only. */
    promotion: z.string().max(60).optional(),
    consents: z.array(GivenConsent).max(10).optional(),
    writeKey: z.string().max(200).optional(),
    /** The keyword of the placement (TV spot, print ad …) that brought the person: the registration is attributed to it. */
    placement: z.string().max(40).optional(),
  })
  .refine((b) => b.phone || b.email || b.userId || b.anonymousId, {
    message: 'send phone, email, userId or anonymousId',
  });
export type RegisterBody = z.infer<typeof RegisterBody>;

export const Registered = z.object({
  status: z.literal('accepted'),
  registrationId: z.string(),
  promotion: z.object({ key: z.string(), name: z.string() }),
  reward: Reward,
  consents: z.object({ recorded: z.number(), rejected: z.string().nullable() }),
  message: z.string(),
});
export type Registered = z.infer<typeof Registered>;

export const AttemptOutcome = z.enum(['accepted', 'refused', 'typo', 'limited']);
export type AttemptOutcome = z.infer<typeof AttemptOutcome>;

export const Attempt = z.object({
  id: z.string(),
  at: z.string(),
  outcome: AttemptOutcome,
  reason: z.string().nullable(),
  channel: z.string(),
  promotionId: z.string().nullable(),
  ip: z.string().nullable(),
  net: z.string().nullable(),
  deviceHash: z.string().nullable(),
  identifierKind: z.string().nullable(),
  identifierHash: z.string().nullable(),
  profileId: z.string().nullable(),
});
export type Attempt = z.infer<typeof Attempt>;

export const AttemptsQuery = z.object({
  promotionId: z.uuid().optional(),
  outcome: AttemptOutcome.optional(),
  net: z.string().max(60).optional(),
  identifierHash: z.string().max(64).optional(),
  deviceHash: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().max(200).optional(),
});
export type AttemptsQuery = z.infer<typeof AttemptsQuery>;

export const AttemptsSummary = z.object({
  since: z.string(),
  perMinute: z.array(
    z.object({ minute: z.string(), accepted: z.number(), refused: z.number(), typo: z.number(), limited: z.number() }),
  ),
  byChannel: z.array(z.object({ channel: z.string(), accepted: z.number(), rejected: z.number() })),
  /** Attempts by the medium of the placement they carried (`none` without one). */
  byMedium: z.array(z.object({ medium: z.string(), accepted: z.number(), rejected: z.number() })),
  topNets: z.array(z.object({ net: z.string(), failures: z.number(), accepted: z.number() })),
  topIdentifiers: z.array(z.object({ identifierHash: z.string(), failures: z.number(), accepted: z.number() })),
  topDevices: z.array(z.object({ deviceHash: z.string(), failures: z.number(), accepted: z.number() })),
});
export type AttemptsSummary = z.infer<typeof AttemptsSummary>;

export const ImportResult = z.object({
  batch: Batch,
  lines: z.number(),
  imported: z.number(),
  rejected: z.number(),
  duplicates: z.number(),
});
export type ImportResult = z.infer<typeof ImportResult>;

// ---- placements: response codes per medium

export const PlacementMedium = z.enum(['tv', 'radio', 'print', 'outdoor', 'online', 'btl', 'other']);
export type PlacementMedium = z.infer<typeof PlacementMedium>;

/** Letters and digits, 2–20; stored upper-case (TV1 and tv1 are the same keyword). */
export const PlacementKeyword = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9]{2,20}$/, 'letters and digits, 2 to 20 (people text or type it)');

const HttpUrl = z
  .string()
  .max(2000)
  .refine((u) => {
    try {
      const url = new URL(u);
      return url.protocol === 'http:' || url.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'an http(s) address');

const Instant = z.iso.datetime({ offset: true });
const PlacementDetails = z
  .record(z.string().regex(/^[a-zA-Z][a-zA-Z0-9_]{0,39}$/), z.string().max(500))
  .refine((d) => Object.keys(d).length <= 20, 'at most 20 details');
const CostMinor = z.number().int().min(0).max(1_000_000_000_000);

export const PlacementCreate = z.object({
  name: z.string().trim().min(1).max(200),
  medium: PlacementMedium,
  /** Where and when it runs: channel and slot, title and issue, location … (free keys, short texts). */
  details: PlacementDetails.default({}),
  keyword: PlacementKeyword,
  /** The promotion whose hosted page the tracking address opens. */
  promotionId: z.uuid().nullable().optional(),
  /** Where the tracking address leads instead (http or https). */
  landingUrl: HttpUrl.nullable().optional(),
  /** What the placement cost, in minor units (kopecks, cents). */
  costMinor: CostMinor.default(0),
  currency: z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as RUB'),
  /** Contacts are attributed only within this window (either end open when absent). */
  startsAt: Instant.nullable().optional(),
  endsAt: Instant.nullable().optional(),
});
export type PlacementCreate = z.infer<typeof PlacementCreate>;

// No defaults here: what a change leaves out stays as it was.
export const PlacementUpdate = PlacementCreate.extend({ details: PlacementDetails, costMinor: CostMinor }).partial();
export type PlacementUpdate = z.infer<typeof PlacementUpdate>;

export const Placement = z
  .object({
    id: z.string(),
    name: z.string(),
    medium: PlacementMedium,
    details: z.record(z.string(), z.string()),
    keyword: z.string(),
    promotionId: z.string().nullable(),
    landingUrl: z.string().nullable(),
    costMinor: z.number(),
    currency: z.string(),
    startsAt: z.string().nullable(),
    endsAt: z.string().nullable(),
    /** The public address to print or broadcast: records a visit, then opens the page with ?m=<keyword>. */
    trackingUrl: z.string(),
    /** The QR code of trackingUrl (add ?format=png for PNG). */
    qrUrl: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Placement' });
export type Placement = z.infer<typeof Placement>;

export const PlacementsQuery = z.object({
  medium: PlacementMedium.optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
});
export type PlacementsQuery = z.infer<typeof PlacementsQuery>;

export const PlacementReportQuery = z.object({
  from: Instant.optional(),
  to: Instant.optional(),
});
export type PlacementReportQuery = z.infer<typeof PlacementReportQuery>;

const ReportFigures = {
  contacts: z.number(),
  /** Distinct people among the contacts (visits know no person). */
  people: z.number(),
  /** People whose first placement contact this was: acquired by it. */
  newProfiles: z.number(),
  /** Codes registered with the placement's keyword. */
  registrations: z.number(),
  costMinor: z.number(),
  currency: z.string(),
  /** costMinor ÷ newProfiles, rounded; null when no new profile. */
  costPerLeadMinor: z.number().nullable(),
};

export const PlacementReport = z.object({
  from: z.string(),
  to: z.string(),
  placements: z.array(
    z.object({
      placementId: z.string(),
      name: z.string(),
      keyword: z.string(),
      medium: PlacementMedium,
      ...ReportFigures,
    }),
  ),
  media: z.array(z.object({ medium: PlacementMedium, ...ReportFigures })),
});
export type PlacementReport = z.infer<typeof PlacementReport>;
