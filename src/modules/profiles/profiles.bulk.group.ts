import type { Known } from './profiles.bulk.memory.ts';
import { type Identifier, identifierKey, isPersonLevel } from './profiles.identifiers.ts';
import type * as repo from './profiles.repo.ts';
import { addObservation, type Observation } from './profiles.service.ts';

// Grouping a chunk's observations by the identifiers they share, without the database: the first step of the bulk
// resolution (profiles.bulk.ts), done while the chunk before commits.

export interface BulkObservation extends Observation {
  /** Resolve this one one by one (it carries something only that path handles). */
  alone?: boolean;
  /** Observations with the same route key take the same path (a message id sent twice: the first one is stored). */
  routeKey?: string;
}

export interface Group {
  ids: number[];
  rows: number[];
  /** Two values of a person-level kind among the group's own identifiers. */
  conflict: boolean;
  /** An observation of the group must be resolved one by one. */
  alone: boolean;
  /** The group's observations as one projection delta (its id set when the profile is known). */
  delta: repo.ProjectionDelta;
  /** Other groups with an observation of the same route key: they take the path this one takes. */
  linked: Group[] | undefined;
  // Set by resolveBulk, afresh on every attempt.
  deferred: boolean;
  owner: string | undefined;
  /** The owner as the plan found it remembered, if it did. */
  known: Known | undefined;
}

/**
 * A chunk grouped for resolveBulk: its distinct identifiers, and its observations grouped by shared identifiers,
 * each group with its projection. Made without the database (groupBulk), so a chunk can be grouped while the one
 * before it commits.
 */
export interface BulkChunk {
  observations: readonly BulkObservation[];
  ids: Identifier[];
  keys: string[];
  groups: Group[];
  groupOfRow: (Group | undefined)[];
  /** Whether two observations share a route key (when none does, their message ids are distinct). */
  routesRepeat: boolean;
}

function find(parent: number[], x: number): number {
  let root = x;
  while (parent[root] !== root) root = parent[root] as number;
  while (parent[x] !== root) {
    const next = parent[x] as number;
    parent[x] = root;
    x = next;
  }
  return root;
}

/**
 * A chunk's distinct identifiers, numbered in the order first seen. A caller that cuts chunks by their number of
 * identifiers (events.bulk.ts) numbers them as it goes and hands the numbering to groupBulk: each key is made and
 * hashed once.
 */
export class Numbering {
  readonly #index = new Map<string, number>();
  readonly ids: Identifier[] = [];
  readonly keys: string[] = [];
  get size(): number {
    return this.ids.length;
  }
  /** How many of these keys are not numbered yet. */
  unseen(keys: readonly string[]): number {
    let unseen = 0;
    for (const key of keys) if (!this.#index.has(key)) unseen++;
    return unseen;
  }
  /** The numbers of an observation's identifiers (`keys`: their identifierKey), each once; new ones numbered. */
  number(ids: readonly Identifier[], keys: readonly string[]): number[] {
    const mine: number[] = [];
    for (let j = 0; j < ids.length; j++) {
      const key = keys[j] as string;
      let n = this.#index.get(key);
      if (n === undefined) {
        n = this.ids.length;
        this.#index.set(key, n);
        this.ids.push(ids[j] as Identifier);
        this.keys.push(key);
      }
      if (!mine.includes(n)) mine.push(n);
    }
    return mine;
  }
}

/**
 * Groups a chunk's observations by shared identifiers (union-find), for resolveBulk. `numbered`: the chunk's
 * identifiers numbered by the caller, and each observation's numbers (Numbering.number), in order.
 */
export function groupBulk(
  observations: readonly BulkObservation[],
  numbered?: { numbering: Numbering; of: number[][] },
): BulkChunk {
  let numbering = numbered?.numbering;
  let rowIds = numbered?.of;
  if (!numbering || !rowIds) {
    numbering = new Numbering();
    rowIds = observations.map((o) => (numbering as Numbering).number(o.ids, o.ids.map(identifierKey)));
  }
  const { ids, keys } = numbering;
  const parent: number[] = Array.from({ length: ids.length }, (_, n) => n);
  for (const mine of rowIds) {
    for (let k = 1; k < mine.length; k++) {
      const a = find(parent, mine[0] as number);
      const b = find(parent, mine[k] as number);
      if (a !== b) parent[b] = a;
    }
  }
  const groupOfRoot = new Map<number, Group>();
  const groupOfId: Group[] = [];
  for (let n = 0; n < ids.length; n++) {
    const root = find(parent, n);
    let group = groupOfRoot.get(root);
    if (!group) {
      group = {
        ids: [],
        rows: [],
        conflict: false,
        alone: false,
        delta: undefined as unknown as repo.ProjectionDelta,
        linked: undefined,
        deferred: false,
        owner: undefined,
        known: undefined,
      };
      groupOfRoot.set(root, group);
    }
    group.ids.push(n);
    groupOfId[n] = group;
  }
  const groupOfRow: (Group | undefined)[] = rowIds.map((mine) =>
    mine.length ? groupOfId[mine[0] as number] : undefined,
  );
  const byRoute = new Map<string, Group>();
  let routesRepeat = false;
  for (const [i, group] of groupOfRow.entries()) {
    if (!group) continue;
    const o = observations[i] as BulkObservation;
    group.rows.push(i);
    if (o.routeKey !== undefined) {
      const other = byRoute.get(o.routeKey);
      if (other === undefined) byRoute.set(o.routeKey, group);
      else routesRepeat = true;
      if (other !== undefined && other !== group) {
        other.linked = [...(other.linked ?? []), group];
        group.linked = [...(group.linked ?? []), other];
      }
    }
    if (o.alone) group.alone = true;
    group.delta ??= { id: '', traits: {}, traitTimes: {}, channels: [], firstSeenAt: o.at, lastSeenAt: o.at };
    addObservation(group.delta, o);
  }
  const groups = [...groupOfRoot.values()];
  for (const group of groups) {
    if (group.ids.length < 2) continue; // one identifier: one value of its kind
    const kinds = new Map<string, string>();
    for (const n of group.ids) {
      const id = ids[n] as Identifier;
      if (!isPersonLevel(id.kind)) continue;
      const held = kinds.get(id.kind);
      if (held !== undefined && held !== id.value) group.conflict = true;
      kinds.set(id.kind, id.value);
    }
  }
  return { observations, ids, keys, groups, groupOfRow, routesRepeat };
}
