import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DomainError, notFound } from '../../platform/errors.ts';
import { actorOf, principalOf } from '../../platform/http/auth.ts';
import { Problem } from '../../platform/http/problem.ts';
import { decodeCursor, encodeCursor, PageQuery, pageOf } from '../../platform/pagination.ts';
import { describeCatalogue } from '../../platform/rules/index.ts';
import * as cardService from './loyalty.cards.ts';
import * as ledgerRepo from './loyalty.ledger.repo.ts';
import { balancesNow, idempotencyKey } from './loyalty.proof.ts';
import * as repo from './loyalty.repo.ts';
import { rewardsRoutes } from './loyalty.rewards.routes.ts';
import { EARN_FIELDS, Rule, RuleInput } from './loyalty.rules.ts';
import {
  Balance,
  Card,
  CardIssue,
  CardNumber,
  CardRange,
  CardRangeCreate,
  LedgerEntry,
  Member,
  Programme,
  ProgrammeCreate,
  ProgrammeKey,
  ProgrammeUpdate,
} from './loyalty.schemas.ts';
import * as service from './loyalty.service.ts';
import { SimulationRequest, SimulationResult, simulateRule } from './loyalty.simulate.ts';
import { tierProgress } from './loyalty.tiers.ts';
import { tillRoutes } from './loyalty.till.routes.ts';

export interface LoyaltyRouteDeps extends service.LoyaltyDeps {
  workspaceTimeZone: (workspaceId: string) => Promise<string>;
}

const programmeParams = z.object({ programme: ProgrammeKey });
const errors = { 400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem };

const rangeOut = (r: repo.RangeRow) => ({
  id: r.id,
  kind: r.kind,
  prefix: r.prefix,
  length: r.length,
  firstSerial: r.first_serial,
  lastSerial: r.last_serial,
  nextSerial: r.next_serial,
});

/** A member as the console and tills see it: balances by wallet, open lots with their dates, cards. */
export async function memberView(
  deps: service.LoyaltyDeps,
  workspaceId: string,
  programmeKey: string,
  member: repo.MemberRow,
) {
  const state = await deps.programmes.get(deps.db, workspaceId, programmeKey);
  const [balances, lots, cards, progress] = await Promise.all([
    balancesNow(deps, deps.db, workspaceId, member.id),
    ledgerRepo.openLotsOf(deps.db, workspaceId, member.id),
    repo.cardsOfMember(deps.db, workspaceId, member.id),
    tierProgress(deps, deps.db, workspaceId, state, member),
  ]);
  return {
    id: member.id,
    profileId: member.profile_id,
    programme: programmeKey,
    tier: member.tier,
    tierProgress: progress,
    joinedAt: member.joined_at.toISOString(),
    balances,
    lots: lots.map((l) => ({
      id: l.id,
      wallet: l.wallet,
      amount: Number(l.amount),
      remaining: Number(l.remaining),
      earnedAt: l.earned_at.toISOString(),
      availableAt: l.available_at.toISOString(),
      expiresAt: l.expires_at?.toISOString() ?? null,
    })),
    cards: cards.map(cardService.cardOut),
  };
}

