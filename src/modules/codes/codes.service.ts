import { randomBytes } from 'node:crypto';
import type { Writable } from 'node:stream';
import type { Clock } from '../../platform/clock.ts';
import {
  ALPHABET,
  checkCharacter,
  chooseLength,
  expectedGuesses,
  formatCode,
  promotionMinutes,
} from '../../platform/codes/alphabet.ts';
import { CodeCmac } from '../../platform/codes/cmac.ts';
import { CodeHasher, type CodeMac } from '../../platform/codes/hash.ts';
import { keyDeriver, newSecret, sealer } from '../../platform/codes/keys.ts';
import type { Database, Db } from '../../platform/db.ts';
import { DomainError, notFound } from '../../platform/errors.ts';
import { newId } from '../../platform/ids.ts';
import type { Logger } from '../../platform/logger.ts';
import {
  type BulkTarget,
  CHUNK_CODES,
  generateCodes,
  type ImportOutcome,
  importCodes,
  openBulkTargets,
  replayCodes,
} from './codes.bulk.ts';
import * as repo from './codes.repo.ts';
import type {
  Batch,
  BatchCreate,
  ExportFormat,
  Promotion,
  PromotionCreate,
  PromotionUpdate,
  Reward,
} from './codes.schemas.ts';

export interface CodesDeps {
  db: Db;
  database: Database;
  clock: Clock;
  logger?: Logger;
  /** Base of the hosted page addresses. */
  publicUrl: string;
  keys: KeyRing;
  /** Forgets what this process cached about a workspace's promotions (after a change). */
  invalidate(workspaceId: string): void;
}

// ---- keys

export interface WorkspaceKeys {
  /** Hashes codes: AES-CMAC or, in workspaces older than it, HMAC-SHA-256; first 64 bits. */
  hasher: CodeMac;
  /** Hashes identifiers, devices and IPs for rate-limit buckets and the fraud screen. */
  identify(value: string): string;
  /** Seals and unseals batch seeds (AES-256-GCM). */
  seal(seed: Buffer): string;
  unseal(sealed: string): Buffer;
}

export interface KeyRing {
  of(db: Db, workspaceId: string): Promise<WorkspaceKeys>;
}

/**
 * The workspace's code keys, derived from one CSPRNG secret kept in `code_settings` (created on first use, never
 * shown). Keys never change, so each process keeps them once read.
 */
export function createKeyRing(): KeyRing {
  const known = new Map<string, WorkspaceKeys>();
  return {
    async of(db, workspaceId) {
      const hit = known.get(workspaceId);
      if (hit) return hit;
      const settings = await repo.ensureSettings(db, workspaceId, newSecret());
      const derive = keyDeriver(Buffer.from(settings.secret, 'base64url'));
      const identifiers = new CodeHasher(derive('rapport/codes/identifier'));
      // Addresses and networks repeat (a crowd behind one carrier): their hashes are kept for a while.
      const seen = new Map<string, string>();
      const keys: WorkspaceKeys = {
        hasher:
          settings.code_mac === 'aes-cmac'
            ? new CodeCmac(derive('rapport/codes/cmac'))
            : new CodeHasher(derive('rapport/codes/hash')),
        identify: (value) => {
          if (!value.startsWith('ip:') && !value.startsWith('net:')) return identifiers.hex128(value);
          let hit = seen.get(value);
          if (!hit) {
            if (seen.size > 50_000) seen.clear();
            hit = identifiers.hex128(value);
            seen.set(value, hit);
          }
          return hit;
        },
        ...sealer(derive('rapport/codes/seal')),
      };
      known.set(workspaceId, keys);
      return keys;
    },
  };
}

// ---- promotions

export function promotionOut(deps: Pick<CodesDeps, 'publicUrl'>, row: repo.PromotionRow, slug: string): Promotion {
  return {
    id: row.id,
    key: row.key,
    name: row.name,
    timeZone: row.time_zone,
    startsAt: row.starts_local,
    endsAt: row.ends_local,
    startsAtUtc: row.starts_at.toISOString(),
    endsAtUtc: row.ends_at.toISOString(),
    reward: row.reward,
    perPersonPerDay: row.per_person_per_day,
    perPersonTotal: row.per_person_total,
    budget: row.budget,
    budgetUsed: row.budget_used,
    guessesPerMinute: row.guesses_per_minute,
    status: row.status,
    pageUrl: `${deps.publicUrl}/p/${slug}/${row.key}`,
    createdAt: row.created_at.toISOString(),
  };
}

