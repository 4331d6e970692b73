import { sql } from 'kysely';
import type { Db } from '../../platform/db.ts';
import { newId } from '../../platform/ids.ts';
import type { ErasureSubject, PersonalDataContributor } from '../../platform/personal-data.ts';

/**
 * The events module's part of a data subject's export and erasure (registered in the personal-data registry).
 * Its SQL lives here rather than in events.repo.ts, which another change owns at the moment; move it there later.
 *
 * Erasure keeps what aggregates need and drops what tells who the person was:
 *   kept     type, name, channel, occurred/received times, the profile id (a tombstone), numbers and booleans in
 *            properties (amounts, quantities), and a few descriptive strings (currency, sku, category …)
 *   removed  user_id, anonymous_id, traits, context (but Rapport's `channel` and the sending library), any other
 *            string in properties, numbers under personal keys (phone, card …)
 *   replaced a message id or event name that contains one of the person's values (a new random id; no name)
 */

interface StoredEvent {
  message_id: string;
  type: string;
  name: string | null;
  channel: string;
  occurred_at: Date;
  received_at: Date;
  user_id: string | null;
  anonymous_id: string | null;
  properties: Record<string, unknown>;
  traits: Record<string, unknown>;
  context: Record<string, unknown>;
}

async function eventsOf(db: Db, workspaceId: string, profileIds: readonly string[]): Promise<StoredEvent[]> {
  const result = await sql<StoredEvent>`select message_id, type, name, channel, occurred_at, received_at, user_id,
      anonymous_id, properties, traits, context
    from events where workspace_id = ${workspaceId} and profile_id = any(${[...profileIds]}::uuid[])
    order by occurred_at, message_id`.execute(db);
  return result.rows;
}

const norm = (key: string) => key.toLowerCase().replace(/[-_\s]/g, '');

/** Descriptive strings of commerce events that say nothing about who bought. */
const SAFE_STRINGS = new Set([
  'currency',
  'sku',
  'productid',
  'orderid',
  'category',
  'brand',
  'variant',
  'type',
  'status',
  'paymentmethod',
  'shippingmethod',
  'storeid',
  'branch',
  'promotionid',
  'campaignid',
]);
/** Numbers that are identifiers of a person rather than amounts. */
const PERSONAL_NUMBERS = new Set([
  'phone',
  'mobile',
  'msisdn',
  'card',
  'cardnumber',
  'passport',
  'zip',
  'zipcode',
  'postcode',
  'postalcode',
  'inn',
  'snils',
  'userid',
]);
const CONTACT = /@|\+?\d[\d\s()-]{6,}\d/;

function containsAny(text: string, needles: readonly string[]): boolean {
  const hay = text.toLowerCase();
  return needles.some((n) => hay.includes(n));
}

/** Properties as an erased event keeps them (see the module comment). Exported for tests. */
export function scrubProperties(value: unknown, needles: readonly string[], key = ''): unknown {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    // Equality, not containment, for numbers: an amount of 1500 must survive a user id "150".
    const text = String(value);
    const personal =
      PERSONAL_NUMBERS.has(norm(key)) ||
      needles.some((n) => n === text || (text.length >= 7 && n.replace(/\D/g, '').includes(text)));
    return personal ? undefined : value;
  }
  if (typeof value === 'string') {
    return SAFE_STRINGS.has(norm(key)) && !CONTACT.test(value) && !containsAny(value, needles) ? value : undefined;
  }
  if (Array.isArray(value)) {
    return value.map((v) => scrubProperties(v, needles, key)).filter((v) => v !== undefined);
  }
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const kept = scrubProperties(v, needles, k);
      if (kept !== undefined) out[k] = kept;
    }
    return out;
  }
  return undefined;
}

function scrubContext(context: Record<string, unknown>): Record<string, unknown> {
  const kept: Record<string, unknown> = {};
  if (typeof context.channel === 'string') kept.channel = context.channel;
  const library = context.library as Record<string, unknown> | undefined;
  if (library && typeof library === 'object') {
    kept.library = {
      ...(typeof library.name === 'string' ? { name: library.name } : {}),
      ...(typeof library.version === 'string' ? { version: library.version } : {}),
    };
  }
  return kept;
}

const CHUNK = 1_000;

async function eraseEvents(trx: Db, workspaceId: string, subject: ErasureSubject) {
  const needles = subject.values.map((v) => v.toLowerCase());
  const rows = await eventsOf(trx, workspaceId, subject.profileIds);
  for (let at = 0; at < rows.length; at += CHUNK) {
    const chunk = rows.slice(at, at + CHUNK).map((r) => ({
      messageId: r.message_id,
      newMessageId: containsAny(r.message_id, needles) ? `erased-${newId()}` : r.message_id,
      name: r.name !== null && containsAny(r.name, needles) ? null : r.name,
      properties: JSON.stringify(scrubProperties(r.properties ?? {}, needles) ?? {}),
      context: JSON.stringify(scrubContext(r.context ?? {})),
    }));
    await sql`update events e set message_id = v.new_message_id, name = v.name, user_id = null, anonymous_id = null,
        traits = '{}'::jsonb, properties = v.properties, context = v.context
      from unnest(${chunk.map((c) => c.messageId)}::text[], ${chunk.map((c) => c.newMessageId)}::text[],
                  ${chunk.map((c) => c.name)}::text[], ${chunk.map((c) => c.properties)}::jsonb[],
                  ${chunk.map((c) => c.context)}::jsonb[]) as v(message_id, new_message_id, name, properties, context)
      where e.workspace_id = ${workspaceId} and e.message_id = v.message_id`.execute(trx);
  }
}

export function eventsContributor(): PersonalDataContributor {
  return {
    name: 'events',
    async export(db, workspaceId, _profileId, subject) {
      return (await eventsOf(db, workspaceId, subject.profileIds)).map((r) => ({
        messageId: r.message_id,
        type: r.type,
        name: r.name,
        channel: r.channel,
        occurredAt: r.occurred_at.toISOString(),
        receivedAt: r.received_at.toISOString(),
        userId: r.user_id,
        anonymousId: r.anonymous_id,
        properties: r.properties,
        traits: r.traits,
        context: r.context,
      }));
    },
    // The user and device ids the events were sent with: some may never have been attached to the profile.
    async personalValues(trx, workspaceId, _profileId, subject) {
      const result = await sql<{ v: string }>`select distinct v from events e
          cross join lateral (values (e.user_id), (e.anonymous_id)) as x(v)
        where e.workspace_id = ${workspaceId} and e.profile_id = any(${[...subject.profileIds]}::uuid[])
          and v is not null`.execute(trx);
      return result.rows.map((r) => r.v);
    },
    erase: (trx, workspaceId, _profileId, subject) => eraseEvents(trx, workspaceId, subject),
  };
}
