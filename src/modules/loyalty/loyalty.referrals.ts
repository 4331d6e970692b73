import { randomBytes } from 'node:crypto';
import { codeFromBytes, isWellFormed, normalizeCode } from '../../platform/codes/alphabet.ts';
import type { Db } from '../../platform/db.ts';
import { DomainError, notFound } from '../../platform/errors.ts';
import { newId, sha256Hex } from '../../platform/ids.ts';
import type { Actor } from '../../platform/principal.ts';
import type { StoredEvent, StoredEventListener } from '../events/index.ts';
import { normalizeIdentifier } from '../profiles/index.ts';
import * as refRepo from './loyalty.referrals.repo.ts';
import { clawBack, onUnwound } from './loyalty.referrals.revoke.ts';
import {
  REFERRAL_COMPLETED,
  REFERRAL_REVOKED,
  type Referral,
  type ReferralCreate,
  type ReferralReview,
  ReferralSettings,
} from './loyalty.referrals.schemas.ts';
import * as repo from './loyalty.repo.ts';
import type { LoyaltyDeps, ProgrammeState } from './loyalty.service.ts';

/**
 * Referrals. Each member may take one personal invite code (CSPRNG, 8 characters of the promo-code alphabet and a
 * check character; not a secret — it is shared — but never guessable in sequence). A person arriving with a code
 * (an ingested event naming it, or staff/API) is recorded as referred, once per programme, after a fraud screen:
 * self-referral, identifiers or signals shared with the referrer (device, phone, card, e-mail, address), A↔B, and a
 * referrer over the daily limit (held for review). The invitee's first qualifying purchase completes it: the
 * listener hears the `Loyalty Purchase` timeline event inside the transaction that stores it (first delivery only),
 * moves the referral pending → completed with a conditional update and writes two `Referral Completed` events
 * (referrer and invitee) to the timeline outbox in the same transaction; earn rules on that event pay the rewards
 * when the outbox is drained. Each step is one transaction and each hand-over is deduplicated by message id, so
 * nothing is lost on a crash and nothing is granted twice.
 */

const CODE_LENGTH = 9; // 8 random characters and the check character
const LOYALTY_PURCHASE = 'Loyalty Purchase';
/** A return or reversal of a purchase may take away the purchase that completed a referral. */
const UNWOUND = new Set(['Loyalty Return', 'Loyalty Reversal']);

export function settingsOf(state: ProgrammeState): ReferralSettings {
  return ReferralSettings.parse(state.row.settings.referrals ?? {});
}

function newCode(): string {
  const out = new Uint8Array(CODE_LENGTH);
  for (;;) {
    if (codeFromBytes(randomBytes(32), 0, CODE_LENGTH, out) >= 0) return Buffer.from(out).toString('ascii');
  }
}

export function inviteLink(workspaceId: string, code: string) {
  return `/i/${workspaceId}/${code}`;
}

function codeOut(workspaceId: string, programmeKey: string, row: refRepo.InviteCodeRow) {
  return {
    code: row.code,
    link: inviteLink(workspaceId, row.code),
    programme: programmeKey,
    profileId: row.profile_id,
    createdAt: row.created_at.toISOString(),
  };
}

async function liveProfile(deps: LoyaltyDeps, db: Db, workspaceId: string, profileId: string) {
  const id = await deps.profiles.directory.liveProfileId(db, workspaceId, profileId);
  if (!id) throw notFound('Profile', 'PROFILE_NOT_FOUND');
  return id;
}

/** The member's invite code: read (GET, null when none yet) or made on demand (POST; enrols the profile). */
export async function inviteCode(
  deps: LoyaltyDeps,
  workspaceId: string,
  programmeKey: string,
  profileId: string,
  create: boolean,
) {
  const state = await deps.programmes.get(deps.db, workspaceId, programmeKey);
  const live = await liveProfile(deps, deps.db, workspaceId, profileId);
  const existing = await refRepo.inviteCodeOf(deps.db, workspaceId, state.row.id, live);
  if (existing) return { created: false, code: codeOut(workspaceId, programmeKey, existing) };
  if (!create) return { created: false, code: null };
  const now = deps.clock.now();
  await repo.ensureMember(deps.db, workspaceId, state.row.id, live, {
    id: newId(),
    now,
    wallets: [...state.wallets.keys()],
  });
  for (let attempt = 0; attempt < 5; attempt++) {
    const inserted = await refRepo.insertInviteCode(deps.db, workspaceId, {
      programmeId: state.row.id,
      profileId: live,
      code: newCode(),
      now,
    });
    const row = await refRepo.inviteCodeOf(deps.db, workspaceId, state.row.id, live);
    if (row) return { created: inserted, code: codeOut(workspaceId, programmeKey, row) };
  }
  throw new DomainError('unavailable', 'INVITE_CODE_UNAVAILABLE', 'No free invite code was found; try again.');
}

