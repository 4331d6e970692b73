import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { normalizeMessage, utcTime } from './events.normalize.ts';
import { isPlainSegmentMessage, jsonLongerThan, SegmentMessage } from './events.schemas.ts';

/** Values of every kind a sender may put in a field, right and wrong. */
const anyValue = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.constantFrom('track', 'identify', 'page', 'group', 'alias', 'screen', 'Track', '', '2026-05-01T10:00:00Z'),
  fc.integer(),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, 1.5, -0),
  fc.constantFrom(null, undefined, true, false),
  fc.dictionary(fc.constantFrom('email', 'phone', 'total', 'channel', 'traits'), fc.oneof(fc.string(), fc.integer())),
  fc.array(fc.string(), { maxLength: 2 }),
  fc.constant(new Date('2026-01-01T00:00:00Z')),
);
const FIELDS = [
  'type',
  'userId',
  'anonymousId',
  'timestamp',
  'originalTimestamp',
  'sentAt',
  'channel',
  'context',
  'traits',
  'properties',
  'event',
  'name',
  'category',
  'groupId',
  'previousId',
  'writeKey',
  'integrations',
  'custom',
] as const;
const message = fc
  .tuple(fc.dictionary(fc.constantFrom(...FIELDS), anyValue), fc.nat())
  .map(([fields, n]) => ({ ...fields, messageId: `m-${n}` }));

describe('message validation without zod', () => {
  it('passes only messages SegmentMessage accepts, and normalises them exactly as through SegmentMessage', () => {
    const receivedAt = new Date('2026-06-01T12:00:00Z');
    let plain = 0;
    fc.assert(
      fc.property(message, (m) => {
        if (!isPlainSegmentMessage(m)) return true;
        plain++;
        const parsed = SegmentMessage.safeParse(m);
        assert.ok(parsed.success, JSON.stringify(m));
        // The same message in an object that is not plain takes SegmentMessage's path.
        const viaZod = Object.assign(Object.create({ notPlain: true }), m);
        assert.equal(isPlainSegmentMessage(viaZod), false);
        assert.deepEqual(normalizeMessage(m, receivedAt), normalizeMessage(viaZod, receivedAt));
        return true;
      }),
      { numRuns: 5_000 },
    );
    assert.ok(plain > 500, `enough plain messages were drawn (${plain})`);
  });

  it('leaves wrong types to SegmentMessage, which words the refusal', () => {
    const refused = normalizeMessage({ type: 'track', event: 'Visit', userId: 'u1', properties: [1, 2] }, new Date());
    assert.equal('code' in refused && refused.code, 'INVALID_MESSAGE');
    assert.match('message' in refused ? String(refused.message) : '', /^properties: /);
    assert.equal(isPlainSegmentMessage({ type: 'track', userId: Number.NaN }), false);
    assert.equal(isPlainSegmentMessage({ type: 'Track' }), false);
    assert.equal(isPlainSegmentMessage({ writeKey: null }), false);
    assert.equal(isPlainSegmentMessage({ type: 'track', userId: 'u1', context: { library: { name: 'x' } } }), true);
  });
});

describe('times', () => {
  it('reads the commonest form of a time by hand exactly as Date does, and leaves every other form to it', () => {
    const pad = (n: number, width: number) => String(n).padStart(width, '0');
    const form = fc
      .record({
        year: fc.integer({ min: 0, max: 9999 }),
        month: fc.integer({ min: 0, max: 13 }),
        day: fc.integer({ min: 0, max: 32 }),
        hour: fc.integer({ min: 0, max: 25 }),
        minute: fc.integer({ min: 0, max: 60 }),
        second: fc.integer({ min: 0, max: 60 }),
        ms: fc.option(fc.integer({ min: 0, max: 999 })),
      })
      .map(
        (t) =>
          `${pad(t.year, 4)}-${pad(t.month, 2)}-${pad(t.day, 2)}T${pad(t.hour, 2)}:${pad(t.minute, 2)}:${pad(t.second, 2)}` +
          `${t.ms === null ? '' : `.${pad(t.ms, 3)}`}Z`,
      );
    const anything = fc.oneof(
      form,
      fc.string(),
      form.map((s) => s.replace('T', ' ')),
      form.map((s) => s.slice(0, -1)),
    );
    fc.assert(
      fc.property(anything, (s) => {
        const fast = utcTime(s);
        if (fast === null) return;
        assert.equal(fast.getTime(), new Date(s).getTime(), s);
      }),
      { numRuns: 5000 },
    );
    assert.equal(utcTime('2026-02-30T10:00:00Z')?.toISOString(), '2026-03-02T10:00:00.000Z');
    assert.equal(utcTime('2026-11-01T10:00:00.250Z')?.toISOString(), '2026-11-01T10:00:00.250Z');
    for (const other of ['2026-11-01T24:00:00Z', '0099-01-01T00:00:00Z', '2026-11-01T10:00:00+03:00', '2026-11-01']) {
      assert.equal(utcTime(other), null, other);
    }
  });
});

describe('the size limit of a message', () => {
  // The limit is judged without writing small messages out: the judgement must be the written-out length's.
  it('says a value is longer than a limit exactly when its JSON is', () => {
    const value = fc.oneof(
      fc.jsonValue(),
      fc.dictionary(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary', maxLength: 400 })),
      fc.array(fc.oneof(fc.string({ unit: 'binary' }), fc.double(), fc.constant(undefined))),
      fc.constant(undefined),
      fc.date({ noInvalidDate: true }),
    );
    fc.assert(
      fc.property(value, fc.nat(), fc.integer({ min: -50, max: 50 }), (v, anyLimit, offset) => {
        const length = JSON.stringify(v ?? null).length;
        for (const limit of [anyLimit % 5000, Math.max(0, length + offset), length, length - 1]) {
          assert.equal(jsonLongerThan(v, limit), length > limit, `limit ${limit}, length ${length}`);
        }
      }),
      { numRuns: 2000 },
    );
    // The longest numbers JavaScript writes, found once by the property above.
    for (const n of [-0.0000010047558108821671, -1.0000000000000002e-7, -123456789012345680000, -Number.MIN_VALUE]) {
      const length = JSON.stringify(n).length;
      assert.equal(jsonLongerThan(n, length - 1), true, String(n));
      assert.equal(jsonLongerThan(n, length), false, String(n));
    }
  });

  it('refuses a message of more than 32 KB and accepts one just under, however it is escaped', () => {
    const at = new Date('2026-11-01T00:00:00Z');
    const track = (text: string) => ({ type: 'track', userId: 'u1', event: 'Big', properties: { text } });
    const overhead = JSON.stringify(track('')).length;
    assert.ok(!('code' in normalizeMessage(track('x'.repeat(32 * 1024 - overhead)), at)));
    assert.equal(
      (normalizeMessage(track('x'.repeat(32 * 1024 - overhead + 1)), at) as { code: string }).code,
      'MESSAGE_TOO_LARGE',
    );
    // A quote is written as two characters.
    assert.equal((normalizeMessage(track('"'.repeat(16 * 1024)), at) as { code: string }).code, 'MESSAGE_TOO_LARGE');
  });
});
