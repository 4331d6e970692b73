import { type CountryCode, parsePhoneNumberFromString } from 'libphonenumber-js/max';

/**
 * Identifiers. Person-level kinds identify a person: a profile holds at most one value of each. `anonymous_id`
 * identifies a device, which several people may share, so it never decides between two people.
 */
export const PERSON_KINDS = ['user_id', 'email', 'phone', 'card', 'telegram', 'whatsapp', 'viber', 'vk'] as const;
export type IdentifierKind = (typeof PERSON_KINDS)[number] | 'anonymous_id' | `external:${string}`;

export interface Identifier {
  kind: IdentifierKind;
  value: string;
}

const EXTERNAL = /^external:[a-z0-9_]{1,40}$/;
export function isKnownKind(kind: string): kind is IdentifierKind {
  return kind === 'anonymous_id' || (PERSON_KINDS as readonly string[]).includes(kind) || EXTERNAL.test(kind);
}

export function isPersonLevel(kind: string): boolean {
  return kind !== 'anonymous_id';
}

/** Lower is stronger: the strongest identifier of an event decides which profile the event belongs to. */
export function strength(kind: string): number {
  switch (kind) {
    case 'user_id':
      return 0;
    case 'email':
      return 1;
    case 'phone':
      return 2;
    case 'card':
      return 3;
    case 'anonymous_id':
      return 9;
    default:
      return kind.startsWith('external:') ? 5 : 4;
  }
}

export function identifierKey(id: Identifier): string {
  return `${id.kind}\u0001${id.value}`;
}

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}\.[^\s@]{1,63}$/;

/**
 * Phones in E.164 as libphonenumber reads them. Parsing with full metadata costs ≈ 10–20 µs, and the same numbers
 * come back again and again (a customer's every event, a registration's claim and then its timeline event), so the
 * answers for recently seen texts are kept: a bounded map, the oldest entry dropped first.
 */
const phones = new Map<string, string | null>();
const PHONES_KEPT = 50_000;
function canonicalPhone(text: string, defaultCountry: CountryCode | undefined): string | null {
  const key = `${defaultCountry ?? ''}\u0000${text}`;
  const known = phones.get(key);
  if (known !== undefined) return known;
  const phone = parsePhoneNumberFromString(text, defaultCountry);
  const value = phone?.isValid() ? phone.number : null;
  if (phones.size >= PHONES_KEPT) phones.delete(phones.keys().next().value as string);
  phones.set(key, value);
  return value;
}

/**
 * Canonical form of an identifier, or null when the value cannot be one: e-mails lower-cased, phones in E.164
 * (a national number is read in `defaultCountry`), card numbers as digits only.
 */
export function normalizeIdentifier(kind: string, raw: unknown, defaultCountry?: CountryCode): Identifier | null {
  if (raw === null || raw === undefined) return null;
  if (typeof raw !== 'string' && typeof raw !== 'number') return null;
  const text = String(raw).trim();
  if (!text || text.length > 200 || !isKnownKind(kind)) return null;
  switch (kind) {
    case 'email': {
      const email = text.toLowerCase();
      return EMAIL.test(email) ? { kind, value: email } : null;
    }
    case 'phone': {
      const value = canonicalPhone(text, defaultCountry);
      return value === null ? null : { kind, value };
    }
    case 'card': {
      const digits = text.replace(/[\s-]/g, '');
      return /^[0-9A-Za-z]{4,40}$/.test(digits) ? { kind, value: digits.toUpperCase() } : null;
    }
    default:
      return { kind, value: text };
  }
}
