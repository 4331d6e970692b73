import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { type ImportKind, RowReader } from './events.import.ts';

/** One row given as a record keyed by its header, read as a file with that header would be. */
const messageOf = (kind: ImportKind, row: Record<string, string>, mapping: Record<string, string>) =>
  new RowReader(kind, Object.keys(row), mapping).message(Object.values(row));

const OPTIONS = { bom: true, skip_empty_lines: true, relax_column_count: true, info: true, trim: true } as const;

function csvField(v: string) {
  return /[",\n\r]|^\s|\s$/.test(v) ? `"${v.replaceAll('"', '""')}"` : v;
}

describe('import rows', () => {
  it('reads a row as csv-parse keys it by the header: repeated, empty and missing columns, extra fields, quoted lines', () => {
    const name = fc.constantFrom(
      'email',
      'Email',
      'userId',
      'total',
      'sku',
      '',
      'city name',
      'traits.tier',
      ' padded ',
    );
    const value = fc.oneof(
      fc.constantFrom('', ' ', 'x', '1', '12.50', 'a,b', 'say "hi"', 'two\nlines', ' padded '),
      fc.string({ maxLength: 6 }),
    );
    fc.assert(
      fc.property(
        fc.array(name, { minLength: 1, maxLength: 6 }),
        fc.array(fc.array(value, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 8 }),
        (header, rows) => {
          // A row that is one empty field is an empty line, which both readings skip.
          const text = [header, ...rows.filter((r) => r.length > 1 || (r[0] ?? '').trim() !== '')]
            .map((r) => r.map(csvField).join(','))
            .join('\n');
          let keyed: { record: Record<string, string>; info: { lines: number } }[];
          try {
            keyed = parse(text, { ...OPTIONS, columns: true });
          } catch {
            return true; // a header csv-parse refuses as column names (not a case of this comparison)
          }
          const arrays = parse(text, OPTIONS) as unknown as { record: string[]; info: { lines: number } }[];
          const reader = new RowReader('events', arrays[0]?.record ?? [], {});
          const read = arrays.slice(1).map((r) => ({ record: reader.record(r.record), lines: r.info.lines }));
          assert.deepEqual(
            read,
            keyed.map((r) => ({ record: r.record, lines: r.info.lines })),
          );
          // The same key order too: a row's derived message id is computed over JSON.stringify of this record.
          assert.deepEqual(
            read.map((r) => JSON.stringify(r.record)),
            keyed.map((r) => JSON.stringify(r.record)),
          );
          return true;
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('makes the message of a row: identity columns, traits, properties, consent, the import channel', () => {
    assert.deepEqual(
      messageOf(
        'events',
        {
          userId: 'c-1',
          Event: 'Order Completed',
          Total: '1250.50',
          sku: '007',
          email: 'a@example.test',
          'traits.tier': 'gold',
          'consent.email.marketing': 'да',
          'consent.at': '2026-05-01',
          Empty: '',
        },
        { Event: 'event', Total: 'total' },
      ),
      {
        userId: 'c-1',
        event: 'Order Completed',
        type: 'track',
        properties: { total: 1250.5, sku: 7 },
        context: {
          traits: { email: 'a@example.test', tier: 'gold' },
          channel: 'import',
          consent: [
            {
              channel: 'email',
              purpose: 'marketing',
              action: 'grant',
              source: 'import',
              at: '2026-05-01T00:00:00.000Z',
            },
          ],
        },
      },
    );
    assert.deepEqual(messageOf('profiles', { email: 'b@example.test', Name: 'Boris', channel: 'pos' }, {}), {
      type: 'identify',
      traits: { email: 'b@example.test', Name: 'Boris', channel: 'pos' },
      context: { channel: 'import' },
    });
  });
});
