import type { Db } from '../../platform/db.ts';
import { newId } from '../../platform/ids.ts';
import type { Identifier } from '../profiles/index.ts';
import type { AttemptKeys, LimitSettings } from './codes.limits.ts';
import type * as repo from './codes.repo.ts';
import type { GivenConsent, Reward } from './codes.schemas.ts';
import type { WorkspaceKeys } from './codes.service.ts';

/** One registration attempt as it goes through the registrar: its input, what was derived from it, its outcome. */

export const CODE_REGISTERED_JOB = 'codes.registered';

export type Enqueue = (trx: Db, name: string, data: object) => Promise<string | null>;

export type RegistrationChannel = 'api' | 'page' | 'sms' | 'messenger';

export interface RegistrationInput {
  code: string;
  phone?: string;
  email?: string;
  userId?: string;
  anonymousId?: string;
  /** A messenger id, `kind:id` (telegram:12345). */
  messenger?: string;
  /** A promotion key or id: the code is looked up in this promotion only. */
  promotion?: string;
  consents?: GivenConsent[];
  channel: RegistrationChannel;
  ip?: string | null;
  userAgent?: string | null;
  /** A device id other than anonymousId (the hosted page's cookie). */
  device?: string | null;
  /** The keyword of the placement that brought the person (codes.placements.ts): attributes the registration. */
  placement?: string;
}

/** The placement keyword a registration carries, upper-cased, or null when it cannot be one. */
export function placementKeyOf(input: Pick<RegistrationInput, 'placement'>): string | null {
  const k = input.placement?.trim().toUpperCase();
  return k && /^[A-Z0-9]{2,20}$/.test(k) ? k : null;
}

export type RegistrationOutcome =
  | {
      status: 'accepted';
      registrationId: string;
      promotion: { id: string; key: string; name: string };
      reward: Reward;
      consents: { recorded: number; rejected: string | null };
    }
  | { status: 'typo' }
  | { status: 'refused' }
  | { status: 'limited'; retryAfterSeconds: number }
  | { status: 'person_limit' }
  | { status: 'budget_exhausted' }
  | { status: 'closed' };

export interface WorkspaceContext {
  keys: WorkspaceKeys;
  limits: LimitSettings;
  guessesPerMinute: number;
  /** Active promotions whose window is open (as of when this was read). */
  open: repo.PromotionRow[];
  byId: Map<string, repo.PromotionRow>;
  byKey: Map<string, repo.PromotionRow>;
  /** Code lengths of live imported batches, per promotion. */
  imported: { promotion_id: string; min_length: number; max_length: number }[];
}

export interface WorkspaceContextCache {
  get(db: Db, workspaceId: string): Promise<WorkspaceContext>;
  invalidate(workspaceId: string): void;
}

export interface Prepared {
  input: RegistrationInput;
  workspaceId: string;
  at: Date;
  ids: Identifier[];
  /** Keyed hashes of the person-level identifiers. */
  idHashes: string[];
  primary: { kind: string; hash: string } | null;
  device: string | null;
  ip: string | null;
  net: string | null;
  /** The stored hash of the code, or null when it is a typo. */
  codeHash: string | null;
  promotion: repo.PromotionRow | null;
  keys: AttemptKeys;
  outcome?: RegistrationOutcome;
  reason?: string;
  profileId?: string;
  batchId?: string;
  promotionId?: string;
  /** What the lookup found: the code and what stands in its way; null when the workspace has no such code. */
  found?: repo.Candidate | null;
  failure?: unknown;
  resolve: (outcome: RegistrationOutcome) => void;
  reject: (error: unknown) => void;
}

/**
 * Per time zone, its day format and the last minute asked about with its day: every registration asks, and
 * Intl's formatting was ≈ 1% of the server's time. Days of today's zones begin on a whole minute.
 */
