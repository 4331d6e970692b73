import { createHash } from 'node:crypto';
import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db.ts';
import { DomainError, notFound } from '../../platform/errors.ts';
import { newId, randomToken, sha256Hex } from '../../platform/ids.ts';
import type { Actor } from '../../platform/principal.ts';
import type { EventsModule } from '../events/index.ts';
import type { ProfilesModule } from '../profiles/index.ts';
import type { TillBatches } from './loyalty.batch.ts';
import { cardNumber, serialOf } from './loyalty.cardnumbers.ts';
import * as ledgerRepo from './loyalty.ledger.repo.ts';
import * as repo from './loyalty.repo.ts';
import { type EarnRule, isTimeZone, type RuleInput } from './loyalty.rules.ts';
import {
  type CardIssue,
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
  profiles: Pick<ProfilesModule, 'resolveObservations' | 'applyProjection' | 'directory'>;
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

export function cardOut(c: repo.CardRow) {
  return {
    id: c.id,
    number: c.number,
    kind: c.kind,
    status: c.status,
    programme: c.programme_key,
    profileId: c.profile_id,
    memberId: c.member_id,
    issuedAt: c.issued_at.toISOString(),
    replacedBy: c.replaced_by,
    statusReason: c.status_reason,
  };
}

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

/** The profile's phone in E.164, or undefined. */
async function phoneOf(deps: LoyaltyDeps, db: Db, workspaceId: string, profileId: string) {
  const ids = await deps.profiles.directory.identifiersOf(db, workspaceId, profileId);
  return ids.find((i) => i.kind === 'phone')?.value;
}

/** Sends the card's QR token to the customer's phone; staff never see it (it is proof of presence). */
async function sendQr(
  deps: LoyaltyDeps,
  trx: Db,
  workspaceId: string,
  card: { id: string; number: string },
  profileId: string,
) {
  const token = randomToken(32);
  await repo.setCardQr(trx, workspaceId, card.id, sha256Hex(token));
  const phone = await phoneOf(deps, trx, workspaceId, profileId);
  if (phone)
    await deps.sender.send(trx, workspaceId, {
      profileId,
      channel: 'sms',
      address: phone,
      body: `Your card ${card.number.slice(-4)} QR code: ${token} / QR-код карты ${card.number.slice(-4)}: ${token}`,
      now: deps.clock.now(),
    });
  return Boolean(phone);
}

/**
 * Issues a card: a pre-printed physical number (checked against the programme's ranges and its check digit) or
 * the next number of a virtual range. The card number becomes a `card` identifier of the profile (one is made when
 * none is given), and the card's QR token goes to the customer's phone.
 */
export async function issueCard(deps: LoyaltyDeps, actor: Actor, key: string, input: CardIssue) {
  const { workspaceId } = actor.principal.scope;
  const state = await deps.programmes.get(deps.db, workspaceId, key);
  const now = deps.clock.now();
  if (input.number) {
    const ranges = await repo.listRanges(deps.db, workspaceId, state.row.id);
    const fits = ranges.some(
      (r) =>
        r.kind === 'physical' &&
        serialOf(
          { prefix: r.prefix, length: r.length, firstSerial: r.first_serial, lastSerial: r.last_serial },
          input.number as string,
        ) !== null,
    );
    if (!fits)
      throw new DomainError(
        'invalid',
        'CARD_NUMBER_INVALID',
        'The number is not one of this programme’s physical cards (range or check digit).',
      );
  }
  let profileId: string | undefined;
  if (input.profileId) {
    profileId = await deps.profiles.directory.liveProfileId(deps.db, workspaceId, input.profileId);
    if (!profileId) throw notFound('Profile', 'PROFILE_NOT_FOUND');
  }
  const hash = input.idempotencyKey ? requestHash(`card:${key}`, input) : null;
  return deps.db.transaction().execute(async (trx) => {
    if (input.idempotencyKey && hash) {
      if (!(await ledgerRepo.claimKey(trx, workspaceId, { key: input.idempotencyKey, hash, now }))) {
        const stored = await ledgerRepo.storedRequest(trx, workspaceId, input.idempotencyKey);
        if (stored?.hash !== hash) throw keyReused();
        return { card: stored.response as ReturnType<typeof cardOut>, replayed: true };
      }
    }
    let number = input.number;
    if (!number) {
      const range = await repo.takeSerial(trx, workspaceId, state.row.id);
      if (!range)
        throw new DomainError('conflict', 'NO_CARD_NUMBERS', 'No virtual card range has numbers left; add a range.');
      number = cardNumber(range, range.next_serial);
    }
    // The card is an identifier of the person: the profiles module attaches it (or makes a profile of it).
    const ids = profileId ? await deps.profiles.directory.identifiersOf(trx, workspaceId, profileId) : [];
    const anchor = strongest(ids);
    const resolution = await deps.profiles.resolveObservations(trx, workspaceId, [
      {
        ids: [...(anchor ? [anchor] : []), { kind: 'card', value: number }] as never,
        traits: null,
        at: now,
        channel: 'pos',
      },
    ]);
    const owner = resolution.profileIds[0] as string;
    const member = await repo.ensureMember(trx, workspaceId, state.row.id, owner, {
      id: newId(),
      now,
      wallets: [...state.wallets.keys()],
    });
    const id = newId();
    const inserted = await repo.insertCard(trx, workspaceId, {
      id,
      programmeId: state.row.id,
      memberId: member.id,
      number,
      kind: input.number ? 'physical' : input.kind,
      qrHash: sha256Hex(randomToken(32)),
      isIdentifier: (resolution.rejected[0] ?? []).length === 0,
      now,
    });
    if (!inserted) throw new DomainError('conflict', 'CARD_EXISTS', 'This card has been issued already.');
    await sendQr(deps, trx, workspaceId, { id, number }, owner);
    await deps.profiles.applyProjection(trx, workspaceId, resolution.projection);
    await deps.audit(trx, actor, 'loyalty.card_issued', { kind: 'profile', id: owner }, { cardId: id, programme: key });
    const card = cardOut((await repo.cardByNumber(trx, workspaceId, number)) as repo.CardRow);
    if (input.idempotencyKey) await ledgerRepo.storeResponse(trx, workspaceId, input.idempotencyKey, 201, card);
    return { card, replayed: false };
  });
}

const STRENGTH = ['user_id', 'email', 'phone', 'card'];
function strongest(ids: { kind: string; value: string }[]) {
  const sorted = [...ids].sort((a, b) => {
    const ra = STRENGTH.indexOf(a.kind) < 0 ? 9 : STRENGTH.indexOf(a.kind);
    const rb = STRENGTH.indexOf(b.kind) < 0 ? 9 : STRENGTH.indexOf(b.kind);
    return ra - rb;
  });
  return sorted[0];
}

export const keyReused = () =>
  new DomainError('conflict', 'IDEMPOTENCY_KEY_REUSED', 'This idempotency key was used for a different request.');

export async function findCard(deps: LoyaltyDeps, workspaceId: string, number: string) {
  const card = await repo.cardByNumber(deps.db, workspaceId, number);
  if (!card) throw notFound('Card', 'CARD_NOT_FOUND');
  return card;
}

export async function blockCard(deps: LoyaltyDeps, actor: Actor, number: string, reason: string) {
  const { workspaceId } = actor.principal.scope;
  return deps.db.transaction().execute(async (trx) => {
    const card = await repo.cardByNumber(trx, workspaceId, number, true);
    if (!card) throw notFound('Card', 'CARD_NOT_FOUND');
    if (card.status === 'replaced') throw new DomainError('conflict', 'CARD_REPLACED', 'This card has been replaced.');
    await repo.setCardStatus(trx, workspaceId, card.id, { status: 'blocked', reason, now: deps.clock.now() });
    await deps.audit(trx, actor, 'loyalty.card_blocked', { kind: 'profile', id: card.profile_id }, { cardId: card.id });
    return cardOut((await repo.cardByNumber(trx, workspaceId, number)) as repo.CardRow);
  });
}

export async function unblockCard(deps: LoyaltyDeps, actor: Actor, number: string) {
  const { workspaceId } = actor.principal.scope;
  return deps.db.transaction().execute(async (trx) => {
    const card = await repo.cardByNumber(trx, workspaceId, number, true);
    if (!card) throw notFound('Card', 'CARD_NOT_FOUND');
    if (card.status !== 'blocked') throw new DomainError('conflict', 'CARD_NOT_BLOCKED', 'This card is not blocked.');
    await repo.setCardStatus(trx, workspaceId, card.id, { status: 'active', reason: null, now: deps.clock.now() });
    await sendQr(deps, trx, workspaceId, card, card.profile_id);
    await deps.audit(
      trx,
      actor,
      'loyalty.card_unblocked',
      { kind: 'profile', id: card.profile_id },
      { cardId: card.id },
    );
    return cardOut((await repo.cardByNumber(trx, workspaceId, number)) as repo.CardRow);
  });
}

/**
 * Replaces a card (lost, damaged): the old one stops working, a new one (the given pre-printed number or the next
 * virtual number) belongs to the same member, so the balance and history stay.
 */
export async function replaceCard(
  deps: LoyaltyDeps,
  actor: Actor,
  number: string,
  input: { number?: string; reason: string },
) {
  const { workspaceId } = actor.principal.scope;
  const old = await findCard(deps, workspaceId, number);
  if (old.status === 'replaced')
    throw new DomainError('conflict', 'CARD_REPLACED', 'This card has been replaced already.');
  const state = await deps.programmes.get(deps.db, workspaceId, old.programme_key);
  if (input.number) {
    const ranges = await repo.listRanges(deps.db, workspaceId, state.row.id);
    if (
      !ranges.some(
        (r) =>
          r.kind === 'physical' &&
          serialOf(
            { prefix: r.prefix, length: r.length, firstSerial: r.first_serial, lastSerial: r.last_serial },
            input.number as string,
          ) !== null,
      )
    )
      throw new DomainError(
        'invalid',
        'CARD_NUMBER_INVALID',
        'The number is not one of this programme’s physical cards (range or check digit).',
      );
  }
  const now = deps.clock.now();
  return deps.db.transaction().execute(async (trx) => {
    const current = await repo.cardByNumber(trx, workspaceId, number, true);
    if (!current || current.status === 'replaced')
      throw new DomainError('conflict', 'CARD_REPLACED', 'This card has been replaced already.');
    let fresh = input.number;
    if (!fresh) {
      const range = await repo.takeSerial(trx, workspaceId, state.row.id);
      if (!range)
        throw new DomainError('conflict', 'NO_CARD_NUMBERS', 'No virtual card range has numbers left; add a range.');
      fresh = cardNumber(range, range.next_serial);
    }
    // The new number identifies the person too — unless the profile still holds the old number as its card
    // identifier (the profiles module keeps one card per person and has no way yet to swap it); the card table maps
    // both numbers to the member either way.
    const ids = await deps.profiles.directory.identifiersOf(trx, workspaceId, current.profile_id);
    const anchor = strongest(ids.filter((i) => i.kind !== 'card')) ?? strongest(ids);
    let isIdentifier = false;
    if (anchor) {
      const resolution = await deps.profiles.resolveObservations(trx, workspaceId, [
        { ids: [anchor, { kind: 'card', value: fresh }] as never, traits: null, at: now, channel: 'pos' },
      ]);
      isIdentifier = (resolution.rejected[0] ?? []).length === 0 && resolution.profileIds[0] === current.profile_id;
      await deps.profiles.applyProjection(trx, workspaceId, resolution.projection);
    }
    const id = newId();
    const inserted = await repo.insertCard(trx, workspaceId, {
      id,
      programmeId: state.row.id,
      memberId: current.member_id,
      number: fresh,
      kind: input.number ? 'physical' : 'virtual',
      qrHash: sha256Hex(randomToken(32)),
      isIdentifier,
      now,
    });
    if (!inserted) throw new DomainError('conflict', 'CARD_EXISTS', 'This card has been issued already.');
    await repo.setCardStatus(trx, workspaceId, current.id, {
      status: 'replaced',
      reason: input.reason,
      replacedBy: id,
      now,
    });
    await sendQr(deps, trx, workspaceId, { id, number: fresh }, current.profile_id);
    await deps.audit(
      trx,
      actor,
      'loyalty.card_replaced',
      { kind: 'profile', id: current.profile_id },
      {
        cardId: current.id,
        newCardId: id,
      },
    );
    return cardOut((await repo.cardByNumber(trx, workspaceId, fresh)) as repo.CardRow);
  });
}

/**
 * Links a card to a person (a card sold at the till, registered later by its owner): the profiles module ties the
 * card identifier to the profile, which merges the card's own profile into it — and the merge listener moves the
 * card's member, balance and history along. A person who holds another card already cannot take this one.
 */
export async function linkCard(deps: LoyaltyDeps, actor: Actor, number: string, profileId: string) {
  const { workspaceId } = actor.principal.scope;
  const now = deps.clock.now();
  return deps.db.transaction().execute(async (trx) => {
    const card = await repo.cardByNumber(trx, workspaceId, number);
    if (!card) throw notFound('Card', 'CARD_NOT_FOUND');
    if (card.status !== 'active')
      throw new DomainError('conflict', 'CARD_NOT_ACTIVE', 'This card is blocked or replaced.');
    const target = await deps.profiles.directory.liveProfileId(trx, workspaceId, profileId);
    if (!target) throw notFound('Profile', 'PROFILE_NOT_FOUND');
    if (card.profile_id !== target) {
      const anchor = strongest(await deps.profiles.directory.identifiersOf(trx, workspaceId, target));
      if (!anchor)
        throw new DomainError('conflict', 'PROFILE_NOT_IDENTIFIED', 'The profile has no identifier to link to.');
      const resolution = await deps.profiles.resolveObservations(trx, workspaceId, [
        { ids: [anchor, { kind: 'card', value: card.number }] as never, traits: null, at: now, channel: 'pos' },
      ]);
      // The identity graph decides: the card's number must now lead to the person (no merge was refused).
      const owner = await deps.profiles.directory.ownerOf(trx, workspaceId, 'card', card.number);
      if ((resolution.rejected[0] ?? []).length > 0 || owner !== target)
        throw new DomainError(
          'conflict',
          'CARD_LINK_CONFLICT',
          'The person holds another card or another identifier of the same kind; replace their card instead.',
        );
      await deps.profiles.applyProjection(trx, workspaceId, resolution.projection);
      await deps.audit(trx, actor, 'loyalty.card_linked', { kind: 'profile', id: target }, { cardId: card.id });
    }
    return cardOut((await repo.cardByNumber(trx, workspaceId, number)) as repo.CardRow);
  });
}

/** Sends the card's QR token to the customer's phone again (a new token; the old one stops working). */
export async function resendQr(deps: LoyaltyDeps, actor: Actor, number: string) {
  const { workspaceId } = actor.principal.scope;
  return deps.db.transaction().execute(async (trx) => {
    const card = await repo.cardByNumber(trx, workspaceId, number, true);
    if (!card) throw notFound('Card', 'CARD_NOT_FOUND');
    if (card.status !== 'active')
      throw new DomainError('conflict', 'CARD_NOT_ACTIVE', 'This card is blocked or replaced.');
    const sent = await sendQr(deps, trx, workspaceId, card, card.profile_id);
    if (!sent) throw new DomainError('conflict', 'NO_PHONE', 'The customer has no phone number to send the code to.');
    await deps.audit(trx, actor, 'loyalty.card_qr_sent', { kind: 'profile', id: card.profile_id }, { cardId: card.id });
  });
}
