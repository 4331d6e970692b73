import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { notFound } from '../../platform/errors.ts';
import { actorOf, principalOf } from '../../platform/http/auth.ts';
import { Problem } from '../../platform/http/problem.ts';
import { decodeCursor, encodeCursor, PageQuery, pageOf } from '../../platform/pagination.ts';
import * as clubsRepo from './loyalty.clubs.repo.ts';
import * as clubs from './loyalty.clubs.ts';
import * as couponsRepo from './loyalty.coupons.repo.ts';
import * as coupons from './loyalty.coupons.ts';
import { idempotencyKey, requireKey } from './loyalty.proof.ts';
import * as repo from './loyalty.repo.ts';
import * as rewardsRepo from './loyalty.rewards.repo.ts';
import {
  Club,
  ClubCreate,
  ClubJoin,
  ClubUpdate,
  CouponBatch,
  CouponBatchCreate,
  CouponCheck,
  CouponRedeem,
  CouponReverse,
  CouponUse,
  CouponValidity,
  MemberClub,
  RedeemRequest,
  Redemption,
  RedemptionCancel,
  RedemptionCancelled,
  RedemptionRow,
  Reward,
  RewardCreate,
  RewardListQuery,
  RewardUpdate,
} from './loyalty.rewards.schemas.ts';
import * as rewards from './loyalty.rewards.ts';
import { ProgrammeKey } from './loyalty.schemas.ts';
import type { LoyaltyDeps } from './loyalty.service.ts';
import type { Answer } from './loyalty.till.ts';

const programmeParams = z.object({ programme: ProgrammeKey });
const idParams = programmeParams.extend({ id: z.uuid() });
const memberParams = programmeParams.extend({ profileId: z.uuid() });
const errors = { 400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem, 429: Problem };

function answer<T>(reply: FastifyReply, a: Answer<T>): T {
  if (a.replayed) reply.header('idempotent-replayed', 'true');
  reply.code(a.status);
  return a.body;
}

/**
 * Rewards catalogue, redemptions, coupons (campaign batches; validation and redemption at tills), clubs. Under
 * /api/v1. Management with loyalty:manage, reads with loyalty:read, tills and call centres with loyalty:operate.
 */
