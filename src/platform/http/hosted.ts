import type { FastifyReply, FastifyRequest } from 'fastify';
import { randomToken } from '../ids.ts';

/**
 * What the hosted consumer pages share (`/p/…` code entry and forms, `/u/…` consent pages): the language a visitor
 * reads, HTML escaping, the page frame and the device cookie that per-device limits count by.
 */

export type Lang = 'en' | 'ru';

/** `?lang=ru|en` first, then the browser's first language; English otherwise. */
export function langOf(query: unknown, acceptLanguage: string | undefined): Lang {
  const asked = (query as { lang?: string } | undefined)?.lang;
  if (asked === 'ru' || asked === 'en') return asked;
  return /^\s*ru\b/i.test(acceptLanguage ?? '') ? 'ru' : 'en';
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A complete, script-free, mobile-first document around `body`, styled by the page's own stylesheet. */
export function hostedPage(lang: Lang, title: string, body: string, style: string): string {
  return `<!doctype html>
<html lang="${lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><link rel="icon" href="data:,"><style>${style}</style></head>
<body><main>${body}</main></body></html>`;
}

export const DEVICE_COOKIE = 'rp_dev';

/** The visitor's device id: a CSPRNG token in a first-party cookie on `/p/`, set on the first visit. */
export function deviceOf(request: FastifyRequest, reply: FastifyReply): string {
  const known = request.cookies[DEVICE_COOKIE];
  if (known && /^[A-Za-z0-9]{16,40}$/.test(known)) return known;
  const fresh = randomToken(24);
  reply.setCookie(DEVICE_COOKIE, fresh, { path: '/p/', httpOnly: true, sameSite: 'lax', maxAge: 365 * 24 * 3600 });
  return fresh;
}
