import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db.ts';
import { DomainError } from '../../platform/errors.ts';
import { deviceOf } from '../../platform/http/hosted.ts';
import { Problem, sendProblem } from '../../platform/http/problem.ts';
import { hitRateLimit } from '../../platform/ratelimit.ts';
import type { RegistrationInput, RegistrationOutcome, WorkspaceContextCache } from './codes.register.ts';
import { RegisterBody, Registered } from './codes.schemas.ts';
import { escapeHtml, type Lang, langOf, messageOf, page, text } from './codes.text.ts';

export interface ConsumerDeps {
  db: Db;
  clock: Clock;
  context: WorkspaceContextCache;
  register(workspaceId: string, input: RegistrationInput): Promise<RegistrationOutcome>;
  /** Which workspace a write key belongs to (org's resolveWriteKey). */
  resolveWriteKey(key: string): Promise<{ workspaceId: string } | null | undefined>;
  /** A workspace by id or slug (org's findWorkspace). */
  findWorkspace(idOrSlug: string): Promise<{ id: string; slug: string } | undefined>;
}

const CACHE_MS = 5_000;

/** The placement keyword in a page's query (?m=TV1), or null. */
function placementParam(query: unknown): string | null {
  const m = (query as Record<string, unknown> | undefined)?.m;
  return typeof m === 'string' && /^[A-Za-z0-9]{2,20}$/.test(m) ? m.toUpperCase() : null;
}

/** A small per-process cache of lookups that change rarely (write keys, workspace slugs). */
function cached<T>(load: (key: string) => Promise<T>) {
  const entries = new Map<string, { value: T; until: number }>();
  return async (key: string): Promise<T> => {
    const hit = entries.get(key);
    if (hit && hit.until > Date.now()) return hit.value;
    const value = await load(key);
    if (entries.size > 10_000) entries.clear();
    entries.set(key, { value, until: Date.now() + CACHE_MS });
    return value;
  };
}

/**
 * The one answer for a code that cannot be accepted, whatever the reason (unknown, used, expired, another
 * workspace's): fixed status and body, without the request id, so that nothing tells one reason from another.
 */
function refuse(request: FastifyRequest, reply: FastifyReply, outcome: RegistrationOutcome) {
  const quiet = { requestId: undefined, instance: '/v1/codes/register' };
  switch (outcome.status) {
    case 'refused':
      return sendProblem(request, reply, 422, 'CODE_NOT_ACCEPTED', messageOf('en', outcome), {
        ...quiet,
        title: 'Unprocessable Content',
      });
    case 'typo':
      return sendProblem(request, reply, 422, 'CODE_TYPO', messageOf('en', outcome), {
        ...quiet,
        title: 'Unprocessable Content',
      });
    case 'limited':
      reply.header('retry-after', String(outcome.retryAfterSeconds));
      return sendProblem(request, reply, 429, 'TOO_MANY_ATTEMPTS', messageOf('en', outcome), {
        ...quiet,
        retryAfterSeconds: outcome.retryAfterSeconds,
      } as never);
    case 'person_limit':
      return sendProblem(request, reply, 409, 'PERSON_LIMIT_REACHED', messageOf('en', outcome), quiet);
    case 'budget_exhausted':
      return sendProblem(request, reply, 409, 'PROMOTION_BUDGET_SPENT', messageOf('en', outcome), quiet);
    case 'closed':
      return sendProblem(request, reply, 409, 'PROMOTION_CLOSED', messageOf('en', outcome), quiet);
    default:
      throw new Error('not a refusal');
  }
}