function checkWindow(startsAt: string, endsAt: string) {
  if (endsAt <= startsAt)
    throw new DomainError('invalid', 'INVALID_WINDOW', 'The promotion must end after it starts.', {
      errors: [{ path: 'body.endsAt', message: 'must be after startsAt' }],
    });
}

export async function createPromotion(deps: CodesDeps, workspaceId: string, input: PromotionCreate) {
  checkWindow(input.startsAt, input.endsAt);
  const timeZone = input.timeZone ?? (await repo.workspaceTimeZone(deps.db, workspaceId)) ?? 'UTC';
  const id = newId();
  const created = await repo.insertPromotion(deps.db, workspaceId, {
    id,
    key: input.key,
    name: input.name,
    timeZone,
    startsLocal: input.startsAt,
    endsLocal: input.endsAt,
    reward: input.reward,
    perPersonPerDay: input.perPersonPerDay ?? null,
    perPersonTotal: input.perPersonTotal ?? null,
    budget: input.budget ?? null,
    guessesPerMinute: input.guessesPerMinute,
  });
  if (!created)
    throw new DomainError('conflict', 'PROMOTION_KEY_TAKEN', `A promotion with key "${input.key}" exists already.`);
  deps.invalidate(workspaceId);
  return (await repo.promotionById(deps.db, workspaceId, id)) as repo.PromotionRow;
}

export async function updatePromotion(deps: CodesDeps, workspaceId: string, id: string, patch: PromotionUpdate) {
  const current = await repo.promotionById(deps.db, workspaceId, id);
  if (!current) throw notFound('Promotion', 'PROMOTION_NOT_FOUND');
  const next = {
    name: patch.name ?? current.name,
    timeZone: patch.timeZone ?? current.time_zone,
    startsLocal: patch.startsAt ?? current.starts_local,
    endsLocal: patch.endsAt ?? current.ends_local,
    reward: (patch.reward ?? current.reward) as Reward,
    perPersonPerDay: patch.perPersonPerDay === undefined ? current.per_person_per_day : patch.perPersonPerDay,
    perPersonTotal: patch.perPersonTotal === undefined ? current.per_person_total : patch.perPersonTotal,
    budget: patch.budget === undefined ? current.budget : patch.budget,
    guessesPerMinute: patch.guessesPerMinute ?? current.guesses_per_minute,
    status: patch.status ?? current.status,
  };
  checkWindow(next.startsLocal, next.endsLocal);
  await repo.updatePromotion(deps.db, workspaceId, id, next);
  deps.invalidate(workspaceId);
  return (await repo.promotionById(deps.db, workspaceId, id)) as repo.PromotionRow;
}

export async function requirePromotion(db: Db, workspaceId: string, idOrKey: string) {
  const row = /^[0-9a-f]{8}-[0-9a-f-]{27}$/i.test(idOrKey)
    ? await repo.promotionById(db, workspaceId, idOrKey)
    : await repo.promotionByKey(db, workspaceId, idOrKey);
  if (!row) throw notFound('Promotion', 'PROMOTION_NOT_FOUND');
  return row;
}

// ---- batches

/** Well-formed guesses the limits allow over the promotion: its own per-minute limit plus the workspace's. */
export async function attackBudget(deps: CodesDeps, workspaceId: string, promotion: repo.PromotionRow) {
  const settings = await repo.ensureSettings(deps.db, workspaceId, randomBytes(32).toString('base64url'));
  const minutes = promotionMinutes(promotion.starts_at, promotion.ends_at);
  return (promotion.guesses_per_minute + settings.guesses_per_minute) * minutes;
}

/** What a code of this length looks like: random characters, valid check character, formatted. */
export function exampleCode(length: number) {
  const bytes = randomBytes(length * 2);
  let body = '';
  for (const b of bytes) {
    if (body.length === length - 1) break;
    if (b < 248) body += ALPHABET[b % 31];
  }
  return formatCode(body + checkCharacter(body));
}

export function batchOut(row: repo.BatchRow, promotionExpected?: number | null): Batch {
  const expected = promotionExpected ?? row.expected_guessable;
  return {
    id: row.id,
    promotionId: row.promotion_id,
    source: row.source,
    label: row.label,
    size: row.size,
    loaded: row.loaded,
    length: row.length,
    status: row.status,
    attackBudget: row.attack_budget === null ? null : Number(row.attack_budget),
    expectedGuessable: expected,
    oneIn: expected ? Math.round(1 / expected) : null,
    example: row.length ? exampleCode(row.length) : null,
    exports: row.exports,
    createdAt: row.created_at.toISOString(),
    completedAt: row.completed_at?.toISOString() ?? null,
  };
}

