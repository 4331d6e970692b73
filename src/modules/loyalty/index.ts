import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db.ts';
import type { Logger } from '../../platform/logger.ts';
import type { PersonalDataRegistry } from '../../platform/personal-data.ts';
import type { Actor } from '../../platform/principal.ts';
import type { QueueDefinition } from '../../platform/queue.ts';
import type { EventsModule } from '../events/index.ts';
import type { ProfilesModule } from '../profiles/index.ts';
import { tillBatches } from './loyalty.batch.ts';
import { eventEarning } from './loyalty.events.ts';
import { onMerge } from './loyalty.merge.ts';
import { invitePages, referralRoutes } from './loyalty.referrals.routes.ts';
import { referralListener } from './loyalty.referrals.ts';
import * as repo from './loyalty.repo.ts';
import { loyaltyRoutes } from './loyalty.routes.ts';
import {
  type AuditRecorder,
  type CodeSender,
  type LoyaltyDeps,
  outboxSender,
  ProgrammeCache,
} from './loyalty.service.ts';
import { loyaltyContributor } from './loyalty.subject.ts';
import { reviewTiers } from './loyalty.tiers.ts';
import * as till from './loyalty.till.ts';
import { createTimelineDrain } from './loyalty.timeline.ts';
import * as upkeep from './loyalty.upkeep.repo.ts';

export { CODE_REGISTERED, rewardPointsOf } from './loyalty.events.ts';
export type { CodeSender } from './loyalty.service.ts';

/** How long idempotency keys are remembered. */
const KEY_RETENTION_DAYS = 30;

/**
 * loyalty: programmes, cards, the points ledger, earn rules, the till API, earning on events.
 *
 * ```ts
 * const loyalty = createLoyaltyModule({ db, clock, profiles, events, audit: org.recordAudit, workspaceTimeZone });
 * profiles.onMerge(loyalty.onMerge);          // balances follow merges
 * events.onStored(loyalty.eventListener);      // Code Registered (and other event rules) earn points
 * app.register(loyalty.routes);                // under /api/v1: /loyalty/…
 * const queue = createQueue(database, logger, [...loyalty.jobs]);
 * ```
 */
export function createLoyaltyModule(input: {
  db: Db;
  clock: Clock;
  profiles: ProfilesModule;
  events: EventsModule;
  audit: AuditRecorder;
  /** The workspace's time zone: a new programme's default. */
  workspaceTimeZone: (workspaceId: string) => Promise<string>;
  logger?: Logger;
  sender?: CodeSender;
  personalData?: PersonalDataRegistry;
}) {
  const timeline = createTimelineDrain({
    db: input.db,
    events: input.events,
    profiles: input.profiles,
    logger: input.logger,
  });
  const deps: LoyaltyDeps = {
    db: input.db,
    clock: input.clock,
    profiles: input.profiles,
    events: input.events,
    audit: input.audit,
    sender: input.sender ?? outboxSender,
    programmes: new ProgrammeCache(),
    timelineWritten: () => timeline.nudge(),
    batches: tillBatches(input.db),
  };
  const earning = eventEarning(deps);
  deps.rulesChanged = () =>
    earning.refresh(input.db).catch((error) => input.logger?.warn({ err: error }, 'loyalty event names not refreshed'));
  // Event rules created by other processes are heard within this interval.
  const refresher = setInterval(() => {
    earning.refresh(input.db).catch((error) => input.logger?.warn({ err: error }, 'loyalty event names not refreshed'));
  }, 10_000);
  refresher.unref();
  input.personalData?.register(loyaltyContributor());
  // Referrals hear arrivals with invite codes and Loyalty Purchase events (loyalty.referrals.ts).
  input.events.onStored(referralListener(deps));

  const expireDue = async () => {
    let total = 0;
    for (;;) {
      const due = await upkeep.membersWithExpiredLots(input.db, input.clock.now(), 500);
      if (due.length === 0) return total;
      for (const m of due) {
        const programme = await repo.programmeById(input.db, m.workspace_id, m.programme_id);
        if (programme) total += await till.expireMember(deps, m.workspace_id, programme.key, m.member_id);
      }
    }
  };

  const reviewAllTiers = async () => {
    let changed = 0;
    for (const programme of await repo.programmesWithTiers(input.db))
      changed += (await reviewTiers(deps, programme, input.clock.now(), input.logger)).changed;
    return changed;
  };

  const jobs: QueueDefinition[] = [
    {
      name: 'loyalty.expire',
      schedule: '7 * * * *',
      handler: async () => {
        const expired = await expireDue();
        input.logger?.info({ expired }, 'loyalty points expired');
      },
    },
    {
      // The in-process nudge hands timeline events over within a fraction of a second; this catches what a
      // process that stopped in between left behind.
      name: 'loyalty.timeline',
      schedule: '* * * * *',
      handler: async () => {
        await timeline.drain();
      },
    },
    {
      name: 'loyalty.tiers',
      schedule: '17 2 * * *',
      handler: async () => {
        await reviewAllTiers();
      },
    },
    {
      name: 'loyalty.keys',
      schedule: '41 4 * * *',
      handler: async () => {
        const purged = await upkeep.purgeRequests(
          input.db,
          new Date(input.clock.now().getTime() - KEY_RETENTION_DAYS * 86_400_000),
        );
        input.logger?.info({ purged }, 'loyalty idempotency keys purged');
      },
    },
  ];

  const mainRoutes = loyaltyRoutes({ ...deps, workspaceTimeZone: input.workspaceTimeZone });
  const moreRoutes = referralRoutes(deps);
  const routes: typeof mainRoutes = async (app, options) => {
    await mainRoutes(app, options);
    await moreRoutes(app, options);
  };

  return {
    routes,
    /** The public invite link /i/:workspace/:code (register at the root, like the codes module's pages). */
    invitePages: invitePages(deps),
    /** For events.onStored: earning on Code Registered and every event an active rule names. */
    eventListener: earning.listener,
    /** Re-reads which event names rules name (call after start; rule changes in this process call it too). */
    refreshEventNames: () => earning.refresh(input.db),
    /** Merge listener: the absorbed profile's members, ledger and cards move to the survivor. */
    onMerge: (trx: Db, workspaceId: string, merges: { survivorId: string; absorbedId: string }[]) =>
      onMerge(trx, workspaceId, merges, input.clock.now()),
    jobs,
    /** Writes off every lot past its expiry (the hourly job); returns the points expired. */
    expireDue,
    /** The daily tier review of every programme with tiers (the `loyalty.tiers` job); returns members changed. */
    reviewTiers: reviewAllTiers,
    /** Hands waiting timeline events to the events module now (tests, shutdown). */
    drainTimeline: () => timeline.drain(),
    /** A purchase from code (the HTTP route's use case), for tools and benchmarks. */
    registerPurchase: (
      actor: Actor,
      programme: string,
      body: Parameters<typeof till.registerPurchase>[3],
      key: string,
    ) => till.registerPurchase(deps, actor, programme, body, key),
    async close() {
      clearInterval(refresher);
      await timeline.stop();
    },
  };
}
export type LoyaltyModule = ReturnType<typeof createLoyaltyModule>;
