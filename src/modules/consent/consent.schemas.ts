import { z } from 'zod';

/** Channels a person can consent to be contacted on; `any` is for purposes that are not about contact (processing). */
export const CHANNELS = ['email', 'sms', 'messenger', 'push', 'call', 'mail', 'any'] as const;
export const ConsentChannel = z.enum(CHANNELS);
export type ConsentChannel = z.infer<typeof ConsentChannel>;

export const PurposeKind = z.enum(['marketing', 'service', 'profiling', 'sharing', 'processing']);
export type PurposeKind = z.infer<typeof PurposeKind>;

export const ConsentAction = z.enum(['grant', 'revoke', 'pending']);
export type ConsentAction = z.infer<typeof ConsentAction>;

export const ConsentSource = z.enum([
  'form',
  'code_entry',
  'pos',
  'call_centre',
  'import',
  'api',
  'inbound_keyword',
  'double_opt_in',
  'unsubscribe_link',
  'preference_centre',
  'staff',
  'merge',
]);
export type ConsentSource = z.infer<typeof ConsentSource>;

export const ConsentStatusValue = z.enum(['granted', 'revoked', 'pending']);
export type ConsentStatusValue = z.infer<typeof ConsentStatusValue>;

export const PurposeKey = z
  .string()
  .regex(/^[a-z][a-z0-9_]{0,39}$/, 'lower-case letters, digits and _, starting with a letter');

export const Purpose = z.object({
  key: PurposeKey,
  kind: PurposeKind,
  nameEn: z.string().min(1).max(200),
  nameRu: z.string().min(1).max(200),
});
export type Purpose = z.infer<typeof Purpose>;

/** Purposes every workspace starts with; processing of personal data is kept apart from advertising. */
export const DEFAULT_PURPOSES: Purpose[] = [
  { key: 'marketing', kind: 'marketing', nameEn: 'News and offers', nameRu: 'Новости и предложения' },
  { key: 'service', kind: 'service', nameEn: 'Service messages', nameRu: 'Сервисные сообщения' },
  { key: 'profiling', kind: 'profiling', nameEn: 'Personalised offers', nameRu: 'Персональные предложения' },
  {
    key: 'third_party',
    kind: 'sharing',
    nameEn: 'Offers from partners',
    nameRu: 'Предложения партнёров',
  },
  {
    key: 'processing',
    kind: 'processing',
    nameEn: 'Processing of personal data',
    nameRu: 'Обработка персональных данных',
  },
];

/** Opt-out words recognised on every workspace, in English and Russian (case and punctuation ignored). */
export const DEFAULT_STOP_KEYWORDS = ['STOP', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT', 'СТОП', 'ОТПИСКА', 'ОТПИСАТЬСЯ'];

/** One consent statement as it arrives through the API, a form, an import or the tracking API's `context.consent`. */
export const ConsentStatement = z.object({
  channel: ConsentChannel,
  purpose: PurposeKey,
  action: z.enum(['grant', 'revoke']),
  /** The e-mail address or phone number it applies to; defaults to the profile's own of that channel. */
  address: z.string().max(320).optional(),
  source: ConsentSource.default('api'),
  wordingVersion: z.string().max(100).optional(),
  /** When the person gave it, if not now (imports of historical consents). */
  at: z.iso.datetime({ offset: true }).optional(),
  /** Ask for confirmation first (double opt-in): the entry stays pending until confirmed. */
  doubleOptIn: z.boolean().optional(),
});
export type ConsentStatement = z.infer<typeof ConsentStatement>;

export const ConsentEntry = z.object({
  id: z.string(),
  channel: z.string(),
  purpose: z.string(),
  address: z.string().nullable(),
  action: ConsentAction,
  source: z.string(),
  wordingVersion: z.string().nullable(),
  occurredAt: z.string(),
  recordedAt: z.string(),
  ip: z.string().nullable(),
  userAgent: z.string().nullable(),
  operator: z.string().nullable(),
  expiresAt: z.string().nullable(),
});
export type ConsentEntry = z.infer<typeof ConsentEntry>;

export const ConsentState = z.object({
  channel: z.string(),
  purpose: z.string(),
  status: ConsentStatusValue,
  address: z.string().nullable(),
  since: z.string(),
});
export type ConsentState = z.infer<typeof ConsentState>;

/** The answer of the send check. */
export const SendDecision = z.object({
  allowed: z.boolean(),
  reason: z.enum(['granted', 'service', 'no_consent', 'revoked', 'pending', 'other_address', 'unknown_purpose']),
});
export type SendDecision = z.infer<typeof SendDecision>;

export const ConsentSettings = z.object({
  purposes: z.array(Purpose).min(1).max(50),
  stopKeywords: z.array(z.string().min(1).max(40)).max(50),
  pendingHours: z
    .number()
    .int()
    .min(1)
    .max(24 * 30),
});
export type ConsentSettings = z.infer<typeof ConsentSettings>;

export const Wording = z.object({
  purpose: PurposeKey,
  version: z.string().min(1).max(100),
  locale: z.enum(['en', 'ru']),
  text: z.string().min(1).max(10_000),
});
export type Wording = z.infer<typeof Wording>;
