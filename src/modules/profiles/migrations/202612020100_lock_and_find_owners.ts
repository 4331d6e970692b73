import { type Kysely, sql } from 'kysely';

// Resolution of new identifiers locks them (advisory locks in one order for everyone) and then reads their owners.
// The read must see what the lock holders committed, so it needs a snapshot taken after the locks: a statement of its
// own. In a PL/pgSQL function each statement takes its snapshot when it starts (READ COMMITTED), so the two are one
// round trip instead of two. `ws` is text so that the lock keys are exactly those of `lockKeys` (profiles.repo.ts),
// which other transactions take for the same identifiers.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create or replace function rapport_lock_and_find_owners(ws text, keys text[], kinds text[], vals text[])
    returns table (kind text, value text, profile_id uuid)
    language plpgsql
    set plan_cache_mode = force_generic_plan
    as $fn$
    begin
      perform pg_advisory_xact_lock(h) from (
        select distinct hashtextextended(ws || chr(2) || k, 0) as h from unnest(keys) as k order by h
      ) as ordered;
      return query
        select k.kind, k.value, o.profile_id
        from unnest(kinds, vals) as k(kind, value)
        cross join lateral (
          select i.profile_id from identities i
          where i.workspace_id = ws::uuid and i.kind = k.kind and i.value = k.value
          limit 1
        ) as o;
    end
    $fn$`.execute(db);
}
