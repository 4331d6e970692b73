import type { Db } from '../../platform/db.ts';
import type { Logger } from '../../platform/logger.ts';
import type { EventsModule } from '../events/index.ts';
import type { ProfilesModule } from '../profiles/index.ts';
import * as upkeep from './loyalty.upkeep.repo.ts';

/**
 * The profile's timeline gets an event for every till transaction (Loyalty Purchase, Loyalty Return, Loyalty
 * Reversal). The event is written to `loyalty_timeline_outbox` in the ledger change's own transaction (one
 * statement with it), and handed to the events module afterwards with the message id `loyalty-<transaction id>`:
 * the events module owns its tables and its transaction, and its dedup by message id makes the hand-over
 * exactly-once however often it is repeated (two drains racing, a crash between ingest and delete).
 */
export interface TimelineDrain {
  /** Hands over what is waiting, in batches, until nothing is; returns how many events. */
  drain(): Promise<number>;
  /** Schedules a drain soon (after commits that wrote to the outbox); cheap to call often. */
  nudge(): void;
  stop(): Promise<void>;
}

const BATCH = 500;
const DELAY_MS = 200;

const TRAIT_KINDS = new Set(['email', 'phone', 'card']);
const ORDER = ['user_id', 'email', 'phone', 'card'];

export function createTimelineDrain(deps: {
  db: Db;
  events: Pick<EventsModule, 'ingest'>;
  profiles: Pick<ProfilesModule, 'directory'>;
  logger?: Logger;
}): TimelineDrain {
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<number> | null = null;
  let stopped = false;
  /** Asked for while a drain ran: it goes round once more, so nothing written meanwhile waits for the next nudge. */
  let again = false;

  /** How a message finds the profile: the card it came with, else the profile's strongest identifier. */
  async function identify(row: Awaited<ReturnType<typeof upkeep.peekTimeline>>[number]) {
    if (row.identifier_kind && row.identifier_value)
      return { context: { traits: { [row.identifier_kind]: row.identifier_value } } };
    const profileId = await deps.profiles.directory.liveProfileId(deps.db, row.workspace_id, row.profile_id);
    if (!profileId) return null;
    const ids = await deps.profiles.directory.identifiersOf(deps.db, row.workspace_id, profileId);
    const rank = (k: string) => (ORDER.indexOf(k) < 0 ? 9 : ORDER.indexOf(k));
    const best = [...ids].sort((a, b) => rank(a.kind) - rank(b.kind))[0];
    if (!best) return null;
    if (best.kind === 'user_id') return { userId: best.value, context: {} };
    if (TRAIT_KINDS.has(best.kind)) return { context: { traits: { [best.kind]: best.value } } };
    const type = best.kind.startsWith('external:') ? best.kind.slice('external:'.length) : best.kind;
    return { context: { externalIds: [{ type, id: best.value }] } };
  }

  async function once(): Promise<number> {
    const rows = await upkeep.peekTimeline(deps.db, BATCH);
    if (rows.length === 0) return 0;
    const byWorkspace = new Map<string, unknown[]>();
    for (const row of rows) {
      const who = await identify(row);
      if (!who) continue;
      const list = byWorkspace.get(row.workspace_id) ?? [];
      byWorkspace.set(row.workspace_id, list);
      list.push({
        type: 'track',
        event: row.name,
        messageId: `loyalty-${row.id}`,
        timestamp: row.occurred_at.toISOString(),
        properties: row.properties,
        ...who,
        context: { ...who.context, ...(row.channel ? { channel: row.channel } : {}) },
      });
    }
    for (const [workspaceId, messages] of byWorkspace) {
      const result = await deps.events.ingest(workspaceId, messages);
      if (result.rejected.length > 0)
        deps.logger?.warn({ rejected: result.rejected.map((r) => r.code) }, 'loyalty timeline events refused');
    }
    await upkeep.deleteTimeline(
      deps.db,
      rows.map((r) => r.id),
    );
    return rows.length;
  }

  async function drainAll(): Promise<number> {
    let total = 0;
    for (;;) {
      again = false;
      const n = await once();
      total += n;
      if ((n < BATCH && !again) || stopped) return total;
    }
  }

  function drain(): Promise<number> {
    if (running) again = true;
    running ??= drainAll().finally(() => {
      running = null;
    });
    return running;
  }

  return {
    drain,
    nudge() {
      if (timer || stopped) return;
      timer = setTimeout(() => {
        timer = null;
        drain().catch((error) => deps.logger?.error({ err: error }, 'loyalty timeline drain failed'));
      }, DELAY_MS);
      timer.unref();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      await running?.catch(() => {});
    },
  };
}
