import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db.ts';
import { DomainError } from '../../platform/errors.ts';
import { hmacHex, newId } from '../../platform/ids.ts';
import type { Logger } from '../../platform/logger.ts';
import { type CounterHit, countRateLimits, type RateLimit } from '../../platform/ratelimit.ts';
import type { ConsentStatement } from '../consent/index.ts';
import { CONCURRENT_MERGE, type Identifier, type ProfilesModule } from '../profiles/index.ts';
import { campaignOf, checkSubmission, sourceOf } from './forms.answers.ts';
import * as repo from './forms.repo.ts';
import type { AnswerValue, FormDefinition, SourceParam } from './forms.schemas.ts';

/**
 * A submission, the busiest and most attacked path of the module. Before any transaction: the form (live), the
 * client's submission id (a retry answers what the first try stored), limits per IP, network and device, the
 * answers checked field by field, the honeypot, limits per identifier. Then in one transaction: the person
 * resolved or created (profiles) with the mapped traits, consents recorded with their proof (consent; pending
 * under double opt-in), the submission row, and the job that writes `Form Submitted` / `Survey Answered` to the
 * timeline with a message id derived from the submission's — so the event exists exactly when the row does.
 */

export const FORM_SUBMITTED_JOB = 'forms.submitted';

export type Enqueue = (trx: Db, name: string, data: object) => Promise<string | null>;

export interface FormLimits {
  perIp: RateLimit;
  perNetwork: RateLimit;
  perDevice: RateLimit;
  perIdentifier: RateLimit;
}

/** Defaults: generous for a crowd behind one NAT, tight for one person or one browser. */
export const DEFAULT_LIMITS: FormLimits = {
  perIp: { limit: 30, windowSeconds: 600 },
  perNetwork: { limit: 300, windowSeconds: 600 },
  perDevice: { limit: 20, windowSeconds: 3600 },
  perIdentifier: { limit: 10, windowSeconds: 3600 },
};

export interface SubmitDeps {
  db: Db;
  clock: Clock;
  logger?: Logger;
  profiles: Pick<ProfilesModule, 'resolveObservations' | 'applyProjection'>;
  recordConsents: (
    trx: Db,
    workspaceId: string,
    profileId: string,
    statements: ConsentStatement[],
    proof: { ip?: string | null; userAgent?: string | null },
  ) => Promise<readonly { action: string }[]>;
  enqueue: Enqueue;
  /** A per-workspace secret for the names of rate-limit counters (org's subjectKey): no address in clear. */
  secretOf: (db: Db, workspaceId: string) => Promise<string>;
  limits: FormLimits;
}

export interface SubmissionInput {
  form: string;
  answers: Record<string, unknown>;
  consents: Record<string, unknown>;
  clientId?: string;
  source?: Record<string, unknown>;
  anonymousId?: string;
  channel: 'api' | 'page';
  ip?: string | null;
  userAgent?: string | null;
  /** The hosted page's device cookie. */
  device?: string | null;
  honeypot?: string;
}

export interface SubmitOutcome {
  submissionId: string;
  version: number;
  pendingConsents: number;
  /** The same client submission id was stored before: nothing new was written. */
  replayed: boolean;
  form: repo.FormRow;
}

/** The live form of that key, or the reason it cannot be answered. */
export async function liveForm(db: Db, workspaceId: string, key: string) {
  const form = await repo.findForm(db, workspaceId, key);
  if (!form || form.status === 'draft') throw new DomainError('not_found', 'FORM_NOT_FOUND', 'There is no such form.');
  if (form.status === 'closed') throw new DomainError('conflict', 'FORM_CLOSED', 'This form no longer takes answers.');
  return form;
}

/** IPv4 /24 or IPv6 /48: one household, office or mobile carrier's pool. */
export function networkOf(ip: string) {
  const v4 = /^(?:::ffff:)?(\d+\.\d+\.\d+)\.\d+$/i.exec(ip);
  if (v4) return `${v4[1]}.0/24`;
  const parts = ip.toLowerCase().split(':');
  return `${parts.slice(0, 3).join(':')}::/48`;
}

