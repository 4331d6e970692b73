import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { EventsModule } from './modules/events/index.ts';
import type { Db } from './platform/db.ts';
import { actorOf } from './platform/http/auth.ts';
import { Problem } from './platform/http/problem.ts';
import type { Actor } from './platform/principal.ts';

/**
 * A fictional tea and coffee brand, "Samovar", generated rather than copied: customers with names, e-mails,
 * phones, loyalty cards and devices, and eighteen months of visits and purchases. Each customer has their own
 * buying rhythm (a mean gap between purchases drawn per person), some lapse for months and some come back, so
 * the console has lifetimes, lapses and returns to show. Deterministic for a seed.
 */
export interface DemoOptions {
  customers: number;
  seed?: number;
  months?: number;
  now?: Date;
  onProgress?: (done: number, total: number) => void;
}

/** mulberry32: a small, fast, seedable PRNG — reproducible demo data, not security. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIRST_RU = [
  'Анна',
  'Мария',
  'Елена',
  'Ольга',
  'Наталья',
  'Ирина',
  'Алексей',
  'Дмитрий',
  'Сергей',
  'Андрей',
  'Иван',
  'Михаил',
  'Татьяна',
  'Светлана',
  'Павел',
  'Николай',
];
const LAST_RU = [
  'Иванов',
  'Смирнов',
  'Кузнецов',
  'Попов',
  'Васильев',
  'Петров',
  'Соколов',
  'Михайлов',
  'Новиков',
  'Фёдоров',
  'Морозов',
  'Волков',
];
const FIRST_EN = [
  'Anna',
  'Maria',
  'Helen',
  'Olga',
  'Alex',
  'Dmitry',
  'Sergey',
  'Andrew',
  'Ivan',
  'Michael',
  'Kate',
  'Paul',
];
const TRANSLIT: Record<string, string> = {
  Анна: 'anna',
  Мария: 'maria',
  Елена: 'elena',
  Ольга: 'olga',
  Наталья: 'natalia',
  Ирина: 'irina',
  Алексей: 'alexey',
  Дмитрий: 'dmitry',
  Сергей: 'sergey',
  Андрей: 'andrey',
  Иван: 'ivan',
  Михаил: 'mikhail',
  Татьяна: 'tatiana',
  Светлана: 'svetlana',
  Павел: 'pavel',
  Николай: 'nikolay',
};
const CITIES = [
  'Moscow',
  'Saint Petersburg',
  'Kazan',
  'Novosibirsk',
  'Yekaterinburg',
  'Nizhny Novgorod',
  'Samara',
  'Tula',
];
const PRODUCTS = [
  { sku: 'TEA-EARL-100', name: 'Earl Grey, 100 g', price: 39000 },
  { sku: 'TEA-SENCHA-80', name: 'Sencha, 80 g', price: 52000 },
  { sku: 'TEA-IVAN-50', name: 'Ivan-chai, 50 g', price: 29000 },
  { sku: 'COF-ARABICA-250', name: 'Arabica beans, 250 g', price: 64000 },
  { sku: 'COF-ESPRESSO-1K', name: 'Espresso blend, 1 kg', price: 189000 },
  { sku: 'ACC-TEAPOT', name: 'Glass teapot', price: 149000 },
  { sku: 'SWT-HONEY-300', name: 'Buckwheat honey, 300 g', price: 45000 },
];
const STORES = ['msk-tverskaya', 'msk-arbat', 'spb-nevsky', 'kzn-bauman', 'online'];

export async function generateDemo(events: EventsModule, workspaceId: string, options: DemoOptions) {
  const rand = prng(options.seed ?? 20261122);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const now = (options.now ?? new Date()).getTime();
  const start = now - (options.months ?? 18) * 30.4 * 86_400_000;
  let pending: unknown[] = [];
  let sent = 0;
  const flush = async () => {
    if (!pending.length) return;
    const batch = pending;
    pending = [];
    const result = await events.ingest(workspaceId, batch);
    if (result.rejected.length)
      throw new Error(`demo data rejected: ${result.rejected[0]?.code} ${result.rejected[0]?.message}`);
  };
  const push = async (message: Record<string, unknown>) => {
    pending.push(message);
    if (pending.length >= 500) await flush();
  };

  for (let c = 0; c < options.customers; c++) {
    const russian = rand() < 0.8;
    const first = russian ? pick(FIRST_RU) : pick(FIRST_EN);
    const female = russian && /[ая]$/.test(first);
    const last = russian ? `${pick(LAST_RU)}${female ? 'а' : ''}` : pick(['Smith', 'Brown', 'Taylor', 'Wilson']);
    const userId = `samovar-${100000 + c}`;
    const device = `dev-${c.toString(36)}-${Math.floor(rand() * 1e9).toString(36)}`;
    const email = `${TRANSLIT[first] ?? first.toLowerCase()}.${c}@example.com`;
    const phone = `+79${String(Math.floor(rand() * 1e9)).padStart(9, '0')}`;
    const card = rand() < 0.6 ? `7001${String(c).padStart(8, '0')}` : undefined;
    const city = pick(CITIES);
    const preferredStore = pick(STORES);
    // Personal rhythm: a mean gap between purchases of 5 to 60 days; a lapse for some; a return for some of those.
    const meanGap = 5 + rand() * 55;
    const joined = start + rand() * (now - start) * 0.8;
    const lapseAt = rand() < 0.3 ? joined + rand() * (now - joined) : Number.POSITIVE_INFINITY;
    const returnAt =
      lapseAt < now && rand() < 0.4 ? lapseAt + (60 + rand() * 120) * 86_400_000 : Number.POSITIVE_INFINITY;
    const msg = (type: string, at: number, extra: Record<string, unknown>) => ({
      type,
      userId,
      anonymousId: device,
      messageId: `demo-${c}-${Math.round(at)}-${type}-${Math.floor(rand() * 1e6)}`,
      timestamp: new Date(at).toISOString(),
      ...extra,
    });
    // Anonymous browsing before signing up, then the sign-up.
    await push({
      type: 'page',
      anonymousId: device,
      name: 'Home',
      messageId: `demo-${c}-first-visit`,
      timestamp: new Date(joined - 86_400_000).toISOString(),
      context: { channel: 'web' },
    });
    await push(
      msg('identify', joined, {
        traits: {
          name: `${first} ${last}`,
          firstName: first,
          lastName: last,
          email,
          phone,
          city,
          ...(card ? { card } : {}),
        },
        context: { channel: card ? 'pos' : 'web' },
      }),
    );
    for (
      let at = joined + rand() * meanGap * 86_400_000;
      at < now;
      at += -Math.log(1 - rand()) * meanGap * 86_400_000
    ) {
      if (at > lapseAt && at < returnAt) continue;
      const store = rand() < 0.7 ? preferredStore : pick(STORES);
      const lines = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => pick(PRODUCTS));
      const total = lines.reduce((s, p) => s + p.price, 0);
      if (store === 'online') {
        await push(
          msg('page', at - 600_000, {
            name: 'Catalogue',
            properties: { path: '/catalogue' },
            context: { channel: 'web' },
          }),
        );
      }
      await push(
        msg('track', at, {
          event: 'Order Completed',
          properties: {
            total,
            currency: 'RUB',
            store,
            products: lines.map((p) => ({ sku: p.sku, name: p.name, price: p.price })),
          },
          context: { channel: store === 'online' ? 'web' : 'pos' },
        }),
      );
    }
    sent++;
    if (sent % 200 === 0) options.onProgress?.(sent, options.customers);
  }
  await flush();
  options.onProgress?.(options.customers, options.customers);
}

// ---- the console's "load a demo brand" action: a background job, so the request returns at once

export const DEMO_JOB = 'demo.generate';

export interface DemoJob {
  workspaceId: string;
  customers: number;
  seed: number;
}

/** The job handler. A retry re-sends the same message ids (same seed), which the ingestion dedups. */
export function demoJobHandler(events: EventsModule) {
  return async (jobs: { data: unknown }[]) => {
    for (const job of jobs) {
      const { workspaceId, customers, seed } = job.data as DemoJob;
      await generateDemo(events, workspaceId, { customers, seed });
    }
  };
}

