import { type Kysely, sql } from 'kysely';

// A count of the statements that may have moved a profile — merged it, erased it, deleted it — so that a bulk
// transaction can tell, under its locks, that nothing moved since its import last checked its owners, and skip
// checking them again (profiles.bulk.ts; the check was ≈ 1.2 µs of PostgreSQL's time a row of bench/import).
//
// A sequence rather than a row: it is read without waiting and bumped without contention. A statement trigger
// bumps it inside the moving transaction, after that transaction took the profile's exclusive lock (every move
// does, before it writes). So a chunk that checked profile P under P's shared lock and read the count then, reads
// a different count later if P moved meanwhile: the move bumped it after the chunk committed (it waited for the
// lock), and before the later chunk got P's lock (else it has not moved yet). A bump whose transaction rolls back
// costs only a check that was not needed.
//
// The bulk function takes the count it trusts and the owners it does not (looked up afresh, or checked at another
// count), and returns the count it read after the locks; `checked_all` tells whether it had to check every owner.
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
  await sql`drop function if exists rapport_bulk_lock_and_check(text, text, text[], text, text, text[], text[])`.execute(
    db,
  );
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