/** A code as typed or sent: normalised, and only when its check character holds. */
export function parseInviteCode(raw: unknown): string | null {
  if (typeof raw !== 'string' || raw.length > 40) return null;
  const code = normalizeCode(raw);
  return code.length === CODE_LENGTH && isWellFormed(code) ? code : null;
}

// ---- signals and the fraud screen

type Signal = { kind: string; hash: string };

/** Words that say what a part is, not which: dropped, so '12 Lenina St.' and '12 lenina street' are one address. */
const ADDRESS_NOISE = new Set([
  'street',
  'str',
  'st',
  'ul',
  'улица',
  'ул',
  'avenue',
  'ave',
  'prospekt',
  'пр',
  'проспект',
  'house',
  'дом',
  'д',
  'apartment',
  'apt',
  'flat',
  'кв',
  'квартира',
  'building',
  'bldg',
  'корп',
  'корпус',
  'city',
  'г',
  'город',
]);

/** An address, normalised: lower case, letters and digits only, common abbreviations folded. */
export function normalizeAddress(raw: unknown): string | null {
  let text: string;
  if (typeof raw === 'string') text = raw;
  else if (raw && typeof raw === 'object') {
    const a = raw as Record<string, unknown>;
    text = ['country', 'postalCode', 'postal_code', 'city', 'street', 'line1', 'line2', 'house', 'apartment']
      .map((k) => (typeof a[k] === 'string' || typeof a[k] === 'number' ? String(a[k]) : ''))
      .join(' ');
  } else return null;
  const folded = text
    .normalize('NFKC')
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((t) => t !== '' && !ADDRESS_NOISE.has(t))
    .join('');
  return folded.length >= 3 ? folded : null;
}

export function signal(kind: 'device' | 'address', raw: unknown): Signal | null {
  if (kind === 'device') {
    if (typeof raw !== 'string' || raw.trim() === '' || raw.length > 200) return null;
    return { kind, hash: sha256Hex(`device:${raw.trim()}`) };
  }
  const address = normalizeAddress(raw);
  return address ? { kind, hash: sha256Hex(`address:${address}`) } : null;
}

function signalsOfEvent(e: StoredEvent): Signal[] {
  const device = (e.context.device as { id?: unknown } | undefined)?.id;
  const out = [signal('device', device), signal('address', e.traits.address ?? e.properties.address)];
  return out.filter((s): s is Signal => s !== null);
}

interface Candidate {
  programmeId: string;
  programmeKey: string;
  code: string;
  referrer: string;
  invitee: string;
  source: 'event' | 'staff';
  messageId: string | null;
  /** Identifiers the arrival carried (traits of the event): compared with the referrer's owner. */
  carried: { kind: string; value: unknown }[];
  signals: Signal[];
}

const SHARED_KINDS: Record<string, string> = {
  phone: 'SHARED_PHONE',
  email: 'SHARED_EMAIL',
  card: 'SHARED_CARD',
};

