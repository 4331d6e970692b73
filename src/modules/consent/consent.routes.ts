import type { FastifyPluginAsync } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../../platform/db.ts';
import { DomainError, notFound } from '../../platform/errors.ts';
import { type Actor, actorOf, principalOf } from '../../platform/http/auth.ts';
import { Problem } from '../../platform/http/problem.ts';
import { hitRateLimit } from '../../platform/ratelimit.ts';
import { maskIdentity, maskIp, seesPii } from '../profiles/index.ts';
import { escapeHtml, langOf, page, text } from './consent.pages.ts';
import * as repo from './consent.repo.ts';
import { reportRoutes } from './consent.reports.ts';
import {
  ConsentEntry,
  ConsentSettings,
  ConsentState,
  ConsentStatement,
  SendDecision,
  Wording,
} from './consent.schemas.ts';
import * as service from './consent.service.ts';

/** The org module's recordAudit: staff changes are recorded in their own transaction. */
export type AuditRecorder = (
  db: Db,
  actor: Actor,
  action: string,
  target: { kind: string; id: string } | null,
  details?: Record<string, unknown>,
) => Promise<void>;

export interface ConsentRouteDeps extends service.ConsentDeps {
  audit: AuditRecorder;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** Identifier kind whose mask fits an address of the channel. */
const ADDRESS_KIND: Record<string, string> = { email: 'email', sms: 'phone', call: 'phone' };

/** An address as a reader without profiles:read_pii sees it (operators see the last digits). */
function maskAddress(channel: string, address: string | null): string | null {
  if (!address) return address;
  const colon = address.indexOf(':');
  if (channel === 'messenger' && colon > 0)
    return `${address.slice(0, colon)}:${maskIdentity(address.slice(0, colon), address.slice(colon + 1))}`;
  return maskIdentity(ADDRESS_KIND[channel] ?? 'email', address);
}

function entryOut(e: repo.EntryRow, clear: boolean): ConsentEntry {
  return {
    id: e.id,
    channel: e.channel,
    purpose: e.purpose,
    address: clear ? e.address : maskAddress(e.channel, e.address),
    action: e.action,
    source: e.source,
    wordingVersion: e.wording_version,
    occurredAt: e.occurred_at.toISOString(),
    recordedAt: e.recorded_at.toISOString(),
    ip: clear || !e.ip ? e.ip : maskIp(e.ip),
    userAgent: e.user_agent,
    operator: e.operator,
    expiresAt: iso(e.expires_at),
  };
}

/** Management API: a profile's consents, staff changes, the send check, settings. Under /api/v1. */
export function consentRoutes(deps: ConsentRouteDeps): FastifyPluginAsyncZod {
  return async (app) => {
    await app.register(reportRoutes(deps));
    const profileParams = z.object({ id: z.uuid() });
    const live = async (workspaceId: string, id: string) => {
      const profileId = await deps.people.liveProfileId(deps.db, workspaceId, id);
      if (!profileId) throw notFound('Profile', 'PROFILE_NOT_FOUND');
      return profileId;
    };

    app.get(
      '/profiles/:id/consents',
      {
        config: { auth: 'profiles:read' },
        schema: {
          tags: ['consent'],
          summary: "A profile's current consents and their history (the ledger, newest first)",
          params: profileParams,
          response: {
            200: z.object({ current: z.array(ConsentState), history: z.array(ConsentEntry) }),
            401: Problem,
            403: Problem,
            404: Problem,
          },
        },
      },
      async (request) => {
        const principal = principalOf(request);
        const { workspaceId } = principal.scope;
        const clear = seesPii(principal);
        const profileId = await live(workspaceId, request.params.id);
        const [current, history] = await Promise.all([
          repo.statesOf(deps.db, workspaceId, profileId),
          repo.historyOf(deps.db, workspaceId, profileId),
        ]);
        return {
          current: current.map((s) => ({
            ...s,
            address: clear ? s.address : maskAddress(s.channel, s.address),
            since: s.since.toISOString(),
          })),
          history: history.map((e) => entryOut(e, clear)),
        };
      },
    );

    app.post(
      '/profiles/:id/consents',
      {
        config: { auth: 'profiles:write' },
        schema: {
          tags: ['consent'],
          summary: 'Record consent statements for a profile (staff, call centre, POS, API), with proof',
          params: profileParams,
          body: z.object({ statements: z.array(ConsentStatement).min(1).max(50) }),
          response: {
            201: z.object({ entries: z.array(z.object({ id: z.string(), action: z.string() })) }),
            400: Problem,
            401: Problem,
            403: Problem,
            404: Problem,
            429: Problem,
          },
        },
      },
      async (request, reply) => {
        const actor = actorOf(request);
        const { workspaceId } = actor.principal.scope;
        const profileId = await live(workspaceId, request.params.id);
        const entries = await deps.db.transaction().execute(async (trx) => {
          const written = await service.recordStatements(deps, trx, workspaceId, profileId, request.body.statements, {
            ip: request.ip,
            userAgent: request.headers['user-agent'] ?? null,
            operator: actor.principal.actorLabel,
          });
          await deps.audit(
            trx,
            actor,
            'consent.record',
            { kind: 'profile', id: profileId },
            {
              statements: written.map((e) => ({ channel: e.channel, purpose: e.purpose, action: e.action })),
            },
          );
          return written;
        });
        reply.code(201);
        return { entries: entries.map((e) => ({ id: e.id, action: e.action })) };
      },
    );

    app.get(
      '/consent/check',
      {
        config: { auth: 'profiles:read' },
        schema: {
          tags: ['consent'],
          summary: 'The send check: may a message of this purpose go to this profile on this channel now?',
          querystring: z.object({
            profileId: z.uuid(),
            channel: z.string().max(20),
            purpose: z.string().max(40),
            address: z.string().max(320).optional(),
          }),
          response: { 200: SendDecision, 400: Problem, 401: Problem, 403: Problem },
        },
      },
      async (request) => {
        const { workspaceId } = principalOf(request).scope;
        const q = request.query;
        return service.mayContact(deps, workspaceId, q.profileId, q.channel, q.purpose, q.address);
      },
    );

    app.post(
      '/consent/links',
      {
        config: { auth: 'profiles:write' },
        schema: {
          tags: ['consent'],
          summary: 'One-click unsubscribe and preference-centre links for a profile (for List-Unsubscribe headers)',
          body: z.object({ profileId: z.uuid(), channel: z.string().max(20), purpose: z.string().max(40).optional() }),
          response: {
            200: z.object({ unsubscribeUrl: z.string(), preferencesUrl: z.string() }),
            400: Problem,
            401: Problem,
            403: Problem,
            404: Problem,
          },
        },
      },
      async (request) => {
        const { workspaceId } = principalOf(request).scope;
        const profileId = await live(workspaceId, request.body.profileId);
        const token = await service.linkToken(
          deps.db,
          workspaceId,
          profileId,
          request.body.channel,
          request.body.purpose,
        );
        return {
          unsubscribeUrl: `${deps.publicUrl}/u/${token}`,
          preferencesUrl: `${deps.publicUrl}/u/${token}/preferences`,
        };
      },
    );

    app.post(
      '/consent/inbound',
      {
        config: { auth: 'profiles:write' },
        schema: {
          tags: ['consent'],
          summary: 'An inbound SMS or messenger text (gateways): opt-out keywords and confirmation codes',
          body: z.object({
            channel: z.enum(['sms', 'messenger']),
            from: z.string().min(3).max(100),
            text: z.string().max(2000),
          }),
          response: {
            200: z.object({ action: z.enum(['revoked', 'confirmed', 'none']), reply: z.string().nullable() }),
            400: Problem,
            401: Problem,
            403: Problem,
          },
        },
      },
      async (request) => {
        const { workspaceId } = principalOf(request).scope;
        return service.handleInbound(deps, workspaceId, request.body, { ip: request.ip });
      },
    );

    app.get(
      '/consent/settings',
      {
        config: { auth: 'profiles:read' },
        schema: {
          tags: ['consent'],
          summary: "The workspace's consent purposes, opt-out keywords and confirmation window; wording versions",
          response: {
            200: ConsentSettings.extend({
              wordings: z.array(Wording.extend({ createdAt: z.string() })),
            }),
            401: Problem,
            403: Problem,
          },
        },
      },
      async (request) => {
        const { workspaceId } = principalOf(request).scope;
        const settings = await service.settingsOf(deps.db, workspaceId);
        const [purposes, wordings] = await Promise.all([
          repo.listPurposes(deps.db, workspaceId),
          repo.listWordings(deps.db, workspaceId),
        ]);
        return {
          purposes,
          stopKeywords: settings.stop_keywords,
          pendingHours: settings.pending_hours,
          wordings: wordings.map((w) => ({ ...w, createdAt: w.created_at.toISOString() })),
        };
      },
    );

    app.put(
      '/consent/settings',
      {
        config: { auth: 'workspace:manage' },
        schema: {
          tags: ['consent'],
          summary: 'Replace purposes (a purpose with history cannot be removed), opt-out keywords, confirmation window',
          body: ConsentSettings,
          response: { 200: ConsentSettings, 400: Problem, 401: Problem, 403: Problem },
        },
      },
      async (request) => {
        const actor = actorOf(request);
        const { workspaceId } = actor.principal.scope;
        const body = request.body;
        const keys = body.purposes.map((p) => p.key);
        if (new Set(keys).size !== keys.length)
          throw new DomainError('invalid', 'DUPLICATE_PURPOSE', 'Each purpose key may appear once.');
        await deps.db.transaction().execute(async (trx) => {
          await service.settingsOf(trx, workspaceId);
          await repo.upsertPurposes(trx, workspaceId, body.purposes);
          await repo.removeUnusedPurposes(trx, workspaceId, keys);
          await repo.updateSettings(trx, workspaceId, body.stopKeywords, body.pendingHours);
          await deps.audit(trx, actor, 'consent.settings', null, { purposes: keys });
        });
        const settings = await service.settingsOf(deps.db, workspaceId);
        return {
          purposes: await repo.listPurposes(deps.db, workspaceId),
          stopKeywords: settings.stop_keywords,
          pendingHours: settings.pending_hours,
        };
      },
    );

    app.post(
      '/consent/wordings',
      {
        config: { auth: 'workspace:manage' },
        schema: {
          tags: ['consent'],
          summary: 'Add a wording version (the exact text shown when consent is asked); versions are never changed',
          body: Wording,
          response: { 201: Wording, 400: Problem, 401: Problem, 403: Problem, 409: Problem },
        },
      },
      async (request, reply) => {
        const actor = actorOf(request);
        const { workspaceId } = actor.principal.scope;
        await deps.db.transaction().execute(async (trx) => {
          await service.settingsOf(trx, workspaceId);
          if (!(await repo.insertWording(trx, workspaceId, request.body)))
            throw new DomainError(
              'conflict',
              'WORDING_EXISTS',
              'This version of the wording exists; add a new version.',
            );
          await deps.audit(trx, actor, 'consent.wording', null, {
            purpose: request.body.purpose,
            version: request.body.version,
          });
        });
        reply.code(201);
        return request.body;
      },
    );

    app.get(
      '/consent/outbox',
      {
        config: { auth: 'workspace:manage' },
        schema: {
          tags: ['consent'],
          summary: 'Confirmation requests recorded by the embedded outbox (until a channel is configured)',
          querystring: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) }),
          response: {
            200: z.object({
              items: z.array(
                z.object({
                  id: z.string(),
                  profileId: z.string(),
                  channel: z.string(),
                  address: z.string(),
                  subject: z.string(),
                  body: z.string(),
                  createdAt: z.string(),
                }),
              ),
            }),
            401: Problem,
            403: Problem,
          },
        },
      },
      async (request) => {
        const { workspaceId } = principalOf(request).scope;
        const rows = await repo.listOutbox(deps.db, workspaceId, request.query.limit);
        return {
          items: rows.map((r) => ({
            id: r.id,
            profileId: r.profile_id,
            channel: r.channel,
            address: r.address,
            subject: r.subject,
            body: r.body,
            createdAt: r.created_at.toISOString(),
          })),
        };
      },
    );
  };
}

