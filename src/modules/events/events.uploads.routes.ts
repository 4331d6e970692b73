import type { Readable } from 'node:stream';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DomainError } from '../../platform/errors.ts';
import { actorOf, principalOf } from '../../platform/http/auth.ts';
import { Problem } from '../../platform/http/problem.ts';
import { PageQuery, pageOf } from '../../platform/pagination.ts';
import { Import, ImportUploadQuery, MAX_UPLOAD_BYTES, UPLOAD_CONTENT_TYPES } from './events.uploads.schemas.ts';
import { type Enqueue, getImport, listImports, receiveUpload, rejectsCsv, type UploadDeps } from './events.uploads.ts';

const errors = { 400: Problem, 401: Problem, 403: Problem, 404: Problem };
const ACCEPTED = new Set<string>(UPLOAD_CONTENT_TYPES);

/** Management API: upload a file to import, follow its progress, download its rejects. */
export function uploadRoutes(deps: UploadDeps, enqueue: Enqueue): FastifyPluginAsyncZod {
  return async (app) => {
    // In this scope a body is the file itself: handed to the route as a stream, read as it arrives, never
    // buffered whole (Fastify's own parsers would collect it in memory).
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (request, payload, done) => {
      const type = String(request.headers['content-type'] ?? '')
        .split(';')[0]
        ?.trim()
        .toLowerCase();
      const encoding = String(request.headers['content-encoding'] ?? 'identity').toLowerCase();
      if (encoding !== 'identity') {
        done(new DomainError('invalid', 'UNSUPPORTED_ENCODING', 'Send the file uncompressed.'), undefined);
        return;
      }
      if (type && !ACCEPTED.has(type)) {
        const error = Object.assign(
          new Error(`Send the file itself as the body, labelled ${UPLOAD_CONTENT_TYPES.join(', ')}.`),
          { statusCode: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
        );
        done(error, undefined);
        return;
      }
      done(null, payload);
    });

    app.post(
      '/imports',
      {
        config: { auth: 'profiles:write' },
        bodyLimit: MAX_UPLOAD_BYTES,
        schema: {
          tags: ['imports'],
          summary: 'Upload a CSV or NDJSON file of customers or events; it is imported in the background',
          description:
            'The request body is the file (Content-Type text/csv, application/x-ndjson or application/octet-stream), up to 2 GiB. Answers 202 with the import; follow it with GET /imports/{id}.',
          querystring: ImportUploadQuery,
          response: { 202: Import, ...errors, 413: Problem, 415: Problem },
        },
      },
      async (request, reply) => {
        const length = request.headers['content-length'];
        const created = await receiveUpload(
          deps,
          enqueue,
          actorOf(request),
          { ...request.query, declaredBytes: length === undefined ? undefined : Number(length) },
          request.body as Readable | undefined,
        );
        return reply.status(202).header('location', `/api/v1/imports/${created.id}`).send(created);
      },
    );

    app.get(
      '/imports',
      {
        config: { auth: 'profiles:read' },
        schema: {
          tags: ['imports'],
          summary: 'Imports of this workspace, newest first',
          querystring: PageQuery,
          response: { 200: pageOf(Import), ...errors },
        },
      },
      async (request) => listImports(deps, principalOf(request).scope.workspaceId, request.query),
    );

    app.get(
      '/imports/:id',
      {
        config: { auth: 'profiles:read' },
        schema: {
          tags: ['imports'],
          summary: 'One import: status and progress (bytesDone of totalBytes, rows, accepted, rejected)',
          params: z.object({ id: z.uuid() }),
          response: { 200: Import, ...errors },
        },
      },
      async (request) => getImport(deps, principalOf(request).scope.workspaceId, request.params.id),
    );

    app.get(
      '/imports/:id/rejects.csv',
      {
        config: { auth: 'profiles:read' },
        schema: {
          tags: ['imports'],
          summary: 'The refused lines of an import as CSV: line,code,message',
          params: z.object({ id: z.uuid() }),
          response: { ...errors },
        },
      },
      async (request, reply) => {
        const { workspaceId } = principalOf(request).scope;
        const found = await getImport(deps, workspaceId, request.params.id);
        const base =
          found.fileName
            .replace(/\.[^.]*$/, '')
            .replace(/[^\w.-]+/g, '_')
            .slice(0, 100) || 'import';
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="${base}.rejects.csv"`)
          .send(rejectsCsv(deps, workspaceId, found.id) as never);
      },
    );
  };
}
