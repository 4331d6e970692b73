import { z } from 'zod';

/**
 * The forms module's public shapes: the definition of a form or survey (the console's builder imports this file),
 * submissions as the API accepts them, and the management API's answers.
 */

export const FORM_KINDS = ['form', 'survey'] as const;
export const FormKind = z.enum(FORM_KINDS);
export type FormKind = z.infer<typeof FormKind>;

export const FormStatus = z.enum(['draft', 'live', 'closed']);
export type FormStatus = z.infer<typeof FormStatus>;

export const FIELD_TYPES = [
  'text',
  'email',
  'phone',
  'date',
  'number',
  'select',
  'multiselect',
  'checkbox',
  'rating',
  'textarea',
  'hidden',
] as const;
export const FieldType = z.enum(FIELD_TYPES);
export type FieldType = z.infer<typeof FieldType>;

/** Channels a form may ask consent for (the consent module's list; `any` is for processing of personal data). */
export const FORM_CONSENT_CHANNELS = ['email', 'sms', 'messenger', 'push', 'call', 'mail', 'any'] as const;

/** The URL parameters a form keeps with each submission: UTM tags and the placement keyword `m`. */
export const SOURCE_PARAMS = ['utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'utm_content', 'm'] as const;
export const SourceParam = z.enum(SOURCE_PARAMS);
export type SourceParam = z.infer<typeof SourceParam>;

export const FormKey = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,59}$/, 'lower-case letters, digits and hyphens, at most 60 characters');

export const FieldKey = z
  .string()
  .regex(/^[a-z][a-z0-9_]{0,39}$/, 'lower-case letters, digits and _, starting with a letter');

/**
 * Traits a form may write: snake_case names. Identifiers (e-mail, phone, user id) are not traits: fields map to
 * them as `identity`, and names the profile keeps for itself are refused.
 */
export const TRAIT_NAME = /^[a-z][a-z0-9_]{0,63}$/;
export const RESERVED_TRAITS = ['email', 'phone', 'user_id', 'anonymous_id', 'id', 'created_at', 'updated_at'];
export const TraitName = z
  .string()
  .regex(TRAIT_NAME, 'snake_case: lower-case letters, digits and _, starting with a letter')
  .refine((v) => !RESERVED_TRAITS.includes(v), { message: 'an identifier or reserved name; map to identity instead' });

/** A text in both console languages; Russian falls back to English when empty. */
export const LocalText = (max: number) => z.object({ en: z.string().trim().min(1).max(max), ru: z.string().max(max) });
export const OptionalText = (max: number) =>
  z.object({ en: z.string().max(max).default(''), ru: z.string().max(max).default('') });
export type LocalText = { en: string; ru: string };

export const FieldOption = z.object({
  value: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'letters, digits, _ and -'),
  label: LocalText(200),
});
export type FieldOption = z.infer<typeof FieldOption>;

/** Where an answer goes: a trait of the profile, an identifier of the person, or only the event's properties. */
export const FieldMapping = z.discriminatedUnion('to', [
  z.object({ to: z.literal('trait'), trait: TraitName }),
  z.object({ to: z.literal('identity'), identity: z.enum(['email', 'phone', 'user_id']) }),
  z.object({ to: z.literal('event') }),
]);
export type FieldMapping = z.infer<typeof FieldMapping>;

export const FieldValidation = z
  .object({
    minLength: z.number().int().min(0).max(5000).optional(),
    maxLength: z.number().int().min(1).max(5000).optional(),
    min: z.number().optional(),
    max: z.number().optional(),
  })
  .strict();

export const FormField = z.object({
  key: FieldKey,
  type: FieldType,
  label: LocalText(300),
  help: OptionalText(500).optional(),
  required: z.boolean().default(false),
  options: z.array(FieldOption).max(50).optional(),
  /** Ratings: 1–5 or 1–10. */
  scale: z.union([z.literal(5), z.literal(10)]).optional(),
  maps: FieldMapping.default({ to: 'event' }),
  validation: FieldValidation.optional(),
});
export type FormField = z.infer<typeof FormField>;

