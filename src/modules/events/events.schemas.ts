import { z } from 'zod';

/**
 * Segment HTTP Tracking API shapes (https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/),
 * as analytics.js, analytics-node, RudderStack and the mobile SDKs send them. Unknown fields are kept, not refused:
 * senders add their own.
 */
export const EVENT_TYPES = ['identify', 'track', 'page', 'screen', 'group', 'alias'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

const Timestamp = z.union([z.string(), z.number()]).optional().nullable();
const Id = z.union([z.string(), z.number()]).optional().nullable();
const Obj = z.record(z.string(), z.unknown());

export const SegmentMessage = z.looseObject({
  type: z.enum(EVENT_TYPES).optional(),
  messageId: Id,
  userId: Id,
  anonymousId: Id,
  timestamp: Timestamp,
  originalTimestamp: Timestamp,
  sentAt: Timestamp,
  channel: z.string().optional().nullable(),
  context: Obj.optional().nullable(),
  traits: Obj.optional().nullable(),
  properties: Obj.optional().nullable(),
  event: z.string().optional().nullable(),
  name: z.string().optional().nullable(),
  category: z.string().optional().nullable(),
  groupId: Id,
  previousId: Id,
  writeKey: z.string().optional(),
  integrations: z.unknown().optional(),
});
export type SegmentMessage = z.infer<typeof SegmentMessage>;

const ID_FIELDS = [
  'messageId',
  'userId',
  'anonymousId',
  'groupId',
  'previousId',
  'timestamp',
  'originalTimestamp',
  'sentAt',
];
const TEXT_FIELDS = ['channel', 'event', 'name', 'category'];
const OBJECT_FIELDS = ['context', 'traits', 'properties'];
const TYPES: ReadonlySet<unknown> = new Set(EVENT_TYPES);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  // Not a null-prototype object either: SegmentMessage would hand back an ordinary copy of it.
  return Object.getPrototypeOf(v) === Object.prototype;
}

/**
 * Whether `raw` is a message SegmentMessage accepts as it is, told without zod (≈ 0.9 µs a message, half of
 * normalising one): a plain object whose known fields all have their plainest types. Anything else — a wrong type,
 * an unusual but valid value — returns false and is left to SegmentMessage, which also words the refusal.
 */
export function isPlainSegmentMessage(raw: unknown): raw is SegmentMessage {
  if (!isPlainObject(raw)) return false;
  if (raw.type !== undefined && !TYPES.has(raw.type)) return false;
  for (const f of ID_FIELDS) {
    const v = raw[f];
    if (v !== undefined && v !== null && typeof v !== 'string' && !(typeof v === 'number' && Number.isFinite(v)))
      return false;
  }
  for (const f of TEXT_FIELDS) {
    const v = raw[f];
    if (v !== undefined && v !== null && typeof v !== 'string') return false;
  }
  for (const f of OBJECT_FIELDS) {
    const v = raw[f];
    if (v !== undefined && v !== null && !isPlainObject(v)) return false;
  }
  return raw.writeKey === undefined || typeof raw.writeKey === 'string';
}

export const IngestResult = z
  .object({
    success: z.boolean(),
    accepted: z.number().int(),
    rejected: z.array(z.object({ index: z.number().int(), code: z.string(), message: z.string() })),
  })
  .meta({ id: 'IngestResult' });
export type IngestResult = z.infer<typeof IngestResult>;

export const TimelineEvent = z
  .object({
    id: z.uuid(),
    messageId: z.string(),
    type: z.enum(EVENT_TYPES),
    name: z.string().nullable(),
    channel: z.string(),
    occurredAt: z.string(),
    receivedAt: z.string(),
    properties: Obj,
    traits: Obj,
    context: Obj,
  })
  .meta({ id: 'TimelineEvent' });
export type TimelineEvent = z.infer<typeof TimelineEvent>;

export const TimelineQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
  type: z.enum(EVENT_TYPES).optional(),
  name: z.string().max(200).optional(),
  channel: z.string().max(40).optional(),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
});
export type TimelineQuery = z.infer<typeof TimelineQuery>;

/** Segment's limits: 32 KB per message, 500 KB per batch request. */
export const MAX_MESSAGE_BYTES = 32 * 1024;

/**
 * Whether `JSON.stringify(value ?? null).length > limit`, without writing out a value that is plainly within it (most
 * messages are a few hundred characters, and writing each one out cost as much as the rest of its normalisation).
 * An upper bound of the length is summed first — each string at six characters a code unit (`\uXXXX`), each number
 * at 25 — and only a value whose bound passes the limit, or that is not plain JSON data (a `toJSON`, a class
 * instance, a bigint, more than 32 levels deep), is written out and measured.
 */
export function jsonLongerThan(value: unknown, limit: number): boolean {
  if (jsonBound(value ?? null, limit, 0) <= limit) return false;
  return JSON.stringify(value ?? null).length > limit;
}

function jsonBound(value: unknown, budget: number, depth: number): number {
  switch (typeof value) {
    case 'string':
      return 2 + 6 * value.length;
    case 'number':
      // The longest a number is written: a sign, "0.", five zeros and seventeen digits (-0.0000010047558108821671).
      return 25;
    case 'boolean':
    case 'undefined':
      return 5;
    case 'object':
      break;
    default:
      return Number.POSITIVE_INFINITY;
  }
  if (value === null) return 4;
  if (depth > 32) return Number.POSITIVE_INFINITY;
  let total = 2;
  // Strings, most of a message, are bounded in the loop rather than by a call each.
  if (Array.isArray(value)) {
    for (const item of value) {
      total += 1 + (typeof item === 'string' ? 2 + 6 * item.length : jsonBound(item, budget - total, depth + 1));
      if (total > budget) return Number.POSITIVE_INFINITY;
    }
    return total;
  }
  const proto = Object.getPrototypeOf(value);
  if ((proto !== Object.prototype && proto !== null) || typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    return Number.POSITIVE_INFINITY;
  }
  for (const key in value) {
    const item = (value as Record<string, unknown>)[key];
    total +=
      4 +
      6 * key.length +
      (typeof item === 'string' ? 2 + 6 * item.length : jsonBound(item, budget - total, depth + 1));
    if (total > budget) return Number.POSITIVE_INFINITY;
  }
  return total;
}
export const MAX_BATCH_BYTES = 500 * 1024;
