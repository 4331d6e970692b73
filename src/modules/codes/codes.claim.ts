import { sql } from 'kysely';
import type { Db } from '../../platform/db.ts';
import { DomainError } from '../../platform/errors.ts';
import { newId } from '../../platform/ids.ts';
import type { ConsentStatement } from '../consent/index.ts';
import type { ProfilesModule } from '../profiles/index.ts';
import {
  allowanceKeys,
  attemptRow,
  contactTraits,
  decided,
  eventOf,
  type Prepared,
  type WorkspaceContext,
} from './codes.attempt.ts';
import * as repo from './codes.repo.ts';

/**
 * Step 4 of a registration group, in one transaction: resolve the people whose codes can be claimed, claim the
 * codes, raise their allowances and record every attempt (one statement), undo the rare claims that go over an
 * allowance or the budget, record consents, enqueue the `Code Registered` events, and apply the profiles'
 * projection last. Statements per group, whatever its size: the people's resolution, one for the claims, one for
 * the job, and a budget statement per promotion that has one.
 */

export interface ClaimDeps {
  profiles: Pick<ProfilesModule, 'resolveObservations' | 'applyProjection'>;
  recordConsents: (
    trx: Db,
    workspaceId: string,
    profileId: string,
    statements: ConsentStatement[],
    proof: { ip?: string | null; userAgent?: string | null },
  ) => Promise<unknown>;
  /** The events module's `appendResolved`: the `Code Registered` events go to the timeline in the claim's transaction. */
  timeline: (
    trx: Db,
    workspaceId: string,
    items: { message: unknown; profileId: string }[],
    receivedAt: Date,
  ) => Promise<void>;
}

interface Claim {
  p: Prepared;
  redemption: repo.RedemptionWrite;
  attemptId: string;
  promotion: repo.PromotionRow;
  /** Allowance counts this claim raises, with their limits. */
  keys: { id: string; key: repo.CountKey; limit: number }[];
}

