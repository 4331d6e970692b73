import { type Generated, type Kysely, type Selectable, sql } from 'kysely';
import { type Db, tables } from '../../platform/db.ts';
import type { ImportFormat, ImportKind, ImportStatus } from './events.uploads.schemas.ts';

/** All SQL of uploaded imports. Every function takes the workspace and applies it itself. */

interface ImportsTable {
  id: string;
  workspace_id: string;
  kind: ImportKind;
  format: ImportFormat;
  file_name: string;
  mapping: Generated<Record<string, string>>;
  total_bytes: Generated<number>;
  status: Generated<ImportStatus>;
  bytes_done: Generated<number>;
  rows: Generated<number>;
  accepted: Generated<number>;
  rejected: Generated<number>;
  checkpoint_line: Generated<number>;
  error: string | null;
  created_by: string | null;
  created_at: Generated<Date>;
  started_at: Date | null;
  finished_at: Date | null;
}
interface ImportChunksTable {
  import_id: string;
  workspace_id: string;
  seq: number;
  data: Uint8Array;
}
interface ImportRejectsTable {
  import_id: string;
  workspace_id: string;
  line: number;
  code: string;
  message: string;
}
export interface UploadTables {
  imports: ImportsTable;
  import_chunks: ImportChunksTable;
  import_rejects: ImportRejectsTable;
}
export type ImportRow = Selectable<ImportsTable>;
export interface RejectRow {
  line: number;
  code: string;
  message: string;
}

const q = (db: Db) => tables<UploadTables>(db) as Kysely<UploadTables>;

export async function insertImport(
  db: Db,
  workspaceId: string,
  row: Pick<ImportRow, 'id' | 'kind' | 'format' | 'file_name' | 'mapping' | 'created_by'>,
) {
  await q(db)
    .insertInto('imports')
    .values({ ...row, workspace_id: workspaceId, mapping: JSON.stringify(row.mapping) as never })
    .execute();
}

export async function findImport(db: Db, workspaceId: string, id: string): Promise<ImportRow | undefined> {
  return q(db)
    .selectFrom('imports')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
}

/** Newest first; `before` is the last id of the previous page. Fetches limit+1 rows (see toPage). */
export async function listImports(db: Db, workspaceId: string, page: { limit: number; before?: string }) {
  let query = q(db).selectFrom('imports').selectAll().where('workspace_id', '=', workspaceId);
  if (page.before) query = query.where('id', '<', page.before);
  return query
    .orderBy('id', 'desc')
    .limit(page.limit + 1)
    .execute();
}

export async function insertChunk(db: Db, workspaceId: string, importId: string, seq: number, data: Uint8Array) {
  await q(db)
    .insertInto('import_chunks')
    .values({ import_id: importId, workspace_id: workspaceId, seq, data })
    .execute();
}

/** One stored chunk of the file, or undefined past the last one. */
export async function readChunk(db: Db, workspaceId: string, importId: string, seq: number) {
  const row = await q(db)
    .selectFrom('import_chunks')
    .select('data')
    .where('workspace_id', '=', workspaceId)
    .where('import_id', '=', importId)
    .where('seq', '=', seq)
    .executeTakeFirst();
  return row?.data;
}

export async function deleteChunks(db: Db, workspaceId: string, importId: string) {
  await q(db)
    .deleteFrom('import_chunks')
    .where('workspace_id', '=', workspaceId)
    .where('import_id', '=', importId)
    .execute();
}

export async function countChunks(db: Db, workspaceId: string, importId: string): Promise<number> {
  const row = await q(db)
    .selectFrom('import_chunks')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('workspace_id', '=', workspaceId)
    .where('import_id', '=', importId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The upload is complete: the file's size is known and the job may take it. */
export async function markQueued(db: Db, workspaceId: string, id: string, totalBytes: number) {
  await q(db)
    .updateTable('imports')
    .set({ status: 'queued', total_bytes: totalBytes })
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .where('status', '=', 'uploading')
    .execute();
}

export async function deleteImport(db: Db, workspaceId: string, id: string) {
  await q(db).deleteFrom('imports').where('workspace_id', '=', workspaceId).where('id', '=', id).execute();
}

/**
 * A job takes the import: status running, started_at kept from a first attempt. Answers the row as it was left by
 * the last committed checkpoint, or undefined when there is nothing (left) to run.
 */
export async function startRun(db: Db, workspaceId: string, id: string): Promise<ImportRow | undefined> {
  return q(db)
    .updateTable('imports')
    .set({ status: 'running', started_at: sql<Date>`coalesce(started_at, now())`, error: null })
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .where('status', 'in', ['queued', 'running'])
    .returningAll()
    .executeTakeFirst();
}

/** Writes rejects once each: a retried job that meets a line again adds nothing. Answers how many were new. */
export async function insertRejects(db: Db, workspaceId: string, importId: string, rejects: RejectRow[]) {
  let added = 0;
  for (let i = 0; i < rejects.length; i += 1000) {
    const slice = rejects.slice(i, i + 1000);
    const inserted = await q(db)
      .insertInto('import_rejects')
      .values(slice.map((r) => ({ import_id: importId, workspace_id: workspaceId, ...r })))
      .onConflict((oc) => oc.columns(['import_id', 'line']).doNothing())
      .returning('line')
      .execute();
    added += inserted.length;
  }
  return added;
}

export interface RunProgress {
  bytes_done: number;
  rows: number;
  accepted: number;
  rejected: number;
  checkpoint_line: number;
}

export async function saveProgress(db: Db, workspaceId: string, id: string, progress: RunProgress) {
  await q(db)
    .updateTable('imports')
    .set(progress)
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .where('status', '=', 'running')
    .execute();
}

/** The last attempt's error, kept on a row that is still running (its job will be retried). */
export async function noteError(db: Db, workspaceId: string, id: string, error: string) {
  await q(db)
    .updateTable('imports')
    .set({ error })
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .where('status', '=', 'running')
    .execute();
}

export async function finishRun(
  db: Db,
  workspaceId: string,
  id: string,
  outcome: { status: 'done' | 'failed'; error: string | null } & Partial<RunProgress>,
) {
  await q(db)
    .updateTable('imports')
    .set({ ...outcome, finished_at: sql<Date>`now()` })
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .execute();
}

/** A page of rejects in line order, after `afterLine`. */
export async function listRejects(db: Db, workspaceId: string, importId: string, afterLine: number, limit: number) {
  return q(db)
    .selectFrom('import_rejects')
    .select(['line', 'code', 'message'])
    .where('workspace_id', '=', workspaceId)
    .where('import_id', '=', importId)
    .where('line', '>', afterLine)
    .orderBy('line')
    .limit(limit)
    .execute();
}

/**
 * Uploads that never completed (the client went away, or the API process died mid-request) keep their chunks;
 * this removes those older than `olderThan`, across workspaces (maintenance). Answers how many.
 */
export async function deleteAbandonedUploads(db: Db, olderThan: Date): Promise<number> {
  const removed = await q(db)
    .deleteFrom('imports')
    .where('status', '=', 'uploading')
    .where('created_at', '<', olderThan)
    .returning('id')
    .execute();
  return removed.length;
}