/** Why a referral must be refused, or null. */
async function screen(deps: LoyaltyDeps, trx: Db, workspaceId: string, c: Candidate): Promise<string | null> {
  if (c.referrer === c.invitee) return 'SELF_REFERRAL';
  const dir = deps.profiles.directory;
  // Identifiers the arrival carried that already belong to the referrer (the resolution may have kept them apart).
  for (const { kind, value } of c.carried) {
    const id = normalizeIdentifier(kind, value);
    if (!id) continue;
    const owner = await dir.ownerOf(trx, workspaceId, id.kind, id.value);
    if (owner === c.referrer) return SHARED_KINDS[kind] ?? 'SELF_REFERRAL';
  }
  const [mine, theirs] = await Promise.all([
    dir.identifiersOf(trx, workspaceId, c.invitee),
    dir.identifiersOf(trx, workspaceId, c.referrer),
  ]);
  const theirSet = new Set(theirs.map((i) => `${i.kind}\u0001${i.value}`));
  for (const i of mine) if (theirSet.has(`${i.kind}\u0001${i.value}`)) return SHARED_KINDS[i.kind] ?? 'SELF_REFERRAL';
  const referrerSignals = new Set(
    (await refRepo.signalsOf(trx, workspaceId, c.referrer)).map((s) => `${s.kind}\u0001${s.value_hash}`),
  );
  const inviteeSignals = [
    ...c.signals,
    ...(await refRepo.signalsOf(trx, workspaceId, c.invitee)).map((s) => ({ kind: s.kind, hash: s.value_hash })),
  ];
  for (const s of inviteeSignals)
    if (referrerSignals.has(`${s.kind}\u0001${s.hash}`))
      return s.kind === 'device' ? 'SHARED_DEVICE' : 'SHARED_ADDRESS';
  if (await refRepo.mutualReferral(trx, workspaceId, c.programmeId, c.invitee, c.referrer)) return 'MUTUAL_REFERRAL';
  return null;
}

/**
 * Records a referral (inside the caller's transaction): the code's row is locked first, so a referrer's referrals
 * are screened one at a time and the daily count is exact. Undefined when the invitee was referred already.
 */
async function attribute(deps: LoyaltyDeps, trx: Db, workspaceId: string, c: Candidate) {
  await refRepo.inviteCodeByCode(trx, workspaceId, c.code, true);
  if (await refRepo.referralOfInvitee(trx, workspaceId, c.programmeId, c.invitee)) return undefined;
  const now = deps.clock.now();
  await refRepo.recordSignals(trx, workspaceId, c.invitee, c.signals, now);
  const state = await deps.programmes.get(trx, workspaceId, c.programmeKey);
  let reason = await screen(deps, trx, workspaceId, c);
  let status: Referral['status'] = reason ? 'rejected' : 'pending';
  if (!reason) {
    const today = await refRepo.referralsToday(trx, workspaceId, c.programmeId, c.referrer, now, state.row.time_zone);
    if (today >= settingsOf(state).maxPerDay) {
      status = 'held';
      reason = 'DAILY_LIMIT';
    }
  }
  const id = newId();
  const inserted = await refRepo.insertReferral(trx, workspaceId, {
    id,
    programmeId: c.programmeId,
    code: c.code,
    referrerProfileId: c.referrer,
    inviteeProfileId: c.invitee,
    status,
    reason,
    source: c.source,
    messageId: c.messageId,
    now,
  });
  if (!inserted) return undefined;
  // Bought already (recorded after the fact by staff): completes at once.
  if (status === 'pending') await completeIfQualified(deps, trx, workspaceId, state, id);
  return refRepo.referralById(trx, workspaceId, id);
}

async function completeIfQualified(
  deps: LoyaltyDeps,
  trx: Db,
  workspaceId: string,
  state: ProgrammeState,
  referralId: string,
) {
  const r = await refRepo.referralById(trx, workspaceId, referralId);
  if (r?.status !== 'pending') return;
  const purchase = await refRepo.qualifyingPurchase(
    trx,
    workspaceId,
    state.row.id,
    r.invitee_profile_id,
    r.created_at,
    settingsOf(state).minPurchaseMinor,
  );
  if (purchase) await complete(deps, trx, workspaceId, state, r, purchase);
}

/** pending → completed and the two `Referral Completed` events, in the caller's transaction, exactly once. */
async function complete(
  deps: LoyaltyDeps,
  trx: Db,
  workspaceId: string,
  state: ProgrammeState,
  r: refRepo.ReferralRow,
  purchaseRef: string,
) {
  const now = deps.clock.now();
  if (!(await refRepo.completeReferral(trx, workspaceId, r.id, purchaseRef, now))) return false;
  const settings = settingsOf(state);
  const base = { referralId: r.id, programme: state.row.key, code: r.code, purchase: purchaseRef };
  await refRepo.insertTimelineEvents(trx, workspaceId, [
    {
      id: newId(),
      profileId: r.referrer_profile_id,
      name: REFERRAL_COMPLETED,
      properties: { ...base, role: 'referrer', rewardPoints: settings.referrerPoints },
      occurredAt: now,
    },
    {
      id: newId(),
      profileId: r.invitee_profile_id,
      name: REFERRAL_COMPLETED,
      properties: { ...base, role: 'invitee', rewardPoints: settings.inviteePoints },
      occurredAt: now,
    },
  ]);
  return true;
}

