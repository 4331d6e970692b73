import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../../platform/db.ts';
import { DomainError, notFound } from '../../platform/errors.ts';
import { actorOf, principalOf } from '../../platform/http/auth.ts';
import { Problem } from '../../platform/http/problem.ts';
import { decodeCursor, encodeCursor, pageOf } from '../../platform/pagination.ts';
import { normalizeIdentifier } from './profiles.identifiers.ts';
import * as repo from './profiles.repo.ts';
import { Profile, ProfileMerge, ProfileQuery, ProfileSummary, TraitsEdit } from './profiles.schemas.ts';
import { editProfileTraits, mergeProfiles, type StaffDeps } from './profiles.staff.ts';

const errors = { 400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem };

function str(v: unknown): string | null {
  return typeof v === 'string' && v ? v : null;
}

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
  };
}

export function profilesRoutes(deps: StaffDeps): FastifyPluginAsyncZod {
  const db = deps.db;
  return async (app) => {
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
        const { workspaceId } = principalOf(request).scope;
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
        return {
          items: rows.map((r) => ({
            id: r.id,
            name:
              str(r.traits.name) ??
              ([str(r.traits.firstName), str(r.traits.lastName)].filter(Boolean).join(' ') || null),
            email: pick(r.id, 'email'),
            phone: pick(r.id, 'phone'),
            channels: r.channels,
            lastSeenAt: r.last_seen_at.toISOString(),
          })),
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
      async (request) => describeProfile(db, principalOf(request).scope.workspaceId, request.params.id),
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
        return describeProfile(db, actor.principal.scope.workspaceId, survivor);
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
        return describeProfile(db, actor.principal.scope.workspaceId, request.params.id);
      },
    );
  };
}
