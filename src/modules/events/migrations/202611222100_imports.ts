import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // Imports uploaded from the console or the API. The file itself lives in import_chunks until the import is
  // done, so that any worker process (only the database is shared) can read it; the row and its rejects stay.
  await db.schema
    .createTable('imports')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('workspace_id', 'uuid', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('format', 'text', (c) => c.notNull())
    .addColumn('file_name', 'text', (c) => c.notNull())
    .addColumn('mapping', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('total_bytes', 'int8', (c) => c.notNull().defaultTo(0))
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('uploading'))
    .addColumn('bytes_done', 'int8', (c) => c.notNull().defaultTo(0))
    .addColumn('rows', 'int8', (c) => c.notNull().defaultTo(0))
    .addColumn('accepted', 'int8', (c) => c.notNull().defaultTo(0))
    .addColumn('rejected', 'int8', (c) => c.notNull().defaultTo(0))
    // The last line whose batch committed: a retried job counts the lines up to it and sends only those after.
    .addColumn('checkpoint_line', 'int8', (c) => c.notNull().defaultTo(0))
    .addColumn('error', 'text')
    .addColumn('created_by', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('started_at', 'timestamptz')
    .addColumn('finished_at', 'timestamptz')
    .addCheckConstraint('imports_kind', sql`kind in ('events','profiles')`)
    .addCheckConstraint('imports_format', sql`format in ('csv','ndjson')`)
    .addCheckConstraint('imports_status', sql`status in ('uploading','queued','running','done','failed')`)
    .execute();
  // The list, newest first (ids are UUIDv7, so id order is upload order).
  await sql`create index imports_list on imports (workspace_id, id desc)`.execute(db);
  // The clean-up of abandoned uploads looks for old rows still uploading.
  await sql`create index imports_uploading on imports (created_at) where status = 'uploading'`.execute(db);

  await db.schema
    .createTable('import_chunks')
    .addColumn('import_id', 'uuid', (c) => c.notNull().references('imports.id').onDelete('cascade'))
    .addColumn('workspace_id', 'uuid', (c) => c.notNull())
    .addColumn('seq', 'int4', (c) => c.notNull())
    .addColumn('data', 'bytea', (c) => c.notNull())
    .addPrimaryKeyConstraint('import_chunks_pk', ['import_id', 'seq'])
    .execute();

  await db.schema
    .createTable('import_rejects')
    .addColumn('import_id', 'uuid', (c) => c.notNull().references('imports.id').onDelete('cascade'))
    .addColumn('workspace_id', 'uuid', (c) => c.notNull())
    .addColumn('line', 'int8', (c) => c.notNull())
    .addColumn('code', 'text', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull())
    // One reject per line: a retried job that meets the same line again adds nothing.
    .addPrimaryKeyConstraint('import_rejects_pk', ['import_id', 'line'])
    .execute();
}
