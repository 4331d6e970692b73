import { PassThrough, type Readable, type Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod, ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../../platform/db.ts';
import { DomainError } from '../../platform/errors.ts';
import { type Actor, actorOf, principalOf } from '../../platform/http/auth.ts';
import { Problem } from '../../platform/http/problem.ts';
import { maskIp, seesPii } from '../profiles/index.ts';
import { type LabelOptions, LabelSheet } from './codes.labels.ts';
import { LimitSettings } from './codes.limits.ts';
import * as placementsRepo from './codes.placements.repo.ts';
import * as repo from './codes.repo.ts';
import {
  Attempt,
  AttemptsQuery,
  AttemptsSummary,
  Batch,
  BatchCreate,
  DownloadFormat,
  type ExportFormat,
  ImportResult,
  Promotion,
  PromotionCreate,
  PromotionUpdate,
} from './codes.schemas.ts';
import * as service from './codes.service.ts';

/** The org module's recordAudit: staff actions recorded in their own statement or transaction. */
export type AuditRecorder = (
  db: Db,
  actor: Actor,
  action: string,
  target: { kind: string; id: string } | null,
  details?: Record<string, unknown>,
) => Promise<void>;

export interface CodesRouteDeps extends service.CodesDeps {
  audit: AuditRecorder;
  /** The workspace's slug, for page addresses. */
  slugOf(workspaceId: string): Promise<string>;
}

const errors = { 400: Problem, 401: Problem, 403: Problem, 404: Problem };
const idParams = z.object({ id: z.uuid() });
const CodeSettings = z.object({
  guessesPerMinute: z.number().int().min(1).max(100_000),
  limits: LimitSettings,
  /** Registration attempts are purged after this many days (0 keeps them forever); 180 unless set. */
  attemptRetentionDays: z.number().int().min(0).max(3650).optional(),
});

const MAX_IMPORT_BYTES = 2 * 1024 * 1024 * 1024;

function fileName(batch: repo.BatchRow, format: string) {
  const label = (batch.label ?? 'codes').replace(/[^\w.-]+/g, '_').slice(0, 60) || 'codes';
  return `${label}-${batch.id.slice(0, 8)}.${format}`;
}

/**
 * Answers with a clear-code list as a download, written by `write` as it goes; a failure breaks the response off.
 * For `pdf`, the plain list goes through a label sheet (codes.labels.ts) that writes the PDF page by page.
 */
function streamCodes(
  reply: FastifyReply,
  batch: repo.BatchRow,
  format: DownloadFormat,
  write: (out: Writable, listFormat: ExportFormat) => Promise<unknown>,
  labels: LabelOptions,
) {
  const out = new PassThrough();
  const done =
    format === 'pdf'
      ? (async () => {
          const sheet = new LabelSheet(out, labels);
          await write(sheet, 'txt');
          sheet.end();
          await finished(sheet);
        })()
      : write(out, format);
  done.then(
    () => out.end(),
    (error: unknown) => out.destroy(error as Error),
  );
  const type =
    format === 'pdf' ? 'application/pdf' : format === 'csv' ? 'text/csv; charset=utf-8' : 'text/plain; charset=utf-8';
  return reply
    .type(type)
    .header('content-disposition', `attachment; filename="${fileName(batch, format)}"`)
    .send(out as never);
}

/** Management API under /api/v1: promotions, batches, the fraud screen. */
export function codesRoutes(deps: CodesRouteDeps): FastifyPluginAsyncZod {
  /** What a batch's labels say and where their QR codes lead: the promotion's page with the code filled in. */
  const labelsOf = async (workspaceId: string, batch: repo.BatchRow): Promise<LabelOptions> => {
    const promotion = await repo.promotionById(deps.db, workspaceId, batch.promotion_id);
    const page = `${deps.publicUrl}/p/${encodeURIComponent(await deps.slugOf(workspaceId))}/${encodeURIComponent(promotion?.key ?? '')}`;
    return {
      urlOf: (code) => `${page}?code=${code}`,
      caption: promotion?.name ?? '',
      title: batch.label ?? promotion?.name ?? 'Codes',
    };
  };
  return async (app) => {
    const promotionOut = async (workspaceId: string, row: repo.PromotionRow) =>
      service.promotionOut(deps, row, await deps.slugOf(workspaceId));

    app.get(
      '/codes/settings',
      {
        config: { auth: 'codes:read' },
        schema: {
          tags: ['codes'],
          summary: 'Limits of code entry: guesses per minute of entries naming no promotion; per person, device, IP',
          response: { 200: CodeSettings, ...errors },
        },
      },
      async (request) => {
        const { workspaceId } = principalOf(request).scope;
        const ctx = await deps.keys.of(deps.db, workspaceId).then(() => repo.ensureSettings(deps.db, workspaceId, ''));
        return {
          guessesPerMinute: ctx.guesses_per_minute,
          limits: LimitSettings.parse(ctx.limits ?? {}),
          attemptRetentionDays: await placementsRepo.retentionOf(deps.db, workspaceId),
        };
      },
    );

    app.put(
      '/codes/settings',
      {
        config: { auth: 'codes:manage' },
        schema: {
          tags: ['codes'],
          summary: 'Change the limits of code entry',
          body: CodeSettings,
          response: { 200: CodeSettings, ...errors },
        },
      },
      async (request) => {
        const actor = actorOf(request);
        const { workspaceId } = actor.principal.scope;
        await deps.keys.of(deps.db, workspaceId);
        await deps.db.transaction().execute(async (trx) => {
          await repo.updateSettings(trx, workspaceId, request.body.guessesPerMinute, request.body.limits);
          if (request.body.attemptRetentionDays !== undefined)
            await placementsRepo.setRetention(trx, workspaceId, request.body.attemptRetentionDays);
          await deps.audit(trx, actor, 'codes.settings', null, { ...request.body });
        });
        deps.invalidate(workspaceId);
        return { ...request.body, attemptRetentionDays: await placementsRepo.retentionOf(deps.db, workspaceId) };
      },
    );

    app.post(
      '/codes/promotions',
      {
        config: { auth: 'codes:manage' },
        schema: {
          tags: ['codes'],
          summary: 'Create a promotion: window in its time zone, reward, limits per person and day, budget',
          body: PromotionCreate,
          response: { 201: Promotion, ...errors, 409: Problem },
        },
      },
      async (request, reply) => {
        const actor = actorOf(request);
        const { workspaceId } = actor.principal.scope;
        const row = await service.createPromotion(deps, workspaceId, request.body);
        await deps.audit(deps.db, actor, 'codes.promotion_create', { kind: 'promotion', id: row.id }, { key: row.key });
        reply.code(201);
        return promotionOut(workspaceId, row);
      },
    );

    app.get(
      '/codes/promotions',
      {
        config: { auth: 'codes:read' },
        schema: {
          tags: ['codes'],
          summary: 'Promotions, newest first',
          response: { 200: z.object({ items: z.array(Promotion) }), ...errors },
        },
      },
      async (request) => {
        const { workspaceId } = principalOf(request).scope;
        const slug = await deps.slugOf(workspaceId);
        const rows = await repo.listPromotions(deps.db, workspaceId);
        return { items: rows.map((r) => service.promotionOut(deps, r, slug)) };
      },
    );

    app.get(
      '/codes/promotions/:id',
      {
        config: { auth: 'codes:read' },
        schema: {
          tags: ['codes'],
          summary: 'A promotion with its batches and its exposure to guessing under the current limits',
          params: idParams,
          response: {
            200: z.object({
              promotion: Promotion,
              exposure: z.object({
                attackBudget: z.number(),
                expectedGuessable: z.number(),
                oneIn: z.number().nullable(),
              }),
              batches: z.array(Batch),
            }),
            ...errors,
          },
        },
      },
      async (request) => {
        const { workspaceId } = principalOf(request).scope;
        const row = await service.requirePromotion(deps.db, workspaceId, request.params.id);
        const exposure = await service.promotionExposure(deps, workspaceId, row);
        return {
          promotion: await promotionOut(workspaceId, row),
          exposure: {
            attackBudget: exposure.attackBudget,
            expectedGuessable: exposure.expectedGuessable,
            oneIn: exposure.expectedGuessable > 0 ? Math.round(1 / exposure.expectedGuessable) : null,
          },
          batches: exposure.batches.map((b) => service.batchOut(b)),
        };
      },
    );

    app.patch(
      '/codes/promotions/:id',
      {
        config: { auth: 'codes:manage' },
        schema: {
          tags: ['codes'],
          summary: 'Change a promotion (window, reward, limits, budget; pause or resume)',
          params: idParams,
          body: PromotionUpdate,
          response: { 200: Promotion, ...errors },
        },
      },
      async (request) => {
        const actor = actorOf(request);
        const { workspaceId } = actor.principal.scope;
        const row = await service.updatePromotion(deps, workspaceId, request.params.id, request.body);
        await deps.audit(
          deps.db,
          actor,
          'codes.promotion_update',
          { kind: 'promotion', id: row.id },
          {
            changed: Object.keys(request.body),
          },
        );
        return promotionOut(workspaceId, row);
      },
    );

    app.post(
      '/codes/promotions/:id/batches',
      {
        config: { auth: 'codes:manage' },
        schema: {
          tags: ['codes'],
          summary: 'Create a batch of codes; its clear list is generated while it is downloaded, once (downloadUrl)',
          description:
            'The code length is chosen so that the codes a bot could guess within the limits over the promotion stay under 1 in 1,000 (`expectedGuessable`, `oneIn`). Nothing is generated until GET downloadUrl, which streams the codes as they are generated and stored; afterwards only the owner can export them again.',
          params: idParams,
          body: BatchCreate,
          response: { 201: z.object({ batch: Batch, downloadUrl: z.string() }), ...errors },
        },
      },
      async (request, reply) => {
        const actor = actorOf(request);
        const { workspaceId } = actor.principal.scope;
        const row = await service.createBatch(
          deps,
          workspaceId,
          request.params.id,
          request.body,
          actor.principal.actorLabel,
        );
        await deps.audit(
          deps.db,
          actor,
          'codes.batch_create',
          { kind: 'code_batch', id: row.id },
          {
            count: row.size,
            length: row.length,
          },
        );
        reply.code(201);
        return { batch: service.batchOut(row), downloadUrl: `/api/v1/codes/batches/${row.id}/download?format=csv` };
      },
    );

    app.get(
      '/codes/batches/:id',
      {
        config: { auth: 'codes:read' },
        schema: { tags: ['codes'], summary: 'A batch', params: idParams, response: { 200: Batch, ...errors } },
      },
      async (request) =>
        service.batchOut(
          await service.requireBatch(deps.db, principalOf(request).scope.workspaceId, request.params.id),
        ),
    );

    app.get(
      '/codes/batches/:id/download',
      {
        config: { auth: 'codes:manage' },
        schema: {
          tags: ['codes'],
          summary: 'Generate the batch and download its clear codes (CSV, TXT, or PDF labels with QR codes): once',
          params: idParams,
          querystring: z.object({ format: DownloadFormat.default('csv') }),
          response: { ...errors, 409: Problem },
        },
      },
      async (request, reply) => {
        const actor = actorOf(request);
        const { workspaceId } = actor.principal.scope;
        const current = await service.requireBatch(deps.db, workspaceId, request.params.id);
        const labels = await labelsOf(workspaceId, current);
        const batch = await service.claimBatch(deps, workspaceId, request.params.id);
        await deps.audit(
          deps.db,
          actor,
          'codes.batch_download',
          { kind: 'code_batch', id: batch.id },
          {
            codes: batch.size,
            format: request.query.format,
          },
        );
        return streamCodes(
          reply,
          batch,
          request.query.format,
          (out, listFormat) =>
            service.generateClaimed(deps, batch, out, listFormat).catch((error: unknown) => {
              request.log.error({ err: error, batchId: batch.id }, 'code generation failed');
              throw error;
            }),
          labels,
        );
      },
    );

    app.get(
      '/codes/batches/:id/export',
      {
        config: { auth: 'codes:export' },
        schema: {
          tags: ['codes'],
          summary: "Export a generated batch's clear codes again, as CSV, TXT or PDF labels (owner only; audited)",
          params: idParams,
          querystring: z.object({ format: DownloadFormat.default('csv') }),
          response: { ...errors, 409: Problem },
        },
      },
      async (request, reply) => {
        const actor = actorOf(request);
        const { workspaceId } = actor.principal.scope;
        const batch = await service.requireBatch(deps.db, workspaceId, request.params.id);
        if (batch.source !== 'generated' || (batch.status !== 'active' && batch.status !== 'revoked'))
          throw new DomainError(
            'conflict',
            'NOT_REEXPORTABLE',
            'Only a generated, downloaded batch can be exported again.',
          );
        await deps.audit(
          deps.db,
          actor,
          'codes.batch_export',
          { kind: 'code_batch', id: batch.id },
          {
            codes: batch.loaded,
            format: request.query.format,
          },
        );
        return streamCodes(
          reply,
          batch,
          request.query.format,
          (out, listFormat) => service.reexportBatch(deps, workspaceId, batch, out, listFormat),
          await labelsOf(workspaceId, batch),
        );
      },
    );

    app.post(
      '/codes/batches/:id/revoke',
      {
        config: { auth: 'codes:manage' },
        schema: {
          tags: ['codes'],
          summary: 'Revoke a batch (stolen or misprinted): its codes are refused from now on',
          params: idParams,
          response: { 200: Batch, ...errors, 409: Problem },
        },
      },
      async (request) => {
        const actor = actorOf(request);
        const { workspaceId } = actor.principal.scope;
        const row = await service.revokeBatch(deps, workspaceId, request.params.id);
        await deps.audit(deps.db, actor, 'codes.batch_revoke', { kind: 'code_batch', id: row.id });
        return service.batchOut(row);
      },
    );

    // Imports: the body is the file itself, read as a stream (its own scope, so other routes keep JSON).
    await app.register(async (scope) => {
      const files = scope.withTypeProvider<ZodTypeProvider>();
      files.removeAllContentTypeParsers();
      files.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
      files.post(
        '/codes/promotions/:id/imports',
        {
          config: { auth: 'codes:manage' },
          bodyLimit: MAX_IMPORT_BYTES,
          schema: {
            tags: ['codes'],
            summary: 'Import codes printed elsewhere (CSV or text, code in the first column): stored as hashes',
            params: idParams,
            querystring: z.object({ label: z.string().max(200).optional() }),
            response: { 201: ImportResult, ...errors, 413: Problem },
          },
        },
        async (request, reply) => {
          const actor = actorOf(request);
          const { workspaceId } = actor.principal.scope;
          const body = request.body as Readable | undefined;
          if (!body) throw new DomainError('invalid', 'EMPTY_FILE', 'Send the file of codes as the request body.');
          const { batch, outcome } = await service.importBatch(
            deps,
            workspaceId,
            request.params.id,
            body,
            request.query.label ?? null,
            actor.principal.actorLabel,
          );
          await deps.audit(
            deps.db,
            actor,
            'codes.batch_import',
            { kind: 'code_batch', id: batch.id },
            {
              imported: outcome.imported,
              rejected: outcome.rejected,
              duplicates: outcome.duplicates,
            },
          );
          reply.code(201);
          return {
            batch: service.batchOut(batch),
            lines: outcome.lines,
            imported: outcome.imported,
            rejected: outcome.rejected,
            duplicates: outcome.duplicates,
          };
        },
      );
    });

    app.get(
      '/codes/attempts',
      {
        config: { auth: 'codes:read' },
        schema: {
          tags: ['codes'],
          summary: 'The fraud screen: every registration attempt, newest first (IPs masked without profiles:read_pii)',
          querystring: AttemptsQuery,
          response: { 200: z.object({ items: z.array(Attempt), nextCursor: z.string().nullable() }), ...errors },
        },
      },
      async (request) => {
        const principal = principalOf(request);
        const { limit, cursor, ...filter } = request.query;
        let before: { at: Date; id: string } | undefined;
        if (cursor) {
          const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
          const date = new Date(at ?? '');
          if (!id || Number.isNaN(date.getTime()))
            throw new DomainError('invalid', 'INVALID_CURSOR', 'The cursor is not one this API issued.');
          before = { at: date, id };
        }
        const rows = await repo.listAttempts(deps.db, principal.scope.workspaceId, { ...filter, before }, limit);
        const clear = seesPii(principal);
        const last = rows.length === limit ? rows[rows.length - 1] : undefined;
        return {
          items: rows.map((r) => ({
            id: r.id,
            at: r.at.toISOString(),
            outcome: r.outcome,
            reason: r.reason,
            channel: r.channel,
            promotionId: r.promotion_id,
            ip: clear || !r.ip ? r.ip : maskIp(r.ip),
            net: r.net,
            deviceHash: r.device_hash,
            identifierKind: r.identifier_kind,
            identifierHash: r.identifier_hash,
            profileId: r.profile_id,
          })),
          nextCursor: last ? Buffer.from(`${last.at.toISOString()}|${last.id}`).toString('base64url') : null,
        };
      },
    );

    app.get(
      '/codes/attempts/summary',
      {
        config: { auth: 'codes:read' },
        schema: {
          tags: ['codes'],
          summary:
            'Registrations per minute (accepted, refused, typos, limited), by channel, and the top failing networks, identifiers and devices',
          querystring: z.object({
            minutes: z.coerce
              .number()
              .int()
              .min(1)
              .max(7 * 24 * 60)
              .default(60),
            promotionId: z.uuid().optional(),
          }),
          response: { 200: AttemptsSummary, ...errors },
        },
      },
      async (request) => {
        const { workspaceId } = principalOf(request).scope;
        const since = new Date(deps.clock.now().getTime() - request.query.minutes * 60_000);
        const [s, byMedium] = await Promise.all([
          repo.summarizeAttempts(deps.db, workspaceId, since, request.query.promotionId),
          placementsRepo.attemptsByMedium(deps.db, workspaceId, since, request.query.promotionId),
        ]);
        return {
          byMedium,
          since: since.toISOString(),
          perMinute: s.perMinute.map((m) => ({ ...m, minute: new Date(m.minute).toISOString() })),
          byChannel: s.byChannel,
          topNets: s.nets.map((n) => ({ net: n.value, failures: n.failures, accepted: n.accepted })),
          topIdentifiers: s.identifiers.map((n) => ({
            identifierHash: n.value,
            failures: n.failures,
            accepted: n.accepted,
          })),
          topDevices: s.devices.map((n) => ({ deviceHash: n.value, failures: n.failures, accepted: n.accepted })),
        };
      },
    );
  };
}
