import type { ContextExtension } from '../../platform/context-extension.ts';
import type { Db } from '../../platform/db.ts';
import { newId } from '../../platform/ids.ts';
import { BulkMemory, CONCURRENT_MERGE, erasedSubjectRejection, type ProfilesModule } from '../profiles/index.ts';
import { isRejection, type NormalizedEvent, normalizeMessage } from './events.normalize.ts';
import * as repo from './events.repo.ts';
import type { IngestResult } from './events.schemas.ts';

export interface EventsDeps {
  db: Db;
  profiles: ProfilesModule;
  /** Modules acting on parts of a message's context (consent statements in `context.consent`). */
  extensions?: ContextExtension[];
  /** Modules reacting to stored events of some names or types (loyalty earning on `Code Registered` …). */
  listeners?: StoredEventListener[];
  /**
   * The bulk path (events.bulk.ts `appendNormalized`), when the database has COPY-capable transactions: a group's
   * events are written through it and only the ones it defers take the one-by-one path.
   */
  bulk?: (workspaceId: string, events: NormalizedEvent[], memory: BulkMemory) => Promise<NormalizedEvent[]>;
}

/** An event as stored, handed to listeners inside the transaction that stored it. */
export interface StoredEvent {
  id: string;
  messageId: string;
  profileId: string;
  type: string;
  name: string | null;
  channel: string;
  occurredAt: Date;
  properties: Record<string, unknown>;
  traits: Record<string, unknown>;
  context: Record<string, unknown>;
}

export interface StoredEventListener {
  /** Event names (track's `event`) to hear; empty or absent means any name of the types below. */
  names?: string[];
  /** Event types to hear (identify, track …); absent means track. */
  types?: string[];
  /**
   * A further test of the event itself (its properties or context), for listeners that hear only some events of
   * every name. Events it refuses keep ingestion's plain insert path; it must be cheap and pure.
   */
  when?: (event: Pick<StoredEvent, 'type' | 'name' | 'properties' | 'context' | 'traits'>) => boolean;
  /** Runs inside the transaction that stored the events, for messages stored for the first time only. Keep it
   * light (or enqueue a job): every ingestion batch that carries such events waits for it. */
  handle: (trx: Db, workspaceId: string, events: StoredEvent[]) => Promise<void>;
}

/** Whom a listener hears: track events by default; any name when none are listed. */
export function hears(
  listener: StoredEventListener,
  event: Pick<StoredEvent, 'type' | 'name' | 'properties' | 'context' | 'traits'>,
): boolean {
  if (!(listener.types ?? ['track']).includes(event.type)) return false;
  const named =
    !listener.names || listener.names.length === 0 || (event.name !== null && listener.names.includes(event.name));
  return named && (!listener.when || listener.when(event));
}

/** What a valid event carries to its commit for the extensions. */
interface ExtensionValue {
  extension: ContextExtension;
  value: unknown;
}

/** An event on its way to the commit, with the values the extensions parsed from its context. */
interface PendingEvent extends NormalizedEvent {
  extensionValues?: ExtensionValue[];
}

const RETRYABLE = new Set(['40P01', '40001']); // deadlock, serialization failure

/**
 * Stores a batch of tracking messages: normalises each, resolves their people in one pass, appends the events —
 * all in one transaction, so that an answer of 200 means every accepted event is committed, and a retry with the
 * same message ids adds nothing. Invalid messages are reported by index; the valid ones are kept.
 */
