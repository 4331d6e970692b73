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
export const MAX_BATCH_BYTES = 500 * 1024;
