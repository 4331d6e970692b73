import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { EventLines } from './events.bulk.repo.ts';

// The bulk path encodes a transaction's COPY lines before it knows their profiles and writes the ids in afterwards:
// what it sends must be exactly the lines written out in full, whatever the text (multi-byte too) and whichever rows
// are left out, on every attempt of the transaction.
describe('EventLines', () => {
  it('sends what writing each kept line in full would, attempt after attempt', () => {
    const row = fc.record({ tail: fc.string({ unit: 'binary', maxLength: 40 }), keep: fc.boolean() });
    fc.assert(
      fc.property(
        fc.array(row, { maxLength: 30 }),
        fc.array(fc.array(fc.boolean()), { minLength: 1, maxLength: 3 }),
        (rows, attempts) => {
          const lines = new EventLines(rows.map((r) => `\t${r.tail}\n`));
          for (const pattern of attempts) {
            const ids = rows.map((_, i) => ((pattern[i] ?? true) ? crypto.randomUUID() : null));
            const expected = rows.map((r, i) => (ids[i] === null ? '' : `${ids[i]}\t${r.tail}\n`)).join('');
            assert.equal(Buffer.from(lines.lines(ids)).toString('utf8'), expected);
          }
        },
      ),
    );
  });

  it('refuses a profile id that would not fill its gap, and a count of ids that does not match', () => {
    const lines = new EventLines(['\ta\n', '\tb\n']);
    assert.throws(() => lines.lines(['short', null]), /not a profile id/);
    assert.throws(() => lines.lines([crypto.randomUUID()]), /one profile id/);
  });
});
