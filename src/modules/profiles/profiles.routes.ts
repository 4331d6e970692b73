import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../../platform/db.ts';
import { DomainError, notFound } from '../../platform/errors.ts';
import { actorOf } from '../../platform/http/auth.ts';
import { Problem } from '../../platform/http/problem.ts';
import { decodeCursor, encodeCursor, pageOf } from '../../platform/pagination.ts';
import { normalizeIdentifier } from './profiles.identifiers.ts';
import { displayName, maskProfile, maskSummary, seesPii } from './profiles.masking.ts';
import * as repo from './profiles.repo.ts';
import { Profile, ProfileMerge, ProfileQuery, ProfileSummary, TraitsEdit } from './profiles.schemas.ts';
import { editProfileTraits, mergeProfiles, type ReadAuditRecorder } from './profiles.staff.ts';
import { subjectRoutes } from './profiles.subject.routes.ts';
import type { SubjectDeps } from './profiles.subject.ts';

const errors = { 400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem };

/** The live profile an id stands for: itself, or the survivor it was merged into. */
export async function liveProfile(db: Db, workspaceId: string, id: string) {
  const row = await repo.findProfile(db, workspaceId, id);
  if (!row) return undefined;
  return row.merged_into ? repo.findProfile(db, workspaceId, row.merged_into) : row;
}

export async function describeProfile(db: Db, workspaceId: string, id: string): Promise<Profile> {
  const row = await repo.profileView(db, workspaceId, id);
  if (!row) throw notFound('Profile', 'PROFILE_NOT_FOUND');
  return {
    id: row.id,
    traits: row.traits,
    identities: row.identities.map((i) => ({ kind: i.kind, value: i.value, since: new Date(i.since).toISOString() })),
    channels: row.channels,
    firstSeenAt: row.first_seen_at.toISOString(),
    lastSeenAt: row.last_seen_at.toISOString(),
    mergedFrom: row.merges.map((m) => ({
      profileId: m.absorbed_id,
      reason: m.reason,
      at: new Date(m.at).toISOString(),
    })),
    erasedAt: row.erased_at?.toISOString() ?? null,
  };
}

export type ProfileRoutesDeps = SubjectDeps & { readAudit: ReadAuditRecorder };

/**
 * Staff reads of profiles are audited (`profile.listed`, `profile.read`; the timeline's in the events module) and,
 * for roles without `profiles:read_pii`, show contact data masked (profiles.masking.ts).
 */
export function profilesRoutes(deps: ProfileRoutesDeps): FastifyPluginAsyncZod {
  const db = deps.db;
  const shown = (actor: { principal: Parameters<typeof seesPii>[0] }, profile: Profile) =>
    seesPii(actor.principal) ? profile : maskProfile(profile);
  return async (app) => {
    await app.register(subjectRoutes(deps));

    app.get(
      '/profiles',
      {
        config: { auth: 'profiles:read' },
        schema: {
          tags: ['profiles'],
          summary: 'Find profiles: by exact identifier (kind:value), by search, or the newest',
          querystring: ProfileQuery,
          response: { 200: pageOf(ProfileSummary), ...errors },
        },
      },
      async (request) => {
        const actor = actorOf(request);
        const { workspaceId } = actor.principal.scope;
        const { identifier, q, limit, cursor } = request.query;
        let rows: { id: string; traits: Record<string, unknown>; channels: string[]; last_seen_at: Date }[];
        let nextCursor: string | null = null;
        if (identifier) {
          const at = identifier.indexOf(':', identifier.startsWith('external:') ? 'external:'.length : 0);
          const kind = identifier.slice(0, at);
          const normalized = normalizeIdentifier(kind, identifier.slice(at + 1));
          if (!normalized)
            throw new DomainError(
              'invalid',
              'INVALID_IDENTIFIER',
              `"${identifier}" is not a valid ${kind} identifier.`,
            );
          const owner = await repo.ownerOf(db, workspaceId, normalized.kind, normalized.value);
          const row = owner ? await repo.findProfile(db, workspaceId, owner) : undefined;
          rows = row ? [row] : [];
        } else {
          const found = await repo.listProfiles(db, workspaceId, { q }, { limit, before: decodeCursor(cursor) });
          rows = found.slice(0, limit);
          const last = rows.at(-1);
          if (found.length > limit && last) nextCursor = encodeCursor(last.id);
        }
        const ids = await repo.identifiersOfProfiles(
          db,
          workspaceId,
          rows.map((r) => r.id),
          { only: ['email', 'phone'] },
        );
        const pick = (profileId: string, kind: string) =>
          ids.find((i) => i.profile_id === profileId && i.kind === kind)?.value ?? null;
        // Which people a list showed, never what was searched for (a search term may be an e-mail).
        const only = identifier && rows[0] ? { kind: 'profile', id: rows[0].id } : null;
        await deps.readAudit.record(actor, 'profile.listed', only, {
          by: identifier ? 'identifier' : q ? 'search' : 'newest',
          profileIds: rows.map((r) => r.id),
        });
        const mask = seesPii(actor.principal) ? (s: ProfileSummary) => s : maskSummary;
        return {
          items: rows.map((r) =>
            mask({
              id: r.id,
              name: displayName(r.traits),
              email: pick(r.id, 'email'),
              phone: pick(r.id, 'phone'),
              channels: r.channels,
              lastSeenAt: r.last_seen_at.toISOString(),
            }),
          ),
          nextCursor,
        };
      },
    );

    app.get(
      '/profiles/:id',
      {
        config: { auth: 'profiles:read' },
        schema: {
          tags: ['profiles'],
          summary: 'One profile: identities, traits, first and last seen, channels, merge history',
          params: z.object({ id: z.uuid() }),
          response: { 200: Profile, ...errors },
        },
      },
      async (request) => {
        const actor = actorOf(request);
        const target = { kind: 'profile', id: request.params.id };
        // The read and its audit entry run together; the answer waits for both.
        const [profile] = await Promise.all([
          describeProfile(db, actor.principal.scope.workspaceId, request.params.id),
          deps.readAudit.record(actor, 'profile.read', target),
        ]);
        return shown(actor, profile);
      },
    );

    app.post(
      '/profiles/:id/merge',
      {
        config: { auth: 'profiles:write' },
        schema: {
          tags: ['profiles'],
          summary: 'Merge another profile into this one (staff; refused when they hold different values of one kind)',
          params: z.object({ id: z.uuid() }),
          body: ProfileMerge,
          response: { 200: Profile, ...errors },
        },
      },
      async (request) => {
        const actor = actorOf(request);
        const survivor = await mergeProfiles(deps, actor, request.params.id, request.body.absorbId);
        return shown(actor, await describeProfile(db, actor.principal.scope.workspaceId, survivor));
      },
    );

    app.patch(
      '/profiles/:id/traits',
      {
        config: { auth: 'profiles:write' },
        schema: {
          tags: ['profiles'],
          summary: 'Set or remove traits (staff); applied newest-wins, so later events still update them',
          params: z.object({ id: z.uuid() }),
          body: TraitsEdit,
          response: { 200: Profile, ...errors },
        },
      },
      async (request) => {
        const actor = actorOf(request);
        await editProfileTraits(deps, actor, request.params.id, request.body);
        return shown(actor, await describeProfile(db, actor.principal.scope.workspaceId, request.params.id));
      },
    );
  };
}
