/**
 * The promo-code alphabet, its check character, normalisation of what people type, and the choice of length.
 * Pure functions: no I/O, property-tested in codes.alphabet.test.ts.
 *
 * The alphabet is the digits 2–9 and the capital letters without I, L and O: 31 characters, none a look-alike of
 * another (0/O, 1/I/L are gone). 31 is prime, which is what makes the check character exact:
 *
 *   a code c₀ c₁ … c_{n−1} (the last one the check character) is valid when  Σ (i+1)·v(cᵢ) ≡ 0 (mod 31).
 *
 * - A single substitution at position i changes the sum by (i+1)·(v′−v). Both factors are non-zero and smaller
 *   than 31 in absolute value (positions are limited to 30), and 31 is prime, so the product is never ≡ 0.
 * - Swapping neighbours a (at i) and b (at i+1) changes it by (i+1)(b−a) + (i+2)(a−b) = a−b, non-zero when a ≠ b.
 *
 * So every single mistyped character and every swap of two neighbours is caught, and a random string passes with
 * probability 1/31.
 */
export const ALPHABET = '23456789ABCDEFGHJKMNPQRSTUVWXYZ';
export const RADIX = ALPHABET.length; // 31, prime
/** Codes are at most this long: position weights 1…30 must stay below the modulus. */
export const MAX_LENGTH = 30;
/** Shorter codes are too easy to guess whatever the rate limits. */
export const MIN_LENGTH = 8;
/** The expected number of codes a bot could guess over a promotion, which the length keeps below. */
export const GUESSABLE_TARGET = 0.001;

const VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) VALUE[ALPHABET.charCodeAt(i)] = i;

export function valueOfChar(char: string): number {
  const code = char.charCodeAt(0);
  return code < 128 ? (VALUE[code] as number) : -1;
}

/** Σ (i+1)·v(cᵢ) mod 31 over a string of alphabet characters (−1 when a character is not in the alphabet). */
function weightedSum(code: string): number {
  let sum = 0;
  for (let i = 0; i < code.length; i++) {
    const v = valueOfChar(code[i] as string);
    if (v < 0) return -1;
    sum += (i + 1) * v;
  }
  return sum % RADIX;
}

const INVERSE = new Int8Array(RADIX);
for (let a = 1; a < RADIX; a++) for (let b = 1; b < RADIX; b++) if ((a * b) % RADIX === 1) INVERSE[a] = b;

/** The check character to append to `body` (alphabet characters only, at most MAX_LENGTH − 1 of them). */
export function checkCharacter(body: string): string {
  const sum = weightedSum(body);
  if (sum < 0) throw new Error('not an alphabet string');
  if (body.length >= MAX_LENGTH) throw new Error('code too long');
  // (n+1)·c ≡ −sum  →  c ≡ −sum · (n+1)⁻¹
  const c = (((RADIX - sum) % RADIX) * (INVERSE[body.length + 1] as number)) % RADIX;
  return ALPHABET[c] as string;
}

/** Whether a normalised code is made of the alphabet and its check character holds. */
export function isWellFormed(code: string): boolean {
  return code.length >= 2 && code.length <= MAX_LENGTH && weightedSum(code) === 0;
}

// Letters people type on a Russian keyboard that look like ours, and the common confusions the alphabet has no use
// for. O and 0 are not mapped: a code never contains them, so either is a typo worth pointing out.
const LOOK_ALIKES: Record<string, string> = {
  А: 'A',
  В: 'B',
  С: 'C',
  Е: 'E',
  Н: 'H',
  К: 'K',
  М: 'M',
  Р: 'P',
  Т: 'T',
  Х: 'X',
  У: 'Y',
  З: '3',
};

/**
 * What a person typed, as a code: Unicode-normalised, upper case, Cyrillic look-alikes turned into Latin
 * letters, and spaces, hyphens, dots and underscores removed. Nothing else is changed.
 */
export function normalizeCode(raw: string): string {
  let out = '';
  for (const ch of raw.normalize('NFKC').toUpperCase()) {
    if (ch === ' ' || ch === '-' || ch === '.' || ch === '_' || ch === '\t' || ch === '\u00a0') continue;
    out += LOOK_ALIKES[ch] ?? ch;
  }
  return out;
}

/** Groups of four for reading and printing: 7KQ4-M2XD-9RPT. */
export function formatCode(code: string): string {
  return code.replace(/(.{4})(?=.)/g, '$1-');
}

/**
 * Writes the code whose body comes from `bytes` (CSPRNG output, consumed from `offset`) into `out` (from `at`) as ASCII,
 * body then check character. Bytes ≥ 248 are skipped so that every character is equally likely (248 = 8 × 31).
 * Returns the offset after the bytes used, or −1 when `bytes` ran out.
 */
export function codeFromBytes(bytes: Uint8Array, offset: number, length: number, out: Uint8Array, at = 0): number {
  let o = offset;
  let sum = 0;
  for (let i = 0; i < length - 1; ) {
    if (o >= bytes.length) return -1;
    const b = bytes[o++] as number;
    if (b >= 248) continue;
    const v = b % RADIX;
    out[at + i] = ASCII[v] as number;
    sum += (i + 1) * v;
    i++;
  }
  const c = (((RADIX - (sum % RADIX)) % RADIX) * (INVERSE[length] as number)) % RADIX;
  out[at + length - 1] = ASCII[c] as number;
  return o;
}
const ASCII = Uint8Array.from(ALPHABET, (c) => c.charCodeAt(0));

/** Minutes a promotion runs, at least one day (a batch for a promotion that is about to end still gets real length). */
export function promotionMinutes(startsAt: Date, endsAt: Date): number {
  return Math.max(24 * 60, Math.ceil((endsAt.getTime() - startsAt.getTime()) / 60_000));
}

export interface LengthChoice {
  /** Code length including the check character. */
  length: number;
  /** Codes a bot is expected to guess if it spends the whole attack budget on this promotion. */
  expectedGuessable: number;
}

/**
 * The shortest length for which `codes` live codes of that length, attacked with `attackBudget` well-formed
 * guesses (what the rate limits allow over the promotion), leave fewer than GUESSABLE_TARGET expected hits:
 * attackBudget · codes / 31^(length − 1) < 0.001. Each guess can hit any of the codes, hence the product.
 */
export function chooseLength(codes: number, attackBudget: number, minLength = MIN_LENGTH): LengthChoice {
  for (let length = Math.max(minLength, MIN_LENGTH); length <= MAX_LENGTH; length++) {
    const expectedGuessable = expectedGuesses(codes, attackBudget, length);
    if (expectedGuessable < GUESSABLE_TARGET) return { length, expectedGuessable };
  }
  return { length: MAX_LENGTH, expectedGuessable: expectedGuesses(codes, attackBudget, MAX_LENGTH) };
}

export function expectedGuesses(codes: number, attackBudget: number, length: number): number {
  return (attackBudget * codes) / RADIX ** (length - 1);
}
