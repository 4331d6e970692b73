import { type Kysely, sql } from 'kysely';

// The projection update of migration 202611230400 with its ids and times passed as texts: ids comma-separated,
// first and last sightings as comma-separated milliseconds since 1970. Encoding a thousand ids and two thousand ISO
// timestamps into arrays (and PostgreSQL parsing them back) cost the client more than the update costs the server,
// on the import's critical path (bench/RESULTS.md, session 11). Same plan: a primary-key probe per row.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`drop function if exists rapport_apply_deltas(uuid, uuid[], jsonb[], jsonb[], text[], timestamptz[], timestamptz[])`.execute(
    db,
  );
  await sql`create function rapport_apply_deltas(
      ws uuid, ids text, new_traits jsonb[], new_times jsonb[], new_channels text[], firsts text, lasts text
    ) returns setof uuid
    language sql volatile
    set enable_seqscan = off set enable_hashjoin = off set enable_mergejoin = off
    as $$
      update profiles p set
        traits = case when v.traits is null then p.traits
                      else p.traits || rapport_newer_traits(p.trait_times, v.traits, v.trait_times) end,
        trait_times = case when v.traits is null then p.trait_times
                           else p.trait_times || rapport_newer_times(p.trait_times, v.trait_times) end,
        channels = case when p.channels @> string_to_array(v.channels, ',') then p.channels
                        else array(select distinct x from unnest(p.channels || string_to_array(v.channels, ',')) as x order by x) end,
        first_seen_at = least(p.first_seen_at, v.first_seen_at),
        last_seen_at = greatest(p.last_seen_at, v.last_seen_at),
        updated_at = now()
      from (
        select id, traits, trait_times, channels, to_timestamp(f / 1000) as first_seen_at, to_timestamp(l / 1000) as last_seen_at
        from unnest(string_to_array(ids, ',')::uuid[], new_traits, new_times, new_channels,
          string_to_array(firsts, ',')::float8[], string_to_array(lasts, ',')::float8[])
          as u(id, traits, trait_times, channels, f, l)
      ) as v
      where p.workspace_id = ws and p.id = v.id and (
        v.traits is not null
        or not (p.channels @> string_to_array(v.channels, ','))
        or v.first_seen_at < p.first_seen_at
        or v.last_seen_at > p.last_seen_at + interval '1 minute'
      )
      returning p.id
    $$`.execute(db);
}
