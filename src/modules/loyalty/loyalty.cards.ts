import type { Db } from '../../platform/db.ts';
import { DomainError, notFound } from '../../platform/errors.ts';
import { newId, randomToken, sha256Hex } from '../../platform/ids.ts';
import type { Actor } from '../../platform/principal.ts';
import { cardNumber, serialOf } from './loyalty.cardnumbers.ts';
import * as ledgerRepo from './loyalty.ledger.repo.ts';
import * as repo from './loyalty.repo.ts';
import type { CardIssue } from './loyalty.schemas.ts';
import { keyReused, type LoyaltyDeps, requestHash } from './loyalty.service.ts';

// Cards: issue (virtual or pre-printed), link to a person, block, unblock, replace; the QR token goes only to the
// customer's phone.

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
