import type { Db } from '../../platform/db.ts';
import type { Logger } from '../../platform/logger.ts';
import type { EventsModule } from '../events/index.ts';
import type { ProfilesModule } from '../profiles/index.ts';
import * as upkeep from './loyalty.upkeep.repo.ts';

/**
 * The profile's timeline gets an event for every till transaction (Loyalty Purchase, Loyalty Return, Loyalty
 * Reversal, Referral Completed …). The event is written to `loyalty_timeline_outbox` in the ledger change's own
 * transaction (one statement with it), and handed to the events module afterwards with the message id
 * `loyalty-<transaction id>`. The outbox row names the profile, so the hand-over resolves nobody: in one transaction
 * it holds the rows' live profiles against merges (profiles.holdProfiles — a profile merged since the till follows
 * its survivor, an erased one gets nothing), appends the events (events.appendResolved, heard by their listeners),
 * brings the profiles' last seen and channels up to date, and deletes the rows it handed over. Two drains racing
 * store each message id once (the events module's dedup), so the hand-over is exactly-once.
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
const RETRYABLE = new Set(['40001', '40P01', 'CONCURRENT_MERGE']);

type OutboxRow = Awaited<ReturnType<typeof upkeep.peekTimeline>>[number];

export function createTimelineDrain(deps: {
  db: Db;
  events: Pick<EventsModule, 'appendResolved'>;
  profiles: Pick<ProfilesModule, 'holdProfiles' | 'touchProfiles'>;
  logger?: Logger;
}): TimelineDrain {
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<number> | null = null;
  let stopped = false;
  /** Asked for while a drain ran: it goes round once more, so nothing written meanwhile waits for the next nudge. */
  let again = false;

  function messageOf(row: OutboxRow) {
    // The card the purchase was made with stays in the event's context (as the till's tracking call would send it);
    // it is not made a trait of the profile, where it is an identifier already.
    const traits = row.identifier_kind && row.identifier_value ? { [row.identifier_kind]: row.identifier_value } : null;
    return {
      type: 'track',
      event: row.name,
      messageId: `loyalty-${row.id}`,
      timestamp: row.occurred_at.toISOString(),
      properties: row.properties,
      context: { ...(traits ? { traits } : {}), ...(row.channel ? { channel: row.channel } : {}) },
    };
  }

  async function handOver(workspaceId: string, rows: OutboxRow[]) {
    for (let attempt = 1; ; attempt++) {
      try {
        await handOverOnce(workspaceId, rows);
        return;
      } catch (error) {
        // A listener's ledger change raced a till change of the same member (40001), a deadlock, or a merge kept
        // moving the profiles: the whole hand-over again, as the events module retries its batches.
        const code = (error as { code?: string }).code;
        if (attempt < 6 && code && RETRYABLE.has(code)) continue;
        throw error;
      }
    }
  }

  async function handOverOnce(workspaceId: string, rows: OutboxRow[]) {
    await deps.db.transaction().execute(async (trx) => {
      const live = await deps.profiles.holdProfiles(
        trx,
        workspaceId,
        rows.map((r) => r.profile_id),
      );
      const items = rows.flatMap((row) => {
        const profileId = live.get(row.profile_id);
        return profileId ? [{ message: messageOf(row), profileId }] : [];
      });
      const seen = await deps.events.appendResolved(trx, workspaceId, items, new Date());
      await deps.profiles.touchProfiles(trx, workspaceId, seen);
      await upkeep.deleteTimeline(
        trx,
        rows.map((r) => r.id),
      );
    });
  }

  async function once(): Promise<number> {
    const rows = await upkeep.peekTimeline(deps.db, BATCH);
    if (rows.length === 0) return 0;
    const byWorkspace = new Map<string, OutboxRow[]>();
    for (const row of rows) {
      const list = byWorkspace.get(row.workspace_id) ?? [];
      byWorkspace.set(row.workspace_id, list);
      list.push(row);
    }
    for (const [workspaceId, list] of byWorkspace) await handOver(workspaceId, list);
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
