import type { FastifyPluginAsync } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import QRCode from 'qrcode';
import { z } from 'zod';
import { DomainError } from '../../platform/errors.ts';
import { actorOf, principalOf } from '../../platform/http/auth.ts';
import { Problem } from '../../platform/http/problem.ts';
import { hitRateLimit } from '../../platform/ratelimit.ts';
import type { InboundMessage, InboundOutcome } from './codes.inbound.ts';
import * as repo from './codes.placements.repo.ts';
import * as service from './codes.placements.ts';
import * as codesRepo from './codes.repo.ts';
import type { AuditRecorder } from './codes.routes.ts';
import {
  Placement,
  PlacementCreate,
  PlacementReport,
  PlacementReportQuery,
  PlacementsQuery,
  PlacementUpdate,
} from './codes.schemas.ts';

export interface PlacementRouteDeps extends service.PlacementDeps {
  audit: AuditRecorder;
  slugOf(workspaceId: string): Promise<string>;
  /** The module's inbound text handling (codes.inbound.ts): CODE …, and placement keywords. */
  handleInbound(workspaceId: string, message: InboundMessage): Promise<InboundOutcome>;
}

const errors = { 400: Problem, 401: Problem, 403: Problem, 404: Problem };
const idParams = z.object({ id: z.uuid() });
const DAY = 86_400_000;

