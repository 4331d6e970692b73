import {
  type Icon,
  IconBrandTelegram,
  IconBrandWhatsapp,
  IconBrowser,
  IconCashRegister,
  IconCircleDashed,
  IconDeviceMobile,
  IconFileImport,
  IconHeadset,
  IconMail,
  IconMessage,
  IconMessages,
  IconServer,
} from '@tabler/icons-react';
import type { TFunction } from 'i18next';
import i18next from 'i18next';
import type { TimelineEvent } from '../../../src/modules/events/events.schemas.ts';
import type { Profile } from '../../../src/modules/profiles/profiles.schemas.ts';

/** Channels the server reports today; any other value gets the generic icon and is shown as sent. */
export const KNOWN_CHANNELS = [
  'web',
  'app',
  'server',
  'pos',
  'sms',
  'email',
  'call_center',
  'import',
  'messenger',
] as const;

const CHANNEL_ICONS: Record<string, Icon> = {
  web: IconBrowser,
  app: IconDeviceMobile,
  server: IconServer,
  pos: IconCashRegister,
  sms: IconMessage,
  email: IconMail,
  call_center: IconHeadset,
  import: IconFileImport,
  messenger: IconMessages,
  telegram: IconBrandTelegram,
  whatsapp: IconBrandWhatsapp,
};

export function channelIcon(channel: string): Icon {
  return CHANNEL_ICONS[channel] ?? IconCircleDashed;
}

export function channelLabel(channel: string, t: TFunction): string {
  const key = `customers.channelNames.${channel}`;
  return i18next.exists(key) ? (t(key as never) as string) : channel;
}

/** Identifier kinds in the order a person would look for them. */
const KIND_ORDER = ['user_id', 'email', 'phone', 'card', 'telegram', 'whatsapp', 'viber', 'vk', 'anonymous_id'];

export function kindRank(kind: string): number {
  const index = KIND_ORDER.indexOf(kind);
  return index === -1 ? KIND_ORDER.length - 1 : index;
}

export function identityKindLabel(kind: string, t: TFunction): string {
  if (kind.startsWith('external:')) return t('customers.kinds.external', { source: kind.slice('external:'.length) });
  const key = `customers.kinds.${kind}`;
  return i18next.exists(key) ? (t(key as never) as string) : kind;
}

/**
 * Kinds the identifier lookup understands. Only these switch the search box to an exact lookup, so "Anna: VIP"
 * is still searched as text.
 */
const IDENTIFIER_PATTERN =
  /^(user_id|email|phone|card|telegram|whatsapp|viber|vk|anonymous_id|external:[a-z0-9_]{1,40}):\s*\S/i;

export function looksLikeIdentifier(text: string): boolean {
  return IDENTIFIER_PATTERN.test(text.trim());
}

/** `Email: Anna@x` → `email:Anna@x`: the kind is lower-cased, stray spaces after the colon dropped. */
export function normalizeIdentifierQuery(text: string): string {
  const trimmed = text.trim();
  const kindEnd = trimmed.toLowerCase().startsWith('external:') ? trimmed.indexOf(':', 9) : trimmed.indexOf(':');
  return `${trimmed.slice(0, kindEnd).toLowerCase()}:${trimmed.slice(kindEnd + 1).trim()}`;
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value.trim() ? value.trim() : null;
}

/** A person's name from traits (name, or first + last), or null. */
export function nameFromTraits(traits: Record<string, unknown>): string | null {
  const name = text(traits.name);
  if (name) return name;
  const parts = [text(traits.firstName ?? traits.first_name), text(traits.lastName ?? traits.last_name)].filter(
    Boolean,
  );
  return parts.length > 0 ? parts.join(' ') : null;
}

/** Identifiers a person recognises come first in a heading; internal user ids and device ids last. */
const TITLE_ORDER = ['email', 'phone', 'card', 'telegram', 'whatsapp', 'viber', 'vk', 'user_id'];

function titleRank(kind: string): number {
  const index = TITLE_ORDER.indexOf(kind);
  if (index !== -1) return index;
  return kind === 'anonymous_id' ? TITLE_ORDER.length + 1 : TITLE_ORDER.length;
}

/** The profile's heading: its name, else its most recognisable identifier, else null. */
export function profileTitle(profile: Profile): string | null {
  const name = nameFromTraits(profile.traits);
  if (name) return name;
  const first = [...profile.identities].sort((a, b) => titleRank(a.kind) - titleRank(b.kind))[0];
  return first?.value ?? null;
}

export function eventTitle(event: TimelineEvent, t: TFunction): string {
  const name = event.name ?? '';
  switch (event.type) {
    case 'track':
      return name || t('customers.timeline.unnamedEvent');
    case 'page':
      return name ? t('customers.timeline.page', { name }) : t('customers.timeline.pageUnnamed');
    case 'screen':
      return name ? t('customers.timeline.screen', { name }) : t('customers.timeline.screenUnnamed');
    case 'identify':
      return t('customers.timeline.identify');
    case 'group': {
      // The event's name is the group's id; the group's own name, when sent, is among its traits.
      const group = text(event.traits.name) ?? name;
      return group ? t('customers.timeline.group', { name: group }) : t('customers.timeline.groupUnnamed');
    }
    case 'alias':
      return t('customers.timeline.alias');
    default:
      return name || event.type;
  }
}

/** Scalars as they are; objects and arrays as compact JSON, so a nested trait stays on one line. */
export function displayValue(value: unknown): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}