// ---- the listener

function codeOfEvent(e: StoredEvent): unknown {
  const referrer = e.context.referrer as { code?: unknown } | undefined;
  return referrer?.code ?? e.properties.referralCode ?? (e.type === 'identify' ? e.traits.referral_code : undefined);
}

/**
 * For events.onStored: arrivals with an invite code (any event type and name: `context.referrer.code`,
 * `properties.referralCode`, identify trait `referral_code`), signals of identify events, and `Loyalty Purchase`
 * events that may complete a referral. Runs in the transaction that stored the events, first delivery only.
 */
/** Without computing anything: could this event matter to referrals? The rest keep ingestion's plain path. */
function mayMatter(e: Pick<StoredEvent, 'type' | 'name' | 'properties' | 'context' | 'traits'>): boolean {
  if (e.type === 'track' && (e.name === LOYALTY_PURCHASE || UNWOUND.has(e.name ?? '') || e.name === REFERRAL_REVOKED))
    return true;
  const referrer = e.context.referrer as { code?: unknown } | undefined;
  if (referrer?.code !== undefined || e.properties.referralCode !== undefined) return true;
  if (e.type !== 'identify') return false;
  const device = (e.context.device as { id?: unknown } | undefined)?.id;
  return (
    e.traits.referral_code !== undefined ||
    device !== undefined ||
    e.traits.address !== undefined ||
    e.properties.address !== undefined
  );
}

export function referralListener(deps: LoyaltyDeps): StoredEventListener {
  return {
    types: ['track', 'identify', 'page', 'screen'],
    when: mayMatter,
    handle: async (trx, workspaceId, events) => {
      // Purchases matter only for invitees whose referral is pending: one query for the batch finds them.
      const buyers = events.filter((e) => e.type === 'track' && e.name === LOYALTY_PURCHASE).map((e) => e.profileId);
      const invitees = buyers.length > 0 ? await refRepo.pendingInvitees(trx, workspaceId, buyers) : new Set<string>();
      const unwound = events.filter((e) => e.type === 'track' && UNWOUND.has(e.name ?? ''));
      if (unwound.length > 0) await onUnwound(deps, trx, workspaceId, unwound);
      for (const e of events) {
        if (e.type === 'track' && e.name === LOYALTY_PURCHASE) {
          if (invitees.has(e.profileId)) await onPurchase(deps, trx, workspaceId, e);
          continue;
        }
        if (e.type === 'track' && UNWOUND.has(e.name ?? '')) continue;
        if (e.type === 'track' && e.name === REFERRAL_REVOKED) {
          await clawBack(deps, trx, workspaceId, e);
          continue;
        }
        const code = parseInviteCode(codeOfEvent(e));
        if (!code) {
          if (e.type === 'identify') {
            const signals = signalsOfEvent(e);
            if (signals.length > 0)
              await refRepo.recordSignals(trx, workspaceId, e.profileId, signals, deps.clock.now());
          }
          continue;
        }
        const owner = await refRepo.inviteCodeByCode(trx, workspaceId, code);
        if (!owner) continue;
        const referrer = (await deps.profiles.directory.liveProfileId(trx, workspaceId, owner.profile_id)) ?? null;
        if (!referrer) continue;
        await attribute(deps, trx, workspaceId, {
          programmeId: owner.programme_id,
          programmeKey: owner.programme_key,
          code,
          referrer,
          invitee: e.profileId,
          source: 'event',
          messageId: e.messageId,
          carried: ['phone', 'email', 'card'].map((kind) => ({ kind, value: e.traits[kind] })),
          signals: signalsOfEvent(e),
        });
      }
    },
  };
}

async function onPurchase(deps: LoyaltyDeps, trx: Db, workspaceId: string, e: StoredEvent) {
  const programmeKey = e.properties.programme;
  const amount = e.properties.amount;
  const transactionId = e.properties.transactionId;
  if (typeof programmeKey !== 'string' || typeof amount !== 'number' || typeof transactionId !== 'string') return;
  // The programme from the process's cache (the purchase that wrote this event has just read it).
  const state = await deps.programmes.get(trx, workspaceId, programmeKey).catch(() => null);
  if (!state) return;
  const r = await refRepo.referralOfInvitee(trx, workspaceId, state.row.id, e.profileId);
  if (r?.status !== 'pending') return;
  if (amount <= 0 || amount < settingsOf(state).minPurchaseMinor) return;
  if (e.occurredAt.getTime() < r.created_at.getTime()) return;
  if (await complete(deps, trx, workspaceId, state, r, transactionId)) deps.timelineWritten();
}

