import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db.ts';
import { DomainError } from '../../platform/errors.ts';
import { deviceOf } from '../../platform/http/hosted.ts';
import { Problem } from '../../platform/http/problem.ts';
import { randomToken } from '../../platform/ids.ts';
import { hitRateLimit } from '../../platform/ratelimit.ts';
import { embedScript } from './forms.embed.ts';
import { escapeHtml, formPage, type Lang, langOf, local, type PageValues, page, text } from './forms.html.ts';
import * as repo from './forms.repo.ts';
import { type FieldError, type FormDefinition, SOURCE_PARAMS, SubmitBody, Submitted } from './forms.schemas.ts';
import type { SubmissionInput, SubmitOutcome } from './forms.submit.ts';

export interface ConsumerDeps {
  db: Db;
  clock: Clock;
  submit(workspaceId: string, input: SubmissionInput): Promise<SubmitOutcome>;
  /** Which workspace a write key belongs to (org's resolveWriteKey). */
  resolveWriteKey(key: string): Promise<{ workspaceId: string } | null | undefined>;
  /** A workspace by id or slug (org's findWorkspace). */
  findWorkspace(idOrSlug: string): Promise<{ id: string; slug: string } | undefined>;
}

const CACHE_MS = 5_000;
const HTML = 'text/html; charset=utf-8';

