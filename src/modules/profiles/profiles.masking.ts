import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import type { Principal } from '../../platform/principal.ts';
import type { Profile, ProfileSummary } from './profiles.schemas.ts';

/**
 * Masking of contact data for staff without `profiles:read_pii` (analysts, operators): enough to recognise a caller
 * ("the number ending 67?"), not enough to contact or re-identify them. Applied when a response is mapped, so every
 * read path of profiles — the list, a profile, a timeline — masks the same way.
 *
 *   e-mail  anna.petrova@example.com → a***@example.com
 *   phone   +79031112267             → +7 *** *** ** 67
 *   card    4276123456789012         → **** 9012
 *   IP      203.0.113.75             → 203.0.*.*
 */
export const READ_PII = 'profiles:read_pii';

export function seesPii(principal: Principal): boolean {
  return principal.permissions.has(READ_PII);
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function maskEmail(value: string): string {
  const at = value.lastIndexOf('@');
  if (at < 1) return '***';
  return `${value[0]}***${value.slice(at)}`;
}

export function maskPhone(value: string): string {
  const phone = parsePhoneNumberFromString(value);
  if (phone) {
    const national = phone.formatInternational().slice(`+${phone.countryCallingCode}`.length);
    return `+${phone.countryCallingCode}${hideDigits(national, 2)}`;
  }
  return hideDigits(value, 2);
}

export function maskCard(value: string): string {
  const compact = value.replace(/[\s-]/g, '');
  return compact.length > 4 ? `**** ${compact.slice(-4)}` : '****';
}

/** Messenger ids and the like: the last two characters. */
export function maskHandle(value: string): string {
  return value.length > 4 ? `***${value.slice(-2)}` : '***';
}

export function maskIp(value: string): string {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(value)) return value.split('.').slice(0, 2).concat('*', '*').join('.');
  const groups = value.split(':');
  return groups.length > 2 ? `${groups.slice(0, 2).join(':')}:*` : '*';
}

/** Every digit but the last `keep` becomes `*`; spacing stays, so the shape of the number stays readable. */
function hideDigits(text: string, keep: number): string {
  let seen = 0;
  const total = (text.match(/\d/g) ?? []).length;
  return text.replace(/\d/g, (d) => (++seen > total - keep ? d : '*'));
}

const IDENTITY_MASKS: Record<string, (v: string) => string> = {
  email: maskEmail,
  phone: maskPhone,
  card: maskCard,
  telegram: maskHandle,
  whatsapp: maskHandle,
  viber: maskHandle,
  vk: maskHandle,
};

/** An identifier's value as a masked reader sees it (user ids, device ids and external ids stay: they are ours). */
export function maskIdentity(kind: string, value: string): string {
  return IDENTITY_MASKS[kind]?.(value) ?? value;
}

const KEY_MASKS: Record<string, (v: string) => string> = {
  email: maskEmail,
  emailaddress: maskEmail,
  mail: maskEmail,
  phone: maskPhone,
  phonenumber: maskPhone,
  mobile: maskPhone,
  tel: maskPhone,
  msisdn: maskPhone,
  card: maskCard,
  cardnumber: maskCard,
  ip: maskIp,
};

/**
 * Masks contact data anywhere in a JSON value (traits, an event's properties and context): by the key it sits
 * under (`email`, `phone`, `cardNumber`, `ip` …), and any string that is an e-mail address wherever it sits.
 */
export function maskDeep(value: unknown, key = ''): unknown {
  const byKey = KEY_MASKS[key.toLowerCase().replace(/[-_]/g, '')];
  if (typeof value === 'string') {
    if (byKey) return byKey(value);
    return EMAIL.test(value.trim()) ? maskEmail(value.trim()) : value;
  }
  // A phone or card number sent as a JSON number.
  if (typeof value === 'number' && byKey) return byKey(String(value));
  if (Array.isArray(value)) return value.map((v) => maskDeep(v, key));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = maskDeep(v, k);
    return out;
  }
  return value;
}

export function maskRecord(record: Record<string, unknown>): Record<string, unknown> {
  return maskDeep(record) as Record<string, unknown>;
}

export function maskProfile(profile: Profile): Profile {
  return {
    ...profile,
    traits: maskRecord(profile.traits),
    identities: profile.identities.map((i) => ({ ...i, value: maskIdentity(i.kind, i.value) })),
  };
}

export function maskSummary(summary: ProfileSummary): ProfileSummary {
  return {
    ...summary,
    email: summary.email === null ? null : maskEmail(summary.email),
    phone: summary.phone === null ? null : maskPhone(summary.phone),
  };
}

const text = (v: unknown) => (typeof v === 'string' && v ? v : null);

/** The name a list shows for a profile: its `name` trait, else first and last name, else none. */
export function displayName(traits: Record<string, unknown>): string | null {
  return text(traits.name) ?? ([text(traits.firstName), text(traits.lastName)].filter(Boolean).join(' ') || null);
}
