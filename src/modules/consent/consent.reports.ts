import { createHash } from 'node:crypto';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { sql } from 'kysely';
import { z } from 'zod';
import type { Db } from '../../platform/db.ts';
import { notFound } from '../../platform/errors.ts';
import { actorOf, principalOf } from '../../platform/http/auth.ts';
import { Problem } from '../../platform/http/problem.ts';
import { normalizeIdentifier } from '../profiles/index.ts';
import { escapeHtml, type Lang, text } from './consent.pages.ts';
import * as repo from './consent.repo.ts';
import type { ConsentRouteDeps } from './consent.routes.ts';
import { Purpose } from './consent.schemas.ts';
import { ADDRESS_KINDS, purposesOf } from './consent.service.ts';

/**
 * The proof-of-consent report a brand hands to a regulator: for one profile (and one address, if asked), every
 * ledger entry in time order with its proof — source, the exact wording shown (text of the version), time, IP and
 * user agent or operator — and the current status. A SHA-256 digest of the canonical JSON lets the reader check
 * that the printed report and the data match. Generating one is audited.
 */

export const ProofEntry = z.object({
  id: z.string(),
  channel: z.string(),
  purpose: z.string(),
  address: z.string().nullable(),
  action: z.string(),
  source: z.string(),
  wordingVersion: z.string().nullable(),
  wordingText: z.string().nullable(),
  occurredAt: z.string(),
  recordedAt: z.string(),
  ip: z.string().nullable(),
  userAgent: z.string().nullable(),
  operator: z.string().nullable(),
});

export const ProofReport = z.object({
  workspaceId: z.string(),
  profileId: z.string(),
  address: z.string().nullable(),
  generatedAt: z.string(),
  generatedBy: z.string(),
  /** SHA-256 of the canonical JSON of profileId, address, entries and status. */
  digest: z.string(),
  entries: z.array(ProofEntry),
  status: z.array(
    z.object({
      channel: z.string(),
      purpose: z.string(),
      status: z.string(),
      address: z.string().nullable(),
      since: z.string(),
    }),
  ),
});
export type ProofReport = z.infer<typeof ProofReport>;

/** An address as written in the ledger: e-mails and phones normalised, messenger ids as given. */
function ledgerAddress(raw: string): string {
  const trimmed = raw.trim();
  for (const kind of ['email', 'phone'] as const) {
    const id = normalizeIdentifier(kind, trimmed);
    if (id) return id.value;
  }
  return trimmed;
}

export async function buildProof(
  db: Db,
  workspaceId: string,
  profileId: string,
  address: string | null,
  lang: Lang,
  generatedBy: string,
  now: Date,
): Promise<ProofReport> {
  const wanted = address ? ledgerAddress(address) : null;
  const history = (await repo.historyOf(db, workspaceId, profileId, 10_000))
    .filter((e) => !wanted || e.address === wanted)
    .reverse();
  const versions = [...new Set(history.filter((e) => e.wording_version).map((e) => e.wording_version as string))];
  const wordings =
    versions.length === 0
      ? []
      : (
          await sql<{ purpose: string; version: string; locale: string; text: string }>`select purpose, version,
          locale, text from consent_wordings where workspace_id = ${workspaceId} and version = any(${versions})`.execute(
            db,
          )
        ).rows;
  const wordingOf = (purpose: string, version: string | null) => {
    if (!version) return null;
    const all = wordings.filter((w) => w.purpose === purpose && w.version === version);
    return (all.find((w) => w.locale === lang) ?? all[0])?.text ?? null;
  };
  const entries = history.map((e) => ({
    id: e.id,
    channel: e.channel,
    purpose: e.purpose,
    address: e.address,
    action: e.action,
    source: e.source,
    wordingVersion: e.wording_version,
    wordingText: wordingOf(e.purpose, e.wording_version),
    occurredAt: e.occurred_at.toISOString(),
    recordedAt: e.recorded_at.toISOString(),
    ip: e.ip,
    userAgent: e.user_agent,
    operator: e.operator,
  }));
  const status = (await repo.statesOf(db, workspaceId, profileId))
    .filter((s) => !wanted || s.address === wanted || (s.address === null && ADDRESS_KINDS[s.channel] === undefined))
    .map((s) => ({ ...s, since: s.since.toISOString() }));
  const digest = createHash('sha256')
    .update(JSON.stringify({ profileId, address: wanted, entries, status }))
    .digest('hex');
  return {
    workspaceId,
    profileId,
    address: wanted,
    generatedAt: now.toISOString(),
    generatedBy,
    digest,
    entries,
    status,
  };
}