/**
 * A new batch, sized against the attack budget: the length is the shortest for which the promotion's live codes
 * of that length plus this batch stay under 1 in 1,000 expected guessable codes. Nothing is generated yet: the
 * codes are generated while they are streamed out once (`generateBatch`).
 */
export async function createBatch(
  deps: CodesDeps,
  workspaceId: string,
  promotionIdOrKey: string,
  input: BatchCreate,
  createdBy: string | null,
) {
  const promotion = await requirePromotion(deps.db, workspaceId, promotionIdOrKey);
  const budget = await attackBudget(deps, workspaceId, promotion);
  let choice = chooseLength(input.count, budget, input.minLength);
  // Codes of the same length already live in the promotion share the space with this batch.
  for (;;) {
    const live = await repo.liveCodesOfLength(deps.db, workspaceId, promotion.id, choice.length);
    const expected = expectedGuesses(live + input.count, budget, choice.length);
    if (expected < 0.001 || choice.length >= 30) {
      choice = { length: choice.length, expectedGuessable: expected };
      break;
    }
    choice = chooseLength(input.count, budget, choice.length + 1);
  }
  const keys = await deps.keys.of(deps.db, workspaceId);
  const id = newId();
  await repo.insertBatch(deps.db, workspaceId, {
    id,
    promotionId: promotion.id,
    source: 'generated',
    label: input.label ?? null,
    size: input.count,
    length: choice.length,
    sealedSeed: keys.seal(randomBytes(32)),
    status: 'pending',
    attackBudget: budget,
    expectedGuessable: choice.expectedGuessable,
    createdBy,
  });
  return (await repo.batchById(deps.db, workspaceId, id)) as repo.BatchRow;
}

export async function requireBatch(db: Db, workspaceId: string, id: string) {
  const row = await repo.batchById(db, workspaceId, id);
  if (!row) throw notFound('Batch', 'BATCH_NOT_FOUND');
  return row;
}

async function withTargets<T>(deps: CodesDeps, count: number, work: (targets: BulkTarget[]) => Promise<T>): Promise<T> {
  const targets = await openBulkTargets(deps.database, count);
  try {
    return await work(targets);
  } finally {
    await Promise.all(targets.map((t) => t.close()));
  }
}

/**
 * Claims a pending batch for generation (pending → generating): only one caller gets it, so the clear codes are
 * handed out once.
 */
export async function claimBatch(deps: CodesDeps, workspaceId: string, batchId: string) {
  const batch = await requireBatch(deps.db, workspaceId, batchId);
  if (batch.source !== 'generated' || !batch.sealed_seed || !batch.length)
    throw new DomainError('conflict', 'NOT_GENERATED', 'This batch was imported; its codes are not generated here.');
  if (!(await repo.moveBatch(deps.db, workspaceId, batchId, ['pending'], 'generating')))
    throw new DomainError(
      'conflict',
      'BATCH_ALREADY_GENERATED',
      'This batch was generated and downloaded already. The owner can export it again.',
    );
  return batch;
}

/**
 * Generates a claimed batch's codes, writing the clear list to `out` as it goes: the one time the codes exist in
 * clear. If anything fails half-way (a closed download, a crash), the batch is marked failed and its codes
 * removed: nobody holds the full list.
 */
export async function generateClaimed(
  deps: CodesDeps,
  batch: repo.BatchRow,
  out: Writable,
  format: ExportFormat,
  onProgress?: (done: number, total: number) => void,
) {
  const workspaceId = batch.workspace_id;
  const keys = await deps.keys.of(deps.db, workspaceId);
  try {
    // Two connections for batches of more than one chunk: index maintenance on two cores.
    const result = await withTargets(deps, batch.size > CHUNK_CODES ? 2 : 1, (targets) =>
      generateCodes(
        { targets, database: deps.database, workspaceId, batchId: batch.id },
        {
          seed: keys.unseal(batch.sealed_seed as string),
          length: batch.length as number,
          count: batch.size,
          hasher: keys.hasher,
          sink: { out, format },
          onProgress,
        },
      ),
    );
    await repo.finishBatch(deps.db, workspaceId, batch.id, {
      loaded: result.loaded,
      skipped: result.skipped,
      minLength: batch.length,
      maxLength: batch.length,
    });
    deps.invalidate(workspaceId);
    return result;
  } catch (error) {
    await failBatch(deps, workspaceId, batch.id);
    throw error;
  }
}

/** Claims and generates (the command line). */
export async function generateBatch(
  deps: CodesDeps,
  workspaceId: string,
  batchId: string,
  out: Writable,
  format: ExportFormat,
  onProgress?: (done: number, total: number) => void,
) {
  const batch = await claimBatch(deps, workspaceId, batchId);
  return generateClaimed(deps, batch, out, format, onProgress);
}