export const ConsentCheckbox = z.object({
  key: FieldKey,
  channel: z.enum(FORM_CONSENT_CHANNELS),
  purpose: z.string().regex(/^[a-z][a-z0-9_]{0,39}$/),
  /** The consent wording version the label shows (consent settings → wordings); recorded as the proof's wording. */
  wordingVersion: z.string().min(1).max(100),
  /** The wording's text as shown next to the box. */
  label: LocalText(2000),
  /** Without it ticked the form is not accepted (processing of personal data). */
  required: z.boolean().default(false),
});
export type ConsentCheckbox = z.infer<typeof ConsentCheckbox>;

export const FormTexts = z.object({
  title: LocalText(200),
  intro: OptionalText(2000).default({ en: '', ru: '' }),
  submitLabel: OptionalText(60).default({ en: '', ru: '' }),
  thankYou: OptionalText(2000).default({ en: '', ru: '' }),
});
export type FormTexts = z.infer<typeof FormTexts>;

const IDENTITY_TYPES: Record<string, readonly FieldType[]> = {
  email: ['email', 'hidden'],
  phone: ['phone', 'hidden'],
  user_id: ['text', 'hidden'],
};

/** What the builder edits; a version of a form is one of these. */
export const FormDefinition = z
  .object({
    name: z.string().trim().min(1).max(200),
    kind: FormKind.default('form'),
    texts: FormTexts,
    fields: z.array(FormField).min(1).max(60),
    consents: z.array(ConsentCheckbox).max(10).default([]),
    /** URL parameters kept with each submission and put in the event's `context.campaign`. */
    capture: z
      .array(SourceParam)
      .max(SOURCE_PARAMS.length)
      .default([...SOURCE_PARAMS]),
    /** Consents given through the form stay pending until the person confirms them (consent's confirmation). */
    doubleOptIn: z.boolean().default(false),
  })
  .superRefine((d, ctx) => {
    const seen = new Set<string>();
    const traits = new Set<string>();
    const identities = new Set<string>();
    const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    d.fields.forEach((f, i) => {
      if (seen.has(f.key)) issue(['fields', i, 'key'], `the key ${f.key} is used twice`);
      seen.add(f.key);
      const choice = f.type === 'select' || f.type === 'multiselect';
      if (choice && (f.options?.length ?? 0) < 2) issue(['fields', i, 'options'], 'a choice needs at least 2 options');
      if (!choice && f.options && f.options.length > 0) issue(['fields', i, 'options'], 'only choices have options');
      if (choice && new Set(f.options?.map((o) => o.value)).size !== f.options?.length)
        issue(['fields', i, 'options'], 'option values must differ');
      if (f.type === 'rating' && !f.scale) issue(['fields', i, 'scale'], 'a rating needs a scale of 5 or 10');
      if (f.maps.to === 'identity') {
        if (!IDENTITY_TYPES[f.maps.identity]?.includes(f.type))
          issue(['fields', i, 'maps'], `a ${f.type} field cannot identify by ${f.maps.identity}`);
        if (identities.has(f.maps.identity)) issue(['fields', i, 'maps'], `two fields give the ${f.maps.identity}`);
        identities.add(f.maps.identity);
      }
      if (f.maps.to === 'trait') {
        if (traits.has(f.maps.trait)) issue(['fields', i, 'maps'], `two fields write the trait ${f.maps.trait}`);
        traits.add(f.maps.trait);
      }
      const v = f.validation;
      if (v?.minLength !== undefined && v.maxLength !== undefined && v.minLength > v.maxLength)
        issue(['fields', i, 'validation'], 'minLength is above maxLength');
      if (v?.min !== undefined && v.max !== undefined && v.min > v.max)
        issue(['fields', i, 'validation'], 'min is above max');
    });
    d.consents.forEach((c, i) => {
      if (seen.has(c.key)) issue(['consents', i, 'key'], `the key ${c.key} is used twice`);
      seen.add(c.key);
    });
    if (d.kind === 'form' && identities.size === 0)
      issue(['fields'], 'a form needs a field that identifies the person (e-mail, phone or user id)');
    if (new Set(d.capture).size !== d.capture.length) issue(['capture'], 'a parameter is listed twice');
  });
