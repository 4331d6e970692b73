import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { localDay } from './codes.attempt.ts';

describe('codes: the local day of an entry', () => {
  it("is the calendar day in the promotion's time zone, whatever order moments are asked in (midnights, DST changes)", () => {
    const zones = [
      'Europe/Moscow',
      'Asia/Kolkata',
      'America/New_York',
      'Australia/Lord_Howe',
      'Pacific/Chatham',
      'UTC',
    ];
    const start = Date.UTC(2026, 2, 1);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...zones), fc.integer({ min: 0, max: 300 * 24 * 60 * 60 })), {
          minLength: 1,
          maxLength: 50,
        }),
        (asks) =>
          asks.every(([zone, seconds]) => {
            const at = new Date(start + seconds * 1000);
            const expected = new Intl.DateTimeFormat('en-CA', {
              timeZone: zone,
              year: 'numeric',
              month: '2-digit',
              day: '2-digit',
            }).format(at);
            return localDay(zone, at) === expected;
          }),
      ),
      { numRuns: 500 },
    );
    // Either side of Moscow's midnight, within one minute of UTC time.
    assert.equal(localDay('Europe/Moscow', new Date('2026-06-01T20:59:59.999Z')), '2026-06-01');
    assert.equal(localDay('Europe/Moscow', new Date('2026-06-01T21:00:00.000Z')), '2026-06-02');
    assert.equal(localDay('Europe/Moscow', new Date('2026-06-01T20:59:30.000Z')), '2026-06-01');
  });
});