/** Write keys and workspace slugs change rarely: each process remembers them for five seconds. */
function remembered<T>(load: (key: string) => Promise<T>) {
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

/** The answers of a form as the page posts them: field keys, `consent_<key>` boxes, the rest ignored. */
function fromPage(definition: FormDefinition, body: Record<string, string | string[]>) {
  const answers: Record<string, unknown> = {};
  const consents: Record<string, unknown> = {};
  for (const f of definition.fields) {
    const v = body[f.key];
    if (v === undefined) continue;
    answers[f.key] = f.type === 'multiselect' ? (Array.isArray(v) ? v : [v]) : Array.isArray(v) ? v[0] : v;
  }
  for (const c of definition.consents) consents[c.key] = body[`consent_${c.key}`] === '1';
  return { answers, consents };
}

const first = (v: unknown) => (Array.isArray(v) ? v[0] : v);

/** Consumer endpoints at the root: POST /v1/forms/<key>/submit (write key), the hosted page and its embed script. */
export function consumerRoutes(deps: ConsumerDeps): FastifyPluginAsync {
  const workspaceOfKey = remembered(async (key) => (await deps.resolveWriteKey(key))?.workspaceId ?? null);
  const workspaceBySlug = remembered(async (slug) => (await deps.findWorkspace(slug)) ?? null);

  return async (app) => {
    const cors = (reply: FastifyReply) =>
      reply
        .header('access-control-allow-origin', '*')
        .header('access-control-allow-methods', 'POST')
        .header('access-control-allow-headers', 'authorization, content-type')
        .header('access-control-max-age', '600')
        .header('vary', 'origin');

    // The embed script posts from the brand's own site: the submit endpoint (only it) answers cross-origin calls.
    // No cookie goes with them; the write key is publishable anyway.
    app.options(
      '/v1/forms/:key/submit',
      { config: { auth: 'public' }, schema: { hide: true } },
      async (_request, reply) => cors(reply).code(204).send(),
    );

    app.post<{ Params: { key: string }; Body: SubmitBody }>(
      '/v1/forms/:key/submit',
      {
        config: { auth: 'write_key' },
        schema: {
          tags: ['forms'],
          summary: 'Submit a form or answer a survey (write key as the HTTP Basic user, as the tracking API)',
          description:
            'Answers by field key, consent boxes by their key. 400 FORM_INVALID lists each field with a stable code (REQUIRED, INVALID_EMAIL, …); 404 FORM_NOT_FOUND; 409 FORM_CLOSED; 429 TOO_MANY_SUBMISSIONS with Retry-After. A retry with the same submissionId stores nothing new and answers the same.',
          security: [],
          body: SubmitBody,
          response: { 200: Submitted, 400: Problem, 401: Problem, 404: Problem, 409: Problem, 429: Problem },
        },
      },
      async (request, reply) => {
        cors(reply);
        let key: string | undefined;
        const header = request.headers.authorization;
        if (header?.startsWith('Basic ')) key = Buffer.from(header.slice(6), 'base64').toString('utf8').split(':')[0];
        const body = request.body;
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
        try {
          const outcome = await deps.submit(workspaceId, {
            form: request.params.key,
            answers: body.answers,
            consents: body.consents,
            clientId: body.submissionId,
            source: body.source,
            anonymousId: body.anonymousId,
            channel: 'api',
            ip: request.ip,
            userAgent: request.headers['user-agent']?.slice(0, 300) ?? null,
            honeypot: body.website,
          });
          const lang: Lang = body.lang ?? 'en';
          const d = outcome.form.definition as FormDefinition;
          return {
            status: 'accepted' as const,
            submissionId: outcome.submissionId,
            version: outcome.version,
            pendingConsents: outcome.pendingConsents,
            message: local(d.texts.thankYou, lang) || text(lang).thankYou,
          };
        } catch (error) {
          if (error instanceof DomainError && error.kind === 'rate_limited')
            reply.header('retry-after', String(error.details?.retryAfterSeconds ?? 60));
          throw error;
        }
      },
    );

    // ---- the hosted page: plain HTML, no script, EN and RU

    await app.register(async (pages) => {
      pages.addContentTypeParser(
        'application/x-www-form-urlencoded',
        { parseAs: 'string', bodyLimit: 65_536 },
        (_r, body, done) => {
          const params = new URLSearchParams(body as string);
          const out: Record<string, string | string[]> = {};
          for (const key of new Set(params.keys())) {
            const all = params.getAll(key).map((v) => v.slice(0, 5000));
            out[key] = all.length > 1 ? all : (all[0] as string);
          }
          done(null, out);
        },
      );

      type Params = { workspace: string; form: string };
      const find = async (params: Params) => {
        const workspace = await workspaceBySlug(params.workspace);
        if (!workspace) return null;
        const form = await repo.findForm(deps.db, workspace.id, params.form);
        if (!form || form.status === 'draft' || !/^[a-z0-9][a-z0-9-]*$/.test(params.form)) return null;
        return { workspace, form };
      };

      const plain = (reply: FastifyReply, status: number, lang: Lang, message: string) =>
        reply
          .code(status)
          .type(HTML)
          .send(page(lang, message, `<h1>${escapeHtml(message)}</h1>`));

      /** The page's address with its query (UTM tags, placement, hidden fields) and a language. */
      const hrefOf = (request: FastifyRequest, lang: Lang) => {
        const query = new URLSearchParams();
        for (const [k, v] of Object.entries((request.query ?? {}) as Record<string, unknown>)) {
          const value = first(v);
          if (k !== 'lang' && typeof value === 'string') query.set(k, value.slice(0, 200));
        }
        query.set('lang', lang);
        return `${request.url.split('?')[0]}?${query.toString()}`;
      };

      const limited = async (request: FastifyRequest) =>
        !(await hitRateLimit(deps.db, deps.clock, `forms-page:${request.ip}`, { limit: 120, windowSeconds: 60 }))
          .allowed;

      pages.get<{ Params: Params }>(
        '/p/:workspace/f/:form',
        { config: { auth: 'public' }, schema: { hide: true } },
        async (request, reply) => {
          const lang = langOf(request.query, request.headers['accept-language']);
          if (await limited(request)) return plain(reply, 429, lang, text(lang).limited);
          const found = await find(request.params);
          if (!found) return plain(reply, 404, lang, text(lang).notFound);
          const definition = found.form.definition as FormDefinition;
          if (found.form.status === 'closed') return plain(reply, 410, lang, text(lang).closed);
          deviceOf(request, reply);
          const values: PageValues = {};
          const query = (request.query ?? {}) as Record<string, unknown>;
          for (const f of definition.fields) {
            const v = first(query[f.key]);
            if (f.type === 'hidden' && typeof v === 'string') values[f.key] = v.slice(0, 500);
          }
          return reply
            .type(HTML)
            .header('cache-control', 'no-store')
            .send(
              formPage(lang, hrefOf(request, lang), hrefOf(request, lang === 'en' ? 'ru' : 'en'), definition, {
                values,
                errors: [],
                submissionId: randomToken(24),
              }),
            );
        },
      );

      pages.post<{ Params: Params; Body: Record<string, string | string[]> }>(
        '/p/:workspace/f/:form',
        { config: { auth: 'public' }, schema: { hide: true } },
        async (request, reply) => {
          const lang = langOf(request.query, request.headers['accept-language']);
          const found = await find(request.params);
          if (!found) return plain(reply, 404, lang, text(lang).notFound);
          const definition = found.form.definition as FormDefinition;
          const body = (request.body && typeof request.body === 'object' ? request.body : {}) as Record<
            string,
            string | string[]
          >;
          const sid = first(body._sid);
          const submissionId = typeof sid === 'string' && /^[A-Za-z0-9]{8,64}$/.test(sid) ? sid : randomToken(24);
          const { answers, consents } = fromPage(definition, body);
          const render = (state: { errors?: FieldError[]; notice?: string; done?: { pendingConsents: number } }) =>
            // The answer is in the page: 200 whatever it says (browsers treat 4xx documents as failures).
            reply
              .type(HTML)
              .header('cache-control', 'no-store')
              .send(
                formPage(lang, hrefOf(request, lang), hrefOf(request, lang === 'en' ? 'ru' : 'en'), definition, {
                  values: body,
                  errors: state.errors ?? [],
                  notice: state.notice,
                  done: state.done,
                  submissionId,
                }),
              );
          try {
            const source: Record<string, unknown> = {};
            const query = (request.query ?? {}) as Record<string, unknown>;
            for (const p of SOURCE_PARAMS) source[p] = first(query[p]);
            const outcome = await deps.submit(found.workspace.id, {
              form: found.form.key,
              answers,
              consents,
              clientId: submissionId,
              source,
              channel: 'page',
              ip: request.ip,
              userAgent: request.headers['user-agent']?.slice(0, 300) ?? null,
              device: deviceOf(request, reply),
              honeypot: typeof body.website === 'string' ? body.website : undefined,
            });
            return render({ done: { pendingConsents: outcome.pendingConsents } });
          } catch (error) {
            if (!(error instanceof DomainError)) throw error;
            const t = text(lang);
            if (error.code === 'FORM_INVALID') return render({ errors: (error.details?.errors ?? []) as FieldError[] });
            if (error.kind === 'rate_limited') return render({ notice: t.limited });
            if (error.code === 'FORM_CLOSED') return render({ notice: t.closed });
            return render({ notice: error.message });
          }
        },
      );

      pages.get<{ Params: Params }>(
        '/p/:workspace/f/:form/embed.js',
        { config: { auth: 'public' }, schema: { hide: true } },
        async (request, reply) => {
          const found = await find(request.params);
          reply
            .type('text/javascript; charset=utf-8')
            // Loaded by the brand's own pages, from another origin.
            .header('cross-origin-resource-policy', 'cross-origin')
            .header('cache-control', 'public, max-age=60');
          if (found?.form.status !== 'live')
            return reply.code(404).send('console.warn("Rapport: this form is not live.");\n');
          return reply.send(
            embedScript({
              submitPath: `/v1/forms/${encodeURIComponent(found.form.key)}/submit`,
              definition: found.form.definition as FormDefinition,
            }),
          );
        },
      );
    });
  };
}
