import { z } from 'zod';

/**
 * The org module's public shapes: request and response bodies of /api/v1 for workspaces, users, branches, keys,
 * sessions and the audit log. The console imports this file directly (and only this file of the module).
 */

export const ROLES = ['owner', 'marketer', 'analyst', 'operator', 'branch_manager'] as const;
export const Role = z.enum(ROLES);
export type Role = z.infer<typeof Role>;

/**
 * The permission catalogue. Every management route names one of these next to its definition; roles map to sets
 * of them below. Later modules add their permissions here, so that the whole matrix reads in one place.
 */
export const PERMISSIONS = [
  'workspace:read',
  'workspace:manage',
  'users:read',
  'users:manage',
  'branches:read',
  'branches:manage',
  'keys:manage',
  'audit:read',
  'profiles:read',
  /** E-mails, phones and card numbers in clear; without it they are masked (a***@example.com, +7 *** *** ** 67). */
  'profiles:read_pii',
  'profiles:write',
  /** A data subject's export: everything kept about a person, in clear (owner only by default). */
  'profiles:export',
  /** A data subject's erasure: irreversible (owner only). */
  'profiles:erase',
  /** Promotions, code batches (metadata), registrations and the fraud screen. */
  'codes:read',
  /** Create and change promotions; create, download once, import and revoke code batches. */
  'codes:manage',
  /** Export a batch's clear codes again after its first download (owner only; audited). */
  'codes:export',
  /** Loyalty programmes, rules, card lookups, members' balances and ledgers. */
  'loyalty:read',
  /** The till: register purchases, returns and reversals, issue, block and replace cards, send spending codes. */
  'loyalty:operate',
  /** Programmes, earn rules and their simulation, card ranges, manual adjustments of points. */
  'loyalty:manage',
  /** Forms and surveys, their submissions (identifiers masked without profiles:read_pii) and results. */
  'forms:read',
  /** Build, publish and close forms and surveys. */
  'forms:manage',
] as const;
export const Permission = z.enum(PERMISSIONS);
export type Permission = z.infer<typeof Permission>;

export const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  owner: PERMISSIONS,
  marketer: [
    'workspace:read',
    'users:read',
    'branches:read',
    'profiles:read',
    'profiles:read_pii',
    'profiles:write',
    'codes:read',
    'codes:manage',
    'loyalty:read',
    'loyalty:manage',
    'forms:read',
    'forms:manage',
  ],
  // Analysts and operators see profiles with e-mails, phones and cards masked, and never export or erase them.
  analyst: ['workspace:read', 'branches:read', 'profiles:read', 'codes:read', 'loyalty:read', 'forms:read'],
  // Operators (call centre, tills) register purchases and look cards up; spending points needs the customer's proof.
  operator: ['workspace:read', 'branches:read', 'profiles:read', 'codes:read', 'loyalty:read', 'loyalty:operate'],
  // Everything a branch manager touches is limited to its own branch and the branches below it.
  branch_manager: ['workspace:read', 'users:read', 'branches:read', 'branches:manage'],
};

const Id = z.uuid();
const Timestamp = z.iso.datetime({ offset: true });
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
export const Locale = z.enum(['en', 'ru']);
export type Locale = z.infer<typeof Locale>;
const Currency = z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as RUB or EUR');

export const Workspace = z
  .object({
    id: Id,
    slug: z.string(),
    name: z.string(),
    timeZone: z.string(),
    locale: Locale,
    currency: z.string(),
    createdAt: Timestamp,
  })
  .meta({ id: 'Workspace' });
export type Workspace = z.infer<typeof Workspace>;

export const WorkspaceCreate = z.object({
  name: z.string().trim().min(1).max(120),
  slug: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$/, 'lower-case letters, digits and hyphens, 3 to 50 characters')
    .optional(),
  timeZone: TimeZoneName.default('UTC'),
  locale: Locale.default('en'),
  currency: Currency.default('EUR'),
});
export type WorkspaceCreate = z.infer<typeof WorkspaceCreate>;

export const WorkspaceUpdate = z
  .object({
    name: z.string().trim().min(1).max(120),
    timeZone: TimeZoneName,
    locale: Locale,
    currency: Currency,
  })
  .partial()
  .strict();
export type WorkspaceUpdate = z.infer<typeof WorkspaceUpdate>;

/** A workspace as one signed-in user sees it: with their role there. */
export const Membership = z
  .object({
    workspace: Workspace,
    role: Role,
    branchId: Id.nullable(),
  })
  .meta({ id: 'Membership' });
export type Membership = z.infer<typeof Membership>;

export const User = z
  .object({
    id: Id,
    email: z.string(),
    name: z.string(),
    role: Role,
    branchId: Id.nullable(),
    createdAt: Timestamp,
    lastLoginAt: Timestamp.nullable(),
  })
  .meta({ id: 'User' });
export type User = z.infer<typeof User>;

export const UserCreate = z
  .object({
    email: z.email().max(254),
    name: z.string().trim().min(1).max(120),
    role: Role,
    branchId: Id.nullable().optional(),
    password: z.string().min(10).max(200).optional().describe('Omit to have a one-time password generated'),
  })
  .strict();
