import i18next, { type TFunction } from 'i18next';
import { CHANNELS, type ConsentChannel, type Purpose } from '../../../src/modules/consent/consent.schemas.ts';

/** Consent screens' labels: known channels and sources in the console's language, unknown ones as sent. */
export function consentChannelLabel(channel: string, t: TFunction): string {
  return (CHANNELS as readonly string[]).includes(channel)
    ? (t(`consent.channels.${channel as ConsentChannel}`) as string)
    : channel;
}

export function sourceLabel(source: string, t: TFunction): string {
  const key = `consent.sources.${source}`;
  return i18next.exists(key) ? (t(key as never) as string) : source;
}

/** A purpose by its workspace name in the console's language; a purpose no longer configured by its key. */
export function purposeLabel(key: string, purposes: Purpose[], language: string | undefined): string {
  const purpose = purposes.find((p) => p.key === key);
  if (!purpose) return key;
  return language === 'ru' ? purpose.nameRu : purpose.nameEn;
}
