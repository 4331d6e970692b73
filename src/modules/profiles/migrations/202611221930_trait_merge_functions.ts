import { type Kysely, sql } from 'kysely';

// Newest-wins merge of traits inside the database, so that concurrent writers apply relative updates to a profile
// row instead of overwriting each other's read-modify-write. Times are ISO 8601 UTC strings of one format, which
// compare correctly as text.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create function rapport_newer_traits(old_times jsonb, new_traits jsonb, new_times jsonb) returns jsonb
    language sql immutable parallel safe as $$
      select coalesce(jsonb_object_agg(e.key, e.value), '{}'::jsonb)
      from jsonb_each(new_traits) as e
      where old_times ->> e.key is null or old_times ->> e.key <= new_times ->> e.key
    $$`.execute(db);
  await sql`create function rapport_newer_times(old_times jsonb, new_times jsonb) returns jsonb
    language sql immutable parallel safe as $$
      select coalesce(jsonb_object_agg(e.key, e.value), '{}'::jsonb)
      from jsonb_each(new_times) as e
      where old_times ->> e.key is null or old_times ->> e.key <= e.value #>> '{}'
    $$`.execute(db);
}
