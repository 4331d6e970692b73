import type { Db } from '../../platform/db.ts';
import { DomainError, notFound } from '../../platform/errors.ts';
import { newId } from '../../platform/ids.ts';
import type { Logger } from '../../platform/logger.ts';
import type { QueueDefinition } from '../../platform/queue.ts';
import type { StoredEvent, StoredEventListener } from '../events/index.ts';
import { type Identifier, normalizeIdentifier, type ProfilesModule } from '../profiles/index.ts';
import type { Enqueue } from './codes.attempt.ts';
import type { PlacementRow } from './codes.placements.repo.ts';
import * as repo from './codes.placements.repo.ts';
import * as codesRepo from './codes.repo.ts';
import type { Placement, PlacementCreate, PlacementUpdate } from './codes.schemas.ts';

/**
 * Response codes per medium. A placement (a TV slot, a print issue, a billboard …) has a keyword; every inbound
 * contact that carries it — an SMS or messenger text starting with it, a visit of its tracking address, a code
 * registered with it, any event naming it (`properties.placement` or `context.campaign.content`) — is recorded in
 * `placement_contacts`, in the transaction of what caused it. The first placement that reaches a person is their
 * acquisition medium (`placement_first_touch`, one row per profile decides it; the profile's traits
 * `acquisition_medium` and `acquisition_placement` are written then and never by a later placement), and each
 * contact with a person goes to their timeline as `Placement Contact` through a job enqueued in that transaction
 * (message id `placement-contact:<contact id>`, so retries add nothing).
 */

export const PLACEMENT_CONTACT_JOB = 'codes.placement_contact';
export const PLACEMENT_CONTACT = 'Placement Contact';
const CODE_REGISTERED = 'Code Registered';

export type ContactKind = 'sms' | 'messenger' | 'visit' | 'registration' | 'event';

export interface PlacementDeps {
  db: Db;
  clock: { now(): Date };
  logger?: Logger;
  publicUrl: string;
  profiles: Pick<ProfilesModule, 'resolveObservations' | 'applyProjection' | 'directory'>;
  enqueue: Enqueue;
}

const KEYWORD = /^[A-Z0-9]{2,20}$/;
/** Words that already mean something in inbound text: they cannot be keywords. */
const RESERVED = new Set(['CODE', 'STOP', 'START', 'HELP', 'UNSUBSCRIBE']);

/** The keyword people typed, upper-cased, or null when it cannot be one. */
export function keywordOf(raw: unknown): string | null {
  if (typeof raw !== 'string') return null;
  const k = raw.trim().toUpperCase();
  return KEYWORD.test(k) ? k : null;
}

/** True when the placement takes contacts at `at`. */
export function isLive(p: Pick<PlacementRow, 'starts_at' | 'ends_at'>, at: Date) {
  return (!p.starts_at || p.starts_at <= at) && (!p.ends_at || p.ends_at > at);
}

// ---- management

