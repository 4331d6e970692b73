import { randomUUID } from 'node:crypto';
import type { CountryCode } from 'libphonenumber-js';
import { type Identifier, normalizeIdentifier } from '../profiles/index.ts';
import type { EventFields } from './events.repo.ts';
import { isPlainSegmentMessage, jsonLongerThan, MAX_MESSAGE_BYTES, SegmentMessage } from './events.schemas.ts';

export interface NormalizedEvent extends EventFields {
  ids: Identifier[];
  /** Traits that describe the person (identify traits, context.traits); group traits describe the group. */
  profileTraits: Record<string, unknown> | null;
}

export interface Rejection {
  code: string;
  message: string;
}

const MESSENGERS = new Set(['telegram', 'whatsapp', 'viber', 'vk']);

function text(v: unknown): string | null {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v !== 'string') return null;
  const t = v.trim();
  return t ? t : null;
}

function time(v: unknown): Date | null {
  if (v === null || v === undefined || v === '') return null;
  const d = typeof v === 'string' ? (utcTime(v) ?? new Date(v)) : new Date(typeof v === 'number' ? v : String(v));
  return Number.isNaN(d.getTime()) ? null : d;
}

/** Digits of `s` from `from` to `to` as a number, or -1 if any is not a digit. */
function digits(s: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

/**
 * The commonest form of a time, `YYYY-MM-DDTHH:MM:SSZ` or with milliseconds, read by hand: what `new Date(s)`
 * gives for it (Date.UTC rolls a day past the month's end over as the parser does), at a fraction of the cost.
 * Null for anything else, which is left to `new Date`.
 */
export function utcTime(s: string): Date | null {
  const length = s.length;
  if (length !== 20 && length !== 24) return null;
  if (s[4] !== '-' || s[7] !== '-' || s[10] !== 'T' || s[13] !== ':' || s[16] !== ':' || s[length - 1] !== 'Z') {
    return null;
  }
  const year = digits(s, 0, 4);
  const month = digits(s, 5, 7);
  const day = digits(s, 8, 10);
  const hour = digits(s, 11, 13);
  const minute = digits(s, 14, 16);
  const second = digits(s, 17, 19);
  let ms = 0;
  if (length === 24) {
    if (s[19] !== '.') return null;
    ms = digits(s, 20, 23);
  }
  if (year < 1000 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23) return null;
  if (minute < 0 || minute > 59 || second < 0 || second > 59 || ms < 0) return null;
  return new Date(Date.UTC(year, month - 1, day, hour, minute, second, ms));
}

const LIBRARY_CHANNEL: [RegExp, string][] = [
  [/analytics\.js|analytics-next|rudder-analytics\.js|javascript/i, 'web'],
  [/ios|android|react-native|flutter|mobile/i, 'app'],
];

function channelOf(message: SegmentMessage, context: Record<string, unknown>): string {
  const stated = text(context.channel);
  if (stated && /^[a-z_]{2,30}$/.test(stated)) return stated;
  const segmentChannel = text(message.channel);
  if (segmentChannel === 'browser') return 'web';
  if (segmentChannel === 'mobile') return 'app';
  const library = text((context.library as Record<string, unknown> | undefined)?.name);
  if (library) for (const [pattern, channel] of LIBRARY_CHANNEL) if (pattern.test(library)) return channel;
  return 'server';
}

/**
 * Identifiers an event carries: userId, anonymousId, e-mail/phone/card in traits, and `context.externalIds`
 * (RudderStack's shape, `[{ type, id }]`; messenger types map to their own kinds). Alias's previousId is read as
 * the anonymous id it usually is.
 */
function identifiersOf(
  message: SegmentMessage,
  personTraits: Record<string, unknown>,
  context: Record<string, unknown>,
  defaultCountry?: CountryCode,
): Identifier[] {
  const ids: (Identifier | null)[] = [
    normalizeIdentifier('user_id', message.userId),
    normalizeIdentifier('anonymous_id', message.anonymousId),
    normalizeIdentifier('email', personTraits.email),
    normalizeIdentifier('phone', personTraits.phone, defaultCountry),
    normalizeIdentifier('card', personTraits.card ?? personTraits.cardNumber ?? personTraits.card_number),
  ];
  if (message.type === 'alias') ids.push(normalizeIdentifier('anonymous_id', message.previousId));
  const external = context.externalIds ?? context.externalId;
  if (Array.isArray(external)) {
    for (const entry of external.slice(0, 20)) {
      if (!entry || typeof entry !== 'object') continue;
      const type = text((entry as Record<string, unknown>).type)
        ?.toLowerCase()
        .replace(/[^a-z0-9_]/g, '_');
      if (!type) continue;
      const kind = MESSENGERS.has(type) ? type : `external:${type.slice(0, 40)}`;
      ids.push(normalizeIdentifier(kind, (entry as Record<string, unknown>).id));
    }
  }
  return ids.filter((id): id is Identifier => id !== null);
}

/** Turns one message of the tracking API into an event to store, or says why it cannot be one. */
export function normalizeMessage(
  raw: unknown,
  receivedAt: Date,
  batch: { sentAt?: unknown; context?: Record<string, unknown> } = {},
  defaultCountry?: CountryCode,
  /** The caller has resolved the person already (appendResolved): the message need carry no identifier. */
  resolved = false,
): NormalizedEvent | Rejection {
  if (jsonLongerThan(raw, MAX_MESSAGE_BYTES)) {
    return { code: 'MESSAGE_TOO_LARGE', message: 'A message may be at most 32 KB.' };
  }
  let message: SegmentMessage;
  if (isPlainSegmentMessage(raw)) message = raw;
  else {
    const parsed = SegmentMessage.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return {
        code: 'INVALID_MESSAGE',
        message: `${issue?.path.join('.') || 'message'}: ${issue?.message ?? 'invalid'}`,
      };
    }
    message = parsed.data;
  }
  if (!message.type)
    return { code: 'INVALID_TYPE', message: `type must be one of identify, track, page, screen, group, alias.` };
  const userId = text(message.userId);
  const anonymousId = text(message.anonymousId);
  if ((userId?.length ?? 0) > 200 || (anonymousId?.length ?? 0) > 200) {
    return { code: 'INVALID_IDENTITY', message: 'userId and anonymousId may be at most 200 characters.' };
  }
  if (message.type === 'track' && !text(message.event))
    return { code: 'MISSING_EVENT_NAME', message: 'A track call needs event.' };
  if (message.type === 'group' && !text(message.groupId))
    return { code: 'MISSING_GROUP_ID', message: 'A group call needs groupId.' };
  if (message.type === 'alias' && (!text(message.previousId) || !userId)) {
    return { code: 'MISSING_ALIAS_IDS', message: 'An alias call needs previousId and userId.' };
  }

  // The message's own context when the batch has none (nothing writes to an event's context once normalised).
  const context = batch.context ? { ...batch.context, ...(message.context ?? {}) } : (message.context ?? {});
  // Clock skew: the sender's clock may be wrong, but its difference between the event and the sending is right.
  const stamped = time(message.originalTimestamp) ?? time(message.timestamp);
  const sentAt = time(message.sentAt) ?? time(batch.sentAt);
  let occurredAt = stamped ?? receivedAt;
  if (stamped && sentAt) occurredAt = new Date(receivedAt.getTime() - (sentAt.getTime() - stamped.getTime()));
  if (occurredAt.getTime() > receivedAt.getTime() + 60_000) occurredAt = receivedAt;

  const traits = message.traits ?? {};
  const contextTraits = (context.traits as Record<string, unknown> | undefined) ?? {};
  const personTraits =
    message.type === 'identify'
      ? { ...contextTraits, ...traits }
      : message.type === 'group'
        ? contextTraits
        : contextTraits;
  const name =
    message.type === 'track'
      ? text(message.event)
      : message.type === 'page' || message.type === 'screen'
        ? text(message.name)
        : message.type === 'group'
          ? text(message.groupId)
          : null;

  // Segment requires userId or anonymousId; Rapport also takes an e-mail, phone, card or external id on its own.
  const ids = identifiersOf(message, personTraits, context, defaultCountry);
  if (ids.length === 0 && !resolved) {
    return { code: 'MISSING_IDENTITY', message: 'Send userId or anonymousId (or an e-mail, phone or card in traits).' };
  }
  return {
    messageId: text(message.messageId)?.slice(0, 200) ?? `rapport-${randomUUID()}`,
    type: message.type,
    name,
    channel: channelOf(message, context),
    occurredAt,
    receivedAt,
    userId,
    anonymousId,
    properties: message.properties ?? {},
    traits,
    context,
    ids,
    profileTraits: Object.keys(personTraits).length > 0 ? personTraits : null,
  };
}

export function isRejection(x: NormalizedEvent | Rejection): x is Rejection {
  return 'code' in x;
}
