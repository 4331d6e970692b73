import { DomainError, notFound } from '../../platform/errors.ts';
import { newId } from '../../platform/ids.ts';
import type { Actor } from '../../platform/principal.ts';
import * as clubsRepo from './loyalty.clubs.repo.ts';
import { memberOf } from './loyalty.proof.ts';
import type { Club, ClubCreate, ClubUpdate } from './loyalty.rewards.schemas.ts';
import type { CustomerRef } from './loyalty.schemas.ts';
import { type LoyaltyDeps, saveRule } from './loyalty.service.ts';

/**
 * Clubs of a programme ("Parents' club"): members join and leave through the API; earn rules target them with the
 * `member.clubs` field, rewards may be for a club's members only. A club's earn multiplier is an ordinary earn
 * rule the club keeps (a `multiplier` of what the rules before it gave, on purchases, for members of the club), so
 * it shows in the rules list, runs through the same evaluation and simulation, and is archived with the club.
 */

/** Runs after the programme's own rules (lower priorities run first). */
const MULTIPLIER_PRIORITY = 900_000;

export function clubOut(c: clubsRepo.ClubRow): Club {
  return {
    id: c.id,
    key: c.key,
    nameEn: c.name_en,
    nameRu: c.name_ru,
    descriptionEn: c.description_en,
    descriptionRu: c.description_ru,
    earnMultiplier: c.earn_multiplier,
    earnRuleId: c.earn_rule_id,
    status: c.status,
    members: c.members,
    createdAt: c.created_at.toISOString(),
  };
}

async function requireClub(deps: LoyaltyDeps, workspaceId: string, programmeId: string, id: string) {
  const club = await clubsRepo.clubById(deps.db, workspaceId, id);
  if (!club || club.programme_id !== programmeId) throw notFound('Club', 'CLUB_NOT_FOUND');
  return club;
}

/** Creates, updates or archives the club's multiplier rule to match the club. */
async function syncMultiplier(deps: LoyaltyDeps, actor: Actor, programmeKey: string, club: clubsRepo.ClubRow) {
  const state = await deps.programmes.get(deps.db, actor.principal.scope.workspaceId, programmeKey);
  const wallet = (state.paymentWallet ?? state.row.settings.wallets[0])?.key ?? 'points';
  const live = club.status === 'active' && club.earn_multiplier !== null && club.earn_multiplier > 1;
  if (!club.earn_rule_id && !live) return;
  const rule = await saveRule(
    deps,
    actor,
    programmeKey,
    {
      name: `Club ${club.key}: ×${club.earn_multiplier ?? 1}`,
      status: live ? 'active' : 'archived',
      trigger: 'purchase',
      scope: 'transaction',
      condition: { field: 'member.clubs', op: 'has', value: club.key },
      formula: { kind: 'multiplier', factor: club.earn_multiplier ?? 1 },
      wallet,
      priority: MULTIPLIER_PRIORITY,
      stopAfter: false,
      caps: [],
    },
    club.earn_rule_id ?? undefined,
  );
  if (!club.earn_rule_id)
    await clubsRepo.updateClub(deps.db, actor.principal.scope.workspaceId, club.id, { earn_rule_id: rule.id });
}

export async function createClub(deps: LoyaltyDeps, actor: Actor, programmeKey: string, input: ClubCreate) {
  const { workspaceId } = actor.principal.scope;
  const state = await deps.programmes.get(deps.db, workspaceId, programmeKey);
  const id = newId();
  await deps.db.transaction().execute(async (trx) => {
    const created = await clubsRepo.insertClub(trx, workspaceId, {
      id,
      programmeId: state.row.id,
      key: input.key,
      nameEn: input.nameEn,
      nameRu: input.nameRu ?? null,
      descriptionEn: input.descriptionEn ?? null,
      descriptionRu: input.descriptionRu ?? null,
      earnMultiplier: input.earnMultiplier,
      status: input.status,
      now: deps.clock.now(),
    });
    if (!created) throw new DomainError('conflict', 'CLUB_KEY_TAKEN', `A club with key "${input.key}" exists.`);
    await deps.audit(trx, actor, 'loyalty.club_created', { kind: 'loyalty_club', id }, { key: input.key });
  });
  await syncMultiplier(deps, actor, programmeKey, await requireClub(deps, workspaceId, state.row.id, id));
  return requireClub(deps, workspaceId, state.row.id, id);
}

export async function updateClub(deps: LoyaltyDeps, actor: Actor, programmeKey: string, id: string, patch: ClubUpdate) {
  const { workspaceId } = actor.principal.scope;
  const state = await deps.programmes.get(deps.db, workspaceId, programmeKey);
  const club = await requireClub(deps, workspaceId, state.row.id, id);
  await deps.db.transaction().execute(async (trx) => {
    await clubsRepo.updateClub(trx, workspaceId, club.id, {
      name_en: patch.nameEn,
      name_ru: patch.nameRu,
      description_en: patch.descriptionEn,
      description_ru: patch.descriptionRu,
      earn_multiplier: patch.earnMultiplier,
      status: patch.status,
    });
    await deps.audit(trx, actor, 'loyalty.club_updated', { kind: 'loyalty_club', id }, { fields: Object.keys(patch) });
  });
  const after = await requireClub(deps, workspaceId, state.row.id, id);
  if (patch.earnMultiplier !== undefined || patch.status !== undefined)
    await syncMultiplier(deps, actor, programmeKey, after);
  return requireClub(deps, workspaceId, state.row.id, id);
}

export async function listClubs(deps: LoyaltyDeps, workspaceId: string, programmeKey: string) {
  const state = await deps.programmes.get(deps.db, workspaceId, programmeKey);
  return clubsRepo.listClubs(deps.db, workspaceId, state.row.id);
}

/** A member joins a club (staff action, audited). Joining twice changes nothing. */
export async function joinClub(
  deps: LoyaltyDeps,
  actor: Actor,
  programmeKey: string,
  id: string,
  customer: CustomerRef,
) {
  const { workspaceId } = actor.principal.scope;
  const state = await deps.programmes.get(deps.db, workspaceId, programmeKey);
  const club = await requireClub(deps, workspaceId, state.row.id, id);
  if (club.status !== 'active') throw new DomainError('conflict', 'CLUB_ARCHIVED', 'This club is archived.');
  const member = await memberOf(deps, deps.db, workspaceId, state, customer);
  await deps.db.transaction().execute(async (trx) => {
    if (await clubsRepo.join(trx, workspaceId, club.id, member.id, deps.clock.now()))
      await deps.audit(
        trx,
        actor,
        'loyalty.club_joined',
        { kind: 'profile', id: member.profile_id },
        { club: club.key },
      );
  });
  return { member, club };
}

export async function leaveClub(
  deps: LoyaltyDeps,
  actor: Actor,
  programmeKey: string,
  id: string,
  customer: CustomerRef,
) {
  const { workspaceId } = actor.principal.scope;
  const state = await deps.programmes.get(deps.db, workspaceId, programmeKey);
  const club = await requireClub(deps, workspaceId, state.row.id, id);
  const member = await memberOf(deps, deps.db, workspaceId, state, customer);
  await deps.db.transaction().execute(async (trx) => {
    if (await clubsRepo.leave(trx, workspaceId, club.id, member.id))
      await deps.audit(trx, actor, 'loyalty.club_left', { kind: 'profile', id: member.profile_id }, { club: club.key });
  });
  return { member, club };
}