/** Management API of the loyalty module under /api/v1/loyalty: programmes, rules, cards, members. */
export function loyaltyRoutes(deps: LoyaltyRouteDeps): FastifyPluginAsyncZod {
  return async (app) => {
    await app.register(tillRoutes(deps));
    await app.register(rewardsRoutes(deps));
    const stateOf = (workspaceId: string, key: string) => deps.programmes.get(deps.db, workspaceId, key);

    app.get(
      '/loyalty/programmes',
      {
        config: { auth: 'loyalty:read' },
        schema: {
          tags: ['loyalty'],
          summary: 'Loyalty programmes of the workspace',
          response: { 200: z.object({ items: z.array(Programme) }), 401: Problem, 403: Problem },
        },
      },
      async (request) => {
        const { workspaceId } = principalOf(request).scope;
        return { items: (await repo.listProgrammes(deps.db, workspaceId)).map(service.programmeOut) };
      },
    );

    app.post(
      '/loyalty/programmes',
      {
        config: { auth: 'loyalty:manage' },
        schema: {
          tags: ['loyalty'],
          summary: 'Create a programme (wallets, return window, points lifetime, point value)',
          body: ProgrammeCreate,
          response: { 201: Programme, ...errors },
        },
      },
      async (request, reply) => {
        const actor = actorOf(request);
        const tz = await deps.workspaceTimeZone(actor.principal.scope.workspaceId);
        const row = await service.createProgramme(deps, actor, tz, request.body);
        reply.code(201);
        return service.programmeOut(row);
      },
    );

    app.get(
      '/loyalty/programmes/:programme',
      {
        config: { auth: 'loyalty:read' },
        schema: {
          tags: ['loyalty'],
          summary: 'A programme',
          params: programmeParams,
          response: { 200: Programme, ...errors },
        },
      },
      async (request) => {
        const { workspaceId } = principalOf(request).scope;
        const row = await repo.programmeByKey(deps.db, workspaceId, request.params.programme);
        if (!row) throw notFound('Programme', 'PROGRAMME_NOT_FOUND');
        return service.programmeOut(row);
      },
    );

    app.patch(
      '/loyalty/programmes/:programme',
      {
        config: { auth: 'loyalty:manage' },
        schema: {
          tags: ['loyalty'],
          summary: 'Change a programme’s name, time zone or settings (wallets may be added, never removed)',
          params: programmeParams,
          body: ProgrammeUpdate,
          response: { 200: Programme, ...errors },
        },
      },
      async (request) =>
        service.programmeOut(
          await service.updateProgramme(deps, actorOf(request), request.params.programme, request.body),
        ),
    );

    // ---- rules

    app.get(
      '/loyalty/rule-fields',
      {
        config: { auth: 'loyalty:read' },
        schema: {
          tags: ['loyalty'],
          summary: 'The fields an earn rule’s condition may use, with their operators',
          response: { 200: z.object({ fields: z.array(z.any()) }), 401: Problem, 403: Problem },
        },
      },
      async () => ({ fields: describeCatalogue(EARN_FIELDS) }),
    );

    app.get(
      '/loyalty/programmes/:programme/rules',
      {
        config: { auth: 'loyalty:read' },
        schema: {
          tags: ['loyalty'],
          summary: 'Earn rules in evaluation order',
          params: programmeParams,
          response: { 200: z.object({ items: z.array(Rule) }), ...errors },
        },
      },
      async (request) => {
        const { workspaceId } = principalOf(request).scope;
        const state = await stateOf(workspaceId, request.params.programme);
        return { items: (await repo.listRules(deps.db, workspaceId, state.row.id)).map(service.ruleOut) };
      },
    );

    app.post(
      '/loyalty/programmes/:programme/rules',
      {
        config: { auth: 'loyalty:manage' },
        schema: {
          tags: ['loyalty'],
          summary: 'Add an earn rule (condition over the rule fields, formula, caps, date range, priority)',
          params: programmeParams,
          body: RuleInput,
          response: { 201: Rule, ...errors },
        },
      },
      async (request, reply) => {
        const rule = await service.saveRule(deps, actorOf(request), request.params.programme, request.body);
        reply.code(201);
        return service.ruleOut(rule);
      },
    );

    app.put(
      '/loyalty/programmes/:programme/rules/:id',
      {
        config: { auth: 'loyalty:manage' },
        schema: {
          tags: ['loyalty'],
          summary: 'Replace an earn rule (archive it with status "archived"; rules are never deleted)',
          params: programmeParams.extend({ id: z.uuid() }),
          body: RuleInput,
          response: { 200: Rule, ...errors },
        },
      },
      async (request) =>
        service.ruleOut(
          await service.saveRule(deps, actorOf(request), request.params.programme, request.body, request.params.id),
        ),
    );

    app.post(
      '/loyalty/programmes/:programme/rules/simulate',
      {
        config: { auth: 'loyalty:manage' },
        schema: {
          tags: ['loyalty'],
          summary: 'What a rule would have given over past transactions (alone), before it goes live',
          params: programmeParams,
          body: SimulationRequest,
          response: { 200: SimulationResult, ...errors },
        },
      },
      async (request) => {
        const { workspaceId } = principalOf(request).scope;
        const body = request.body;
        if (body.from && body.to && Date.parse(body.from) >= Date.parse(body.to))
          throw new DomainError('invalid', 'INVALID_PERIOD', 'from must be before to.');
        return simulateRule(deps, workspaceId, request.params.programme, body);
      },
    );

    // ---- card ranges and cards

    app.get(
      '/loyalty/programmes/:programme/card-ranges',
      {
        config: { auth: 'loyalty:read' },
        schema: {
          tags: ['loyalty'],
          summary: 'Card number ranges',
          params: programmeParams,
          response: { 200: z.object({ items: z.array(CardRange) }), ...errors },
        },
      },
      async (request) => {
        const { workspaceId } = principalOf(request).scope;
        const state = await stateOf(workspaceId, request.params.programme);
        return { items: (await repo.listRanges(deps.db, workspaceId, state.row.id)).map(rangeOut) };
      },
    );

    app.post(
      '/loyalty/programmes/:programme/card-ranges',
      {
        config: { auth: 'loyalty:manage' },
        schema: {
          tags: ['loyalty'],
          summary: 'Add a card number range (prefix, length, serials; the last digit is a Luhn check digit)',
          params: programmeParams,
          body: CardRangeCreate,
          response: { 201: CardRange, ...errors },
        },
      },
      async (request, reply) => {
        const range = await service.createRange(deps, actorOf(request), request.params.programme, request.body);
        reply.code(201);
        return rangeOut(range);
      },
    );

    app.post(
      '/loyalty/programmes/:programme/cards',
      {
        config: { auth: 'loyalty:operate' },
        schema: {
          tags: ['loyalty'],
          summary:
            'Issue a card: activate a pre-printed number, or the next virtual number; its QR token goes to the customer’s phone',
          params: programmeParams,
          body: CardIssue,
          response: { 200: Card, 201: Card, ...errors },
        },
      },
      async (request, reply) => {
        const key = idempotencyKey(request.headers['idempotency-key'], request.body.idempotencyKey);
        const issued = await cardService.issueCard(deps, actorOf(request), request.params.programme, {
          ...request.body,
          idempotencyKey: key,
        });
        if (issued.replayed) reply.header('idempotent-replayed', 'true');
        reply.code(201);
        return issued.card;
      },
    );

    const cardParams = z.object({ number: CardNumber });

    app.get(
      '/loyalty/cards/:number',
      {
        config: { auth: 'loyalty:read' },
        schema: {
          tags: ['loyalty'],
          summary: 'Look a customer up by card number: the card, the member, balances by wallet, lots',
          params: cardParams,
          response: { 200: z.object({ card: Card, member: Member }), ...errors },
        },
      },
      async (request) => {
        const { workspaceId } = principalOf(request).scope;
        const card = await cardService.findCard(deps, workspaceId, request.params.number);
        const member = (await repo.memberById(deps.db, workspaceId, card.member_id)) as repo.MemberRow;
        return {
          card: cardService.cardOut(card),
          member: await memberView(deps, workspaceId, card.programme_key, member),
        };
      },
    );

    app.get(
      '/loyalty/cards/:number/balance',
      {
        config: { auth: 'loyalty:read' },
        schema: {
          tags: ['loyalty'],
          summary: 'The till’s balance read: a card’s status and its member’s balances by wallet (one statement)',
          params: cardParams,
          response: {
            200: z.object({
              status: z.string(),
              programme: z.string(),
              memberId: z.uuid(),
              profileId: z.uuid(),
              balances: z.array(Balance),
            }),
            ...errors,
          },
        },
      },
      async (request) => {
        const { workspaceId } = principalOf(request).scope;
        const found = await ledgerRepo.balancesByCard(deps.db, workspaceId, request.params.number, deps.clock.now());
        if (!found) throw notFound('Card', 'CARD_NOT_FOUND');
        return found;
      },
    );

    app.post(
      '/loyalty/cards/:number/block',
      {
        config: { auth: 'loyalty:operate' },
        schema: {
          tags: ['loyalty'],
          summary: 'Block a card (lost, stolen): it can neither earn nor spend until unblocked',
          params: cardParams,
          body: z.object({ reason: z.string().trim().min(3).max(200) }).strict(),
          response: { 200: Card, ...errors },
        },
      },
      async (request) => cardService.blockCard(deps, actorOf(request), request.params.number, request.body.reason),
    );

    app.post(
      '/loyalty/cards/:number/unblock',
      {
        config: { auth: 'loyalty:operate' },
        schema: {
          tags: ['loyalty'],
          summary: 'Unblock a card (a new QR token goes to the customer’s phone)',
          params: cardParams,
          body: z.object({}).strict().optional(),
          response: { 200: Card, ...errors },
        },
      },
      async (request) => cardService.unblockCard(deps, actorOf(request), request.params.number),
    );

    app.post(
      '/loyalty/cards/:number/link',
      {
        config: { auth: 'loyalty:operate' },
        schema: {
          tags: ['loyalty'],
          summary:
            'Link a card to a person (a card sold at the till, registered later): its balance and history follow',
          params: cardParams,
          body: z.object({ profileId: z.uuid() }).strict(),
          response: { 200: Card, ...errors },
        },
      },
      async (request) => cardService.linkCard(deps, actorOf(request), request.params.number, request.body.profileId),
    );

    app.post(
      '/loyalty/cards/:number/replace',
      {
        config: { auth: 'loyalty:operate' },
        schema: {
          tags: ['loyalty'],
          summary:
            'Replace a card: a new number for the same member (balance and history stay); the old one stops working',
          params: cardParams,
          body: z.object({ number: CardNumber.optional(), reason: z.string().trim().min(3).max(200) }).strict(),
          response: { 201: Card, ...errors },
        },
      },
      async (request, reply) => {
        const card = await cardService.replaceCard(deps, actorOf(request), request.params.number, request.body);
        reply.code(201);
        return card;
      },
    );

    app.post(
      '/loyalty/cards/:number/qr',
      {
        config: { auth: 'loyalty:operate' },
        schema: {
          tags: ['loyalty'],
          summary: 'Send the card’s QR token to the customer’s phone again (a new one; staff never see it)',
          params: cardParams,
          body: z.object({}).strict().optional(),
          response: { 204: z.null(), ...errors },
        },
      },
      async (request, reply) => {
        await cardService.resendQr(deps, actorOf(request), request.params.number);
        return reply.code(204).send(null);
      },
    );

    // ---- members

    const memberParams = programmeParams.extend({ profileId: z.uuid() });
    const memberOfProfile = async (workspaceId: string, programme: string, profileId: string) => {
      const state = await stateOf(workspaceId, programme);
      const live = await deps.profiles.directory.liveProfileId(deps.db, workspaceId, profileId);
      const member = live ? await repo.memberOfProfile(deps.db, workspaceId, state.row.id, live) : undefined;
      if (!member) throw notFound('Member', 'MEMBER_NOT_FOUND');
      return member;
    };

    app.get(
      '/loyalty/programmes/:programme/members/:profileId',
      {
        config: { auth: 'loyalty:read' },
        schema: {
          tags: ['loyalty'],
          summary: 'A profile’s membership: balances by wallet, lots with availability and expiry dates, cards',
          params: memberParams,
          response: { 200: Member, ...errors },
        },
      },
      async (request) => {
        const { workspaceId } = principalOf(request).scope;
        const { programme, profileId } = request.params;
        return memberView(deps, workspaceId, programme, await memberOfProfile(workspaceId, programme, profileId));
      },
    );

    app.get(
      '/loyalty/programmes/:programme/members/:profileId/ledger',
      {
        config: { auth: 'loyalty:read' },
        schema: {
          tags: ['loyalty'],
          summary: 'A member’s ledger, newest first, with the reason of every entry',
          params: memberParams,
          querystring: PageQuery,
          response: { 200: pageOf(LedgerEntry), ...errors },
        },
      },
      async (request) => {
        const { workspaceId } = principalOf(request).scope;
        const { programme, profileId } = request.params;
        const member = await memberOfProfile(workspaceId, programme, profileId);
        const { limit, cursor } = request.query;
        const rows = await ledgerRepo.ledgerOf(deps.db, workspaceId, member.id, limit + 1, decodeCursor(cursor));
        const items = rows.slice(0, limit).map((e) => ({
          id: e.id,
          wallet: e.wallet,
          kind: e.kind,
          amount: Number(e.amount),
          transactionId: e.transaction_id,
          ruleId: e.rule_id,
          reverses: e.reverses,
          reason: e.reason,
          occurredAt: e.occurred_at.toISOString(),
          recordedBy: e.recorded_by,
        }));
        const last = items.at(-1);
        return { items, nextCursor: rows.length > limit && last ? encodeCursor(last.id) : null };
      },
    );

    app.get(
      '/loyalty/outbox',
      {
        config: { auth: 'workspace:manage' },
        schema: {
          tags: ['loyalty'],
          summary: 'One-time codes and QR tokens recorded by the embedded outbox (until a channel is configured)',
          querystring: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) }),
          response: {
            200: z.object({
              items: z.array(
                z.object({
                  id: z.string(),
                  profileId: z.string(),
                  channel: z.string(),
                  address: z.string(),
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
            body: r.body,
            createdAt: r.created_at.toISOString(),
          })),
        };
      },
    );
  };
}
