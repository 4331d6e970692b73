import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { cardNumber, luhnDigit, luhnValid, serialOf } from './loyalty.cardnumbers.ts';
import { localTime, periodKey } from './loyalty.rules.ts';

describe('loyalty: pure parts', () => {
  it('local time agrees with Intl in every zone, across DST changes', () => {
    const zones = ['Europe/Moscow', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe', 'UTC'];
    const f = new Map(
      zones.map((z) => [
        z,
        new Intl.DateTimeFormat('en-GB', {
          timeZone: z,
          year: 'numeric',
          month: '2-digit',
          day: '2-digit',
          hour: '2-digit',
          weekday: 'short',
          hourCycle: 'h23',
        }),
      ]),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: Date.parse('2020-01-01T00:00:00Z'), max: Date.parse('2030-12-31T00:00:00Z') }),
        fc.constantFrom(...zones),
        (t, zone) => {
          const at = new Date(t);
          const mine = localTime(at, zone);
          const parts = Object.fromEntries(
            (f.get(zone) as Intl.DateTimeFormat).formatToParts(at).map((p) => [p.type, p.value]),
          );
          assert.deepEqual(
            [mine.year, mine.month, mine.day, mine.hour, mine.weekday],
            [
              Number(parts.year),
              Number(parts.month),
              Number(parts.day),
              Number(parts.hour),
              String(parts.weekday).toLowerCase(),
            ],
            `${at.toISOString()} ${zone}`,
          );
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('local time agrees with Intl every 10 minutes of a year in zones with DST (half-hour ones too)', () => {
    for (const zone of ['Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe']) {
      const f = new Intl.DateTimeFormat('en-GB', { timeZone: zone, day: '2-digit', hour: '2-digit', hourCycle: 'h23' });
      for (let t = Date.parse('2026-01-01T00:05:00Z'); t < Date.parse('2027-01-01T00:00:00Z'); t += 600_000) {
        const at = new Date(t);
        const mine = localTime(at, zone);
        const parts = Object.fromEntries(f.formatToParts(at).map((p) => [p.type, p.value]));
        if (mine.day !== Number(parts.day) || mine.hour !== Number(parts.hour))
          assert.fail(`${at.toISOString()} ${zone}: ${mine.day} ${mine.hour} ≠ ${parts.day} ${parts.hour}`);
      }
    }
  });

  it('ISO weeks', () => {
    const w = (y: number, m: number, d: number) =>
      periodKey('week', { year: y, month: m, day: d, weekday: 'mon', hour: 0 });
    assert.equal(w(2026, 1, 1), 'w:2026-W01');
    assert.equal(w(2027, 1, 1), 'w:2026-W53');
    assert.equal(w(2024, 12, 30), 'w:2025-W01');
  });

  it('card numbers carry a Luhn digit that catches any single wrong digit and swapped neighbours', () => {
    assert.equal(luhnDigit('7992739871'), 3);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 99_999_999 }),
        fc.nat({ max: 14 }),
        fc.integer({ min: 1, max: 9 }),
        (serial, pos, add) => {
          const n = cardNumber({ prefix: '7001', length: 16 }, serial);
          assert.ok(luhnValid(n));
          assert.equal(serialOf({ prefix: '7001', length: 16, firstSerial: 0, lastSerial: 99_999_999 }, n), serial);
          const wrong = n.slice(0, pos) + String((Number(n[pos]) + add) % 10) + n.slice(pos + 1);
          assert.ok(!luhnValid(wrong), `${n} → ${wrong}`);
          const a = n[pos] as string;
          const b = n[pos + 1] as string;
          const swapped = n.slice(0, pos) + b + a + n.slice(pos + 2);
          // Luhn misses only the swap of 0 and 9.
          if (a !== b && !((a === '0' && b === '9') || (a === '9' && b === '0'))) assert.ok(!luhnValid(swapped));
        },
      ),
    );
  });
});
