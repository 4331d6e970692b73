import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  ALPHABET,
  checkCharacter,
  chooseLength,
  codeFromBytes,
  expectedGuesses,
  formatCode,
  isWellFormed,
  MAX_LENGTH,
  MIN_LENGTH,
  normalizeCode,
} from './alphabet.ts';
import { CodeHasher, referenceHash } from './hash.ts';

const char = fc.constantFrom(...ALPHABET.split(''));
/** A valid code of 2…MAX_LENGTH characters: a random body and its check character. */
const validCode = fc
  .array(char, { minLength: 1, maxLength: MAX_LENGTH - 1 })
  .map((body) => body.join('') + checkCharacter(body.join('')));

describe('code alphabet and check character', () => {
  it('has 31 characters, none of 0, 1, I, L, O', () => {
    assert.equal(ALPHABET.length, 31);
    assert.equal(new Set(ALPHABET).size, 31);
    for (const c of '01ILO') assert.ok(!ALPHABET.includes(c));
  });

  it('accepts every generated code', () => {
    fc.assert(fc.property(validCode, (code) => isWellFormed(code)));
  });

  it('catches every single substitution, at every position', () => {
    fc.assert(
      fc.property(validCode, fc.nat(), fc.integer({ min: 1, max: 30 }), (code, at, shift) => {
        const i = at % code.length;
        const v = ALPHABET.indexOf(code[i] as string);
        const other = ALPHABET[(v + shift) % 31] as string;
        const typo = code.slice(0, i) + other + code.slice(i + 1);
        return !isWellFormed(typo);
      }),
      { numRuns: 20_000 },
    );
  });

  it('catches every swap of two different neighbours, at every position', () => {
    fc.assert(
      fc.property(validCode, fc.nat(), (code, at) => {
        const i = at % (code.length - 1);
        fc.pre(code[i] !== code[i + 1]);
        const swapped = code.slice(0, i) + code[i + 1] + code[i] + code.slice(i + 2);
        return !isWellFormed(swapped);
      }),
      { numRuns: 20_000 },
    );
  });

  it('exhaustively, for one code of every length: all substitutions and all neighbour swaps', () => {
    for (let length = 2; length <= MAX_LENGTH; length++) {
      const body = Array.from({ length: length - 1 }, (_, i) => ALPHABET[(i * 7 + length) % 31]).join('');
      const code = body + checkCharacter(body);
      assert.ok(isWellFormed(code));
      for (let i = 0; i < length; i++) {
        for (const c of ALPHABET) {
          if (c === code[i]) continue;
          assert.ok(!isWellFormed(code.slice(0, i) + c + code.slice(i + 1)), `${code} at ${i} → ${c}`);
        }
        if (i < length - 1 && code[i] !== code[i + 1])
          assert.ok(!isWellFormed(code.slice(0, i) + code[i + 1] + code[i] + code.slice(i + 2)));
      }
    }
  });

  it('generates from CSPRNG bytes exactly what checkCharacter says, uniformly enough', () => {
    const out = new Uint8Array(12);
    const bytes = randomBytes(200_000);
    const counts = new Map<string, number>();
    let n = 0;
    for (let offset = codeFromBytes(bytes, 0, 12, out); offset >= 0; offset = codeFromBytes(bytes, offset, 12, out)) {
      const code = Buffer.from(out).toString('latin1');
      assert.ok(isWellFormed(code), code);
      assert.equal(code.slice(11), checkCharacter(code.slice(0, 11)));
      for (const c of code.slice(0, 11)) counts.set(c, (counts.get(c) ?? 0) + 1);
      n++;
    }
    // 11 body characters of ~16,000 codes: each letter ≈ 5,700 times; far from uniform would be a bug, not chance.
    const expected = (n * 11) / 31;
    for (const c of ALPHABET) assert.ok(Math.abs((counts.get(c) ?? 0) - expected) < expected * 0.1, c);
  });

  it('reads what people type: case, spaces, hyphens, Cyrillic look-alikes', () => {
    assert.equal(normalizeCode(' 7kq4-m2xd 9rpt '), '7KQ4M2XD9RPT');
    assert.equal(normalizeCode('АВСЕ-НКМР'), 'ABCEHKMP');
    assert.equal(normalizeCode('7KQ4.M2XD_9RPT'), '7KQ4M2XD9RPT');
    assert.equal(formatCode('7KQ4M2XD9RPT'), '7KQ4-M2XD-9RPT');
    assert.equal(formatCode('7KQ4M2XD9RPTA'), '7KQ4-M2XD-9RPT-A');
  });

  it('chooses the shortest length that keeps expected guessable codes under 1 in 1,000', () => {
    // 60 + 60 well-formed guesses a minute for 90 days against 1,000,000 codes: 12 characters.
    const budget = 120 * 90 * 24 * 60;
    const { length, expectedGuessable } = chooseLength(1_000_000, budget);
    assert.ok(expectedGuessable < 0.001);
    assert.ok(expectedGuesses(1_000_000, budget, length - 1) >= 0.001, 'one shorter would not do');
    assert.equal(length, 12);
    assert.ok(chooseLength(10_000_000, budget).length >= length);
    assert.equal(chooseLength(10, 10).length, MIN_LENGTH);
  });
});

describe('keyed hash', () => {
  it('is HMAC-SHA-256 (first 64 bits) for every code length up to the block limit', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 64 }),
        fc.string({ unit: fc.constantFrom(...`${ALPHABET}ILO01`.split('')), minLength: 0, maxLength: 55 }),
        (key, code) => new CodeHasher(key).hash(code) === referenceHash(key, code),
      ),
      { numRuns: 2_000 },
    );
  });
});

describe('identifier hash', () => {
  it('is the first 128 bits of HMAC-SHA-256 as hex, short or long, any script', async () => {
    const { createHmac } = await import('node:crypto');
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.string({ unit: 'grapheme', maxLength: 60 }),
        (key, value) => {
          const expected = createHmac('sha256', key).update(value, 'utf8').digest('hex').slice(0, 32);
          return new CodeHasher(key).hex128(value) === expected;
        },
      ),
      { numRuns: 2_000 },
    );
    assert.equal(
      new CodeHasher(Buffer.alloc(32, 1)).hex128('phone:+79161234567'),
      createHmac('sha256', Buffer.alloc(32, 1)).update('phone:+79161234567').digest('hex').slice(0, 32),
    );
  });
});
