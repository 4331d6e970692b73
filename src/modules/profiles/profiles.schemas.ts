import { z } from 'zod';

export const IdentityEntry = z.object({ kind: z.string(), value: z.string(), since: z.string() });

export const Profile = z
  .object({
    id: z.uuid(),
    traits: z.record(z.string(), z.unknown()),
    identities: z.array(IdentityEntry),
    channels: z.array(z.string()),
    firstSeenAt: z.string(),
    lastSeenAt: z.string(),
    mergedFrom: z.array(z.object({ profileId: z.uuid(), reason: z.string(), at: z.string() })),
    /** Set when the person was erased: the profile is a tombstone (no traits, no identities). */
    erasedAt: z.string().nullable(),
  })
  .meta({ id: 'Profile' });
export type Profile = z.infer<typeof Profile>;

export const ProfileSummary = z
  .object({
    id: z.uuid(),
    name: z.string().nullable(),
    email: z.string().nullable(),
    phone: z.string().nullable(),
    channels: z.array(z.string()),
    lastSeenAt: z.string(),
  })
  .meta({ id: 'ProfileSummary' });
export type ProfileSummary = z.infer<typeof ProfileSummary>;

export const ProfileQuery = z.object({
  identifier: z
    .string()
    .max(250)
    .regex(/^[a-z_:0-9]+:.+$/, 'kind:value, for example email:anna@example.com')
    .optional()
    .describe('Exact identifier lookup, kind:value'),
  q: z.string().trim().min(2).max(100).optional().describe('Search by name, e-mail, phone or card (prefix)'),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
});
export type ProfileQuery = z.infer<typeof ProfileQuery>;

export const ProfileMerge = z.object({ absorbId: z.uuid().describe('The profile to fold into this one') }).strict();
export type ProfileMerge = z.infer<typeof ProfileMerge>;

const TraitKey = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[^$.\s][^\s]*$/, 'a trait name without spaces, not starting with $ or .');
export const TraitsEdit = z
  .object({
    set: z.record(TraitKey, z.unknown()).default({}),
    unset: z.array(TraitKey).max(100).default([]),
  })
  .strict()
  .refine((v) => Object.keys(v.set).length + v.unset.length > 0, { message: 'set or unset at least one trait' })
  .refine((v) => !v.unset.some((k) => k in v.set), { message: 'a trait cannot be both set and unset' })
  .refine((v) => JSON.stringify(v.set).length <= 16_384, { message: 'traits may be at most 16 KB' });
export type TraitsEdit = z.infer<typeof TraitsEdit>;

export const SubjectExportQuery = z.object({
  format: z
    .enum(['json', 'csv'])
    .default('json')
    .describe('json: one document with every section; csv: a zip with one CSV file per section'),
});
export type SubjectExportQuery = z.infer<typeof SubjectExportQuery>;

export const SubjectExport = z
  .object({
    profileId: z.uuid(),
    exportedAt: z.string(),
    sections: z.record(z.string(), z.array(z.record(z.string(), z.unknown()))),
  })
  .meta({ id: 'SubjectExport' });
export type SubjectExport = z.infer<typeof SubjectExport>;

/**
 * Why a person is erased: a code, not free text, so that the audit entry of an erasure can never carry the
 * person's name or address. `ticket` is the reference of the request in the brand's own system.
 */
export const ERASURE_REASONS = [
  'subject_request',
  'consent_withdrawn',
  'no_longer_needed',
  'unlawful_processing',
  'legal_obligation',
  'other',
] as const;
export const ErasureRequest = z
  .object({
    reason: z.enum(ERASURE_REASONS),
    ticket: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.#/-]{0,39}$/, 'a request reference: letters, digits, # . _ / -; up to 40')
      .optional(),
  })
  .strict();
export type ErasureRequest = z.infer<typeof ErasureRequest>;

export const ErasureResult = z
  .object({
    profileId: z.uuid(),
    erasedAt: z.string(),
    /** Profiles merged into this one earlier, erased with it. */
    absorbedProfiles: z.number().int(),
    /** The sections of the registry that erased their part (profile, identities, events, audit …). */
    sections: z.array(z.string()),
  })
  .meta({ id: 'ErasureResult' });
export type ErasureResult = z.infer<typeof ErasureResult>;
