import { PassThrough } from 'node:stream';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../../platform/db.ts';
import { type Actor, actorOf, principalOf } from '../../platform/http/auth.ts';
import { Problem } from '../../platform/http/problem.ts';
import { decodeCursor, pageOf, toPage } from '../../platform/pagination.ts';
import { maskEmail, maskPhone, seesPii } from '../profiles/index.ts';
import * as repo from './forms.repo.ts';
import {
  Form,
  FormCreate,
  FormDefinition,
  FormResults,
  FormSummaryRow,
  Submission,
  SubmissionsQuery,
} from './forms.schemas.ts';
import * as service from './forms.service.ts';

/** The org module's recordAudit: staff actions recorded in their own statement or transaction. */
export type AuditRecorder = (
  db: Db,
  actor: Actor,
  action: string,
  target: { kind: string; id: string } | null,
  details?: Record<string, unknown>,
) => Promise<void>;

/** The org module's readAudit: staff reads of personal data. */
export interface ReadAuditRecorder {
  record(
    actor: Actor,
    action: string,
    target: { kind: string; id: string } | null,
    details?: Record<string, unknown>,
  ): Promise<void>;
}

export interface FormsRouteDeps extends service.FormsDeps {
  audit: AuditRecorder;
  readAudit: ReadAuditRecorder;
}

const errors = { 400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem };
const idParams = z.object({ id: z.uuid() });

/** Answers that identify the person, masked for readers without profiles:read_pii. */
function masked(form: repo.FormRow, s: Submission, pii: boolean): Submission {
  if (pii) return s;
  const answers = { ...s.answers };
  for (const f of (form.definition as FormDefinition).fields) {
    const v = answers[f.key];
    if (typeof v !== 'string' || f.maps.to !== 'identity') continue;
    answers[f.key] = f.maps.identity === 'email' ? maskEmail(v) : f.maps.identity === 'phone' ? maskPhone(v) : '***';
  }
  return { ...s, answers };
}

