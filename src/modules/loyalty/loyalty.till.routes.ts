import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { notFound } from '../../platform/errors.ts';
import { actorOf, principalOf } from '../../platform/http/auth.ts';
import { Problem } from '../../platform/http/problem.ts';
import { holdIfLarge } from './loyalty.approvals.ts';
import * as ledgerRepo from './loyalty.ledger.repo.ts';
import * as proof from './loyalty.proof.ts';
import { AdjustmentRequest } from './loyalty.referrals.schemas.ts';
import * as returns from './loyalty.returns.ts';
import {
  AdjustmentCreate,
  ProgrammeKey,
  PurchaseCreate,
  ReturnCreate,
  ReversalCreate,
  TransactionResult,
  VerificationRequest,
} from './loyalty.schemas.ts';
import type { LoyaltyDeps } from './loyalty.service.ts';
import * as till from './loyalty.till.ts';

const programmeParams = z.object({ programme: ProgrammeKey });
const txParams = programmeParams.extend({ id: z.uuid() });
const errors = { 400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem, 429: Problem };
const written = { 200: TransactionResult, 201: TransactionResult, ...errors };

function answer<T>(reply: FastifyReply, a: till.Answer<T>): T {
  if (a.replayed) reply.header('idempotent-replayed', 'true');
  reply.code(a.status);
  return a.body;
}

const Transaction = z
  .object({
    id: z.uuid(),
    kind: z.string(),
    memberId: z.uuid(),
    originalId: z.string().nullable(),
    externalId: z.string().nullable(),
    occurredAt: z.string(),
    recordedAt: z.string(),
    channel: z.string().nullable(),
    branch: z.string().nullable(),
    cashier: z.string().nullable(),
    recordedBy: z.string().nullable(),
    currency: z.string().nullable(),
    amount: z.number(),
    pointsSpent: z.number(),
    earned: z.number(),
    returnedAmount: z.number(),
    reversedAt: z.string().nullable(),
    lines: z.array(z.any()).nullable(),
  })
  .meta({ id: 'LoyaltyTransaction' });

/**
 * The till and e-commerce API: purchases, returns, reversals, one-time codes, adjustments. Every write takes an
 * idempotency key (the Idempotency-Key header or `idempotencyKey`): a replay answers the stored result and changes
 * nothing; the same key with a different request is 409 IDEMPOTENCY_KEY_REUSED.
 */
export function tillRoutes(deps: LoyaltyDeps): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/loyalty/programmes/:programme/purchases',
      {
        config: { auth: 'loyalty:operate' },
        schema: {
          tags: ['loyalty'],
          summary:
            'Register a purchase: lines, payment with points (with the customer’s code or QR), earning by the rules',
          params: programmeParams,
          body: PurchaseCreate,
          response: written,
        },
      },
      async (request, reply) => {
        const key = proof.requireKey(
          proof.idempotencyKey(request.headers['idempotency-key'], request.body.idempotencyKey),
        );
        const a = await till.registerPurchase(deps, actorOf(request), request.params.programme, request.body, key);
        return answer(reply, a);
      },
    );

    app.post(
      '/loyalty/programmes/:programme/transactions/:id/returns',
      {
        config: { auth: 'loyalty:operate' },
        schema: {
          tags: ['loyalty'],
          summary:
            'A return or partial refund of a purchase: points clawed back and points payments given back in proportion',
          params: txParams,
          body: ReturnCreate,
          response: written,
        },
      },
      async (request, reply) => {
        const key = proof.requireKey(
          proof.idempotencyKey(request.headers['idempotency-key'], request.body.idempotencyKey),
        );
        const { programme, id } = request.params;
        return answer(reply, await returns.registerReturn(deps, actorOf(request), programme, id, request.body, key));
      },
    );

    app.post(
      '/loyalty/programmes/:programme/transactions/:id/reverse',
      {
        config: { auth: 'loyalty:operate' },
        schema: {
          tags: ['loyalty'],
          summary: 'Reverse a transaction as a whole (a voided receipt, a cancelled registration, a wrong adjustment)',
          params: txParams,
          body: ReversalCreate,
          response: written,
        },
      },
      async (request, reply) => {
        const key = proof.requireKey(
          proof.idempotencyKey(request.headers['idempotency-key'], request.body.idempotencyKey),
        );
        const { programme, id } = request.params;
        return answer(
          reply,
          await returns.reverseTransaction(deps, actorOf(request), programme, id, request.body, key),
        );
      },
    );

    app.get(
      '/loyalty/programmes/:programme/transactions/:id',
      {
        config: { auth: 'loyalty:read' },
        schema: {
          tags: ['loyalty'],
          summary: 'A transaction',
          params: txParams,
          response: { 200: Transaction, ...errors },
        },
      },
      async (request) => {
        const { workspaceId } = principalOf(request).scope;
        const state = await deps.programmes.get(deps.db, workspaceId, request.params.programme);
        const t = await ledgerRepo.transactionById(deps.db, workspaceId, request.params.id);
        if (!t || t.programme_id !== state.row.id) throw notFound('Transaction', 'TRANSACTION_NOT_FOUND');
        return {
          id: t.id,
          kind: t.kind,
          memberId: t.member_id,
          originalId: t.original_id,
          externalId: t.external_id,
          occurredAt: t.occurred_at.toISOString(),
          recordedAt: t.recorded_at.toISOString(),
          channel: t.channel,
          branch: t.branch,
          cashier: t.cashier,
          recordedBy: t.recorded_by,
          currency: t.currency,
          amount: Number(t.amount),
          pointsSpent: Number(t.points_spent),
          earned: Number(t.earned),
          returnedAmount: Number(t.returned_amount),
          reversedAt: t.reversed_at?.toISOString() ?? null,
          lines: t.lines,
        };
      },
    );

    app.post(
      '/loyalty/programmes/:programme/verifications',
      {
        config: { auth: 'loyalty:operate' },
        schema: {
          tags: ['loyalty'],
          summary: 'Send a one-time code to the customer’s phone, to spend points (3 per customer in 10 minutes)',
          params: programmeParams,
          body: VerificationRequest,
          response: {
            201: z.object({
              verificationId: z.uuid(),
              expiresAt: z.string(),
              channel: z.literal('sms'),
              sentTo: z.string(),
            }),
            ...errors,
          },
        },
      },
      async (request, reply) => {
        const sent = await proof.sendVerification(
          deps,
          actorOf(request),
          request.params.programme,
          request.body.customer,
        );
        reply.code(201);
        return sent;
      },
    );

    app.post(
      '/loyalty/programmes/:programme/adjustments',
      {
        config: { auth: 'loyalty:manage' },
        schema: {
          tags: ['loyalty'],
          summary:
            'Credit or debit points by hand, with a reason (audited); above the approval threshold: 202, a request',
          params: programmeParams,
          body: AdjustmentCreate,
          response: { ...written, 202: AdjustmentRequest },
        },
      },
      async (request, reply) => {
        const key = proof.requireKey(
          proof.idempotencyKey(request.headers['idempotency-key'], request.body.idempotencyKey),
        );
        const held = await holdIfLarge(deps, actorOf(request), request.params.programme, request.body, key);
        if (held) return reply.code(202).send(held);
        return answer(reply, await till.adjust(deps, actorOf(request), request.params.programme, request.body, key));
      },
    );
  };
}