const LABELS = {
  en: {
    title: 'Proof of consent',
    profile: 'Profile',
    address: 'Address',
    all: 'all addresses',
    generated: 'Generated',
    by: 'by',
    digest: 'SHA-256 of the data',
    current: 'Current status',
    history: 'History of statements (oldest first)',
    none: 'No consent statements recorded.',
    cols: ['When', 'Channel', 'Purpose', 'Action', 'Address', 'Source', 'Wording', 'Proof'],
    recorded: 'recorded',
    operator: 'operator',
    zone: 'Times in',
    sources: {
      form: 'web form',
      code_entry: 'code entry',
      pos: 'point of sale',
      call_centre: 'call centre',
      import: 'import',
      api: 'API',
      inbound_keyword: 'reply keyword',
      double_opt_in: 'double opt-in confirmation',
      unsubscribe_link: 'unsubscribe link',
      preference_centre: 'preference centre',
      staff: 'staff',
      merge: 'profile merge',
    } as Record<string, string>,
    status: { granted: 'granted', revoked: 'revoked', pending: 'pending' } as Record<string, string>,
    action: { grant: 'grant', revoke: 'revoke', pending: 'confirmation requested' } as Record<string, string>,
  },
  ru: {
    title: 'Подтверждение согласия',
    profile: 'Профиль',
    address: 'Адрес',
    all: 'все адреса',
    generated: 'Сформирован',
    by: 'кем',
    digest: 'SHA-256 данных',
    current: 'Текущий статус',
    history: 'История согласий (от ранних к поздним)',
    none: 'Согласий не записано.',
    cols: ['Когда', 'Канал', 'Цель', 'Действие', 'Адрес', 'Источник', 'Текст', 'Подтверждение'],
    recorded: 'записано',
    operator: 'оператор',
    zone: 'Часовой пояс',
    sources: {
      form: 'веб-форма',
      code_entry: 'ввод кода',
      pos: 'касса',
      call_centre: 'колл-центр',
      import: 'импорт',
      api: 'API',
      inbound_keyword: 'ответное слово',
      double_opt_in: 'подтверждение подписки',
      unsubscribe_link: 'ссылка отписки',
      preference_centre: 'центр настроек',
      staff: 'сотрудник',
      merge: 'объединение профилей',
    } as Record<string, string>,
    status: { granted: 'дано', revoked: 'отозвано', pending: 'ожидает подтверждения' } as Record<string, string>,
    action: { grant: 'согласие', revoke: 'отзыв', pending: 'запрошено подтверждение' } as Record<string, string>,
  },
} as const;

function validZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export function proofHtml(
  report: ProofReport,
  lang: Lang,
  timeZone = 'UTC',
  purposes: Map<string, { nameEn: string; nameRu: string }> = new Map(),
): string {
  const t = LABELS[lang];
  const h = (v: string | null | undefined) => escapeHtml(v ?? '—');
  const local = new Intl.DateTimeFormat('sv-SE', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
  /** A time as the reader's workspace clock shows it, with the exact UTC instant on hover. */
  const when = (iso: string) =>
    `<time datetime="${escapeHtml(iso)}" title="${escapeHtml(iso)}">${escapeHtml(local.format(new Date(iso)))}</time>`;
  const channels = text(lang).channels as Record<string, string>;
  const channel = (c: string) => h(channels[c] ?? c);
  const purpose = (key: string) => {
    const p = purposes.get(key);
    return p ? `${h(lang === 'ru' ? p.nameRu : p.nameEn)} <small>(${h(key)})</small>` : h(key);
  };
  const source = (key: string) => h(t.sources[key] ?? key);
  const rows = report.entries
    .map(
      (
        e,
      ) => `<tr><td>${when(e.occurredAt)}<br><small>${t.recorded} ${when(e.recordedAt)}</small></td><td>${channel(e.channel)}</td>
<td>${purpose(e.purpose)}</td><td>${h(t.action[e.action] ?? e.action)}</td><td>${h(e.address)}</td><td>${source(e.source)}</td>
<td>${e.wordingVersion ? `<b>${h(e.wordingVersion)}</b>${e.wordingText ? `<blockquote>${h(e.wordingText)}</blockquote>` : ''}` : '—'}</td>
<td>${[e.ip ? `IP ${h(e.ip)}` : '', e.userAgent ? h(e.userAgent) : '', e.operator ? `${t.operator}: ${h(e.operator)}` : ''].filter(Boolean).join('<br>') || '—'}</td></tr>`,
    )
    .join('\n');
  const status = report.status
    .map(
      (s) =>
        `<tr><td>${channel(s.channel)}</td><td>${purpose(s.purpose)}</td><td>${h(t.status[s.status] ?? s.status)}</td><td>${h(s.address)}</td><td>${when(s.since)}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="${lang}"><head><meta charset="utf-8"><title>${escapeHtml(t.title)} — ${escapeHtml(report.profileId)}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111;margin:2rem;font-size:13px}
h1{font-size:1.5rem;margin:0 0 .5rem}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:0}dt{color:#555}dd{margin:0;word-break:break-all}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #ccc;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f1f3f5}blockquote{margin:.25rem 0 0;padding-left:.5rem;border-left:3px solid #ccc;white-space:pre-wrap}
small{color:#666}@media print{body{margin:1cm}}
</style></head><body>
<h1>${escapeHtml(t.title)}</h1>
<dl><dt>${t.profile}</dt><dd>${h(report.profileId)}</dd><dt>${t.address}</dt><dd>${report.address ? h(report.address) : t.all}</dd>
<dt>${t.generated}</dt><dd>${when(report.generatedAt)}, ${t.by} ${h(report.generatedBy)}</dd><dt>${t.zone}</dt><dd>${h(timeZone)}</dd><dt>${t.digest}</dt><dd><code>${h(report.digest)}</code></dd></dl>
<h2>${t.current}</h2>
${status ? `<table><thead><tr><th>${t.cols[1]}</th><th>${t.cols[2]}</th><th>${t.cols[3]}</th><th>${t.cols[4]}</th><th>${t.cols[0]}</th></tr></thead><tbody>${status}</tbody></table>` : `<p>${t.none}</p>`}
<h2>${t.history}</h2>
${rows ? `<table><thead><tr>${t.cols.map((c) => `<th>${c}</th>`).join('')}</tr></thead><tbody>${rows}</tbody></table>` : `<p>${t.none}</p>`}
</body></html>`;
}

/**
 * Reports under /api/v1: the proof of consent per profile (JSON or a printable page; needs profiles:read_pii;
 * audited) and the workspace's consent summary (how many profiles are granted, pending, revoked per channel and
 * purpose).
 */
export function reportRoutes(deps: ConsentRouteDeps): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/consent/summary',
      {
        config: { auth: 'profiles:read' },
        schema: {
          tags: ['consent'],
          summary: 'Current consent status counts per channel, purpose and status, with the purposes',
          response: {
            200: z.object({
              rows: z.array(
                z.object({ channel: z.string(), purpose: z.string(), status: z.string(), count: z.number().int() }),
              ),
              purposes: z.array(Purpose),
            }),
            401: Problem,
            403: Problem,
          },
        },
      },
      async (request) => {
        const { workspaceId } = principalOf(request).scope;
        const [rows, purposes] = await Promise.all([
          repo.statusCounts(deps.db, workspaceId),
          purposesOf(deps.db, workspaceId),
        ]);
        return { rows, purposes: [...purposes.values()] };
      },
    );

    app.get(
      '/profiles/:id/consents/proof',
      {
        config: { auth: 'profiles:read_pii' },
        schema: {
          tags: ['consent'],
          summary: 'Proof-of-consent report for a profile (and one address): every statement with its proof',
          params: z.object({ id: z.uuid() }),
          querystring: z.object({
            format: z.enum(['json', 'html']).default('json'),
            address: z.string().min(3).max(320).optional(),
            lang: z.enum(['en', 'ru']).default('en'),
            /** Times on the printable page in this IANA zone (the workspace's); JSON is always UTC. */
            timeZone: z.string().max(64).refine(validZone, 'an IANA time zone such as Europe/Moscow').default('UTC'),
          }),
          response: { 200: ProofReport.or(z.string()), 401: Problem, 403: Problem, 404: Problem },
        },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        const { workspaceId } = principal.scope;
        const profileId = await deps.people.liveProfileId(deps.db, workspaceId, request.params.id);
        if (!profileId) throw notFound('Profile', 'PROFILE_NOT_FOUND');
        const { format, address, lang, timeZone } = request.query;
        const report = await buildProof(
          deps.db,
          workspaceId,
          profileId,
          address ?? null,
          lang,
          principal.actorLabel,
          deps.clock.now(),
        );
        await deps.audit(
          deps.db,
          actorOf(request),
          'consent.proof',
          { kind: 'profile', id: profileId },
          {
            // Never the address itself: audit details hold no personal values.
            oneAddress: report.address !== null,
            format,
            digest: report.digest,
          },
        );
        if (format === 'json') return report;
        return reply
          .type('text/html; charset=utf-8')
          .header('content-disposition', `inline; filename="consent-proof-${profileId}.html"`)
          .send(proofHtml(report, lang, timeZone, await purposesOf(deps.db, workspaceId)));
      },
    );
  };
}
