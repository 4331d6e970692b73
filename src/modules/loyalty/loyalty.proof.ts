import { randomInt } from 'node:crypto';
import type { Db } from '../../platform/db.ts';
import { DomainError, notFound } from '../../platform/errors.ts';
import { newId, safeEqual, sha256Hex } from '../../platform/ids.ts';
import type { Actor } from '../../platform/principal.ts';
import { hitRateLimit, peekRateLimit } from '../../platform/ratelimit.ts';
import { maskPhone } from '../profiles/index.ts';
import * as ledgerRepo from './loyalty.ledger.repo.ts';
import * as repo from './loyalty.repo.ts';
import type { Balance, CustomerRef, Verification } from './loyalty.schemas.ts';
import type { LoyaltyDeps, ProgrammeState } from './loyalty.service.ts';

/**
 * Proof that the customer is there when points are spent (one-time codes to their phone, their card's QR token),
 * member lookups for reads, and idempotency keys of requests. A staff member alone cannot spend points: every
 * spending needs a proof that only the customer holds.
 */

/** What checking a proof needs of the change in progress; a one-time code is recorded to be used up by the apply. */
export interface ProofContext {
  db: Db;
  member: { memberId: string };
  now: Date;
  verification: { id: string; at: Date } | null;
}

export const FAILED_PROOFS = { limit: 5, windowSeconds: 900 };

/** A wrong one-time code: counted after the transaction rolled back. */
export class WrongCode extends DomainError {
  readonly verificationId: string | null;
  readonly memberId: string;
  constructor(memberId: string, verificationId: string | null) {
    super('forbidden', 'VERIFICATION_FAILED', 'The code or QR token does not match; ask the customer again.');
    this.verificationId = verificationId;
    this.memberId = memberId;
  }
}

/**
 * Checks the proof that the customer is there before points are spent: the QR token of one of their active
 * cards, or a one-time code sent to their phone (used once). Wrong proofs are limited per member.
 */
export async function checkProof(
  ctx: ProofContext,
  workspaceId: string,
  proof: Verification | undefined,
  identifiedByQr: boolean,
) {
  if (identifiedByQr) return;
  if (!proof)
    throw new DomainError(
      'forbidden',
      'VERIFICATION_REQUIRED',
      'Spending points needs the customer: their card’s QR code or a one-time code sent to their phone.',
    );
  const memberId = ctx.member.memberId;
  const limit = await peekRateLimit(ctx.db, { now: () => ctx.now }, `loyalty-proof:${memberId}`, FAILED_PROOFS);
  if (!limit.allowed)
    throw new DomainError('rate_limited', 'RATE_LIMITED', 'Too many wrong codes; try again later.', {
      retryAfterSeconds: limit.retryAfterSeconds,
    });
  if ('qr' in proof) {
    const card = await repo.cardByQr(ctx.db, workspaceId, sha256Hex(proof.qr));
    if (!card || card.member_id !== memberId || card.status !== 'active') throw new WrongCode(memberId, null);
    return;
  }
  const v = await repo.verificationById(ctx.db, workspaceId, proof.id);
  if (!v || v.member_id !== memberId) throw new WrongCode(memberId, null);
  if (v.used_at) throw new DomainError('conflict', 'VERIFICATION_USED', 'This code has been used; ask for a new one.');
  if (v.expires_at <= ctx.now)
    throw new DomainError('conflict', 'VERIFICATION_EXPIRED', 'This code has expired; ask for a new one.');
  if (v.attempts >= 5)
    throw new DomainError('conflict', 'VERIFICATION_LOCKED', 'Too many wrong tries; ask for a new code.');
  if (!safeEqual(codeHash(workspaceId, v.id, proof.code), v.code_hash)) throw new WrongCode(memberId, v.id);
  ctx.verification = { id: v.id, at: ctx.now };
}

const codeHash = (workspaceId: string, id: string, code: string) => sha256Hex(`${workspaceId}:${id}:${code}`);

// ---- one-time codes

/**
 * Sends a one-time code to the customer's phone (the embedded outbox until messaging exists): at most 3 per
 * member in 10 minutes. The till then passes `verification: {id, code}` with the spending.
 */
