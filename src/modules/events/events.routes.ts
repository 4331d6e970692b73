import { Transform } from 'node:stream';
import { createGunzip, createInflate } from 'node:zlib';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DomainError, notFound } from '../../platform/errors.ts';
import { actorOf } from '../../platform/http/auth.ts';
import { Problem } from '../../platform/http/problem.ts';
import type { OrgModule } from '../org/index.ts';
import { maskRecord, seesPii } from '../profiles/index.ts';
import * as repo from './events.repo.ts';
import {
  EVENT_TYPES,
  type EventType,
  IngestResult,
  MAX_BATCH_BYTES,
  MAX_MESSAGE_BYTES,
  TimelineEvent,
  TimelineQuery,
} from './events.schemas.ts';
import { type EventsDeps, ingest } from './events.service.ts';

const WRITE_KEY_CACHE_MS = 5_000;

/**
 * The Segment-compatible tracking API under /v1. Authenticated by a write key, sent as the HTTP Basic user (as
 * Segment's libraries do) or as `writeKey` in the body. Bodies may be gzip- or deflate-compressed; the size limits
 * apply to the decompressed body.
 */
export function ingestionRoutes(deps: EventsDeps, org: OrgModule): FastifyPluginAsync {
  const cache = new Map<string, { workspaceId: string | null; until: number }>();
  async function workspaceOfKey(key: string): Promise<string | null> {
    const hit = cache.get(key);
    if (hit && hit.until > Date.now()) return hit.workspaceId;
    const found = await org.resolveWriteKey(key);
    if (cache.size > 10_000) cache.clear();
    cache.set(key, { workspaceId: found?.workspaceId ?? null, until: Date.now() + WRITE_KEY_CACHE_MS });
    return found?.workspaceId ?? null;
  }

  async function authenticate(request: FastifyRequest, body: Record<string, unknown>): Promise<string> {
    let key: string | undefined;
    const header = request.headers.authorization;
    if (header?.startsWith('Basic ')) {
      const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
      key = decoded.split(':')[0];
    }
    if (!key && typeof body.writeKey === 'string') key = body.writeKey;
    if (!key)
      throw new DomainError('unauthenticated', 'WRITE_KEY_REQUIRED', 'Send the write key as the HTTP Basic user name.');
    const workspaceId = await workspaceOfKey(key);
    if (!workspaceId)
      throw new DomainError('unauthenticated', 'INVALID_WRITE_KEY', 'This write key is unknown or revoked.');
    return workspaceId;
  }

  return async (app) => {
    // Tracking libraries do not all label their bodies (RudderStack's sends gzip without a Content-Type): in this
    // scope every body is read as JSON, with Fastify's own prototype-poisoning-safe parser.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));

    // Decompress before parsing, counting the decompressed bytes against the route's limit.
    app.addHook('preParsing', async (request, _reply, payload) => {
      const encoding = String(request.headers['content-encoding'] ?? 'identity').toLowerCase();
      if (encoding === 'identity') return payload;
      if (encoding !== 'gzip' && encoding !== 'deflate') {
        throw new DomainError('invalid', 'UNSUPPORTED_ENCODING', 'Send the body plain, gzip or deflate.');
      }
      const limit = request.routeOptions.bodyLimit ?? MAX_BATCH_BYTES;
      let seen = 0;
      const guard = new Transform({
        transform(chunk: Buffer, _enc, done) {
          seen += chunk.length;
          if (seen > limit) {
            const error = Object.assign(new Error('too large'), {
              code: 'FST_ERR_CTP_BODY_TOO_LARGE',
              statusCode: 413,
            });
            done(error);
            return;
          }
          done(null, chunk);
        },
      });
      const inflated = payload.pipe(encoding === 'gzip' ? createGunzip() : createInflate()).pipe(guard);
      // Fastify compares Content-Length with what it received; the compressed length is what arrived.
      (inflated as unknown as { receivedEncodedLength: number }).receivedEncodedLength = Number(
        request.headers['content-length'] ?? 0,
      );
      return inflated;
    });

    for (const type of EVENT_TYPES) {
      app.post(
        `/v1/${type}`,
        {
          config: { auth: 'write_key' },
          bodyLimit: MAX_MESSAGE_BYTES + 1024,
          schema: {
            tags: ['tracking'],
            summary: `Segment-compatible ${type} call`,
            security: [],
            response: { 200: IngestResult, 400: Problem, 401: Problem, 413: Problem },
          },
        },
        async (request, reply) => {
          const body = (request.body ?? {}) as Record<string, unknown>;
          if (typeof body !== 'object' || Array.isArray(body)) {
            throw new DomainError('invalid', 'INVALID_MESSAGE', 'The body must be one JSON object.');
          }
          const workspaceId = await authenticate(request, body);
          const result = await ingest(deps, workspaceId, [{ ...body, type: type as EventType }], new Date());
          const problem = result.rejected[0];
          if (problem) throw new DomainError('invalid', problem.code, problem.message);
          return reply.send(result);
        },
      );
    }

    app.post(
      '/v1/batch',
      {
        config: { auth: 'write_key' },
        bodyLimit: MAX_BATCH_BYTES,
        schema: {
          tags: ['tracking'],
          summary: 'Segment-compatible batch of calls',
          security: [],
          response: { 200: IngestResult, 400: Problem, 401: Problem, 413: Problem },
        },
      },
      async (request) => {
        const body = (request.body ?? {}) as Record<string, unknown>;
        if (typeof body !== 'object' || Array.isArray(body) || !Array.isArray(body.batch)) {
          throw new DomainError('invalid', 'INVALID_BATCH', 'Send {"batch": [ …messages ]}.');
        }
        if (body.batch.length === 0) throw new DomainError('invalid', 'EMPTY_BATCH', 'The batch has no messages.');
        const workspaceId = await authenticate(request, body);
        const context =
          body.context && typeof body.context === 'object' ? (body.context as Record<string, unknown>) : undefined;
        const result = await ingest(deps, workspaceId, body.batch, new Date(), { sentAt: body.sentAt, context });
        if (result.accepted === 0) {
          throw new DomainError('invalid', 'BATCH_REJECTED', 'No message of the batch could be accepted.', {
            errors: result.rejected.map((r) => ({ path: `batch.${r.index}`, message: `${r.code}: ${r.message}` })),
          });
        }
        return result;
      },
    );
  };
}

