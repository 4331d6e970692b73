import { type Kysely, sql } from 'kysely';

// A bulk transaction (profiles.bulk.ts resolveBulk) locks what its reading of owners led to — profiles it adds
// events to (shared), new identifiers and profiles gaining a person-level identifier (exclusive) — and then checks,
// under those locks, that the reading still holds. As separate statements the locks returned a row per lock for
// the client to parse and the check was planned afresh every call: ≈ 3 µs a row of the import's critical path
// beyond PostgreSQL's own work (bench/RESULTS.md, session 11). Here they are one round trip and one row. The check
// takes its own snapshot after the locks (each statement of a PL/pgSQL function does, in READ COMMITTED), so it
// sees what the previous holders committed. The lock keys and their order are those of profiles.repo.ts `lockKeys`
// and `lockKeysShared`, which other transactions take for the same profiles and identifiers.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create or replace function rapport_bulk_lock_and_check(
      ws text, shared_profiles text, new_keys text[], exclusive_profiles text, owners text, new_kinds text[],
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
      -- Primary-key probes, one per identifier and per owner (limit 1): a planner whose statistics lag behind a
      -- growing table would otherwise hash every identity or profile of the workspace.
      select count(*) into owned from unnest(new_kinds, new_values) as n(kind, value)
        cross join lateral (
          select 1 from identities i where i.workspace_id = ws::uuid and i.kind = n.kind and i.value = n.value limit 1
        ) as o;
      select count(*) into live from unnest(string_to_array(owners, ',')::uuid[]) as u(id)
        cross join lateral (
          select 1 from profiles p
          where p.id = u.id and p.workspace_id = ws::uuid and p.merged_into is null and p.erased_at is null
          limit 1
        ) as l;
      erased := exists (select 1 from erased_identities e where e.workspace_id = ws::uuid);
    end
    $fn$`.execute(db);
}