export async function ingest(
  deps: EventsDeps,
  workspaceId: string,
  messages: unknown[],
  receivedAt: Date,
  batch: { sentAt?: unknown; context?: Record<string, unknown> } = {},
): Promise<IngestResult> {
  const rejected: IngestResult['rejected'] = [];
  const candidates: { index: number; event: NormalizedEvent }[] = [];
  messages.forEach((message, index) => {
    const result = normalizeMessage(message, receivedAt, batch);
    if (isRejection(result)) rejected.push({ index, ...result });
    else if (result.ids.length === 0)
      rejected.push({ index, code: 'MISSING_IDENTITY', message: 'Send userId or anonymousId.' });
    else candidates.push({ index, event: result });
  });
  // An erased person is not taken in again from tracking or imports (their own sign-up readmits them). An erasure
  // committing between this check and the batch's commit can still let one batch through; see docs/operations.md.
  const erased = await deps.profiles.erasedIdentifiers(
    deps.db,
    workspaceId,
    candidates.map((c) => c.event.ids),
  );
  let kept: { index: number; event: PendingEvent }[] = [];
  candidates.forEach((c, i) => {
    const matched = erased[i] ?? [];
    if (matched.length > 0) rejected.push({ index: c.index, ...erasedSubjectRejection(matched) });
    else kept.push(c);
  });
  for (const extension of deps.extensions ?? []) {
    const carrying = kept.filter((c) => c.event.context[extension.key] !== undefined);
    if (carrying.length === 0) continue;
    const checks = await extension.check(
      deps.db,
      workspaceId,
      carrying.map((c) => ({
        value: c.event.context[extension.key],
        ids: c.event.ids,
        context: c.event.context,
        occurredAt: c.event.occurredAt,
      })),
    );
    const refused = new Set<number>();
    carrying.forEach((c, i) => {
      const check = checks[i];
      if (!check) return;
      if (check.ok) c.event.extensionValues = [...(c.event.extensionValues ?? []), { extension, value: check.value }];
      else {
        rejected.push({ index: c.index, code: check.code, message: check.message });
        refused.add(c.index);
      }
    });
    if (refused.size > 0) kept = kept.filter((c) => !refused.has(c.index));
  }
  const valid = kept.map((c) => c.event);
  rejected.sort((a, b) => a.index - b.index);
  if (valid.length === 0) return { success: false, accepted: 0, rejected };
  await committerOf(deps).submit(workspaceId, valid);
  return { success: true, accepted: valid.length, rejected };
}

/** Resolves people and appends events for one group of batches, in one transaction, retrying on conflicts. */
async function commitEvents(deps: EventsDeps, workspaceId: string, valid: PendingEvent[]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await deps.db.transaction().execute(async (trx) => {
        const resolution = await deps.profiles.resolveObservations(
          trx,
          workspaceId,
          valid.map((e) => ({ ids: e.ids, traits: e.profileTraits, at: e.occurredAt, channel: e.channel })),
        );
        const rows = valid.map((e, i) => ({ ...e, id: newId(), profileId: resolution.profileIds[i] as string }));
        await storeResolved(deps, trx, workspaceId, rows);
        // Last, so that row locks on busy profiles are held only until the commit right after.
        await deps.profiles.applyProjection(trx, workspaceId, resolution.projection);
      });
      return;
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (attempt < 6 && code && (RETRYABLE.has(code) || code === CONCURRENT_MERGE)) continue;
      throw error;
    }
  }
}

/**
 * Writes events whose people are already resolved, inside the caller's transaction: plain rows inserted, rows that
 * an extension or a listener watches inserted returning the message ids stored for the first time, which alone reach
 * the extensions and listeners.
 */
async function storeResolved(
  deps: EventsDeps,
  trx: Db,
  workspaceId: string,
  rows: (PendingEvent & { id: string; profileId: string })[],
): Promise<void> {
  const listeners = deps.listeners ?? [];
  // Every row of a message id that any row of it makes watched goes the watched way, so that the first row of
  // a message sent twice in one group is the one stored and heard, whichever of its copies is watched.
  const watchedIds = new Set(
    rows.filter((r) => r.extensionValues || listeners.some((l) => hears(l, r))).map((r) => r.messageId),
  );
  const plain = rows.filter((r) => !watchedIds.has(r.messageId));
  const extended = rows.filter((r) => watchedIds.has(r.messageId));
  await repo.insertEvents(trx, workspaceId, plain);
  if (extended.length > 0) {
    // Only messages stored for the first time reach extensions and listeners: a retried batch does nothing twice.
    const stored = await repo.insertEventsReturningNew(trx, workspaceId, extended);
    const fresh = firstOfEach(extended.filter((r) => stored.has(r.messageId)));
    await applyExtensions(trx, workspaceId, fresh);
    for (const listener of listeners) {
      const heard = fresh.filter((r) => hears(listener, r));
      if (heard.length > 0) await listener.handle(trx, workspaceId, heard.map(storedEvent));
    }
  }
}

