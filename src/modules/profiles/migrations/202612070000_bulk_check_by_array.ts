import { type Kysely, sql } from 'kysely';

// rapport_bulk_lock_and_check (migration 202612060000) with a cheaper check of the owners. The profiles it locks
// are checked as they are passed — no second list of the same ids to send and parse — and found by one index scan
// over an array of ids (`id = any(…)`) rather than a lateral probe per id. On bench/import the function went from
// 2.16 to 1.93 µs of PostgreSQL's time a row (pg_stat_statements, session 12). The index scan deduplicates the
// array, so `live` counts distinct live profiles. The locks are unchanged.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`drop function if exists rapport_bulk_lock_and_check(text, text, text[], text, text, text[], text[])`.execute(
    db,
  );
  await sql`create function rapport_bulk_lock_and_check(
      ws text, shared_profiles text, new_keys text[], exclusive_profiles text, other_profiles text, new_kinds text[],
      new_values text[], out owned bigint, out live bigint, out erased boolean)
    language plpgsql
    set plan_cache_mode = force_generic_plan
    as $fn$
    begin
      perform pg_advisory_xact_lock_shared(h) from (
        select distinct hashtextextended(ws || chr(2) || 'profile:' || id, 0) as h
        from unnest(string_to_array(shared_profiles, ',')) as id order by h
      ) as ordered;
      perform pg_advisory_xact_lock(h) from (
        select distinct hashtextextended(ws || chr(2) || k, 0) as h from unnest(new_keys) as k order by h
      ) as ordered;
      perform pg_advisory_xact_lock(h) from (
        select distinct hashtextextended(ws || chr(2) || 'profile:' || id, 0) as h
        from unnest(string_to_array(exclusive_profiles, ',')) as id order by h
      ) as ordered;
      -- Primary-key probes, one per identifier (limit 1): a planner whose statistics lag behind a growing table
      -- would otherwise hash every identity of the workspace.
      select count(*) into owned from unnest(new_kinds, new_values) as n(kind, value)
        cross join lateral (
          select 1 from identities i where i.workspace_id = ws::uuid and i.kind = n.kind and i.value = n.value limit 1
        ) as o;
      -- The locked profiles and the others to check, by one scan of the primary key.
      select count(*) into live from profiles p
        where p.id = any(string_to_array(shared_profiles, ',')::uuid[]
                         || string_to_array(exclusive_profiles, ',')::uuid[]
                         || string_to_array(other_profiles, ',')::uuid[])
          and p.workspace_id = ws::uuid and p.merged_into is null and p.erased_at is null;
      erased := exists (select 1 from erased_identities e where e.workspace_id = ws::uuid);
    end
    $fn$`.execute(db);
}
