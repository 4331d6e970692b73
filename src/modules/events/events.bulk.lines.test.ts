import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { sql } from 'kysely';
import { newId } from '../../platform/ids.ts';
import { createTestApp, type TestApp } from '../../testing.ts';
import { EventRows } from './events.bulk.repo.ts';
import type { NormalizedEvent } from './events.normalize.ts';

// The bulk path encodes a transaction's events in PostgreSQL's binary COPY format before it knows their profiles,
// and writes the profile ids in afterwards. What the database stores from it must be exactly the events, whatever
// their text (multi-byte too), times (before 2000, far ahead, milliseconds) and JSON, and whichever rows are left
// out, on every attempt of the transaction.
let app: TestApp;
before(async () => {
  app = await createTestApp();
});
after(async () => app?.close());

const COLUMNS = `profile_id, id, workspace_id, message_id, type, name, channel, occurred_at, received_at, user_id,
  anonymous_id, properties, traits, context`;

const text = fc.string({ unit: 'grapheme', maxLength: 12 });
const json = fc.dictionary(fc.string({ unit: 'grapheme', maxLength: 6 }), fc.oneof(text, fc.integer(), fc.boolean()), {
  maxKeys: 3,
  noNullPrototype: true,
});
const time = fc.integer({ min: -2_208_988_800_000, max: 32_503_680_000_000 }).map((ms) => new Date(ms));
const event = fc.record({
  messageId: text,
  type: fc.constantFrom('track' as const, 'identify' as const, 'page' as const),
  name: fc.option(text, { nil: null }),
  channel: fc.constantFrom('web', 'import', 'sms'),
  occurredAt: time,
  receivedAt: time,
  userId: fc.option(text, { nil: null }),
  anonymousId: fc.option(text, { nil: null }),
  properties: json,
  traits: json,
  context: json,
});

describe('EventRows', () => {
  it('stores exactly the events of the rows kept, attempt after attempt', async () => {
    const workspaceId = newId();
    await fc.assert(
      fc.asyncProperty(
        fc.array(event, { maxLength: 12 }),
        fc.array(fc.array(fc.boolean()), { minLength: 1, maxLength: 2 }),
        async (events, attempts) => {
          const encoded = new EventRows(workspaceId);
          for (const e of events) encoded.add({ ...e, ids: [], profileTraits: null } as NormalizedEvent);
          const ids = events.map((_, i) => encoded.idOf(i));
          // New ids, in the order they were made.
          assert.deepEqual([...ids].sort(), ids);
          assert.equal(new Set(ids).size, ids.length);
          for (const pattern of attempts) {
            const profiles = events.map((_, i) => ((pattern[i] ?? true) ? newId() : null));
            const stored = await app.database.copyTransaction(async (trx, copyIn) => {
              await sql`create temp table bulk_rows (n serial, profile_id uuid, id uuid, workspace_id uuid,
                message_id text, type text, name text, channel text, occurred_at timestamptz, received_at timestamptz,
                user_id text, anonymous_id text, properties jsonb, traits jsonb, context jsonb) on commit drop`.execute(
                trx,
              );
              await copyIn(`bulk_rows (${COLUMNS})`, encoded.rows(profiles), 'binary');
              const rows = await sql<
                Record<string, unknown>
              >`select ${sql.raw(COLUMNS)} from bulk_rows order by n`.execute(trx);
              return rows.rows;
            });
            const expected = events.flatMap((e, i) =>
              profiles[i] === null
                ? []
                : [
                    {
                      profile_id: profiles[i],
                      id: ids[i],
                      workspace_id: workspaceId,
                      message_id: e.messageId,
                      type: e.type,
                      name: e.name,
                      channel: e.channel,
                      occurred_at: e.occurredAt,
                      received_at: e.receivedAt,
                      user_id: e.userId,
                      anonymous_id: e.anonymousId,
                      properties: e.properties,
                      traits: e.traits,
                      context: e.context,
                    },
                  ],
            );
            assert.deepEqual(stored, expected);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('refuses a profile id that is not a UUID, and a count of ids that does not match the rows', () => {
    const encoded = new EventRows(newId());
    const e = {
      messageId: 'm',
      type: 'track',
      name: null,
      channel: 'web',
      occurredAt: new Date(),
      receivedAt: new Date(),
      userId: 'u',
      anonymousId: null,
      properties: {},
      traits: {},
      context: {},
      ids: [],
      profileTraits: null,
    } satisfies NormalizedEvent;
    encoded.add(e);
    assert.throws(() => encoded.rows(['not-a-uuid-at-all-not-a-uuid-at-all']), /not a UUID/);
    assert.throws(() => encoded.rows([newId(), newId()]), /one profile id/);
  });
});
