import type { FastifyPluginAsync } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../../platform/db.ts';
import { notFound } from '../../platform/errors.ts';
import { actorOf, principalOf } from '../../platform/http/auth.ts';
import { Problem } from '../../platform/http/problem.ts';
import { decodeCursor, encodeCursor, pageOf } from '../../platform/pagination.ts';
import { hitRateLimit } from '../../platform/ratelimit.ts';
import * as approvals from './loyalty.approvals.ts';
import { balancesNow } from './loyalty.proof.ts';
import * as refRepo from './loyalty.referrals.repo.ts';
import {
  AdjustmentDecision,
  AdjustmentRequest,
  AdjustmentRequestStatus,
  InviteCode,
  MemberLookup,
  Referral,
  ReferralCreate,
  ReferralQuery,
  ReferralReview,
} from './loyalty.referrals.schemas.ts';
import * as referrals from './loyalty.referrals.ts';
import { ProgrammeKey } from './loyalty.schemas.ts';
import type { LoyaltyDeps } from './loyalty.service.ts';

const programmeParams = z.object({ programme: ProgrammeKey });
const errors = { 400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem };

function page<T extends { id: string }>(items: T[], limit: number) {
  const shown = items.slice(0, limit);
  const last = shown[shown.length - 1];
  return { items: shown, nextCursor: items.length > limit && last ? encodeCursor(last.id) : null };
}

/** Referrals, approvals of large adjustments and the member lookup, under /api/v1. */
export function referralRoutes(deps: LoyaltyDeps): FastifyPluginAsyncZod {
  return async (app) => {
    const memberParams = programmeParams.extend({ profileId: z.uuid() });

    app.get(
      '/loyalty/programmes/:programme/members/:profileId/referral',
      {
        config: { auth: 'loyalty:read' },
        schema: {
          tags: ['loyalty'],
          summary: 'The member’s personal invite code and link (null until one is made)',
          params: memberParams,
          response: { 200: InviteCode.nullable(), ...errors },
        },
      },
      async (request) => {
        const { workspaceId } = principalOf(request).scope;
        const { programme, profileId } = request.params;
        return (await referrals.inviteCode(deps, workspaceId, programme, profileId, false)).code;
      },
    );

    app.post(
      '/loyalty/programmes/:programme/members/:profileId/referral',
      {
        config: { auth: 'loyalty:operate' },
        schema: {
          tags: ['loyalty'],
          summary: 'Make the member’s invite code (once; later calls answer the same code)',
          params: memberParams,
          body: z.object({}).strict().optional(),
          response: { 200: InviteCode, 201: InviteCode, ...errors },
        },
      },
      async (request, reply) => {
        const { workspaceId } = principalOf(request).scope;
        const { programme, profileId } = request.params;
        const made = await referrals.inviteCode(deps, workspaceId, programme, profileId, true);
        reply.code(made.created ? 201 : 200);
        return made.code as InviteCode;
      },
    );

    app.get(
      '/loyalty/programmes/:programme/referrals',
      {
        config: { auth: 'loyalty:read' },
        schema: {
          tags: ['loyalty'],
          summary: 'Referrals of the programme, newest first (filter by status or by a profile on either side)',
          params: programmeParams,
          querystring: ReferralQuery,
          response: { 200: pageOf(Referral), ...errors },
        },
      },
      async (request) => {
        const actor = actorOf(request);
        const { workspaceId } = actor.principal.scope;
        const state = await deps.programmes.get(deps.db, workspaceId, request.params.programme);
        const q = request.query;
        const rows = await refRepo.listReferrals(deps.db, workspaceId, state.row.id, {
          status: q.status,
          profileId: q.profileId,
          after: decodeCursor(q.cursor),
          limit: q.limit,
        });
        const shown = rows.slice(0, q.limit);
        const names = await deps.profiles.namesFor(
          actor,
          workspaceId,
          shown.flatMap((r) => [r.referrer_profile_id, r.invitee_profile_id]),
          'loyalty.referrals',
        );
        return page(
          rows.map((r) => ({
            ...referrals.referralOut(r),
            referrerName: names.get(r.referrer_profile_id) ?? null,
            inviteeName: names.get(r.invitee_profile_id) ?? null,
          })),
          q.limit,
        );
      },
    );

    app.post(
      '/loyalty/programmes/:programme/referrals',
      {
        config: { auth: 'loyalty:operate' },
        schema: {
          tags: ['loyalty'],
          summary: 'Record that a person came with an invite code (screened for self-referral and rings; audited)',
          params: programmeParams,
          body: ReferralCreate,
          response: { 201: Referral, ...errors },
        },
      },
      async (request, reply) => {
        const made = await referrals.recordReferral(deps, actorOf(request), request.params.programme, request.body);
        reply.code(201);
        return made;
      },
    );

    app.post(
      '/loyalty/programmes/:programme/referrals/:id/review',
      {
        config: { auth: 'loyalty:manage' },
        schema: {
          tags: ['loyalty'],
          summary: 'Approve or reject a referral held for review (audited)',
          params: programmeParams.extend({ id: z.uuid() }),
          body: ReferralReview,
          response: { 200: Referral, ...errors },
        },
      },
      async (request) =>
        referrals.reviewReferral(deps, actorOf(request), request.params.programme, request.params.id, request.body),
    );

    app.get(
      '/loyalty/adjustment-requests',
      {
        config: { auth: 'loyalty:manage' },
        schema: {
          tags: ['loyalty'],
          summary: 'Manual adjustments above a programme’s approval threshold, newest first (pending by default)',
          querystring: z.object({
            status: AdjustmentRequestStatus.default('pending'),
            limit: z.coerce.number().int().min(1).max(200).default(50),
            cursor: z.string().max(200).optional(),
          }),
          response: { 200: pageOf(AdjustmentRequest), ...errors },
        },
      },
      async (request) => {
        const { workspaceId } = principalOf(request).scope;
        const q = request.query;
        const items = await approvals.listRequests(deps, workspaceId, {
          status: q.status,
          after: decodeCursor(q.cursor),
          limit: q.limit,
        });
        return page(items, q.limit);
      },
    );

    app.post(
      '/loyalty/adjustment-requests/:id/decision',
      {
        config: { auth: 'loyalty:manage' },
        schema: {
          tags: ['loyalty'],
          summary: 'Approve (applied once, with its original idempotency key) or reject a pending adjustment',
          params: z.object({ id: z.uuid() }),
          body: AdjustmentDecision,
          response: { 200: AdjustmentRequest, ...errors },
        },
      },
      async (request) => approvals.decide(deps, actorOf(request), request.params.id, request.body),
    );

    app.get(
      '/loyalty/members',
      {
        config: { auth: 'loyalty:read' },
        schema: {
          tags: ['loyalty'],
          summary: 'The programmes a profile is a member of, with balances and tier',
          querystring: z.object({ profileId: z.uuid() }),
          response: { 200: MemberLookup, ...errors },
        },
      },
      async (request) => {
        const { workspaceId } = principalOf(request).scope;
        const live = await deps.profiles.directory.liveProfileId(deps.db, workspaceId, request.query.profileId);
        if (!live) throw notFound('Profile', 'PROFILE_NOT_FOUND');
        const members = await refRepo.membershipsOf(deps.db, workspaceId, live);
        return {
          profileId: live,
          memberships: await Promise.all(
            members.map(async (m) => ({
              programme: m.programme_key,
              programmeName: m.programme_name,
              memberId: m.id,
              tier: m.tier,
              joinedAt: m.joined_at.toISOString(),
              balances: await balancesNow(deps, deps.db, workspaceId, m.id),
            })),
          ),
        };
      },
    );
  };
}