/** Management API: a profile's timeline (a staff read of personal data: audited; contact data masked without
 * `profiles:read_pii`). */
export function timelineRoutes(deps: EventsDeps, org: Pick<OrgModule, 'readAudit'>): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/profiles/:id/events',
      {
        config: { auth: 'profiles:read' },
        schema: {
          tags: ['profiles'],
          summary: "A profile's timeline, newest first",
          params: z.object({ id: z.uuid() }),
          querystring: TimelineQuery,
          response: {
            200: z.object({ items: z.array(TimelineEvent), nextCursor: z.string().nullable() }),
            400: Problem,
            401: Problem,
            403: Problem,
            404: Problem,
          },
        },
      },
      async (request) => {
        const actor = actorOf(request);
        const { workspaceId } = actor.principal.scope;
        const { limit, cursor, from, to, ...filter } = request.query;
        let before: { at: Date; id: string } | undefined;
        if (cursor) {
          const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
          const date = new Date(at ?? '');
          if (!id || Number.isNaN(date.getTime()))
            throw new DomainError('invalid', 'INVALID_CURSOR', 'The cursor is not one this API issued.');
          before = { at: date, id };
        }
        const range = { ...filter, from: from ? new Date(from) : undefined, to: to ? new Date(to) : undefined };
        // The common case is one query: events of a live profile. Only an empty answer asks whether the id is
        // unknown (404) or was merged into another profile (whose timeline it now is).
        // The read and its audit entry run together; the answer waits for both.
        let [rows] = await Promise.all([
          repo.timeline(deps.db, workspaceId, request.params.id, range, { limit, before }),
          org.readAudit.record(actor, 'profile.timeline_read', { kind: 'profile', id: request.params.id }),
        ]);
        if (rows.length === 0) {
          const live = await deps.profiles.resolveProfileId(workspaceId, request.params.id);
          if (!live) throw notFound('Profile', 'PROFILE_NOT_FOUND');
          if (live !== request.params.id)
            rows = await repo.timeline(deps.db, workspaceId, live, range, { limit, before });
        }
        const items = rows.slice(0, limit);
        const last = items.at(-1);
        const clear = seesPii(actor.principal);
        return {
          items: items.map((r) => ({
            id: r.id,
            messageId: r.message_id,
            type: r.type,
            name: r.name,
            channel: r.channel,
            occurredAt: r.occurred_at.toISOString(),
            receivedAt: r.received_at.toISOString(),
            properties: clear ? r.properties : maskRecord(r.properties),
            traits: clear ? r.traits : maskRecord(r.traits),
            context: clear ? r.context : maskRecord(r.context),
          })),
          nextCursor:
            rows.length > limit && last
              ? Buffer.from(`${last.occurred_at.toISOString()}|${last.id}`, 'utf8').toString('base64url')
              : null,
        };
      },
    );
  };
}