export type UserCreate = z.infer<typeof UserCreate>;

export const UserCreated = z.object({
  user: User,
  temporaryPassword: z.string().nullable().describe('Shown once when Rapport generated the password'),
});
export type UserCreated = z.infer<typeof UserCreated>;

export const UserUpdate = z
  .object({ name: z.string().trim().min(1).max(120), role: Role, branchId: Id.nullable() })
  .partial()
  .strict();
export type UserUpdate = z.infer<typeof UserUpdate>;

export const Branch = z
  .object({
    id: Id,
    parentId: Id.nullable(),
    name: z.string(),
    code: z.string(),
    timeZone: z.string().nullable(),
    depth: z.number().int(),
    createdAt: Timestamp,
  })
  .meta({ id: 'Branch' });
export type Branch = z.infer<typeof Branch>;

export const BranchCreate = z
  .object({
    name: z.string().trim().min(1).max(120),
    code: z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$/, 'letters, digits, dot, dash or underscore; up to 40 characters'),
    parentId: Id.nullable().optional(),
    timeZone: TimeZoneName.nullable().optional(),
  })
  .strict();
export type BranchCreate = z.infer<typeof BranchCreate>;

export const BranchUpdate = z
  .object({
    name: z.string().trim().min(1).max(120),
    code: BranchCreate.shape.code,
    timeZone: TimeZoneName.nullable(),
  })
  .partial()
  .strict();
export type BranchUpdate = z.infer<typeof BranchUpdate>;

export const KeyKind = z.enum(['write', 'secret']);
export type KeyKind = z.infer<typeof KeyKind>;

export const ApiKey = z
  .object({
    id: Id,
    kind: KeyKind,
    name: z.string(),
    /** The first characters, enough to recognise a key without revealing it. */
    prefix: z.string(),
    role: Role.nullable(),
    branchId: Id.nullable(),
    /** Write keys are publishable (they sit in web pages) and stay readable; secret keys never are. */
    writeKey: z.string().nullable(),
    createdAt: Timestamp,
    lastUsedAt: Timestamp.nullable(),
    revokedAt: Timestamp.nullable(),
  })
  .meta({ id: 'ApiKey' });
export type ApiKey = z.infer<typeof ApiKey>;

export const ApiKeyCreate = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('write'), name: z.string().trim().min(1).max(120) }).strict(),
  z
    .object({
      kind: z.literal('secret'),
      name: z.string().trim().min(1).max(120),
      role: Role,
      branchId: Id.nullable().optional(),
    })
    .strict(),
]);
export type ApiKeyCreate = z.infer<typeof ApiKeyCreate>;

export const ApiKeyCreated = z.object({
  key: ApiKey,
  secret: z.string().describe('The full key. Shown once; Rapport keeps only a hash of secret keys.'),
});
export type ApiKeyCreated = z.infer<typeof ApiKeyCreated>;

export const SessionCreate = z.object({
  email: z.string().trim().min(1).max(254),
  password: z.string().min(1).max(200),
});
export type SessionCreate = z.infer<typeof SessionCreate>;

export const Session = z
  .object({
    user: z.object({ id: Id, email: z.string(), name: z.string() }),
    memberships: z.array(Membership),
    /** Send back as the `x-csrf-token` header on every non-GET request made with the session cookie. */
    csrfToken: z.string(),
  })
  .meta({ id: 'Session' });
export type Session = z.infer<typeof Session>;

/** Who the caller is in the current workspace: what the console uses to show or hide actions. */
export const Me = z
  .object({
    kind: z.enum(['user', 'key']),
    workspace: Workspace,
    role: Role,
    branchId: Id.nullable(),
    permissions: z.array(Permission),
    userId: Id.nullable(),
    keyId: Id.nullable(),
  })
  .meta({ id: 'Me' });
export type Me = z.infer<typeof Me>;

export const AuditEntry = z
  .object({
    id: Id,
    at: Timestamp,
    actorKind: z.enum(['user', 'key', 'system']),
    actorId: z.string().nullable(),
    actorLabel: z.string().nullable(),
    action: z.string(),
    targetKind: z.string().nullable(),
    targetId: z.string().nullable(),
    ip: z.string().nullable(),
    userAgent: z.string().nullable(),
    details: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'AuditEntry' });
export type AuditEntry = z.infer<typeof AuditEntry>;

export const AuditQuery = z.object({
  action: z.string().max(80).optional().describe('Action, or its prefix: `profile.` for every profile action'),
  actorId: z.string().max(80).optional().describe('The user or key id that acted'),
  targetKind: z.string().max(40).optional().describe('`profile`, `user`, `branch`, `api_key`, `workspace` …'),
  targetId: z
    .string()
    .max(80)
    .optional()
    .describe('The object acted on; for a profile also the lists and searches that showed it'),
  from: Timestamp.optional().describe('At or after this time'),
  to: Timestamp.optional().describe('Before this time'),
});
export type AuditQuery = z.infer<typeof AuditQuery>;

/** The header the console sends to choose among a user's workspaces. */
export const WORKSPACE_HEADER = 'rapport-workspace';
export const CSRF_HEADER = 'x-csrf-token';