/** Consumer pages at the root: /u/<token> (RFC 8058 one-click unsubscribe), its preference centre, confirmations. */
export function hostedConsentPages(deps: service.ConsentDeps): FastifyPluginAsync {
  return async (app) => {
    // Forms post application/x-www-form-urlencoded; RFC 8058 clients post `List-Unsubscribe=One-Click` the same way.
    app.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: 16_384 },
      (_r, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
    );
    const limited = async (ip: string) => {
      const state = await hitRateLimit(deps.db, deps.clock, `consent-page:${ip}`, { limit: 60, windowSeconds: 60 });
      if (!state.allowed)
        throw new DomainError('rate_limited', 'RATE_LIMITED', 'Too many requests; try again in a minute.', {
          retryAfterSeconds: state.retryAfterSeconds,
        });
    };
    const proofOf = (request: { ip: string; headers: Record<string, unknown> }) => ({
      ip: request.ip,
      userAgent: (request.headers['user-agent'] as string | undefined) ?? null,
    });
    const invalidPage = (lang: 'en' | 'ru') => page(lang, text(lang).unsubscribeTitle, `<p>${text(lang).invalid}</p>`);
    const html = 'text/html; charset=utf-8';

    // GET shows what the link does and never changes anything by itself (link scanners open links).
    app.get<{ Params: { token: string } }>('/u/:token', { config: { auth: 'public' } }, async (request, reply) => {
      const lang = langOf(request.query, request.headers['accept-language']);
      await limited(request.ip);
      const t = text(lang);
      try {
        const link = await service.readLinkToken(deps, request.params.token);
        const channel = t.channels[link.c as keyof typeof t.channels] ?? link.c;
        const token = escapeHtml(request.params.token);
        return reply
          .type(html)
          .send(
            page(
              lang,
              t.unsubscribeTitle,
              `<p>${escapeHtml(t.unsubscribeAsk(channel))}</p><form method="post" action="/u/${token}?lang=${lang}"><button type="submit" name="confirm" value="1">${t.unsubscribeButton}</button></form><p><a href="/u/${token}/preferences?lang=${lang}">${t.manage}</a></p>`,
            ),
          );
      } catch {
        return reply.code(404).type(html).send(invalidPage(lang));
      }
    });

    // POST unsubscribes at once: RFC 8058 one-click from a mail client (no cookie, no confirmation), or the form above.
    app.post<{ Params: { token: string } }>('/u/:token', { config: { auth: 'public' } }, async (request, reply) => {
      const lang = langOf(request.query, request.headers['accept-language']);
      await limited(request.ip);
      try {
        await service.unsubscribe(deps, request.params.token, proofOf(request));
      } catch (error) {
        if (error instanceof DomainError && error.code === 'LINK_INVALID')
          return reply.code(404).type(html).send(invalidPage(lang));
        throw error;
      }
      const token = escapeHtml(request.params.token);
      return reply
        .type(html)
        .send(
          page(
            lang,
            text(lang).unsubscribeTitle,
            `<p>${text(lang).unsubscribed}</p><p><a href="/u/${token}/preferences?lang=${lang}">${text(lang).manage}</a></p>`,
          ),
        );
    });

    const preferencesPage = async (lang: 'en' | 'ru', token: string, notice?: string) => {
      const t = text(lang);
      const prefs = await service.preferences(deps, token);
      const byChannel = prefs.channels
        .map((channel) => {
          const boxes = prefs.purposes
            .map((p) => {
              const on = prefs.choices.find((c) => c.channel === channel && c.purpose === p.key)?.granted;
              const name = `${channel}/${p.key}`;
              return `<label><input type="checkbox" name="${escapeHtml(name)}" value="on"${on ? ' checked' : ''}> ${escapeHtml(lang === 'ru' ? p.nameRu : p.nameEn)}</label>`;
            })
            .join('');
          return `<fieldset><legend>${escapeHtml(t.channels[channel as keyof typeof t.channels] ?? channel)}</legend>${boxes}</fieldset>`;
        })
        .join('');
      const safe = escapeHtml(token);
      return page(
        lang,
        t.preferences,
        `${notice ? `<p role="status">${notice}</p>` : ''}<form method="post" action="/u/${safe}/preferences?lang=${lang}">${byChannel}<input type="hidden" name="submitted" value="1"><button type="submit">${t.save}</button></form>`,
      );
    };

    app.get<{ Params: { token: string } }>(
      '/u/:token/preferences',
      { config: { auth: 'public' } },
      async (request, reply) => {
        const lang = langOf(request.query, request.headers['accept-language']);
        await limited(request.ip);
        try {
          return reply.type(html).send(await preferencesPage(lang, request.params.token));
        } catch {
          return reply.code(404).type(html).send(invalidPage(lang));
        }
      },
    );

    app.post<{ Params: { token: string }; Body: Record<string, string> }>(
      '/u/:token/preferences',
      { config: { auth: 'public' } },
      async (request, reply) => {
        const lang = langOf(request.query, request.headers['accept-language']);
        await limited(request.ip);
        const body = request.body ?? {};
        let current: Awaited<ReturnType<typeof service.preferences>>;
        try {
          current = await service.preferences(deps, request.params.token);
        } catch {
          return reply.code(404).type(html).send(invalidPage(lang));
        }
        const wanted = current.choices.map((c) => ({ ...c, granted: body[`${c.channel}/${c.purpose}`] === 'on' }));
        await service.savePreferences(deps, request.params.token, wanted, proofOf(request));
        return reply.type(html).send(await preferencesPage(lang, request.params.token, text(lang).saved));
      },
    );

    app.get<{ Params: { token: string } }>(
      '/u/confirm/:token',
      { config: { auth: 'public' } },
      async (request, reply) => {
        const lang = langOf(request.query, request.headers['accept-language']);
        await limited(request.ip);
        const t = text(lang);
        const token = escapeHtml(request.params.token);
        return reply
          .type(html)
          .send(
            page(
              lang,
              t.confirmTitle,
              `<form method="post" action="/u/confirm/${token}?lang=${lang}"><button type="submit">${t.confirmButton}</button></form>`,
            ),
          );
      },
    );

    app.post<{ Params: { token: string } }>(
      '/u/confirm/:token',
      { config: { auth: 'public' } },
      async (request, reply) => {
        const lang = langOf(request.query, request.headers['accept-language']);
        await limited(request.ip);
        const t = text(lang);
        try {
          await service.confirmByLink(deps, request.params.token, proofOf(request));
          return reply.type(html).send(page(lang, t.confirmTitle, `<p>${t.confirmed}</p>`));
        } catch (error) {
          if (
            error instanceof DomainError &&
            (error.code === 'CONFIRMATION_UNKNOWN' || error.code === 'CONFIRMATION_EXPIRED')
          )
            return reply
              .code(error.code === 'CONFIRMATION_UNKNOWN' ? 404 : 410)
              .type(html)
              .send(invalidPage(lang));
          throw error;
        }
      },
    );
  };
}