const RETRYABLE = new Set(['40P01', '40001', CONCURRENT_MERGE]);

class AlreadyStored extends Error {}

async function limit(deps: SubmitDeps, hits: CounterHit[]) {
  if (hits.length === 0) return;
  const readings = await countRateLimits(deps.db, deps.clock, hits);
  let wait = 0;
  for (const h of hits) {
    const r = readings.get(h.bucket);
    if (r && r.hits > h.rule.limit) wait = Math.max(wait, r.retryAfterSeconds);
  }
  if (wait > 0)
    throw new DomainError('rate_limited', 'TOO_MANY_SUBMISSIONS', 'Too many submissions; try again later.', {
      retryAfterSeconds: wait,
    });
}

function answered(form: repo.FormRow, stored: repo.SubmissionRow, pendingConsents = 0): SubmitOutcome {
  return { submissionId: stored.id, version: stored.version, pendingConsents, replayed: true, form };
}

export async function submitForm(
  deps: SubmitDeps,
  workspaceId: string,
  input: SubmissionInput,
): Promise<SubmitOutcome> {
  const form = await liveForm(deps.db, workspaceId, input.form);
  const definition = form.definition as FormDefinition;
  if (input.clientId) {
    const stored = await repo.submissionByClientId(deps.db, workspaceId, form.id, input.clientId);
    if (stored) return answered(form, stored);
  }
  const secret = await deps.secretOf(deps.db, workspaceId);
  const bucket = (kind: string, value: string) => `forms:${kind}:${hmacHex(secret, `${kind}:${value}`).slice(0, 32)}`;
  const ip = input.ip ?? null;
  await limit(deps, [
    ...(ip
      ? [
          { bucket: bucket('ip', ip), rule: deps.limits.perIp, count: 1 },
          { bucket: bucket('net', networkOf(ip)), rule: deps.limits.perNetwork, count: 1 },
        ]
      : []),
    ...(input.device ? [{ bucket: bucket('device', input.device), rule: deps.limits.perDevice, count: 1 }] : []),
  ]);

  const checked = checkSubmission(definition, input.answers, input.consents);
  if (checked.errors.length > 0)
    throw new DomainError('invalid', 'FORM_INVALID', 'Some answers are missing or not valid.', {
      errors: checked.errors,
    });
  // A bot filled the field people cannot see: answered as if accepted, nothing stored.
  if (input.honeypot && input.honeypot.trim() !== '')
    return { submissionId: newId(), version: form.version, pendingConsents: 0, replayed: false, form };

  const ids: Identifier[] = [...checked.identifiers];
  const anonymous = input.anonymousId ?? (ids.length === 0 ? input.device : null);
  if (anonymous) ids.push({ kind: 'anonymous_id', value: anonymous } as Identifier);
  if (ids.length === 0)
    throw new DomainError(
      'invalid',
      'IDENTITY_REQUIRED',
      'Send an e-mail address, phone number, user id or anonymous id.',
    );
  await limit(
    deps,
    checked.identifiers.map((id) => ({
      bucket: bucket('id', `${id.kind}:${id.value}`),
      rule: deps.limits.perIdentifier,
      count: 1,
    })),
  );

  const source = sourceOf(definition, input.source);
  for (let attempt = 1; ; attempt++) {
    try {
      return await deps.db
        .transaction()
        .execute((trx) => write(deps, trx, workspaceId, form, definition, input, checked, ids, source));
    } catch (error) {
      if (error instanceof AlreadyStored && input.clientId) {
        const stored = await repo.submissionByClientId(deps.db, workspaceId, form.id, input.clientId);
        if (stored) return answered(form, stored);
      }
      const code = (error as { code?: string }).code;
      if (attempt < 6 && code && RETRYABLE.has(code)) continue;
      throw error;
    }
  }
}