/** Management API under /api/v1: placements, their QR codes and the report by medium. */
export function placementRoutes(deps: PlacementRouteDeps): FastifyPluginAsyncZod {
  return async (app) => {
    const out = async (workspaceId: string, row: repo.PlacementRow) =>
      service.placementOut(deps, row, await deps.slugOf(workspaceId));

    app.post(
      '/codes/placements',
      {
        config: { auth: 'codes:manage' },
        schema: {
          tags: ['codes'],
          summary: 'Create a placement (TV slot, print issue, billboard …) with its keyword, tracking address and cost',
          body: PlacementCreate,
          response: { 201: Placement, ...errors, 409: Problem },
        },
      },
      async (request, reply) => {
        const actor = actorOf(request);
        const { workspaceId } = actor.principal.scope;
        const row = await service.createPlacement(deps, workspaceId, request.body);
        await deps.audit(
          deps.db,
          actor,
          'codes.placement_create',
          { kind: 'placement', id: row.id },
          {
            keyword: row.keyword,
            medium: row.medium,
          },
        );
        reply.code(201);
        return out(workspaceId, row);
      },
    );

    app.get(
      '/codes/placements',
      {
        config: { auth: 'codes:read' },
        schema: {
          tags: ['codes'],
          summary: 'Placements, newest first (cursor-paginated)',
          querystring: PlacementsQuery,
          response: { 200: z.object({ items: z.array(Placement), nextCursor: z.string().nullable() }), ...errors },
        },
      },
      async (request) => {
        const { workspaceId } = principalOf(request).scope;
        const { limit, cursor, medium } = request.query;
        const rows = await repo.listPlacements(
          deps.db,
          workspaceId,
          { medium, before: service.decodeCursor(cursor) },
          limit,
        );
        const slug = await deps.slugOf(workspaceId);
        const last = rows.length === limit ? rows[rows.length - 1] : undefined;
        return {
          items: rows.map((r) => service.placementOut(deps, r, slug)),
          nextCursor: last ? service.encodeCursor(last) : null,
        };
      },
    );

    app.get(
      '/codes/placements/report',
      {
        config: { auth: 'codes:read' },
        schema: {
          tags: ['codes'],
          summary: 'Contacts, people, new profiles, registrations and cost per lead, per placement and per medium',
          description:
            'Contacts in [from, to) (default: the last 30 days). Cost is each placement’s whole cost; cost per lead is cost ÷ new profiles (people whose first placement contact it was), null when there is none.',
          querystring: PlacementReportQuery,
          response: { 200: PlacementReport, ...errors },
        },
      },
      async (request) => {
        const { workspaceId } = principalOf(request).scope;
        const to = request.query.to ? new Date(request.query.to) : deps.clock.now();
        const from = request.query.from ? new Date(request.query.from) : new Date(to.getTime() - 30 * DAY);
        if (from >= to) throw new DomainError('invalid', 'INVALID_PERIOD', '`from` must be before `to`.');
        const [placements, media] = await Promise.all([
          repo.reportByPlacement(deps.db, workspaceId, from, to),
          repo.reportByMedium(deps.db, workspaceId, from, to),
        ]);
        const cpl = (cost: number, leads: number) => (leads > 0 ? Math.round(cost / leads) : null);
        const figures = (r: Omit<repo.ReportRow, 'placement_id' | 'name' | 'keyword'>) => ({
          medium: r.medium,
          contacts: r.contacts,
          people: r.people,
          newProfiles: r.new_profiles,
          registrations: r.registrations,
          costMinor: r.cost_minor,
          currency: r.currency,
          costPerLeadMinor: cpl(r.cost_minor, r.new_profiles),
        });
        return {
          from: from.toISOString(),
          to: to.toISOString(),
          placements: placements.map((r) => ({
            placementId: r.placement_id,
            name: r.name,
            keyword: r.keyword,
            ...figures(r),
          })),
          media: media.map(figures),
        };
      },
    );

    app.get(
      '/codes/placements/:id',
      {
        config: { auth: 'codes:read' },
        schema: { tags: ['codes'], summary: 'A placement', params: idParams, response: { 200: Placement, ...errors } },
      },
      async (request) => {
        const { workspaceId } = principalOf(request).scope;
        return out(workspaceId, await service.requirePlacement(deps.db, workspaceId, request.params.id));
      },
    );

    app.patch(
      '/codes/placements/:id',
      {
        config: { auth: 'codes:manage' },
        schema: {
          tags: ['codes'],
          summary: 'Change a placement (name, medium, details, keyword, promotion or landing address, cost, window)',
          params: idParams,
          body: PlacementUpdate,
          response: { 200: Placement, ...errors, 409: Problem },
        },
      },
      async (request) => {
        const actor = actorOf(request);
        const { workspaceId } = actor.principal.scope;
        const row = await service.updatePlacement(deps, workspaceId, request.params.id, request.body);
        await deps.audit(
          deps.db,
          actor,
          'codes.placement_update',
          { kind: 'placement', id: row.id },
          {
            changed: Object.keys(request.body),
          },
        );
        return out(workspaceId, row);
      },
    );

    app.delete(
      '/codes/placements/:id',
      {
        config: { auth: 'codes:manage' },
        schema: {
          tags: ['codes'],
          summary: 'Delete a placement that has no contacts yet',
          params: idParams,
          response: { 204: z.null(), ...errors, 409: Problem },
        },
      },
      async (request, reply) => {
        const actor = actorOf(request);
        const { workspaceId } = actor.principal.scope;
        await service.deletePlacement(deps, workspaceId, request.params.id);
        await deps.audit(deps.db, actor, 'codes.placement_delete', { kind: 'placement', id: request.params.id });
        return reply.code(204).send(null);
      },
    );

    app.post(
      '/codes/inbound',
      {
        config: { auth: 'profiles:write' },
        schema: {
          tags: ['codes'],
          summary:
            'An inbound SMS or messenger text (gateways): "CODE 7KQ4…" registers it; a placement keyword is its contact',
          description:
            'A text starting with a placement keyword ("TV1", "TV1 7KQ4M2XD9RPT") is attributed to the placement; a code after it is registered with the placement. `reply` is what to answer the sender (null: nothing).',
          body: z.object({
            channel: z.enum(['sms', 'messenger']),
            from: z.string().min(3).max(100),
            text: z.string().max(2000),
          }),
          response: {
            200: z.object({
              action: z.enum(['registered', 'typo', 'refused', 'limited', 'contact', 'none']),
              reply: z.string().nullable(),
            }),
            ...errors,
          },
        },
      },
      async (request) => deps.handleInbound(principalOf(request).scope.workspaceId, request.body),
    );

    app.get(
      '/codes/placements/:id/qr',
      {
        config: { auth: 'codes:read' },
        schema: {
          tags: ['codes'],
          summary: 'The QR code of the placement’s tracking address (SVG, or PNG with format=png)',
          params: idParams,
          querystring: z.object({
            format: z.enum(['svg', 'png']).default('svg'),
            size: z.coerce.number().int().min(64).max(4000).default(600),
          }),
          response: errors,
        },
      },
      async (request, reply) => {
        const { workspaceId } = principalOf(request).scope;
        const row = await service.requirePlacement(deps.db, workspaceId, request.params.id);
        const { trackingUrl } = await out(workspaceId, row);
        const name = `${row.keyword.toLowerCase()}-qr.${request.query.format}`;
        reply.header('content-disposition', `inline; filename="${name}"`);
        if (request.query.format === 'png')
          return reply.type('image/png').send(
            (await QRCode.toBuffer(trackingUrl, {
              type: 'png',
              errorCorrectionLevel: 'M',
              margin: 4,
              width: request.query.size,
            })) as never,
          );
        return reply.type('image/svg+xml').send(
          (await QRCode.toString(trackingUrl, {
            type: 'svg',
            errorCorrectionLevel: 'M',
            margin: 4,
            width: request.query.size,
          })) as never,
        );
      },
    );
  };
}

