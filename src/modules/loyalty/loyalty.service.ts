import { createHash } from 'node:crypto';
import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db.ts';
import { DomainError, notFound } from '../../platform/errors.ts';
import { newId } from '../../platform/ids.ts';
import type { Actor } from '../../platform/principal.ts';
import type { EventsModule } from '../events/index.ts';
import type { ProfilesModule } from '../profiles/index.ts';
import type { TillBatches } from './loyalty.batch.ts';
import { cardNumber } from './loyalty.cardnumbers.ts';
import * as repo from './loyalty.repo.ts';
import { type EarnRule, isTimeZone, type RuleInput } from './loyalty.rules.ts';
import {
  type CardRangeCreate,
  DEFAULT_SETTINGS,
  type ProgrammeCreate,
  type ProgrammeSettings,
  type ProgrammeUpdate,
  type WalletSettings,
} from './loyalty.schemas.ts';

/** The org module's recordAudit: staff changes are recorded in their own transaction. */
export type AuditRecorder = (
  db: Db,
  actor: Actor,
  action: string,
  target: { kind: string; id: string } | null,
  details?: Record<string, unknown>,
) => Promise<void>;

/** How one-time codes and QR tokens reach the customer. The messaging module will send; until then the outbox records. */
export interface CodeSender {
  send(
    db: Db,
    workspaceId: string,
    message: { profileId: string; channel: string; address: string; body: string; now: Date },
  ): Promise<void>;
}

export const outboxSender: CodeSender = {
  send: (db, workspaceId, m) => repo.insertOutbox(db, workspaceId, { id: newId(), ...m }),
};

export interface LoyaltyDeps {
  db: Db;
  clock: Clock;
  profiles: Pick<ProfilesModule, 'resolveObservations' | 'applyProjection' | 'directory' | 'namesFor'>;
  events: Pick<EventsModule, 'ingest'>;
  audit: AuditRecorder;
  sender: CodeSender;
  programmes: ProgrammeCache;
  /** Nudges the timeline drain after a commit that wrote to the outbox (any process may drain it). */
  timelineWritten: () => void;
  /** Group commit of till changes (absent: each change in its own two statements). */
  batches?: TillBatches;
  /** Rules changed in this process: the event listener re-reads the names it hears. */
  rulesChanged?: () => Promise<void>;
}

// ---- programmes and their cached rules

export interface ProgrammeState {
  row: repo.ProgrammeRow;
  rules: EarnRule[];
  wallets: Map<string, WalletSettings>;
  /** The wallet points pay with at the till (the first with a value), if any. */
  paymentWallet: WalletSettings | undefined;
}

/**
 * Programmes and their rules, cached per process and keyed by the programme's version: every change of settings or
 * rules moves the version, the locking read of every ledger change returns it, and a stale copy is reloaded and
 * the change retried — so a rule edit applies to the next transaction in every process.
 */
export class ProgrammeCache {
  private readonly byKey = new Map<string, ProgrammeState>();

  async get(db: Db, workspaceId: string, key: string): Promise<ProgrammeState> {
    const cached = this.byKey.get(`${workspaceId}/${key}`);
    if (cached) return cached;
    return this.load(db, workspaceId, key);
  }

  async load(db: Db, workspaceId: string, key: string): Promise<ProgrammeState> {
    const row = await repo.programmeByKey(db, workspaceId, key);
    if (!row) throw notFound('Programme', 'PROGRAMME_NOT_FOUND');
    const state = stateOf(row, await repo.listRules(db, workspaceId, row.id));
    this.byKey.set(`${workspaceId}/${key}`, state);
    return state;
  }

  forget(workspaceId: string, key: string) {
    this.byKey.delete(`${workspaceId}/${key}`);
  }
}

function stateOf(row: repo.ProgrammeRow, rules: EarnRule[]): ProgrammeState {
  const wallets = new Map(row.settings.wallets.map((w) => [w.key, w]));
  return { row, rules, wallets, paymentWallet: row.settings.wallets.find((w) => w.valueMinor > 0) };
}

export function programmeOut(row: repo.ProgrammeRow) {
  return {
    id: row.id,
    key: row.key,
    name: row.name,
    currency: row.currency,
    timeZone: row.time_zone,
    settings: row.settings,
    createdAt: row.created_at.toISOString(),
  };
}

export async function createProgramme(
  deps: LoyaltyDeps,
  actor: Actor,
  workspaceTimeZone: string,
  input: ProgrammeCreate,
) {
  const timeZone = input.timeZone ?? workspaceTimeZone;
  if (!isTimeZone(timeZone))
    throw new DomainError('invalid', 'INVALID_TIME_ZONE', 'Give an IANA time zone such as Europe/Moscow.');
  const { workspaceId } = actor.principal.scope;
  const id = newId();
  return deps.db.transaction().execute(async (trx) => {
    const created = await repo.insertProgramme(trx, {
      id,
      workspaceId,
      key: input.key,
      name: input.name,
      currency: input.currency,
      timeZone,
      settings: input.settings ?? DEFAULT_SETTINGS,
    });
    if (!created)
      throw new DomainError('conflict', 'PROGRAMME_KEY_TAKEN', `A programme with key "${input.key}" exists.`);
    await deps.audit(trx, actor, 'loyalty.programme_created', { kind: 'loyalty_programme', id }, { key: input.key });
    return (await repo.programmeById(trx, workspaceId, id)) as repo.ProgrammeRow;
  });
}

