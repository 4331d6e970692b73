import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { strToU8, zipSync } from 'fflate';
import { z } from 'zod';
import { actorOf } from '../../platform/http/auth.ts';
import { Problem } from '../../platform/http/problem.ts';
import { ErasureRequest, ErasureResult, SubjectExport, SubjectExportQuery } from './profiles.schemas.ts';
import type { ReadAuditRecorder } from './profiles.staff.ts';
import { eraseSubject, exportSubject, type SubjectDeps } from './profiles.subject.ts';

const errors = { 400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem };

/** A spreadsheet must not run a value as a formula (OWASP "CSV injection"): such cells get a leading apostrophe. */
const FORMULA = /^[=+\-@\t\r]/;

function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  if (FORMULA.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One section as CSV: a header of every key the rows use (first-seen order), nested values as JSON. */
export function sectionCsv(rows: Record<string, unknown>[]): string {
  const columns: string[] = [];
  for (const row of rows) for (const key of Object.keys(row)) if (!columns.includes(key)) columns.push(key);
  const lines = [columns.map(cell).join(','), ...rows.map((row) => columns.map((c) => cell(row[c])).join(','))];
  // A byte-order mark, so that spreadsheet programs read Cyrillic and other non-Latin text as UTF-8.
  return `\uFEFF${columns.length > 0 ? `${lines.join('\r\n')}\r\n` : ''}`;
}

export function exportZip(data: SubjectExport): Uint8Array {
  const sections = Object.keys(data.sections);
  const readme = [
    `Everything Rapport keeps about the person with profile id ${data.profileId}, exported ${data.exportedAt}.`,
    '',
    'One CSV file per section (UTF-8, comma-separated, first line the column names; nested values as JSON):',
    ...sections.map((s) => `  ${s}.csv  ${data.sections[s]?.length ?? 0} rows`),
    '',
  ].join('\r\n');
  const files: Record<string, Uint8Array> = { 'README.txt': strToU8(readme) };
  for (const s of sections) files[`${s}.csv`] = strToU8(sectionCsv(data.sections[s] ?? []));
  return zipSync(files, { level: 6 });
}

/** Data-subject rights: export (profiles:export) and erasure (profiles:erase), both audited. */
export function subjectRoutes(deps: SubjectDeps & { readAudit: ReadAuditRecorder }): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/profiles/:id/export',
      {
        config: { auth: 'profiles:export' },
        schema: {
          tags: ['profiles'],
          summary:
            'Everything kept about a person (data-subject access): JSON, or with format=csv a zip of one CSV per section',
          params: z.object({ id: z.uuid() }),
          querystring: SubjectExportQuery,
          response: { 200: SubjectExport, ...errors },
        },
      },
      async (request, reply) => {
        const actor = actorOf(request);
        const { format } = request.query;
        const data = await exportSubject(deps, actor.principal.scope.workspaceId, request.params.id);
        const rows: Record<string, number> = {};
        for (const [name, section] of Object.entries(data.sections)) rows[name] = section.length;
        // On record before a byte of it leaves.
        await deps.readAudit.record(
          actor,
          'profile.exported',
          { kind: 'profile', id: data.profileId },
          {
            format,
            rows,
          },
        );
        const file = `profile-${data.profileId}.${format === 'csv' ? 'zip' : 'json'}`;
        reply.header('content-disposition', `attachment; filename="${file}"`);
        if (format === 'json') return data;
        // A Buffer is sent as it is (Fastify serialises only objects): the zip bypasses the JSON schema above.
        return reply.type('application/zip').send(Buffer.from(exportZip(data)) as unknown as SubjectExport);
      },
    );

    app.post(
      '/profiles/:id/erase',
      {
        config: { auth: 'profiles:erase' },
        schema: {
          tags: ['profiles'],
          summary:
            'Erase a person, irreversibly: traits emptied, identifiers replaced by keyed hashes, events stripped of personal fields',
          params: z.object({ id: z.uuid() }),
          body: ErasureRequest,
          response: { 200: ErasureResult, ...errors },
        },
      },
      async (request) => eraseSubject(deps, actorOf(request), request.params.id, request.body),
    );
  };
}