/**
 * The tracking address /r/<workspace>/<keyword> (public): records a visit and redirects to the promotion's page
 * (or the landing address) with ?m=<keyword>, so that a registration there is attributed too. Rate-limited per IP
 * in the database; an ended placement still redirects (printed QR codes outlive campaigns) but counts nothing.
 */
export function trackingRoutes(
  deps: service.PlacementDeps & {
    findWorkspace(idOrSlug: string): Promise<{ id: string; slug: string } | undefined>;
  },
): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Params: { workspace: string; keyword: string } }>(
      '/r/:workspace/:keyword',
      { config: { auth: 'public' }, schema: { hide: true } },
      async (request, reply) => {
        const limit = await hitRateLimit(deps.db, deps.clock, `placement-visit:${request.ip}`, {
          limit: 120,
          windowSeconds: 60,
        });
        if (!limit.allowed) {
          reply.header('retry-after', String(limit.retryAfterSeconds));
          return reply.code(429).type('text/plain; charset=utf-8').send('Too many requests. / Слишком много запросов.');
        }
        const missing = () =>
          reply.code(404).type('text/plain; charset=utf-8').send('Not found. / Страница не найдена.');
        const keyword = service.keywordOf(request.params.keyword);
        const workspace = keyword ? await deps.findWorkspace(request.params.workspace) : undefined;
        if (!keyword || !workspace) return missing();
        const [placement] = await repo.placementsByKeywords(deps.db, workspace.id, [keyword]);
        if (!placement) return missing();
        let target: string | null = null;
        if (placement.landing_url) {
          const url = new URL(placement.landing_url);
          url.searchParams.set('m', placement.keyword);
          target = url.toString();
        } else if (placement.promotion_id) {
          const promotion = await codesRepo.promotionById(deps.db, workspace.id, placement.promotion_id);
          if (promotion)
            target = `/p/${encodeURIComponent(workspace.slug)}/${encodeURIComponent(promotion.key)}?m=${encodeURIComponent(placement.keyword)}`;
        }
        if (!target) return missing();
        await service.recordVisit(deps, workspace.id, placement);
        reply.header('cache-control', 'no-store');
        return reply.redirect(target, 302);
      },
    );
  };
}
