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