export function rewardsRoutes(deps: LoyaltyDeps): FastifyPluginAsyncZod {
  return async (app) => {
    const stateOf = (workspaceId: string, key: string) => deps.programmes.get(deps.db, workspaceId, key);
    const memberOfProfile = async (workspaceId: string, programmeKey: string, profileId: string) => {
      const state = await stateOf(workspaceId, programmeKey);
      const live = await deps.profiles.directory.liveProfileId(deps.db, workspaceId, profileId);
      const member = live ? await repo.memberOfProfile(deps.db, workspaceId, state.row.id, live) : undefined;
      if (!member) throw notFound('Member', 'MEMBER_NOT_FOUND');
      return member;
    };

    // ---- catalogue

    app.get(
      '/loyalty/programmes/:programme/rewards',
      {
        config: { auth: 'loyalty:read' },
        schema: {
          tags: ['loyalty'],
          summary: 'The rewards catalogue, with stock left and redemptions so far',
          params: programmeParams,
          querystring: RewardListQuery,
          response: { 200: pageOf(Reward), ...errors },
        },
      },
      async (request) => {
        const { workspaceId } = principalOf(request).scope;
        const state = await stateOf(workspaceId, request.params.programme);
        const { limit, cursor, status } = request.query;
        const rows = await rewardsRepo.listRewards(deps.db, workspaceId, state.row.id, {
          status,
          limit: limit + 1,
          after: decodeCursor(cursor),
        });
        const items = rows.slice(0, limit).map((r) => rewards.rewardOut(r, state.row.key));
        const last = items.at(-1);
        return { items, nextCursor: rows.length > limit && last ? encodeCursor(last.id) : null };
      },
    );

    app.post(
      '/loyalty/programmes/:programme/rewards',
      {
        config: { auth: 'loyalty:manage' },
        schema: {
          tags: ['loyalty'],
          summary: 'Add a reward: kind, names, cost, stock, per-member limit, validity, tier or club restriction',
          params: programmeParams,
          body: RewardCreate,
          response: { 201: Reward, ...errors },
        },
      },
      async (request, reply) => {
        const row = await rewards.createReward(deps, actorOf(request), request.params.programme, request.body);
        reply.code(201);
        return rewards.rewardOut(row, request.params.programme);
      },
    );

    app.get(
      '/loyalty/programmes/:programme/rewards/:id',
      {
        config: { auth: 'loyalty:read' },
        schema: { tags: ['loyalty'], summary: 'A reward', params: idParams, response: { 200: Reward, ...errors } },
      },
      async (request) => {
        const { workspaceId } = principalOf(request).scope;
        const state = await stateOf(workspaceId, request.params.programme);
        return rewards.rewardOut(
          await rewards.requireReward(deps, workspaceId, state, request.params.id),
          state.row.key,
        );
      },
    );

    app.patch(
      '/loyalty/programmes/:programme/rewards/:id',
      {
        config: { auth: 'loyalty:manage' },
        schema: {
          tags: ['loyalty'],
          summary: 'Change a reward (stock, cost, window, restrictions, status)',
          params: idParams,
          body: RewardUpdate,
          response: { 200: Reward, ...errors },
        },
      },
      async (request) => {
        const { programme, id } = request.params;
        return rewards.rewardOut(
          await rewards.updateReward(deps, actorOf(request), programme, id, request.body),
          programme,
        );
      },
    );

    app.delete(
      '/loyalty/programmes/:programme/rewards/:id',
      {
        config: { auth: 'loyalty:manage' },
        schema: {
          tags: ['loyalty'],
          summary: 'Archive a reward (redemptions keep pointing at it; it can no longer be redeemed)',
          params: idParams,
          response: { 200: Reward, ...errors },
        },
      },
      async (request) => {
        const { programme, id } = request.params;
        return rewards.rewardOut(
          await rewards.updateReward(deps, actorOf(request), programme, id, { status: 'archived' }),
          programme,
        );
      },
    );

    app.post(
      '/loyalty/programmes/:programme/rewards/:id/redeem',
      {
        config: { auth: 'loyalty:operate' },
        schema: {
          tags: ['loyalty'],
          summary:
            'Redeem a reward for a member with the customer’s proof: points burnt, stock taken, coupon issued (shown once)',
          params: idParams,
          body: RedeemRequest,
          response: { 200: Redemption, 201: Redemption, ...errors },
        },
      },
      async (request, reply) => {
        const key = requireKey(idempotencyKey(request.headers['idempotency-key'], request.body.idempotencyKey));
        const { programme, id } = request.params;
        return answer(reply, await rewards.redeemReward(deps, actorOf(request), programme, id, request.body, key));
      },
    );

    app.post(
      '/loyalty/programmes/:programme/redemptions/:id/cancel',
      {
        config: { auth: 'loyalty:operate' },
        schema: {
          tags: ['loyalty'],
          summary:
            'Cancel a redemption: points back to their lots, the unit of stock back, its coupon void (not once the coupon is used)',
          params: idParams,
          body: RedemptionCancel,
          response: { 200: RedemptionCancelled, ...errors },
        },
      },
      async (request, reply) => {
        const key = requireKey(idempotencyKey(request.headers['idempotency-key'], request.body.idempotencyKey));
        const { programme, id } = request.params;
        return answer(reply, await rewards.cancelRedemption(deps, actorOf(request), programme, id, request.body, key));
      },
    );

    app.get(
      '/loyalty/programmes/:programme/members/:profileId/redemptions',
      {
        config: { auth: 'loyalty:read' },
        schema: {
          tags: ['loyalty'],
          summary: 'A member’s redeemed rewards, newest first (coupons by their last four characters)',
          params: memberParams,
          response: { 200: z.object({ items: z.array(RedemptionRow) }), ...errors },
        },
      },
      async (request) => {
        const { workspaceId } = principalOf(request).scope;
        const { programme, profileId } = request.params;
        const member = await memberOfProfile(workspaceId, programme, profileId);
        const rows = await rewardsRepo.listRedemptions(deps.db, workspaceId, member.id, 200);
        return { items: rows.map(rewards.redemptionOut) };
      },
    );

    // ---- coupons

    app.get(
      '/loyalty/programmes/:programme/coupons/batches',
      {
        config: { auth: 'loyalty:read' },
        schema: {
          tags: ['loyalty'],
          summary: 'Campaign coupon batches, newest first',
          params: programmeParams,
          querystring: PageQuery,
          response: { 200: pageOf(CouponBatch), ...errors },
        },
      },
      async (request) => {
        const { workspaceId } = principalOf(request).scope;
        const state = await stateOf(workspaceId, request.params.programme);
        const { limit, cursor } = request.query;
        const rows = await couponsRepo.listBatches(deps.db, workspaceId, state.row.id, limit + 1, decodeCursor(cursor));
        const items = rows.slice(0, limit).map((b) => coupons.batchOut(b, state.row.currency, state.row.key));
        const last = items.at(-1);
        return { items, nextCursor: rows.length > limit && last ? encodeCursor(last.id) : null };
      },
    );

    app.post(
      '/loyalty/programmes/:programme/coupons/batches',
      {
        config: { auth: 'loyalty:manage' },
        schema: {
          tags: ['loyalty'],
          summary: 'Issue coupons for a campaign: count, value, validity (the clear list is downloaded once)',
          params: programmeParams,
          body: CouponBatchCreate,
          response: { 201: CouponBatch, ...errors },
        },
      },
      async (request, reply) => {
        const { programme } = request.params;
        const actor = actorOf(request);
        const batch = await coupons.createBatch(deps, actor, programme, request.body);
        const state = await stateOf(actor.principal.scope.workspaceId, programme);
        reply.code(201);
        return coupons.batchOut(batch, state.row.currency, programme);
      },
    );

    app.get(
      '/loyalty/programmes/:programme/coupons/batches/:id/codes.csv',
      {
        config: { auth: 'loyalty:manage' },
        schema: {
          tags: ['loyalty'],
          summary: 'The batch’s clear codes as CSV — once; a second download is 409 ALREADY_DOWNLOADED',
          params: idParams,
          response: { 200: z.string(), ...errors },
        },
      },
      async (request, reply) => {
        const { programme, id } = request.params;
        const download = await coupons.takeBatchDownload(deps, actorOf(request), programme, id);
        const { PassThrough } = await import('node:stream');
        const out = new PassThrough();
        download.write(out).then(
          () => out.end(),
          (error: unknown) => out.destroy(error as Error),
        );
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="coupons-${id.slice(0, 8)}.csv"`)
          .send(out as never);
      },
    );

    app.post(
      '/loyalty/coupons/validate',
      {
        config: { auth: 'loyalty:operate' },
        schema: {
          tags: ['loyalty'],
          summary: 'Is a coupon good for this basket? Unknown, used and expired codes get the same answer',
          body: CouponCheck,
          response: { 200: CouponValidity, ...errors },
        },
      },
      async (request) => coupons.validateCoupon(deps, actorOf(request), request.body),
    );

    app.post(
      '/loyalty/coupons/redeem',
      {
        config: { auth: 'loyalty:operate' },
        schema: {
          tags: ['loyalty'],
          summary: 'Redeem a coupon at a till, exactly once (idempotency key; records branch and cashier)',
          body: CouponRedeem,
          response: { 201: CouponUse, ...errors },
        },
      },
      async (request, reply) => {
        const key = requireKey(idempotencyKey(request.headers['idempotency-key'], request.body.idempotencyKey));
        return answer(reply, await coupons.redeemCoupon(deps, actorOf(request), request.body, key));
      },
    );

    app.post(
      '/loyalty/coupons/uses/:id/reverse',
      {
        config: { auth: 'loyalty:operate' },
        schema: {
          tags: ['loyalty'],
          summary: 'Reverse a coupon’s use (the sale was cancelled): the coupon is valid again',
          params: z.object({ id: z.uuid() }),
          body: CouponReverse,
          response: { 200: CouponUse, ...errors },
        },
      },
      async (request) => coupons.reverseCouponUse(deps, actorOf(request), request.params.id),
    );

    // ---- clubs

    app.get(
      '/loyalty/programmes/:programme/clubs',
      {
        config: { auth: 'loyalty:read' },
        schema: {
          tags: ['loyalty'],
          summary: 'Clubs of a programme, with their member counts',
          params: programmeParams,
          response: { 200: z.object({ items: z.array(Club) }), ...errors },
        },
      },
      async (request) => {
        const { workspaceId } = principalOf(request).scope;
        return { items: (await clubs.listClubs(deps, workspaceId, request.params.programme)).map(clubs.clubOut) };
      },
    );

    app.post(
      '/loyalty/programmes/:programme/clubs',
      {
        config: { auth: 'loyalty:manage' },
        schema: {
          tags: ['loyalty'],
          summary: 'Create a club (an earn multiplier for its members, club-only rewards)',
          params: programmeParams,
          body: ClubCreate,
          response: { 201: Club, ...errors },
        },
      },
      async (request, reply) => {
        const club = await clubs.createClub(deps, actorOf(request), request.params.programme, request.body);
        reply.code(201);
        return clubs.clubOut(club);
      },
    );

    app.patch(
      '/loyalty/programmes/:programme/clubs/:id',
      {
        config: { auth: 'loyalty:manage' },
        schema: {
          tags: ['loyalty'],
          summary: 'Change a club (names, multiplier, archive)',
          params: idParams,
          body: ClubUpdate,
          response: { 200: Club, ...errors },
        },
      },
      async (request) => {
        const { programme, id } = request.params;
        return clubs.clubOut(await clubs.updateClub(deps, actorOf(request), programme, id, request.body));
      },
    );

    for (const [path, summary, run] of [
      ['join', 'A member joins a club (audited)', clubs.joinClub],
      ['leave', 'A member leaves a club (audited)', clubs.leaveClub],
    ] as const) {
      app.post(
        `/loyalty/programmes/:programme/clubs/:id/${path}`,
        {
          config: { auth: 'loyalty:operate' },
          schema: {
            tags: ['loyalty'],
            summary,
            params: idParams,
            body: ClubJoin,
            response: { 200: z.object({ clubs: z.array(MemberClub) }), ...errors },
          },
        },
        async (request) => {
          const actor = actorOf(request);
          const { programme, id } = request.params;
          const { member } = await run(deps, actor, programme, id, request.body.customer);
          return { clubs: await memberClubs(actor.principal.scope.workspaceId, member.id) };
        },
      );
    }

    const memberClubs = async (workspaceId: string, memberId: string) =>
      (await clubsRepo.clubsOfMember(deps.db, workspaceId, memberId))
        .filter((c) => c.status === 'active')
        .map((c) => ({
          clubId: c.club_id,
          key: c.key,
          nameEn: c.name_en,
          nameRu: c.name_ru,
          joinedAt: c.joined_at.toISOString(),
        }));

    app.get(
      '/loyalty/programmes/:programme/members/:profileId/clubs',
      {
        config: { auth: 'loyalty:read' },
        schema: {
          tags: ['loyalty'],
          summary: 'The clubs a member belongs to',
          params: memberParams,
          response: { 200: z.object({ clubs: z.array(MemberClub) }), ...errors },
        },
      },
      async (request) => {
        const { workspaceId } = principalOf(request).scope;
        const { programme, profileId } = request.params;
        const member = await memberOfProfile(workspaceId, programme, profileId);
        return { clubs: await memberClubs(workspaceId, member.id) };
      },
    );
  };
}
