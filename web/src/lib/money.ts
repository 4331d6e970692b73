import { useTranslation } from 'react-i18next';

/** Money is held in integer minor units with a currency (ARCHITECTURE §4); people read and type major units. */

/** Digits after the decimal point of a currency (2 for EUR, 0 for JPY), as Intl knows it. */
export function minorDigits(currency: string): number {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    return 2;
  }
}

/** Money held in minor units (kopecks, cents) shown in the console's language: "4,50 €", "€4.50". */
export function formatMinor(minor: number, currency: string, language: string): string {
  const digits = minorDigits(currency);
  const major = minor / 10 ** digits;
  try {
    return new Intl.NumberFormat(language, { style: 'currency', currency }).format(major);
  } catch {
    return `${major.toFixed(digits)} ${currency}`;
  }
}

/** Major units as typed (4.50 or 4,50) to minor units; undefined when it is not an amount. */
export function parseMajor(text: string | number, currency: string): number | undefined {
  const normalized = String(text).trim().replace(/\s/g, '').replace(',', '.');
  if (!/^\d+(\.\d+)?$/.test(normalized)) return undefined;
  const digits = minorDigits(currency);
  return Math.round(Number(normalized) * 10 ** digits);
}

/** Minor units back to the major amount an input shows: 450 → "4.50". */
export function minorToMajor(minor: number, currency: string): string {
  const digits = minorDigits(currency);
  return (minor / 10 ** digits).toFixed(digits);
}

/** Points in the console's language: "1,250" / "1 250", with a sign when asked (ledger entries). */
export function formatPoints(points: number, language: string, signed = false): string {
  return new Intl.NumberFormat(language, signed ? { signDisplay: 'exceptZero' } : {}).format(points);
}

/** The digit-group separator of the console's language, for number inputs: "1,000" / "1 000". */
export function useThousandSeparator(): string {
  const { i18n } = useTranslation();
  return i18n.resolvedLanguage === 'ru' ? '\u00a0' : ',';
}