/**
 * Appends events of people another module has just resolved, in that module's transaction (a code registration
 * writes its `Code Registered` event with its claim; loyalty hands its till events over): normalised as tracking
 * messages (which then need carry no identifier), stored, heard by the listeners when stored for the first time.
 * The caller applies the people's projection (last seen, channels, traits): the answer says when and on which
 * channel each profile was seen. It must send no context that an extension acts on. A message that does not
 * normalise is a programming error and fails the transaction.
 */
export async function appendResolved(
  deps: EventsDeps,
  trx: Db,
  workspaceId: string,
  items: { message: unknown; profileId: string }[],
  receivedAt: Date,
): Promise<{ profileId: string; at: Date; channel: string }[]> {
  const rows = items.map(({ message, profileId }) => {
    const event = normalizeMessage(message, receivedAt, {}, undefined, true);
    if (isRejection(event)) throw new Error(`events: a resolved message does not normalise (${event.code})`);
    if ((deps.extensions ?? []).some((x) => event.context[x.key] !== undefined))
      throw new Error(`events: a resolved message carries context an extension acts on`);
    return { ...event, id: newId(), profileId };
  });
  if (rows.length > 0) await storeResolved(deps, trx, workspaceId, rows);
  return rows.map((r) => ({ profileId: r.profileId, at: r.occurredAt, channel: r.channel }));
}

/** The same message twice in one group was stored once: keep its first row. */
function firstOfEach<T extends { messageId: string }>(rows: T[]): T[] {
  const seen = new Set<string>();
  return rows.filter((r) => {
    if (seen.has(r.messageId)) return false;
    seen.add(r.messageId);
    return true;
  });
}

function storedEvent(r: PendingEvent & { id: string; profileId: string }): StoredEvent {
  return {
    id: r.id,
    messageId: r.messageId,
    profileId: r.profileId,
    type: r.type,
    name: r.name,
    channel: r.channel,
    occurredAt: r.occurredAt,
    properties: r.properties,
    traits: r.traits,
    context: r.context,
  };
}

async function applyExtensions(
  trx: Db,
  workspaceId: string,
  rows: (PendingEvent & { profileId: string })[],
): Promise<void> {
  const byExtension = new Map<ContextExtension, Parameters<ContextExtension['apply']>[2]>();
  for (const row of rows) {
    for (const { extension, value } of row.extensionValues ?? []) {
      const items = byExtension.get(extension) ?? [];
      byExtension.set(extension, items);
      items.push({
        value,
        profileId: row.profileId,
        messageId: row.messageId,
        ids: row.ids,
        context: row.context,
        occurredAt: row.occurredAt,
      });
    }
  }
  for (const [extension, items] of byExtension) await extension.apply(trx, workspaceId, items);
}

interface Waiting {
  workspaceId: string;
  events: PendingEvent[];
  done: (error?: unknown) => void;
}

/**
 * Group commit. Batches that arrive while transactions are in flight wait and are then written together, in
 * one transaction per workspace of up to MAX_GROUP_EVENTS: the statements, round trips and commit of a
 * transaction are paid once for the group instead of once per request, and fewer transactions contend for the
 * same rows and locks. An idle server writes a lone batch at once, so latency only grows with load. Each caller
 * is answered after the commit that holds its events; if a group fails, its batches are retried one by one so
 * that one bad batch cannot fail the others.
 */