/** Consumer endpoints at the root: POST /v1/codes/register (write key) and the hosted page /p/<workspace>/<promotion>. */
export function consumerRoutes(deps: ConsumerDeps): FastifyPluginAsync {
  const workspaceOfKey = cached(async (key) => (await deps.resolveWriteKey(key))?.workspaceId ?? null);
  const workspaceBySlug = cached(async (slug) => (await deps.findWorkspace(slug)) ?? null);

  return async (app) => {
    app.post(
      '/v1/codes/register',
      {
        config: { auth: 'write_key' },
        schema: {
          tags: ['codes'],
          summary: 'Register a code for a person (write key as the HTTP Basic user, as the tracking API)',
          description:
            "Unknown, used, expired and other workspaces' codes all get the same 422 CODE_NOT_ACCEPTED, byte for byte. A code failing its check character gets 422 CODE_TYPO. Limits: 429 TOO_MANY_ATTEMPTS with Retry-After.",
          security: [],
          body: RegisterBody,
          response: {
            200: Registered,
            400: Problem,
            401: Problem,
            404: Problem,
            409: Problem,
            422: Problem,
            429: Problem,
          },
        },
      },
      async (request, reply) => {
        let key: string | undefined;
        const header = request.headers.authorization;
        if (header?.startsWith('Basic ')) key = Buffer.from(header.slice(6), 'base64').toString('utf8').split(':')[0];
        const body = request.body as RegisterBody;
        key ||= body.writeKey;
        if (!key)
          throw new DomainError(
            'unauthenticated',
            'WRITE_KEY_REQUIRED',
            'Send the write key as the HTTP Basic user name.',
          );
        const workspaceId = await workspaceOfKey(key);
        if (!workspaceId)
          throw new DomainError('unauthenticated', 'INVALID_WRITE_KEY', 'This write key is unknown or revoked.');
        const outcome = await deps.register(workspaceId, {
          code: body.code,
          phone: body.phone,
          email: body.email,
          userId: body.userId,
          anonymousId: body.anonymousId,
          promotion: body.promotion,
          consents: body.consents,
          channel: 'api',
          ...(body.placement ? { placement: body.placement } : {}),
          ip: request.ip,
          userAgent: request.headers['user-agent']?.slice(0, 300) ?? null,
        });
        if (outcome.status !== 'accepted') return refuse(request, reply, outcome);
        return {
          status: 'accepted' as const,
          registrationId: outcome.registrationId,
          promotion: { key: outcome.promotion.key, name: outcome.promotion.name },
          reward: outcome.reward,
          consents: outcome.consents,
          message: messageOf('en', outcome),
        };
      },
    );

    // ---- the hosted page: plain HTML, no script, EN and RU, for a cheap phone

    await app.register(async (pages) => {
      pages.addContentTypeParser(
        'application/x-www-form-urlencoded',
        { parseAs: 'string', bodyLimit: 8_192 },
        (_r, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
      );
      const html = 'text/html; charset=utf-8';

      const find = async (params: { workspace: string; promotion: string }) => {
        const workspace = await workspaceBySlug(params.workspace);
        if (!workspace) return null;
        const ctx = await deps.context.get(deps.db, workspace.id);
        const promotion = ctx.byKey.get(params.promotion);
        return promotion ? { workspace, promotion } : null;
      };

      const form = (
        lang: Lang,
        found: NonNullable<Awaited<ReturnType<typeof find>>>,
        values: { code?: string; phone?: string; consent?: boolean },
        message?: { ok: boolean; text: string; field?: 'code' | 'phone' },
        placement?: string | null,
      ) => {
        const t = text(lang);
        const p = found.promotion;
        // The placement that brought the person travels with the form, so that the registration is attributed.
        const m = placement ? `&m=${encodeURIComponent(placement)}` : '';
        const action = `/p/${encodeURIComponent(found.workspace.slug)}/${encodeURIComponent(p.key)}?lang=${lang}${m}`;
        const other = lang === 'en' ? 'ru' : 'en';
        const day = (local: string) =>
          new Date(`${local.slice(0, 10)}T12:00:00Z`).toLocaleDateString(lang === 'ru' ? 'ru-RU' : 'en-GB', {
            day: 'numeric',
            month: 'long',
            year: 'numeric',
            timeZone: 'UTC',
          });
        const invalid = (f: 'code' | 'phone') =>
          message && !message.ok && message.field === f ? ' aria-invalid="true" aria-describedby="msg"' : '';
        const status = message
          ? `<p id="msg" class="msg ${message.ok ? 'ok' : 'bad'}" role="${message.ok ? 'status' : 'alert'}" data-testid="message">${escapeHtml(message.text)}</p>`
          : '';
        return page(
          lang,
          p.name,
          `<h1>${escapeHtml(p.name)}</h1><p class="lead">${escapeHtml(t.intro)} ${escapeHtml(t.runs(day(p.starts_local), day(p.ends_local)))}</p>
<div class="card">${status}<form method="post" action="${action}" novalidate>
<label for="code">${t.code}<span class="hint" id="code-hint">${escapeHtml(t.codeHint)}</span></label>
<input type="text" id="code" name="code" required autocomplete="off" autocapitalize="characters" spellcheck="false" maxlength="40" aria-describedby="code-hint" value="${escapeHtml(values.code ?? '')}"${invalid('code')}>
<label for="phone">${t.phone}<span class="hint" id="phone-hint">${escapeHtml(t.phoneHint)}</span></label>
<input type="tel" id="phone" name="phone" required autocomplete="tel" inputmode="tel" maxlength="30" aria-describedby="phone-hint" value="${escapeHtml(values.phone ?? '')}"${invalid('phone')}>
<label class="check"><input type="checkbox" name="consent" value="1"${values.consent ? ' checked' : ''}> ${escapeHtml(t.consent)}</label>
<button type="submit">${t.submit}</button></form></div>
<p class="small"><a href="/p/${encodeURIComponent(found.workspace.slug)}/${encodeURIComponent(p.key)}?lang=${other}${m}" lang="${other}">${t.language}</a></p>`,
        );
      };

      const notFound = (reply: FastifyReply, lang: Lang) =>
        reply
          .code(404)
          .type(html)
          .send(page(lang, text(lang).notFound, `<h1>${escapeHtml(text(lang).notFound)}</h1>`));

      pages.get<{ Params: { workspace: string; promotion: string } }>(
        '/p/:workspace/:promotion',
        { config: { auth: 'public' }, schema: { hide: true } },
        async (request, reply) => {
          const lang = langOf(request.query, request.headers['accept-language']);
          const state = await hitRateLimit(deps.db, deps.clock, `codes-page:${request.ip}`, {
            limit: 120,
            windowSeconds: 60,
          });
          if (!state.allowed)
            return reply
              .code(429)
              .type(html)
              .send(page(lang, '429', `<p>${escapeHtml(text(lang).limited(1))}</p>`));
          const found = await find(request.params);
          if (!found) return notFound(reply, lang);
          deviceOf(request, reply);
          // A label's QR code opens the page with its code filled in (?code=); a placement's address adds ?m=.
          const query = request.query as Record<string, unknown>;
          const code = typeof query.code === 'string' ? query.code.slice(0, 40) : undefined;
          return reply.type(html).send(form(lang, found, { code }, undefined, placementParam(query)));
        },
      );

      pages.post<{ Params: { workspace: string; promotion: string }; Body: Record<string, string> }>(
        '/p/:workspace/:promotion',
        { config: { auth: 'public' }, schema: { hide: true } },
        async (request, reply) => {
          const lang = langOf(request.query, request.headers['accept-language']);
          const found = await find(request.params);
          if (!found) return notFound(reply, lang);
          const body = request.body ?? {};
          const values = {
            code: String(body.code ?? '').slice(0, 40),
            phone: String(body.phone ?? '').slice(0, 30),
            consent: body.consent === '1',
          };
          let outcome: RegistrationOutcome;
          try {
            outcome = await deps.register(found.workspace.id, {
              code: values.code,
              phone: values.phone,
              promotion: found.promotion.id,
              consents: values.consent ? [{ channel: 'sms', purpose: 'marketing', action: 'grant' }] : [],
              channel: 'page',
              ...(placementParam(request.query) ? { placement: placementParam(request.query) as string } : {}),
              ip: request.ip,
              userAgent: request.headers['user-agent']?.slice(0, 300) ?? null,
              device: deviceOf(request, reply),
            });
          } catch (error) {
            if (error instanceof DomainError && error.kind === 'invalid')
              return reply
                .type(html)
                .send(
                  form(
                    lang,
                    found,
                    values,
                    { ok: false, text: text(lang).invalidPhone, field: 'phone' },
                    placementParam(request.query),
                  ),
                );
            throw error;
          }
          const ok = outcome.status === 'accepted';
          // The page itself is fine whatever the answer about the code: 200, the answer is in the page (browsers
          // and proxies treat 4xx documents as failures).
          return reply.type(html).send(
            // Accepted: the code field is emptied for the next code, the phone kept.
            form(
              lang,
              found,
              ok ? { phone: values.phone, consent: values.consent } : values,
              {
                ok,
                text: messageOf(lang, outcome),
                field: outcome.status === 'typo' || outcome.status === 'refused' ? 'code' : undefined,
              },
              placementParam(request.query),
            ),
          );
        },
      );
    });
  };
}