export async function commitGroup(
  deps: ClaimDeps,
  trx: Db,
  ctx: WorkspaceContext,
  workspaceId: string,
  now: Date,
  pending: Prepared[],
  before: Prepared[],
) {
  const candidates: Prepared[] = [];
  const claimedHashes = new Set<string>();
  for (const p of pending) {
    const c = p.found;
    if (!c) {
      decided(p, { status: 'refused' }, 'unknown');
      continue;
    }
    p.batchId = c.batch_id;
    p.promotionId = c.promotion_id;
    if (c.refusal) decided(p, { status: 'refused' }, c.refusal);
    // The same code twice in one group: the first one claims it.
    else if (claimedHashes.has(c.code_hash)) decided(p, { status: 'refused' }, 'used');
    else {
      claimedHashes.add(c.code_hash);
      candidates.push(p);
    }
  }

  let projection: Parameters<ClaimDeps['profiles']['applyProjection']>[2] = [];
  const claims: Claim[] = [];
  if (candidates.length > 0) {
    // Entering a code is the person's own doing: an erased person who comes back is taken in again.
    const resolution = await deps.profiles.resolveObservations(
      trx,
      workspaceId,
      candidates.map((p) => {
        const traits = contactTraits(p);
        return { ids: p.ids, traits: Object.keys(traits).length > 0 ? traits : null, at: now, channel: 'code_entry' };
      }),
      { readmit: true },
    );
    projection = resolution.projection;
    for (const [i, p] of candidates.entries()) {
      const c = p.found as repo.Candidate;
      p.profileId = resolution.profileIds[i] as string;
      const promotion =
        ctx.byId.get(c.promotion_id) ??
        ((await repo.promotionById(trx, workspaceId, c.promotion_id)) as repo.PromotionRow);
      const subjects = [`p:${p.profileId}`, ...p.idHashes.map((h) => `i:${h}`)];
      const keys = [
        ...new Map(
          subjects
            .flatMap((s) => allowanceKeys(promotion, s, p.at))
            .map(({ key, limit }) => {
              const id = repo.countKey(key.promotionId, key.subject, key.period);
              return [id, { id, key, limit }] as const;
            }),
        ).values(),
      ];
      claims.push({
        p,
        attemptId: newId(),
        promotion,
        keys,
        redemption: {
          id: newId(),
          codeHash: c.code_hash,
          promotionId: c.promotion_id,
          batchId: c.batch_id,
          profileId: p.profileId,
          channel: p.input.channel,
          reward: promotion.reward,
        },
      });
    }
  }

  const claimOf = new Map(claims.map((c) => [c.p, c]));
  const { won, raised } = await repo.claimAndRecord(
    trx,
    workspaceId,
    now,
    claims.map((c) => c.redemption),
    claims.flatMap((c) => c.keys.map(({ key }) => ({ claimId: c.redemption.id, key }))),
    [...before, ...pending].map((p) => {
      const claim = claimOf.get(p);
      return claim
        ? { ...attemptRow(p), id: claim.attemptId, profileId: p.profileId ?? null, claimId: claim.redemption.id }
        : { ...attemptRow(p), claimId: null };
    }),
  );
  const winners = claims.filter((c) => {
    if (won.has(c.redemption.id)) return true;
    decided(c.p, { status: 'refused' }, 'used');
    return false;
  });

  // Allowances: the counts now include this group's winners; walk them in order from the counts before.
  const undone: { claim: Claim; reason: string }[] = [];
  const added = new Map<string, number>();
  for (const c of winners) for (const k of c.keys) added.set(k.id, (added.get(k.id) ?? 0) + 1);
  const running = new Map([...added.entries()].map(([id, n]) => [id, (raised.get(id) ?? n) - n]));
  const giveBack = new Map<string, number>();
  for (const c of winners) {
    if (c.keys.some(({ id, limit }) => (running.get(id) ?? 0) >= limit)) {
      // Said as a refusal, not as "limit reached": that would tell a valid code from an unknown one.
      undone.push({ claim: c, reason: 'person_limit' });
      for (const { id } of c.keys) giveBack.set(id, (giveBack.get(id) ?? 0) - 1);
    } else for (const { id } of c.keys) running.set(id, (running.get(id) ?? 0) + 1);
  }
  if (giveBack.size > 0) await repo.addPersonCounts(trx, workspaceId, giveBack);

  // Budgets, under the promotion row's lock; the last claims over it are undone.
  const byPromotion = new Map<string, Claim[]>();
  for (const c of winners) {
    if (c.promotion.budget === null || undone.some((u) => u.claim === c)) continue;
    byPromotion.set(c.promotion.id, [...(byPromotion.get(c.promotion.id) ?? []), c]);
  }
  for (const [promotionId, list] of [...byPromotion.entries()].sort()) {
    const granted = await repo.takeBudget(trx, workspaceId, promotionId, list.length);
    for (const c of list.slice(granted)) undone.push({ claim: c, reason: 'budget' });
  }
  await repo.undoClaims(
    trx,
    workspaceId,
    undone.map((u) => ({ redemptionId: u.claim.redemption.id, attemptId: u.claim.attemptId, reason: u.reason })),
  );
  for (const u of undone) decided(u.claim.p, { status: 'refused' }, u.reason);

  const messages: { message: unknown; profileId: string }[] = [];
  for (const c of winners) {
    if (undone.some((u) => u.claim === c)) continue;
    const consents = await recordConsents(deps, trx, workspaceId, c.p);
    decided(
      c.p,
      {
        status: 'accepted',
        registrationId: c.redemption.id,
        promotion: { id: c.promotion.id, key: c.promotion.key, name: c.promotion.name },
        reward: c.promotion.reward,
        consents,
      },
      null,
    );
    messages.push({
      message: eventOf({ ...c.redemption, p: c.p }, c.promotion, now),
      profileId: c.redemption.profileId,
    });
  }
  // In the claim's transaction: the timeline event exists exactly when the registration does, and what listens to
  // it (loyalty earning on `Code Registered`) commits with it.
  await deps.timeline(trx, workspaceId, messages, now);
  // Last: row locks on busy profiles are held only until the commit right after.
  if (projection.length > 0) await deps.profiles.applyProjection(trx, workspaceId, projection);
}

async function recordConsents(deps: ClaimDeps, trx: Db, workspaceId: string, p: Prepared) {
  const statements = p.input.consents ?? [];
  if (statements.length === 0 || !p.profileId) return { recorded: 0, rejected: null };
  // A savepoint: consents the consent module refuses (unknown purpose …) do not cost the person their code.
  await sql`savepoint code_consents`.execute(trx);
  try {
    await deps.recordConsents(
      trx,
      workspaceId,
      p.profileId,
      statements.map((s) => ({ ...s, source: 'code_entry' }) as ConsentStatement),
      { ip: p.ip, userAgent: p.input.userAgent ?? null },
    );
    await sql`release savepoint code_consents`.execute(trx);
    return { recorded: statements.length, rejected: null };
  } catch (error) {
    await sql`rollback to savepoint code_consents`.execute(trx);
    if (error instanceof DomainError) return { recorded: 0, rejected: error.code };
    throw error;
  }
}