export class GroupCommitter {
  private readonly queue: Waiting[] = [];
  private inFlight = 0;

  private readonly commit: (workspaceId: string, events: NormalizedEvent[]) => Promise<void>;
  private readonly lanes: number;
  private readonly maxEvents: number;

  constructor(
    commit: (workspaceId: string, events: NormalizedEvent[]) => Promise<void>,
    lanes = LANES,
    maxEvents = MAX_GROUP_EVENTS,
  ) {
    this.commit = commit;
    this.lanes = lanes;
    this.maxEvents = maxEvents;
  }

  submit(workspaceId: string, events: NormalizedEvent[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ workspaceId, events, done: (error) => (error === undefined ? resolve() : reject(error)) });
      this.pump();
    });
  }

  private pump() {
    while (this.inFlight < this.lanes && this.queue.length > 0) {
      const first = this.queue.shift() as Waiting;
      const group = [first];
      let size = first.events.length;
      for (let i = 0; i < this.queue.length && size < this.maxEvents; ) {
        const next = this.queue[i] as Waiting;
        if (next.workspaceId === first.workspaceId && size + next.events.length <= this.maxEvents) {
          group.push(next);
          size += next.events.length;
          this.queue.splice(i, 1);
        } else i++;
      }
      this.inFlight++;
      void this.run(first.workspaceId, group).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async run(workspaceId: string, group: Waiting[]) {
    try {
      await this.commit(
        workspaceId,
        group.flatMap((w) => w.events),
      );
      for (const w of group) w.done();
    } catch (error) {
      if (group.length === 1) {
        (group[0] as Waiting).done(error ?? new Error('commit failed'));
        return;
      }
      for (const w of group) {
        try {
          await this.commit(workspaceId, w.events);
          w.done();
        } catch (alone) {
          w.done(alone ?? new Error('commit failed'));
        }
      }
    }
  }
}

/** Two transactions in flight: one commits while the next is being resolved, without piling up on two cores. */
const LANES = 2;
const MAX_GROUP_EVENTS = 2_000;

const committers = new WeakMap<EventsDeps, GroupCommitter>();
function committerOf(deps: EventsDeps): GroupCommitter {
  let committer = committers.get(deps);
  if (!committer) {
    const bulk = deps.bulk;
    const memories = new Memories();
    committer = new GroupCommitter(
      bulk
        ? async (workspaceId, events) => {
            const memory = memories.take(workspaceId);
            let deferred: NormalizedEvent[];
            try {
              deferred = await bulk(workspaceId, events, memory);
            } finally {
              memories.give(workspaceId, memory);
            }
            if (deferred.length > 0) await commitEvents(deps, workspaceId, deferred);
          }
        : (workspaceId, events) => commitEvents(deps, workspaceId, events),
    );
    committers.set(deps, committer);
  }
  return committer;
}

/**
 * What the bulk path remembers between groups (owners of identifiers, profiles' spans), per workspace: one memory
 * per group in flight, for the workspaces most recently written. A memory is only a guess checked under the
 * locks (profiles.bulk.ts), so one left behind by a merge or an erasure elsewhere costs a second reading, nothing
 * else.
 */
class Memories {
  readonly #free = new Map<string, BulkMemory[]>();
  static readonly WORKSPACES = 16;
  static readonly OWNERS = 200_000;

  take(workspaceId: string): BulkMemory {
    const free = this.#free.get(workspaceId);
    return free?.pop() ?? new BulkMemory(Memories.OWNERS);
  }

  give(workspaceId: string, memory: BulkMemory) {
    const free = this.#free.get(workspaceId) ?? [];
    this.#free.delete(workspaceId); // most recent last
    this.#free.set(workspaceId, free);
    if (free.length < LANES) free.push(memory);
    if (this.#free.size > Memories.WORKSPACES) this.#free.delete(this.#free.keys().next().value as string);
  }
}
