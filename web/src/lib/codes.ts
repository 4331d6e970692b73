import type { TFunction } from 'i18next';
import i18next from 'i18next';
import type { Batch, Promotion, Reward } from '../../../src/modules/codes/codes.schemas.ts';
import { formatMinor } from './money.ts';

/** Where a promotion stands now: its own status, or where "now" falls in its window. */
export type PromotionPhase = 'paused' | 'scheduled' | 'running' | 'ended';

export const PHASE_COLOR: Record<PromotionPhase, string> = {
  paused: 'gray',
  scheduled: 'blue',
  running: 'green',
  ended: 'dark',
};

export function promotionPhase(promotion: Promotion, now = Date.now()): PromotionPhase {
  if (promotion.status === 'paused') return 'paused';
  if (now < Date.parse(promotion.startsAtUtc)) return 'scheduled';
  if (now >= Date.parse(promotion.endsAtUtc)) return 'ended';
  return 'running';
}

/** "50 points", "1 entry into Summer draw", "Coupon: Free cup (5.00 EUR)", "Registration only". */
export function rewardSummary(reward: Reward, t: TFunction, language: string): string {
  const number = new Intl.NumberFormat(language);
  switch (reward.kind) {
    case 'points':
      return t('codes.reward.pointsSummary', { points: number.format(reward.points) });
    case 'draw_entry':
      return t('codes.reward.drawSummary', { entries: number.format(reward.entries), draw: reward.draw });
    case 'coupon':
      return reward.valueMinor !== undefined && reward.currency
        ? t('codes.reward.couponValueSummary', {
            offer: reward.offer,
            value: formatMinor(reward.valueMinor, reward.currency, language),
          })
        : t('codes.reward.couponSummary', { offer: reward.offer });
    default:
      return t('codes.reward.registrationOnlySummary');
  }
}

/** A refusal reason the API records on an attempt, in the console's language (the raw value when it is new). */
export function attemptReasonLabel(reason: string | null, t: TFunction): string {
  if (!reason) return '';
  const key = `codes.reasons.${reason}`;
  return i18next.exists(key) ? (t(key as never) as string) : reason;
}

// ---- code length, mirrored from the server's platform/codes/alphabet.ts (the API has no dry run; see createBatch there)

const RADIX = 31;
const MIN_LENGTH = 8;
const MAX_LENGTH = 30;
const GUESSABLE_TARGET = 0.001;

function expectedGuesses(codes: number, attackBudget: number, length: number) {
  return (attackBudget * codes) / RADIX ** (length - 1);
}

/**
 * The length the server will choose for a new batch of `count` codes, and the expected number of codes of the
 * promotion a bot could guess: the shortest length (≥ minLength) for which the live codes of that length plus this
 * batch, attacked with the whole attack budget, stay under 1 in 1,000. An estimate shown before creating; the
 * server's own figures are shown after.
 */
export function estimateBatch(
  count: number,
  attackBudget: number,
  batches: Batch[],
  minLength = MIN_LENGTH,
): { length: number; expectedGuessable: number; oneIn: number | null } {
  const liveOfLength = (length: number) =>
    batches
      .filter((b) => b.length === length && (b.status === 'active' || b.status === 'pending'))
      .reduce((sum, b) => sum + (b.status === 'active' ? b.loaded : b.size), 0);
  for (let length = Math.max(minLength, MIN_LENGTH); length <= MAX_LENGTH; length++) {
    const expected = expectedGuesses(liveOfLength(length) + count, attackBudget, length);
    if (expected < GUESSABLE_TARGET || length === MAX_LENGTH)
      return { length, expectedGuessable: expected, oneIn: expected > 0 ? Math.round(1 / expected) : null };
  }
  return { length: MAX_LENGTH, expectedGuessable: 0, oneIn: null };
}

const CYRILLIC: Record<string, string> = {
  а: 'a',
  б: 'b',
  в: 'v',
  г: 'g',
  д: 'd',
  е: 'e',
  ё: 'e',
  ж: 'zh',
  з: 'z',
  и: 'i',
  й: 'y',
  к: 'k',
  л: 'l',
  м: 'm',
  н: 'n',
  о: 'o',
  п: 'p',
  р: 'r',
  с: 's',
  т: 't',
  у: 'u',
  ф: 'f',
  х: 'h',
  ц: 'ts',
  ч: 'ch',
  ш: 'sh',
  щ: 'sch',
  ъ: '',
  ы: 'y',
  ь: '',
  э: 'e',
  ю: 'yu',
  я: 'ya',
};

/** A key for the page address suggested from a name: "Летняя акция 2026" → "letnyaya-aktsiya-2026". */
export function suggestKey(name: string): string {
  const latin = [...name.toLowerCase()].map((char) => CYRILLIC[char] ?? char).join('');
  return latin
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60)
    .replace(/-+$/, '');
}
