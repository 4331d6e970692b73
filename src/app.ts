import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { DEMO_JOB, demoJobHandler, demoRoutes } from './demo.ts';
import { type CodesModule, createCodesModule } from './modules/codes/index.ts';
import { type ConsentModule, createConsentModule } from './modules/consent/index.ts';
import { createEventsModule, type EventsModule } from './modules/events/index.ts';
import { createFormsModule, type FormsModule } from './modules/forms/index.ts';
import { createLoyaltyModule, type LoyaltyModule } from './modules/loyalty/index.ts';
import { type BootstrapOutcome, CSRF_HEADER, createOrgModule, type OrgModule } from './modules/org/index.ts';
import { createProfilesModule, type ProfilesModule } from './modules/profiles/index.ts';
import { type Clock, systemClock } from './platform/clock.ts';
import type { Config } from './platform/config.ts';
import { type Database, openDatabase } from './platform/db.ts';
import { createMetrics } from './platform/http/metrics.ts';
import { createServer } from './platform/http/server.ts';
import { createLogger, type Logger } from './platform/logger.ts';
import { migrateToLatest } from './platform/migrate.ts';
import { createPersonalDataRegistry } from './platform/personal-data.ts';
import { createQueue, type Queue, type QueueDefinition } from './platform/queue.ts';
import { purgeExpiredRateLimits } from './platform/ratelimit.ts';

/**
 * The composition root: opens the database, migrates, wires modules to the platform and to each other, and
 * starts the roles this process plays. `api` serves HTTP; `worker` runs background jobs. `rapport serve` is both.
 */
export interface AppOptions {
  api: boolean;
  worker: boolean;
  database?: Database;
  logger?: Logger;
  clock?: Clock;
}

export interface App {
  config: Config;
  logger: Logger;
  database: Database;
  queue: Queue;
  org: OrgModule;
  profiles: ProfilesModule;
  events: EventsModule;
  consent: ConsentModule;
  loyalty: LoyaltyModule;
  codes: CodesModule;
  forms: FormsModule;
  server: FastifyInstance | null;
  firstStart: BootstrapOutcome;
  close(): Promise<void>;
}

export async function createApp(config: Config, options: AppOptions): Promise<App> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const clock = options.clock ?? systemClock;
  const database = options.database ?? (await openDatabase(config));
  try {
    await migrateToLatest(database.db);
    // Every module that keeps something about a person registers its part of an export and an erasure here.
    const personalData = createPersonalDataRegistry();
    const org = createOrgModule({ db: database.db, clock, logger, config, personalData });
    const firstStart = await org.bootstrap({
      adminEmail: config.adminEmail,
      adminPassword: config.adminPassword,
      writeKey: config.writeKey,
      secretKey: config.secretKey,
      workspaceName: config.workspaceName,
      timeZone: config.timeZone,
    });

    const profiles = createProfilesModule({
      db: database.db,
      clock,
      audit: org.recordAudit,
      readAudit: org.readAudit,
      personalData,
      subjectKey: org.subjectKey,
    });
    const events = createEventsModule({
      db: database.db,
      profiles,
      org,
      clock,
      logger,
      personalData,
      copyTransaction: database.copyTransaction,
    });
    const consent = createConsentModule({
      db: database.db,
      clock,
      publicUrl: config.publicUrl ?? `http://localhost:${config.port}`,
      people: profiles.directory,
      audit: org.recordAudit,
      personalData,
    });
    // Refusals survive merges: the consent ledger moves to the survivor in the merge's transaction.
    profiles.onMerge(consent.onMerge);
    // Consent statements arriving with tracking messages and imported rows (`context.consent`).
    events.extendContext(consent.tracking);
    // Loyalty (issue 6): balances follow merges; Code Registered and other events earn points by rule.
    const loyalty = createLoyaltyModule({
      db: database.db,
      clock,
      logger,
      profiles,
      events,
      audit: org.recordAudit,
      personalData,
      workspaceTimeZone: async (id) => (await org.findWorkspace(id))?.time_zone ?? 'UTC',
    });
    profiles.onMerge(loyalty.onMerge);
    events.onStored(loyalty.eventListener);

    // Codes: promotions, batches, registrations (issue 5). `Code Registered` events are written to the timeline in
    // the registration's transaction; placement contacts go through a job (the queue exists a few lines below).
    let enqueue: Queue['enqueue'] | undefined;
    const codes = createCodesModule({
      db: database.db,
      database,
      clock,
      logger,
      publicUrl: config.publicUrl ?? `http://localhost:${config.port}`,
      org,
      profiles,
      consent,
      ingest: (workspaceId, messages) => events.ingest(workspaceId, messages),
      timeline: async (trx, workspaceId, items, receivedAt) => {
        await events.appendResolved(trx, workspaceId, items, receivedAt);
      },
      enqueue: (trx, name, data) => (enqueue as Queue['enqueue'])(trx, name, data),
      personalData,
    });
    profiles.onMerge(codes.onMerge);
    // Forms and surveys (issue 5): submission events reach the timeline through a job, as codes' do.
    const forms = createFormsModule({
      db: database.db,
      clock,
      logger,
      publicUrl: config.publicUrl ?? `http://localhost:${config.port}`,
      org,
      profiles,
      consent,
      ingest: (workspaceId, messages) => events.ingest(workspaceId, messages),
      enqueue: (trx, name, data) => (enqueue as Queue['enqueue'])(trx, name, data),
      personalData,
    });
    profiles.onMerge(forms.onMerge);
    // Response codes per medium: any event naming a placement's keyword (forms, call-backs …) is its contact.
    events.onStored(codes.placementListener);

    const jobs: QueueDefinition[] = [
      { name: DEMO_JOB, handler: demoJobHandler(events) },
      ...codes.jobs,
      ...forms.jobs,
      ...events.uploads.jobs,
      ...org.jobs,
      ...loyalty.jobs,
      {
        name: 'platform.maintenance',
        schedule: '*/15 * * * *',
        handler: async () => {
          const purged = await purgeExpiredRateLimits(database.db, clock);
          logger.info({ purged }, 'expired rate-limit counters purged');
        },
      },
    ];
    const queue = createQueue(database, logger, jobs);
    enqueue = queue.enqueue;
    await queue.start();
    await loyalty.refreshEventNames();
    if (options.worker) await queue.startWorkers();

    const server = options.api
      ? await createServer({
          config,
          logger,
          metrics: createMetrics(),
          authenticator: org.authenticator,
          csrfHeader: CSRF_HEADER,
          health: async () => {
            await sql`select 1`.execute(database.db);
            return { database: database.kind, ok: true };
          },
          apiRoutes: [
            org.routes,
            profiles.routes,
            events.routes,
            events.uploads.routes(queue.enqueue),
            consent.routes,
            loyalty.routes,
            codes.routes,
            forms.routes,
            demoRoutes({ db: database.db, enqueue: queue.enqueue, audit: org.recordAudit }),
          ],
          rootRoutes: [events.ingestion, consent.pages, codes.consumer, forms.consumer, loyalty.invitePages],
        })
      : null;

    let closing: Promise<void> | undefined;
    return {
      config,
      logger,
      database,
      queue,
      org,
      profiles,
      events,
      consent,
      loyalty,
      codes,
      forms,
      server,
      firstStart,
      close() {
        closing ??= (async () => {
          await server?.close();
          await queue.stop();
          await loyalty.close();
          await database.close();
        })();
        return closing;
      },
    };
  } catch (error) {
    await database.close().catch(() => {});
    throw error;
  }
}