async function write(
  deps: SubmitDeps,
  trx: Db,
  workspaceId: string,
  form: repo.FormRow,
  definition: FormDefinition,
  input: SubmissionInput,
  checked: ReturnType<typeof checkSubmission>,
  ids: Identifier[],
  source: Partial<Record<SourceParam, string>>,
): Promise<SubmitOutcome> {
  const now = deps.clock.now();
  const traits = Object.keys(checked.traits).length > 0 ? checked.traits : null;
  // Filling in a form is the person's own doing: someone erased who signs up again is taken in again.
  const resolution = await deps.profiles.resolveObservations(
    trx,
    workspaceId,
    [{ ids, traits, at: now, channel: 'form' }],
    { readmit: true },
  );
  const profileId = resolution.profileIds[0] as string;

  const email = ids.find((i) => i.kind === 'email')?.value;
  const phone = ids.find((i) => i.kind === 'phone')?.value;
  const statements: ConsentStatement[] = definition.consents
    .filter((c) => checked.consents[c.key])
    .map((c) => {
      const address = c.channel === 'email' ? email : c.channel === 'sms' || c.channel === 'call' ? phone : undefined;
      return {
        channel: c.channel,
        purpose: c.purpose,
        action: 'grant',
        source: 'form',
        wordingVersion: c.wordingVersion,
        ...(address ? { address } : {}),
        ...(definition.doubleOptIn ? { doubleOptIn: true } : {}),
      };
    });
  const entries =
    statements.length > 0
      ? await deps.recordConsents(trx, workspaceId, profileId, statements, {
          ip: input.ip ?? null,
          userAgent: input.userAgent ?? null,
        })
      : [];
  const pendingConsents = entries.filter((e) => e.action === 'pending').length;

  const id = newId();
  const stored = await repo.insertSubmission(trx, {
    id,
    workspace_id: workspaceId,
    form_id: form.id,
    version: form.version,
    profile_id: profileId,
    client_id: input.clientId ?? null,
    channel: input.channel,
    answers: checked.answers,
    consents: checked.consents,
    source,
    ip: input.ip ?? null,
    user_agent: input.userAgent ?? null,
    created_at: now,
  });
  if (!stored) throw new AlreadyStored();
  await deps.enqueue(trx, FORM_SUBMITTED_JOB, {
    workspaceId,
    messages: [eventOf(form, definition, id, checked.answers, ids, source, input.channel, now)],
  });
  // Last: the profile's row lock is held only until the commit right after.
  if (resolution.projection.length > 0) await deps.profiles.applyProjection(trx, workspaceId, resolution.projection);
  return { submissionId: id, version: form.version, pendingConsents, replayed: false, form };
}

/** The timeline's event; its messageId makes the job's retries add nothing. */
export function eventOf(
  form: repo.FormRow,
  definition: FormDefinition,
  submissionId: string,
  answers: Record<string, AnswerValue>,
  ids: Identifier[],
  source: Partial<Record<SourceParam, string>>,
  channel: string,
  at: Date,
) {
  const traits: Record<string, string> = {};
  for (const id of ids) if (id.kind === 'email' || id.kind === 'phone') traits[id.kind] = id.value;
  const userId = ids.find((i) => i.kind === 'user_id')?.value;
  const anonymousId = ids.find((i) => i.kind === 'anonymous_id')?.value;
  const identity = new Set(definition.fields.filter((f) => f.maps.to === 'identity').map((f) => f.key));
  // Field keys are snake_case, the fixed properties camelCase: they cannot collide.
  const properties: Record<string, unknown> = {
    submissionId,
    formId: form.id,
    formKey: form.key,
    formVersion: form.version,
    channel,
  };
  for (const [key, value] of Object.entries(answers)) if (!identity.has(key)) properties[key] = value;
  const campaign = campaignOf(source);
  return {
    type: 'track',
    event: definition.kind === 'survey' ? 'Survey Answered' : 'Form Submitted',
    messageId: `form-submission:${submissionId}`,
    timestamp: at.toISOString(),
    ...(userId ? { userId } : {}),
    ...(anonymousId ? { anonymousId } : {}),
    context: {
      channel: 'form',
      traits,
      ...(Object.keys(campaign).length > 0 ? { campaign } : {}),
    },
    properties,
  };
}
