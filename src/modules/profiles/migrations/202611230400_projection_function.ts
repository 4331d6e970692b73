import { type Kysely, sql } from 'kysely';

// The projection update (profiles.repo.ts applyDeltas) as a function whose plan cannot depend on statistics: a batch
// touches a few hundred profiles by primary key, and a planner whose statistics lagged behind a growing table (the
// first hours of a brand, an import of new customers) chose to scan the workspace's profiles and join them to the
// batch in a nested loop — 100 ms a call instead of 2 (measured in bench/import and bench/ingest). Joins other than
// the nested loop and sequential scans are switched off inside the function only.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create function rapport_apply_deltas(
      ws uuid, ids uuid[], new_traits jsonb[], new_times jsonb[], new_channels text[],
      firsts timestamptz[], lasts timestamptz[]
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
      from unnest(ids, new_traits, new_times, new_channels, firsts, lasts)
        as v(id, traits, trait_times, channels, first_seen_at, last_seen_at)
      where p.workspace_id = ws and p.id = v.id and (
        v.traits is not null
        or not (p.channels @> string_to_array(v.channels, ','))
        or v.first_seen_at < p.first_seen_at
        or v.last_seen_at > p.last_seen_at + interval '1 minute'
      )
      returning p.id
    $$`.execute(db);
}