export type FormDefinition = z.infer<typeof FormDefinition>;
export type FormDefinitionInput = z.input<typeof FormDefinition>;

export const FormCreate = z.object({ key: FormKey, definition: FormDefinition });
export type FormCreate = z.infer<typeof FormCreate>;

export const Form = z.object({
  id: z.string(),
  key: z.string(),
  name: z.string(),
  kind: FormKind,
  status: FormStatus,
  version: z.number().int(),
  /** The highest version that has been live: editing it makes a new version. */
  publishedVersion: z.number().int().nullable(),
  definition: FormDefinition,
  submissions: z.number().int(),
  hostedUrl: z.string(),
  embedUrl: z.string(),
  submitUrl: z.string(),
  /** The workspace's newest write key, for the embed snippet (write keys are public); null when it has none. */
  writeKey: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Form = z.infer<typeof Form>;

export const FormSummaryRow = Form.omit({ definition: true });
export type FormSummaryRow = z.infer<typeof FormSummaryRow>;

// ---- submissions

export type AnswerValue = string | number | boolean | string[];

/** `POST /v1/forms/<key>/submit`: the answers by field key, consent boxes by their key (true when ticked). */
export const SubmitBody = z.object({
  answers: z.record(
    z.string().max(40),
    z.union([z.string().max(5000), z.number(), z.boolean(), z.array(z.string().max(200)).max(50)]),
  ),
  consents: z.record(z.string().max(40), z.boolean()).default({}),
  /** The client's id for this submission: a retry (double click, network) with the same id stores nothing new. */
  submissionId: z
    .string()
    .regex(/^[A-Za-z0-9_-]{8,64}$/)
    .optional(),
  /** UTM tags and the placement keyword of the page the form sits on. */
  source: z.partialRecord(SourceParam, z.string().max(200)).optional(),
  anonymousId: z.string().min(1).max(200).optional(),
  /** The write key, when it cannot go in the Authorization header. */
  writeKey: z.string().max(200).optional(),
  lang: z.enum(['en', 'ru']).optional(),
  /** The honeypot: people never fill it (it is hidden); a bot that does is answered as if accepted. */
  website: z.string().max(500).optional(),
});
export type SubmitBody = z.infer<typeof SubmitBody>;

export const Submitted = z.object({
  status: z.literal('accepted'),
  submissionId: z.string(),
  version: z.number().int(),
  /** Consents waiting for the person's confirmation (double opt-in). */
  pendingConsents: z.number().int(),
  message: z.string(),
});
export type Submitted = z.infer<typeof Submitted>;

export const FieldError = z.object({ path: z.string(), code: z.string(), message: z.string() });
export type FieldError = z.infer<typeof FieldError>;

export const Submission = z.object({
  id: z.string(),
  version: z.number().int(),
  profileId: z.string().nullable(),
  answers: z.record(z.string(), z.unknown()),
  consents: z.record(z.string(), z.boolean()),
  source: z.record(z.string(), z.string()),
  channel: z.string(),
  createdAt: z.string(),
  erased: z.boolean(),
});
export type Submission = z.infer<typeof Submission>;

export const SubmissionsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
});

export const QuestionSummary = z.object({
  key: z.string(),
  type: FieldType,
  label: z.object({ en: z.string(), ru: z.string() }),
  answered: z.number().int(),
  /** Choices, checkboxes and ratings: how many chose each value. */
  counts: z.array(z.object({ value: z.string(), count: z.number().int() })).optional(),
  /** Ratings and numbers. */
  average: z.number().nullable().optional(),
});
export type QuestionSummary = z.infer<typeof QuestionSummary>;

export const FormResults = z.object({ total: z.number().int(), questions: z.array(QuestionSummary) });
export type FormResults = z.infer<typeof FormResults>;