export function demoRoutes(deps: {
  db: Db;
  enqueue: (trx: Kysely<unknown>, name: string, data: DemoJob) => Promise<string | null>;
  audit: (
    db: Db,
    actor: Actor,
    action: string,
    target: { kind: string; id: string },
    details?: Record<string, unknown>,
  ) => Promise<void>;
}): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/demo',
      {
        config: { auth: 'workspace:manage' },
        schema: {
          tags: ['workspaces'],
          summary: 'Fill this workspace with the generated demo brand, in the background',
          body: z.object({ customers: z.number().int().min(10).max(50_000).default(2_000) }).strict(),
          response: {
            202: z.object({ jobId: z.string().nullable(), customers: z.number().int() }),
            400: Problem,
            401: Problem,
            403: Problem,
          },
        },
      },
      async (request, reply) => {
        const actor = actorOf(request);
        const workspaceId = actor.principal.scope.workspaceId;
        const { customers } = request.body;
        const jobId = await deps.db.transaction().execute(async (trx) => {
          await deps.audit(trx, actor, 'demo.started', { kind: 'workspace', id: workspaceId }, { customers });
          return deps.enqueue(trx as unknown as Kysely<unknown>, DEMO_JOB, {
            workspaceId,
            customers,
            seed: Date.now() % 1_000_000,
          });
        });
        return reply.status(202).send({ jobId, customers });
      },
    );
  };
}