// ---- staff

export function referralOut(r: refRepo.ReferralRow): Referral {
  return {
    id: r.id,
    programme: r.programme_key,
    code: r.code,
    referrerProfileId: r.referrer_profile_id,
    inviteeProfileId: r.invitee_profile_id,
    status: r.status,
    reason: r.reason,
    source: r.source,
    createdAt: r.created_at.toISOString(),
    decidedAt: r.decided_at?.toISOString() ?? null,
    decidedBy: r.decided_by,
    completedAt: r.completed_at?.toISOString() ?? null,
    revokedAt: r.revoked_at?.toISOString() ?? null,
  };
}

/** Staff or the API record that a person came with a code (audited). */
export async function recordReferral(deps: LoyaltyDeps, actor: Actor, programmeKey: string, input: ReferralCreate) {
  const { workspaceId } = actor.principal.scope;
  const state = await deps.programmes.get(deps.db, workspaceId, programmeKey);
  const code = parseInviteCode(input.code);
  if (!code) throw new DomainError('invalid', 'INVALID_INVITE_CODE', 'This is not an invite code (check character).');
  const referral = await deps.db.transaction().execute(async (trx) => {
    const owner = await refRepo.inviteCodeByCode(trx, workspaceId, code);
    if (!owner || owner.programme_id !== state.row.id) throw notFound('Invite code', 'INVITE_CODE_NOT_FOUND');
    const referrer = await liveProfile(deps, trx, workspaceId, owner.profile_id);
    const invitee = await liveProfile(deps, trx, workspaceId, input.profileId);
    const signals = [signal('device', input.device), signal('address', input.address)].filter(
      (s): s is Signal => s !== null,
    );
    const made = await attribute(deps, trx, workspaceId, {
      programmeId: state.row.id,
      programmeKey,
      code,
      referrer,
      invitee,
      source: 'staff',
      messageId: null,
      carried: [],
      signals,
    });
    if (!made)
      throw new DomainError('conflict', 'ALREADY_REFERRED', 'This person was referred in this programme already.');
    await deps.audit(
      trx,
      actor,
      'loyalty.referral_recorded',
      { kind: 'profile', id: invitee },
      {
        referralId: made.id,
        status: made.status,
        reason: made.reason,
      },
    );
    return made;
  });
  deps.timelineWritten();
  return referralOut(referral);
}

/** A held referral approved (then pending, or completed at once if the invitee bought meanwhile) or rejected. */
export async function reviewReferral(
  deps: LoyaltyDeps,
  actor: Actor,
  programmeKey: string,
  id: string,
  input: ReferralReview,
) {
  const { workspaceId } = actor.principal.scope;
  const state = await deps.programmes.get(deps.db, workspaceId, programmeKey);
  const reviewed = await deps.db.transaction().execute(async (trx) => {
    const r = await refRepo.referralById(trx, workspaceId, id, true);
    if (!r || r.programme_id !== state.row.id) throw notFound('Referral', 'REFERRAL_NOT_FOUND');
    if (r.status !== 'held')
      throw new DomainError('conflict', 'REFERRAL_NOT_HELD', 'Only referrals held for review can be decided.');
    const now = deps.clock.now();
    const approve = input.decision === 'approve';
    await refRepo.setReferralStatus(trx, workspaceId, id, ['held'], {
      status: approve ? 'pending' : 'rejected',
      reason: approve ? null : 'REJECTED_BY_STAFF',
      by: actor.principal.actorLabel,
      now,
    });
    if (approve) await completeIfQualified(deps, trx, workspaceId, state, id);
    await deps.audit(
      trx,
      actor,
      'loyalty.referral_reviewed',
      { kind: 'profile', id: r.invitee_profile_id },
      {
        referralId: id,
        decision: input.decision,
        ...(input.reason ? { reason: input.reason } : {}),
      },
    );
    return (await refRepo.referralById(trx, workspaceId, id)) as refRepo.ReferralRow;
  });
  deps.timelineWritten();
  return referralOut(reviewed);
}