const INVITE_LIMIT = { limit: 60, windowSeconds: 60 };
const REF_COOKIE = 'rapport_ref';

/**
 * The public invite link `/i/:workspace/:code`: rate-limited per IP, sets a first-party cookie with the code and
 * redirects to the programme's landing URL (http(s) only) with `?ref=<code>`. Register at the root.
 */
export function invitePages(deps: Pick<LoyaltyDeps, 'db' | 'clock' | 'programmes'>): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Params: { workspace: string; code: string } }>(
      '/i/:workspace/:code',
      { config: { auth: 'public' }, schema: { hide: true } },
      async (request, reply) => {
        const limited = await hitRateLimit(deps.db, deps.clock, `loyalty-invite:${request.ip}`, INVITE_LIMIT);
        if (!limited.allowed)
          return reply.code(429).header('retry-after', String(limited.retryAfterSeconds)).send('Too many requests');
        const target = await landingOf(deps, request.params.workspace, request.params.code);
        if (!target) return reply.code(404).type('text/plain; charset=utf-8').send('Unknown invite link');
        reply.setCookie(REF_COOKIE, target.code, {
          path: '/',
          httpOnly: false,
          sameSite: 'lax',
          maxAge: 30 * 24 * 3600,
        });
        return reply.redirect(target.url, 302);
      },
    );
  };
}

async function landingOf(deps: Pick<LoyaltyDeps, 'db' | 'programmes'>, workspace: string, raw: string) {
  if (!/^[0-9a-f-]{36}$/i.test(workspace)) return null;
  const code = referrals.parseInviteCode(raw);
  if (!code) return null;
  const db: Db = deps.db;
  const owner = await refRepo.inviteCodeByCode(db, workspace, code);
  if (!owner) return null;
  const state = await deps.programmes.get(db, workspace, owner.programme_key);
  const landing = state.row.settings.referrals?.landingUrl;
  if (!landing) return null;
  const url = new URL(landing);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  url.searchParams.set('ref', code);
  return { code, url: url.toString() };
}