const dayFormats = new Map<string, { format: Intl.DateTimeFormat; minute: number; day: string }>();
export function localDay(timeZone: string, at: Date) {
  let f = dayFormats.get(timeZone);
  if (!f) {
    f = {
      format: new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }),
      minute: Number.NaN,
      day: '',
    };
    dayFormats.set(timeZone, f);
  }
  const minute = Math.floor(at.getTime() / 60_000);
  if (minute !== f.minute) {
    f.day = f.format.format(at);
    f.minute = minute;
  }
  return f.day;
}

export function allowanceKeys(
  p: repo.PromotionRow,
  subject: string,
  at: Date,
): { key: repo.CountKey; limit: number }[] {
  const keys: { key: repo.CountKey; limit: number }[] = [];
  if (p.per_person_per_day)
    keys.push({
      key: { promotionId: p.id, subject, period: localDay(p.time_zone, at) },
      limit: p.per_person_per_day,
    });
  if (p.per_person_total)
    keys.push({ key: { promotionId: p.id, subject, period: 'total' }, limit: p.per_person_total });
  return keys;
}

export function decided(p: Prepared, outcome: RegistrationOutcome, reason: string | null) {
  p.outcome = outcome;
  p.reason = reason ?? undefined;
}

export function isOpen(p: repo.PromotionRow, at: Date) {
  return p.status === 'active' && p.starts_at <= at && p.ends_at > at;
}

export function attemptRow(p: Prepared): repo.AttemptWrite {
  const outcome = p.outcome?.status;
  return {
    id: newId(),
    at: p.at,
    outcome:
      outcome === 'accepted' ? 'accepted' : outcome === 'typo' ? 'typo' : outcome === 'limited' ? 'limited' : 'refused',
    reason: p.reason ?? null,
    channel: p.input.channel,
    promotionId: p.promotionId ?? p.promotion?.id ?? null,
    batchId: p.batchId ?? null,
    codeHash: p.codeHash,
    ip: p.ip,
    net: p.net,
    deviceHash: p.device,
    identifierKind: p.primary?.kind ?? null,
    identifierHash: p.primary?.hash ?? null,
    profileId: p.outcome?.status === 'accepted' ? (p.profileId ?? null) : null,
    placement: placementKeyOf(p.input),
  };
}

/** The phone and e-mail a person registered with, as traits of their profile (and of the event's context). */
export function contactTraits(p: Pick<Prepared, 'ids'>): Record<string, string> {
  const traits: Record<string, string> = {};
  for (const id of p.ids) if (id.kind === 'phone' || id.kind === 'email') traits[id.kind] = id.value;
  return traits;
}

/** The timeline's `Code Registered` event; its messageId, derived from the registration's id, is never stored twice. */
export function eventOf(r: repo.RedemptionWrite & { p: Prepared }, promo: repo.PromotionRow, at: Date) {
  const input = r.p.input;
  const traits = contactTraits(r.p);
  const userId = r.p.ids.find((i) => i.kind === 'user_id')?.value;
  const anonymousId = r.p.ids.find((i) => i.kind === 'anonymous_id')?.value;
  const messenger = r.p.ids.find((i) => !['user_id', 'email', 'phone', 'anonymous_id'].includes(i.kind));
  return {
    type: 'track',
    event: 'Code Registered',
    messageId: `code-registration:${r.id}`,
    timestamp: at.toISOString(),
    ...(userId ? { userId } : {}),
    ...(anonymousId ? { anonymousId } : {}),
    context: {
      channel: 'code_entry',
      traits,
      ...(messenger ? { externalIds: [{ type: messenger.kind, id: messenger.value }] } : {}),
    },
    properties: {
      registrationId: r.id,
      promotionId: promo.id,
      promotion: promo.key,
      batchId: r.batchId,
      channel: input.channel,
      reward: promo.reward,
      ...(promo.reward.kind === 'points' ? { rewardPoints: promo.reward.points } : {}),
      ...(placementKeyOf(input) ? { placement: placementKeyOf(input) } : {}),
    },
  };
}