/** Management API under /api/v1/forms. */
export function formsRoutes(deps: FormsRouteDeps): FastifyPluginAsyncZod {
  return async (app) => {
    const out = async (workspaceId: string, row: repo.FormRow) =>
      service.formOut(deps, row, await repo.countSubmissions(deps.db, workspaceId, row.id));

    app.get(
      '/forms',
      {
        config: { auth: 'forms:read' },
        schema: {
          tags: ['forms'],
          summary: 'Forms and surveys of the workspace, newest first, with their submission counts',
          response: { 200: z.object({ items: z.array(FormSummaryRow) }), ...errors },
        },
      },
      async (request) => {
        const { workspaceId } = principalOf(request).scope;
        const rows = await repo.listForms(deps.db, workspaceId);
        const items = await Promise.all(rows.map((r) => service.formOut(deps, r, Number(r.submissions ?? 0))));
        return { items: items.map(({ definition: _d, ...rest }) => rest) };
      },
    );

    app.post(
      '/forms',
      {
        config: { auth: 'forms:manage' },
        schema: {
          tags: ['forms'],
          summary: 'Create a form or survey (a draft: publish it to open its page)',
          body: FormCreate,
          response: { 201: Form, ...errors },
        },
      },
      async (request, reply) => {
        const actor = actorOf(request);
        const { workspaceId } = actor.principal.scope;
        const row = await deps.db.transaction().execute(async (trx) => {
          const created = await service.createForm(trx, workspaceId, request.body);
          await deps.audit(trx, actor, 'forms.create', { kind: 'form', id: created.id }, { key: created.key });
          return created;
        });
        return reply.code(201).send(await out(workspaceId, row));
      },
    );

    app.get(
      '/forms/:id',
      {
        config: { auth: 'forms:read' },
        schema: {
          tags: ['forms'],
          summary: 'A form with its current definition',
          params: idParams,
          response: { 200: Form, ...errors },
        },
      },
      async (request) => {
        const { workspaceId } = principalOf(request).scope;
        return out(workspaceId, await service.requireForm(deps.db, workspaceId, request.params.id));
      },
    );

    app.put(
      '/forms/:id',
      {
        config: { auth: 'forms:manage' },
        schema: {
          tags: ['forms'],
          summary: 'Change the definition; a version that has been live is kept and the change becomes a new version',
          params: idParams,
          body: FormDefinition,
          response: { 200: Form, ...errors },
        },
      },
      async (request) => {
        const actor = actorOf(request);
        const { workspaceId } = actor.principal.scope;
        const row = await deps.db.transaction().execute(async (trx) => {
          const updated = await service.updateForm(trx, workspaceId, request.params.id, request.body);
          await deps.audit(trx, actor, 'forms.update', { kind: 'form', id: updated.id }, { version: updated.version });
          return updated;
        });
        return out(workspaceId, row);
      },
    );

    for (const [action, change] of [
      ['publish', (trx: Db, ws: string, id: string) => service.publishForm(deps, trx, ws, id)],
      ['close', service.closeForm],
    ] as const) {
      app.post(
        `/forms/:id/${action}`,
        {
          config: { auth: 'forms:manage' },
          schema: {
            tags: ['forms'],
            summary: action === 'publish' ? 'Open the form: its page and endpoint take answers' : 'Stop taking answers',
            params: idParams,
            response: { 200: Form, ...errors },
          },
        },
        async (request) => {
          const actor = actorOf(request);
          const { workspaceId } = actor.principal.scope;
          const row = await deps.db.transaction().execute(async (trx) => {
            const changed = await change(trx, workspaceId, request.params.id);
            await deps.audit(
              trx,
              actor,
              `forms.${action}`,
              { kind: 'form', id: changed.id },
              { version: changed.version },
            );
            return changed;
          });
          return out(workspaceId, row);
        },
      );
    }

    app.get(
      '/forms/:id/submissions',
      {
        config: { auth: 'forms:read' },
        schema: {
          tags: ['forms'],
          summary: 'Submissions, newest first (cursor-paginated); e-mails and phones masked without profiles:read_pii',
          params: idParams,
          querystring: SubmissionsQuery,
          response: { 200: pageOf(Submission), ...errors },
        },
      },
      async (request) => {
        const actor = actorOf(request);
        const { workspaceId } = actor.principal.scope;
        const form = await service.requireForm(deps.db, workspaceId, request.params.id);
        const { limit, cursor } = request.query;
        const rows = await repo.listSubmissions(deps.db, workspaceId, form.id, limit + 1, decodeCursor(cursor));
        const page = toPage(rows.map(service.submissionOut), limit);
        const pii = seesPii(actor.principal);
        await deps.readAudit.record(
          actor,
          'forms.submissions.read',
          { kind: 'form', id: form.id },
          {
            count: page.items.length,
            pii,
          },
        );
        return { ...page, items: page.items.map((s) => masked(form, s, pii)) };
      },
    );

    app.get(
      '/forms/:id/submissions.csv',
      {
        config: { auth: 'forms:read' },
        schema: {
          tags: ['forms'],
          summary: 'Every submission as CSV (audited as an access to personal data)',
          params: idParams,
          response: { 200: z.string(), ...errors },
        },
      },
      async (request, reply) => {
        const actor = actorOf(request);
        const { workspaceId } = actor.principal.scope;
        const form = await service.requireForm(deps.db, workspaceId, request.params.id);
        const pii = seesPii(actor.principal);
        await deps.readAudit.record(actor, 'forms.submissions.export', { kind: 'form', id: form.id }, { pii });
        const header = service.csvHeader(form);
        const stream = new PassThrough();
        void (async () => {
          stream.write(`\ufeff${header.line}`);
          let before: string | undefined;
          for (;;) {
            const rows = await repo.listSubmissions(deps.db, workspaceId, form.id, 1000, before);
            for (const r of rows) stream.write(service.csvLine(header, masked(form, service.submissionOut(r), pii)));
            if (rows.length < 1000) break;
            before = rows.at(-1)?.id;
          }
          stream.end();
        })().catch((error: unknown) => stream.destroy(error as Error));
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="${form.key}-submissions.csv"`)
          .send(stream as never);
      },
    );

    app.get(
      '/forms/:id/results',
      {
        config: { auth: 'forms:read' },
        schema: {
          tags: ['forms'],
          summary: 'Per question: answers, counts per option and rating, average rating',
          params: idParams,
          response: { 200: FormResults, ...errors },
        },
      },
      async (request) => {
        const { workspaceId } = principalOf(request).scope;
        const form = await service.requireForm(deps.db, workspaceId, request.params.id);
        return service.formResults(deps.db, workspaceId, form);
      },
    );
  };
}
