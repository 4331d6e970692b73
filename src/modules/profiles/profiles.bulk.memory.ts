import type * as repo from './profiles.repo.ts';

// What the bulk resolution (profiles.bulk.ts) remembers between the chunks of one import, or between the groups one
// process commits for a workspace: owners, spans, and the count of moves at which each profile was found live.

/** What one chunk learns for a BulkMemory, pending until its transaction commits. */
export interface BulkLearnt {
  owners: [string, string | null][];
  /** Its deltas — one for each profile the chunk settled on — each with the profile as remembered when judged. */
  spans: [repo.ProjectionDelta, Known | undefined][];
  /** The count of moves read under the chunk's locks, at which every one of those profiles was live. */
  moves: number | null;
}

export function learning(): BulkLearnt {
  return { owners: [], spans: [], moves: null };
}

/**
 * A profile as an import's memory knows it: a span it is known to cover (see BulkMemory), and the count of moves
 * (rapport_profile_moves) read by the last transaction that found it live under its lock.
 */
export interface Known {
  readonly id: string;
  span: Span | undefined;
  checked: number | null;
}

/**
 * What the committed chunks of one import left behind: owners of identifiers (kind \u0001 value → profile), and
 * for profiles, a span they are known to cover — first seen no later, last seen no earlier, at least these
 * channels. Those three only ever widen (least, greatest, union, whoever writes), so a delta without traits inside
 * the span would change nothing and is not sent. And the count of moves at which each profile was last found live:
 * while the count has not changed, a profile found live at it is live still, and is not checked again. What a chunk
 * learns is pending until its caller says the transaction committed (`committed`); a failed one forgets everything.
 */
export class BulkMemory {
  /** Identifier key → its owner, a profile of `profiles` (or one dropped from it since: still true, merely narrower). */
  readonly owners = new Map<string, Known>();
  readonly profiles = new Map<string, Known>();
  /** The count of moves read by the last committed chunk. */
  moves: number | null = null;
  readonly limit: number;
  constructor(limit = 200_000) {
    this.limit = limit;
  }
  /** The profile as remembered, a new entry (nothing known of it yet) when it is not. */
  #profile(id: string): Known {
    let known = this.profiles.get(id);
    if (!known) {
      known = { id, span: undefined, checked: null };
      bounded(this.profiles, id, known, this.limit);
    }
    return known;
  }
  /** Remembers an owner, as a chunk that committed would (and tests do). */
  remember(key: string, profileId: string) {
    this.owners.delete(key);
    bounded(this.owners, key, this.#profile(profileId), this.limit);
  }
  /** Whether `owner` was found live at the count of moves last read: if the count has not changed, it still is. */
  trusts(known: Known | undefined, owner: string): boolean {
    return known !== undefined && known.id === owner && known.checked !== null && known.checked === this.moves;
  }
  /**
   * Whether applying the delta could change the profile, as far as committed chunks tell; and, either way, the delta
   * is written (or would change nothing) in this chunk: it widens the span once the chunk commits. `known`: the
   * profile as the chunk's plan found it remembered, if it did.
   */
  judge(d: repo.ProjectionDelta, created: boolean, known: Known | undefined, learnt: BulkLearnt): boolean {
    const profile = known?.id === d.id ? known : created ? undefined : this.profiles.get(d.id);
    learnt.spans.push([d, profile]);
    if (created) return false;
    const span = profile?.span;
    if (!span) return true;
    for (const _ in d.traits) return true;
    return (
      d.firstSeenAt.getTime() < span.first ||
      d.lastSeenAt.getTime() > span.last + 60_000 ||
      d.channels.some((c) => !span.channels.includes(c))
    );
  }
  /**
   * A chunk's transaction committed: what it learnt holds. Spans only widen, so a span judged against earlier and
   * replaced or dropped since is still a true statement about its profile, merely a narrower one.
   */
  committed(learnt: BulkLearnt) {
    for (const [d, remembered] of learnt.spans) {
      const known = remembered ?? this.#profile(d.id);
      known.checked = learnt.moves;
      const span = known.span;
      if (!span) {
        known.span = { first: d.firstSeenAt.getTime(), last: d.lastSeenAt.getTime(), channels: [...d.channels] };
        continue;
      }
      span.first = Math.min(span.first, d.firstSeenAt.getTime());
      span.last = Math.max(span.last, d.lastSeenAt.getTime());
      for (const c of d.channels) if (!span.channels.includes(c)) span.channels.push(c);
    }
    for (const [key, profileId] of learnt.owners) {
      if (profileId === null) this.owners.delete(key);
      else this.remember(key, profileId);
    }
    this.moves = learnt.moves;
  }
  /** A chunk's transaction failed, or found the memory stale: nothing remembered can be trusted. */
  forget() {
    this.owners.clear();
    this.profiles.clear();
    this.moves = null;
  }
}

export interface Span {
  first: number;
  last: number;
  channels: string[];
}

/** Oldest first out: a file of millions of people keeps a bounded memory. */
function bounded<V>(map: Map<string, V>, key: string, value: V, limit: number) {
  map.set(key, value);
  if (map.size > limit) map.delete(map.keys().next().value as string);
}