export async function sendVerification(deps: LoyaltyDeps, actor: Actor, programmeKey: string, customer: CustomerRef) {
  const { workspaceId } = actor.principal.scope;
  if ('qr' in customer)
    throw new DomainError('invalid', 'VERIFICATION_NOT_NEEDED', 'The QR token itself proves the customer is there.');
  const state = await deps.programmes.get(deps.db, workspaceId, programmeKey);
  const member = await memberOf(deps, deps.db, workspaceId, state, customer);
  // Per customer (no one is flooded with codes) and per key or user (no till sends codes to a whole list).
  for (const [bucket, rule] of [
    [`loyalty-otp:${member.id}`, { limit: 3, windowSeconds: 600 }],
    [`loyalty-otp-sender:${workspaceId}:${actor.principal.actorLabel}`, { limit: 300, windowSeconds: 600 }],
  ] as const) {
    const limit = await hitRateLimit(deps.db, deps.clock, bucket, rule);
    if (!limit.allowed)
      throw new DomainError('rate_limited', 'RATE_LIMITED', 'Codes were sent too often; try again later.', {
        retryAfterSeconds: limit.retryAfterSeconds,
      });
  }
  const phone = (await deps.profiles.directory.identifiersOf(deps.db, workspaceId, member.profile_id)).find(
    (i) => i.kind === 'phone',
  )?.value;
  if (!phone) throw new DomainError('conflict', 'NO_PHONE', 'The customer has no phone number to send a code to.');
  const now = deps.clock.now();
  const id = newId();
  const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
  const expiresAt = new Date(now.getTime() + state.row.settings.otpTtlSeconds * 1000);
  await deps.db.transaction().execute(async (trx) => {
    await repo.insertVerification(trx, workspaceId, {
      id,
      memberId: member.id,
      channel: 'sms',
      codeHash: codeHash(workspaceId, id, code),
      expiresAt,
      now,
    });
    await deps.sender.send(trx, workspaceId, {
      profileId: member.profile_id,
      channel: 'sms',
      address: phone,
      body: `${code} — code to spend points of ${state.row.name}. Give it only to the cashier. / ${code} — код для списания баллов «${state.row.name}». Сообщите его только кассиру.`,
      now,
    });
  });
  return { verificationId: id, expiresAt: expiresAt.toISOString(), channel: 'sms' as const, sentTo: maskPhone(phone) };
}

/** The member a till names, without locking (reads): by card, QR token or profile. */
export async function memberOf(
  deps: LoyaltyDeps,
  db: Db,
  workspaceId: string,
  state: ProgrammeState,
  customer: CustomerRef,
): Promise<repo.MemberRow> {
  if ('profileId' in customer) {
    const profileId = await deps.profiles.directory.liveProfileId(db, workspaceId, customer.profileId);
    if (!profileId) throw notFound('Profile', 'PROFILE_NOT_FOUND');
    const m = await repo.memberOfProfile(db, workspaceId, state.row.id, profileId);
    if (!m) throw notFound('Member', 'MEMBER_NOT_FOUND');
    return m;
  }
  const card =
    'card' in customer
      ? await repo.cardByNumber(db, workspaceId, customer.card)
      : await repo.cardByQr(db, workspaceId, sha256Hex(customer.qr));
  if (!card || card.programme_id !== state.row.id) throw notFound('Card', 'CARD_NOT_FOUND');
  if (card.status !== 'active')
    throw new DomainError(
      'conflict',
      card.status === 'blocked' ? 'CARD_BLOCKED' : 'CARD_REPLACED',
      `This card is ${card.status}.`,
    );
  return (await repo.memberById(db, workspaceId, card.member_id)) as repo.MemberRow;
}

/** A member's balances now (one read: the wallet rows and the member's open lots). */
export async function balancesNow(
  deps: LoyaltyDeps,
  db: Db,
  workspaceId: string,
  memberId: string,
): Promise<Balance[]> {
  const rows = await ledgerRepo.balancesOf(db, workspaceId, memberId, deps.clock.now());
  return rows.map((r) => ({
    wallet: r.wallet,
    total: r.balance,
    available: r.balance - r.pending - r.expired,
    pending: r.pending,
    expired: r.expired,
  }));
}

const KEY = /^[\x21-\x7e]{8,100}$/;

/** The idempotency key of a write: the Idempotency-Key header or the body's idempotencyKey (equal if both). */
export function idempotencyKey(header: string | string[] | undefined, field: string | undefined): string | undefined {
  const fromHeader = Array.isArray(header) ? header[0] : header;
  if (fromHeader !== undefined && !KEY.test(fromHeader))
    throw new DomainError(
      'invalid',
      'INVALID_IDEMPOTENCY_KEY',
      'An idempotency key is 8 to 100 printable ASCII characters.',
    );
  if (fromHeader && field && fromHeader !== field)
    throw new DomainError(
      'invalid',
      'IDEMPOTENCY_KEY_MISMATCH',
      'The Idempotency-Key header and idempotencyKey differ.',
    );
  return fromHeader ?? field;
}

export function requireKey(key: string | undefined): string {
  if (!key)
    throw new DomainError(
      'invalid',
      'IDEMPOTENCY_KEY_REQUIRED',
      'Send an Idempotency-Key header (or idempotencyKey): a retry with the same key changes nothing.',
    );
  return key;
}
