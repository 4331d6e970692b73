import { type Kysely, sql } from 'kysely';

// A bulk transaction (profiles.bulk.ts resolveBulk) locks what its reading of owners led to — profiles it adds
// events to (shared), new identifiers and profiles gaining a person-level identifier (exclusive) — and then checks,
// under those locks, that the reading still holds: new identifiers still unowned, owners still live profiles. One
// function, one round trip and one row: as separate statements the locks returned a row per lock for the client to
// parse and the check was planned afresh every call (≈ 3 µs a row of the import's critical path, bench/RESULTS.md,
// session 11). Each statement of a PL/pgSQL function takes its own snapshot in READ COMMITTED, so the check sees
// what the previous holders of the locks committed. The lock keys and their order are those of profiles.repo.ts
// `lockKeys` and `lockKeysShared`, which other transactions take for the same profiles and identifiers. The owners
// are found by one index scan over an array of their ids, which deduplicates them (cheaper than a probe each).
//
// Most owners need no check: an import remembers them from earlier chunks, where they were found live under their
// locks. `rapport_profile_moves` counts the statements that may have moved a profile — merged it, erased it,
// deleted it. A sequence rather than a row: read without waiting, bumped without contention. A statement trigger
// bumps it inside the moving transaction, after that transaction took the profile's exclusive lock (every move
// does, before it writes). So a chunk that checked profile P under P's shared lock and read the count then, reads
// a different count later if P moved meanwhile: the move bumped it after the chunk committed (it waited for the
// lock), and before a later chunk got P's lock (else P has not moved yet). A bump whose transaction rolls back
// costs only a check that was not needed. The function takes the count its caller trusts and the owners it does
// not trust (looked up afresh, or checked at another count), checks only those while the count it reads after the
// locks is the trusted one, and every owner otherwise (`checked_all`); it returns the count for the next chunk.
//
// (Sessions 11 and 12 wrote this function in three migrations before any of them was released; they are one here.)
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create sequence rapport_profile_moves`.execute(db);
  await sql`create function rapport_profile_moved() returns trigger language plpgsql as $fn$
    begin
      perform nextval('rapport_profile_moves');
      return null;
    end
    $fn$`.execute(db);
  await sql`create trigger profiles_moved after update of merged_into, erased_at or delete on profiles
    for each statement execute function rapport_profile_moved()`.execute(db);
  await sql`create function rapport_bulk_lock_and_check(
      ws text, shared_profiles text, new_keys text[], exclusive_profiles text, other_profiles text, new_kinds text[],
      new_values text[], trusted_moves bigint, untrusted_profiles text,
      out owned bigint, out live bigint, out erased boolean, out moves bigint, out checked_all boolean)
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
      -- Read after the locks: a move of a locked profile bumped it before the lock was granted.
      select case when is_called then last_value else 0 end into moves from rapport_profile_moves;
      -- Primary-key probes, one per identifier (limit 1): a planner whose statistics lag behind a growing table
      -- would otherwise hash every identity of the workspace.
      select count(*) into owned from unnest(new_kinds, new_values) as n(kind, value)
        cross join lateral (
          select 1 from identities i where i.workspace_id = ws::uuid and i.kind = n.kind and i.value = n.value limit 1
        ) as o;
      checked_all := trusted_moves is distinct from moves;
      -- Every owner (the locked profiles and those locked before), or only those not checked at the trusted count;
      -- by one scan of the primary key over their ids.
      if checked_all then
        select count(*) into live from profiles p
          where p.id = any(string_to_array(shared_profiles, ',')::uuid[]
                           || string_to_array(exclusive_profiles, ',')::uuid[]
                           || string_to_array(other_profiles, ',')::uuid[])
            and p.workspace_id = ws::uuid and p.merged_into is null and p.erased_at is null;
      else
        select count(*) into live from profiles p
          where p.id = any(string_to_array(untrusted_profiles, ',')::uuid[])
            and p.workspace_id = ws::uuid and p.merged_into is null and p.erased_at is null;
      end if;
      erased := exists (select 1 from erased_identities e where e.workspace_id = ws::uuid);
    end
    $fn$`.execute(db);
}