function checkWalletsKept(before: ProgrammeSettings, after: ProgrammeSettings) {
  const kept = new Set(after.wallets.map((w) => w.key));
  const dropped = before.wallets.filter((w) => !kept.has(w.key)).map((w) => w.key);
  if (dropped.length > 0)
    throw new DomainError(
      'conflict',
      'WALLET_IN_USE',
      `Wallets cannot be removed once created: ${dropped.join(', ')}.`,
    );
}

export async function updateProgramme(deps: LoyaltyDeps, actor: Actor, key: string, patch: ProgrammeUpdate) {
  const { workspaceId } = actor.principal.scope;
  if (patch.timeZone && !isTimeZone(patch.timeZone))
    throw new DomainError('invalid', 'INVALID_TIME_ZONE', 'Give an IANA time zone such as Europe/Moscow.');
  const row = await deps.db.transaction().execute(async (trx) => {
    const current = await repo.programmeByKey(trx, workspaceId, key);
    if (!current) throw notFound('Programme', 'PROGRAMME_NOT_FOUND');
    if (patch.settings) checkWalletsKept(current.settings, patch.settings);
    await repo.updateProgramme(trx, workspaceId, current.id, patch);
    await deps.audit(
      trx,
      actor,
      'loyalty.programme_updated',
      { kind: 'loyalty_programme', id: current.id },
      {
        fields: Object.keys(patch),
      },
    );
    return (await repo.programmeById(trx, workspaceId, current.id)) as repo.ProgrammeRow;
  });
  deps.programmes.forget(workspaceId, key);
  return row;
}

// ---- rules

export function ruleFromInput(id: string, input: RuleInput): EarnRule {
  return {
    id,
    name: input.name,
    status: input.status,
    trigger: input.trigger,
    eventName: input.eventName ?? null,
    scope: input.scope,
    condition: input.condition ?? null,
    formula: input.formula,
    wallet: input.wallet,
    priority: input.priority,
    stopAfter: input.stopAfter,
    caps: input.caps,
    startsAt: input.startsAt ? new Date(input.startsAt) : null,
    endsAt: input.endsAt ? new Date(input.endsAt) : null,
  };
}

export function ruleOut(r: EarnRule) {
  return {
    ...r,
    startsAt: r.startsAt?.toISOString() ?? null,
    endsAt: r.endsAt?.toISOString() ?? null,
  };
}

export async function saveRule(deps: LoyaltyDeps, actor: Actor, key: string, input: RuleInput, id?: string) {
  const { workspaceId } = actor.principal.scope;
  const state = await deps.programmes.load(deps.db, workspaceId, key);
  if (!state.wallets.has(input.wallet))
    throw new DomainError('invalid', 'UNKNOWN_WALLET', `The programme has no wallet "${input.wallet}".`);
  const rule = ruleFromInput(id ?? newId(), input);
  await deps.db.transaction().execute(async (trx) => {
    const saved = await repo.upsertRule(trx, workspaceId, state.row.id, rule, !id);
    if (!saved) throw notFound('Rule', 'RULE_NOT_FOUND');
    await repo.bumpVersion(trx, workspaceId, state.row.id);
    await deps.audit(
      trx,
      actor,
      id ? 'loyalty.rule_updated' : 'loyalty.rule_created',
      { kind: 'loyalty_rule', id: rule.id },
      {
        programme: key,
        status: rule.status,
      },
    );
  });
  deps.programmes.forget(workspaceId, key);
  await deps.rulesChanged?.();
  return rule;
}

// ---- card ranges and cards

export async function createRange(deps: LoyaltyDeps, actor: Actor, key: string, input: CardRangeCreate) {
  const { workspaceId } = actor.principal.scope;
  const state = await deps.programmes.get(deps.db, workspaceId, key);
  const id = newId();
  return deps.db.transaction().execute(async (trx) => {
    // Ranges of a workspace must not overlap: a number belongs to one range.
    for (const r of await repo.listRanges(trx, workspaceId)) {
      const lo = cardNumber(input, input.firstSerial);
      const hi = cardNumber(input, input.lastSerial);
      const rlo = cardNumber(r, r.first_serial);
      const rhi = cardNumber(r, r.last_serial);
      if (r.length === input.length && lo.slice(0, -1) <= rhi.slice(0, -1) && rlo.slice(0, -1) <= hi.slice(0, -1))
        throw new DomainError('conflict', 'RANGE_OVERLAPS', 'The range overlaps an existing one.');
    }
    await repo.insertRange(trx, workspaceId, state.row.id, { id, ...input });
    await deps.audit(
      trx,
      actor,
      'loyalty.range_created',
      { kind: 'loyalty_programme', id: state.row.id },
      {
        prefix: input.prefix,
        kind: input.kind,
      },
    );
    return (await repo.listRanges(trx, workspaceId, state.row.id)).find((r) => r.id === id) as repo.RangeRow;
  });
}

export const keyReused = () =>
  new DomainError('conflict', 'IDEMPOTENCY_KEY_REUSED', 'This idempotency key was used for a different request.');

/** A stable digest of a request, for idempotency: same key with another body is refused. */
export function requestHash(operation: string, body: unknown): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v as object)
              .filter((k) => k !== 'idempotencyKey')
              .sort()
              .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
          )
        : v;
  return createHash('sha256')
    .update(JSON.stringify([operation, canonical(body)]))
    .digest('hex');
}
