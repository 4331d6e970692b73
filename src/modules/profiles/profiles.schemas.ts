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