export async function failBatch(deps: CodesDeps, workspaceId: string, batchId: string) {
  await repo.moveBatch(deps.db, workspaceId, batchId, ['generating', 'pending'], 'failed').catch(() => false);
  await repo.deleteBatchCodes(deps.db, workspaceId, batchId).catch((error: unknown) => {
    deps.logger?.error({ err: error, batchId }, 'could not remove the codes of a failed batch');
  });
}

/** The owner's re-export of a generated batch: the same codes, replayed from the sealed seed. */
export async function reexportBatch(
  deps: CodesDeps,
  workspaceId: string,
  batch: repo.BatchRow,
  out: Writable,
  format: ExportFormat,
) {
  if (batch.source !== 'generated' || !batch.sealed_seed || !batch.length)
    throw new DomainError(
      'conflict',
      'NOT_REEXPORTABLE',
      'Imported batches cannot be exported: their codes came from elsewhere.',
    );
  if (batch.status !== 'active' && batch.status !== 'revoked')
    throw new DomainError('conflict', 'BATCH_NOT_READY', 'The batch has not been generated.');
  const keys = await deps.keys.of(deps.db, workspaceId);
  await repo.countExport(deps.db, workspaceId, batch.id);
  return replayCodes({
    seed: keys.unseal(batch.sealed_seed),
    length: batch.length,
    count: batch.loaded,
    skipped: new Set(batch.skipped.map(Number)),
    sink: { out, format },
  });
}

/** Imports codes printed elsewhere into a new batch of the promotion. */
export async function importBatch(
  deps: CodesDeps,
  workspaceId: string,
  promotionIdOrKey: string,
  source: NodeJS.ReadableStream,
  label: string | null,
  createdBy: string | null,
  onProgress?: (lines: number) => void,
): Promise<{ batch: repo.BatchRow; outcome: ImportOutcome }> {
  const promotion = await requirePromotion(deps.db, workspaceId, promotionIdOrKey);
  const keys = await deps.keys.of(deps.db, workspaceId);
  const id = newId();
  await repo.insertBatch(deps.db, workspaceId, {
    id,
    promotionId: promotion.id,
    source: 'imported',
    label,
    size: 0,
    length: null,
    sealedSeed: null,
    status: 'generating',
    attackBudget: await attackBudget(deps, workspaceId, promotion),
    expectedGuessable: null,
    createdBy,
  });
  try {
    const outcome = await withTargets(deps, 1, (targets) =>
      importCodes(
        { targets, database: deps.database, workspaceId, batchId: id },
        { source: source as import('node:stream').Readable, hasher: keys.hasher, onProgress },
      ),
    );
    await repo.finishBatch(deps.db, workspaceId, id, {
      loaded: outcome.imported,
      skipped: [],
      minLength: outcome.minLength,
      maxLength: outcome.maxLength,
      size: outcome.imported,
    });
    deps.invalidate(workspaceId);
    return { batch: (await repo.batchById(deps.db, workspaceId, id)) as repo.BatchRow, outcome };
  } catch (error) {
    await failBatch(deps, workspaceId, id);
    throw error;
  }
}

export async function revokeBatch(deps: CodesDeps, workspaceId: string, batchId: string) {
  await requireBatch(deps.db, workspaceId, batchId);
  if (!(await repo.moveBatch(deps.db, workspaceId, batchId, ['active', 'pending'], 'revoked')))
    throw new DomainError('conflict', 'BATCH_NOT_REVOCABLE', 'Only a generated or pending batch can be revoked.');
  deps.invalidate(workspaceId);
  return (await repo.batchById(deps.db, workspaceId, batchId)) as repo.BatchRow;
}

/** A promotion's expected guessable codes now, over its live generated batches (limits and window may have changed). */
export async function promotionExposure(deps: CodesDeps, workspaceId: string, promotion: repo.PromotionRow) {
  const budget = await attackBudget(deps, workspaceId, promotion);
  const batches = await repo.batchesOf(deps.db, workspaceId, promotion.id);
  const byLength = new Map<number, number>();
  for (const b of batches)
    if (b.length && (b.status === 'active' || b.status === 'pending'))
      byLength.set(b.length, (byLength.get(b.length) ?? 0) + (b.status === 'active' ? b.loaded : b.size));
  let expected = 0;
  for (const [length, n] of byLength) expected += expectedGuesses(n, budget, length);
  return { attackBudget: budget, expectedGuessable: expected, batches };
}