export function placementOut(deps: Pick<PlacementDeps, 'publicUrl'>, row: PlacementRow, slug: string): Placement {
  return {
    id: row.id,
    name: row.name,
    medium: row.medium,
    details: row.details ?? {},
    keyword: row.keyword,
    promotionId: row.promotion_id,
    landingUrl: row.landing_url,
    costMinor: row.cost_minor,
    currency: row.currency,
    startsAt: row.starts_at?.toISOString() ?? null,
    endsAt: row.ends_at?.toISOString() ?? null,
    trackingUrl: `${deps.publicUrl}/r/${encodeURIComponent(slug)}/${encodeURIComponent(row.keyword)}`,
    qrUrl: `/api/v1/codes/placements/${row.id}/qr`,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

async function writeOf(db: Db, workspaceId: string, input: PlacementCreate): Promise<repo.PlacementWrite> {
  const keyword = keywordOf(input.keyword);
  if (!keyword || RESERVED.has(keyword))
    throw new DomainError(
      'invalid',
      'INVALID_KEYWORD',
      'A keyword is 2 to 20 letters and digits, and not a command word.',
    );
  const startsAt = input.startsAt ? new Date(input.startsAt) : null;
  const endsAt = input.endsAt ? new Date(input.endsAt) : null;
  if (startsAt && endsAt && endsAt <= startsAt)
    throw new DomainError('invalid', 'INVALID_WINDOW', 'The placement must end after it starts.');
  const promotionId = input.promotionId ?? null;
  if (promotionId && !(await codesRepo.promotionById(db, workspaceId, promotionId)))
    throw new DomainError('invalid', 'PROMOTION_NOT_FOUND', 'There is no such promotion in this workspace.');
  return {
    name: input.name,
    medium: input.medium,
    details: input.details ?? {},
    keyword,
    promotionId,
    landingUrl: input.landingUrl ?? null,
    costMinor: input.costMinor ?? 0,
    currency: input.currency,
    startsAt,
    endsAt,
  };
}

const keywordTaken = () =>
  new DomainError('conflict', 'KEYWORD_TAKEN', 'Another placement of this workspace has this keyword.');

export async function createPlacement(deps: PlacementDeps, workspaceId: string, input: PlacementCreate) {
  const write = await writeOf(deps.db, workspaceId, input);
  const row = await repo.insertPlacement(deps.db, workspaceId, newId(), write, deps.clock.now());
  if (!row) throw keywordTaken();
  return row;
}

export async function requirePlacement(db: Db, workspaceId: string, id: string) {
  const row = await repo.findPlacement(db, workspaceId, id);
  if (!row) throw notFound('Placement', 'PLACEMENT_NOT_FOUND');
  return row;
}

export async function updatePlacement(deps: PlacementDeps, workspaceId: string, id: string, patch: PlacementUpdate) {
  const current = await requirePlacement(deps.db, workspaceId, id);
  const merged: PlacementCreate = {
    name: patch.name ?? current.name,
    medium: patch.medium ?? current.medium,
    details: patch.details ?? current.details,
    keyword: patch.keyword ?? current.keyword,
    promotionId: patch.promotionId !== undefined ? patch.promotionId : current.promotion_id,
    landingUrl: patch.landingUrl !== undefined ? patch.landingUrl : current.landing_url,
    costMinor: patch.costMinor ?? current.cost_minor,
    currency: patch.currency ?? current.currency,
    startsAt: patch.startsAt !== undefined ? patch.startsAt : (current.starts_at?.toISOString() ?? null),
    endsAt: patch.endsAt !== undefined ? patch.endsAt : (current.ends_at?.toISOString() ?? null),
  };
  const row = await repo.updatePlacement(
    deps.db,
    workspaceId,
    id,
    await writeOf(deps.db, workspaceId, merged),
    deps.clock.now(),
  );
  if (!row) throw keywordTaken();
  return row;
}

/** Only a placement nobody answered yet can go: the report's figures must keep adding up. */
export async function deletePlacement(deps: PlacementDeps, workspaceId: string, id: string) {
  await requirePlacement(deps.db, workspaceId, id);
  if ((await repo.countContacts(deps.db, workspaceId, id)) > 0)
    throw new DomainError(
      'conflict',
      'PLACEMENT_HAS_CONTACTS',
      'This placement has contacts; end it (endsAt) instead of deleting it.',
    );
  await repo.deletePlacement(deps.db, workspaceId, id);
}

export function decodeCursor(cursor: string | undefined) {
  if (!cursor) return undefined;
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const date = new Date(at ?? '');
  if (!id || !/^[0-9a-f-]{36}$/i.test(id) || Number.isNaN(date.getTime()))
    throw new DomainError('invalid', 'INVALID_CURSOR', 'The cursor is not one this API issued.');
  return { at: date, id };
}

export const encodeCursor = (row: { created_at: Date; id: string }) =>
  Buffer.from(`${row.created_at.toISOString()}|${row.id}`).toString('base64url');

// ---- attribution

export interface Contact {
  placement: PlacementRow;
  profileId: string | null;
  kind: ContactKind;
  at: Date;
  sourceId?: string | null;
}

/**
 * Records contacts inside the caller's transaction: the contacts, the first touches they win (and the profiles'
 * acquisition traits), and the job that writes `Placement Contact` to the timelines. Call it before the
 * transaction's own profile projection, if any (row locks on profiles are taken here).
 */
export async function recordContacts(deps: PlacementDeps, trx: Db, workspaceId: string, contacts: Contact[]) {
  if (contacts.length === 0) return [];
  const rows = contacts.map((c) => ({
    c,
    write: {
      id: newId(),
      placementId: c.placement.id,
      profileId: c.profileId,
      kind: c.kind,
      at: c.at,
      sourceId: c.sourceId ?? null,
    },
  }));
  const recorded = await repo.insertContacts(
    trx,
    workspaceId,
    rows.map((r) => r.write),
  );
  const fresh = rows.filter((r) => recorded.has(r.write.id));
  // Per person, their earliest contact of this batch competes for the first touch.
  const earliest = new Map<string, (typeof fresh)[number]>();
  for (const r of fresh) {
    if (!r.c.profileId) continue;
    const seen = earliest.get(r.c.profileId);
    if (!seen || r.c.at < seen.c.at) earliest.set(r.c.profileId, r);
  }
  const won = await repo.claimFirstTouches(
    trx,
    workspaceId,
    [...earliest.values()].map((r) => ({
      contactId: r.write.id,
      profileId: r.c.profileId as string,
      placementId: r.c.placement.id,
      medium: r.c.placement.medium,
      at: r.c.at,
    })),
  );
  const acquired = [...earliest.values()].filter((r) => won.has(r.c.profileId as string));
  if (acquired.length > 0)
    await deps.profiles.applyProjection(
      trx,
      workspaceId,
      acquired.map((r) => ({
        id: r.c.profileId as string,
        traits: { acquisition_medium: r.c.placement.medium, acquisition_placement: r.c.placement.keyword },
        traitTimes: { acquisition_medium: r.c.at.toISOString(), acquisition_placement: r.c.at.toISOString() },
        channels: [],
        firstSeenAt: r.c.at,
        lastSeenAt: r.c.at,
      })),
    );
  const acquiredIds = new Set(acquired.map((r) => r.write.id));
  const timeline = fresh
    .filter((r) => r.c.profileId)
    .map((r) => ({
      contactId: r.write.id,
      profileId: r.c.profileId as string,
      placementId: r.c.placement.id,
      keyword: r.c.placement.keyword,
      medium: r.c.placement.medium,
      name: r.c.placement.name,
      kind: r.c.kind,
      at: r.c.at.toISOString(),
      newProfile: acquiredIds.has(r.write.id),
    }));
  if (timeline.length > 0) await deps.enqueue(trx, PLACEMENT_CONTACT_JOB, { workspaceId, contacts: timeline });
  return fresh.map((r) => ({ id: r.write.id, newProfile: acquiredIds.has(r.write.id) }));
}

/** Live placements of a workspace by keyword. */
async function livePlacements(db: Db, workspaceId: string, keywords: string[], at: Date) {
  const rows = await repo.placementsByKeywords(db, workspaceId, [...new Set(keywords)]);
  return new Map(rows.filter((p) => isLive(p, at)).map((p) => [p.keyword, p]));
}

/** The placement keyword an event names, if any. */
export function keywordOfEvent(e: Pick<StoredEvent, 'name' | 'properties' | 'context'>): string | null {
  if (e.name === PLACEMENT_CONTACT) return null;
  const campaign = e.context.campaign as { content?: unknown } | undefined;
  return keywordOf(e.properties.placement) ?? keywordOf(campaign?.content);
}

/**
 * The events listener: any stored event naming a live placement's keyword is a contact of its person — forms and
 * call-back requests of other modules included, without their knowing this module. `Code Registered` with a
 * placement is the registration. Runs in the events' transaction, for message ids stored for the first time.
 */
export function placementListener(deps: PlacementDeps): StoredEventListener {
  return {
    names: [],
    types: ['track', 'page', 'screen'],
    // Only events that name a keyword at all: the rest keep ingestion's and imports' plain insert path.
    when: (e) => keywordOfEvent(e) !== null,
    handle: async (trx, workspaceId, events) => {
      const named = events.flatMap((e) => {
        const keyword = keywordOfEvent(e);
        return keyword ? [{ e, keyword }] : [];
      });
      if (named.length === 0) return;
      const placements = await repo.placementsByKeywords(trx, workspaceId, [...new Set(named.map((n) => n.keyword))]);
      const byKeyword = new Map(placements.map((p) => [p.keyword, p]));
      const contacts: Contact[] = [];
      for (const { e, keyword } of named) {
        const placement = byKeyword.get(keyword);
        if (!placement || !isLive(placement, e.occurredAt)) continue;
        contacts.push({
          placement,
          profileId: e.profileId,
          kind: e.name === CODE_REGISTERED ? 'registration' : 'event',
          at: e.occurredAt,
          sourceId: e.messageId,
        });
      }
      await recordContacts(deps, trx, workspaceId, contacts);
    },
  };
}

/** A visit of a tracking address (no person known). */
export async function recordVisit(deps: PlacementDeps, workspaceId: string, placement: PlacementRow) {
  const now = deps.clock.now();
  if (!isLive(placement, now)) return false;
  await deps.db
    .transaction()
    .execute((trx) => recordContacts(deps, trx, workspaceId, [{ placement, profileId: null, kind: 'visit', at: now }]));
  return true;
}

/** "TV1" or "TV1 7KQ4M2XD9RPT" or "tv1 code 7KQ4…": the first word, when it is a live placement's keyword. */
export async function inboundPlacement(db: Db, workspaceId: string, text: string, at: Date) {
  const m = /^\s*([A-Za-z0-9]{2,20})(?:[\s:#,.-]+(.*?))?\s*$/su.exec(text.normalize('NFKC'));
  const keyword = keywordOf(m?.[1]);
  if (!keyword || RESERVED.has(keyword)) return null;
  const placement = (await livePlacements(db, workspaceId, [keyword], at)).get(keyword);
  if (!placement) return null;
  return { placement, rest: (m?.[2] ?? '').trim() };
}

/** The sender of an inbound text as an identifier (E.164 phone, or a messenger id `kind:id`). */
export function senderOf(channel: 'sms' | 'messenger', from: string): Identifier | null {
  if (channel === 'sms')
    return normalizeIdentifier('phone', from) ?? normalizeIdentifier('phone', `+${from.replace(/\D/g, '')}`);
  const trimmed = from.trim();
  const colon = trimmed.indexOf(':');
  if (colon < 1) return null;
  return normalizeIdentifier(trimmed.slice(0, colon), trimmed.slice(colon + 1));
}

/** An inbound text's contact: the sender is resolved to a profile (created when new) in the same transaction. */
export async function recordInboundContact(
  deps: PlacementDeps,
  workspaceId: string,
  placement: PlacementRow,
  channel: 'sms' | 'messenger',
  sender: Identifier,
) {
  const at = deps.clock.now();
  return deps.db.transaction().execute(async (trx) => {
    const resolution = await deps.profiles.resolveObservations(trx, workspaceId, [
      { ids: [sender], traits: null, at, channel },
    ]);
    const profileId = resolution.profileIds[0] as string;
    const [recorded] = await recordContacts(deps, trx, workspaceId, [{ placement, profileId, kind: channel, at }]);
    await deps.profiles.applyProjection(trx, workspaceId, resolution.projection);
    return { profileId, newProfile: recorded?.newProfile ?? false };
  });
}

// ---- the timeline job

interface ContactJob {
  workspaceId: string;
  contacts: {
    contactId: string;
    profileId: string;
    placementId: string;
    keyword: string;
    medium: string;
    name: string;
    kind: ContactKind;
    at: string;
    newProfile: boolean;
  }[];
}

const ORDER = ['user_id', 'email', 'phone'];
const CONTACT_CHANNEL: Record<ContactKind, string> = {
  sms: 'sms',
  messenger: 'messenger',
  visit: 'web',
  registration: 'code_entry',
  event: 'web',
};

/** Writes `Placement Contact` events to the timelines; each message id comes from its contact's, so retries add nothing. */
export function placementJobs(
  deps: Pick<PlacementDeps, 'db' | 'profiles' | 'logger'>,
  ingest: (workspaceId: string, messages: unknown[]) => Promise<{ rejected: { code: string }[] }>,
): QueueDefinition[] {
  return [
    {
      name: PLACEMENT_CONTACT_JOB,
      batchSize: 20,
      options: { retryLimit: 10, retryDelay: 5, retryBackoff: true },
      handler: async (jobs) => {
        for (const job of jobs) {
          const data = job.data as ContactJob;
          const messages: unknown[] = [];
          for (const c of data.contacts) {
            const who = await identify(deps, data.workspaceId, c.profileId);
            if (!who) continue;
            messages.push({
              type: 'track',
              event: PLACEMENT_CONTACT,
              messageId: `placement-contact:${c.contactId}`,
              timestamp: c.at,
              ...who,
              context: { ...who.context, channel: CONTACT_CHANNEL[c.kind] },
              properties: {
                placementId: c.placementId,
                keyword: c.keyword,
                medium: c.medium,
                placementName: c.name,
                contact: c.kind,
                newProfile: c.newProfile,
              },
            });
          }
          if (messages.length === 0) continue;
          const result = await ingest(data.workspaceId, messages);
          if (result.rejected.length > 0)
            deps.logger?.warn(
              { rejected: result.rejected.map((r) => r.code), workspaceId: data.workspaceId },
              'placement contact events refused by ingestion',
            );
        }
      },
    },
  ];
}

/** How a timeline message finds the profile: its strongest identifier. */
async function identify(deps: Pick<PlacementDeps, 'db' | 'profiles'>, workspaceId: string, profileId: string) {
  const live = await deps.profiles.directory.liveProfileId(deps.db, workspaceId, profileId);
  if (!live) return null;
  const ids = await deps.profiles.directory.identifiersOf(deps.db, workspaceId, live);
  const rank = (k: string) => (ORDER.indexOf(k) < 0 ? 9 : ORDER.indexOf(k));
  const best = [...ids].sort((a, b) => rank(a.kind) - rank(b.kind))[0];
  if (!best) return null;
  if (best.kind === 'user_id') return { userId: best.value, context: {} };
  if (best.kind === 'email' || best.kind === 'phone') return { context: { traits: { [best.kind]: best.value } } };
  const type = best.kind.startsWith('external:') ? best.kind.slice('external:'.length) : best.kind;
  return { context: { externalIds: [{ type, id: best.value }] } };
}
