import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyCookie from '@fastify/cookie';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync, LogController } from 'fastify';
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import { type Authenticator, installAuth } from './auth.ts';
import { installResponseHeaders } from './headers.ts';
import { installRequestAccounting, type Metrics } from './metrics.ts';
import { installProblemHandlers, sendProblem } from './problem.ts';

export const WEB_DIST = fileURLToPath(new URL('../../../web/dist', import.meta.url));
export const VERSION = '0.1.0';

export interface ServerDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  authenticator: Authenticator;
  csrfHeader: string;
  /** Answers the health check: which database, and whether it responds. */
  health(): Promise<{ database: string; ok: boolean }>;
  /** Module route plugins, registered under /api/v1. */
  apiRoutes: FastifyPluginAsync[];
  /** Plugins registered at the root (consumer endpoints such as /v1/… and /p/…). */
  rootRoutes?: FastifyPluginAsync[];
  serveConsole?: boolean;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{8,80}$/;

export async function createServer(deps: ServerDeps): Promise<FastifyInstance> {
  const { config, logger } = deps;
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimitBytes,
    // Our genReqId reads and validates the header itself: a client must not put arbitrary text in our logs.
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // No child logger per request: our few request-scoped lines add `reqId` themselves (a child per request was
    // a measurable share of a management read).
    childLoggerFactory: (logger) => logger,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    trustProxy: false,
  }).withTypeProvider<ZodTypeProvider>() as unknown as FastifyInstance;

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installProblemHandlers(app);
  installRequestAccounting(app, deps.metrics);
  installResponseHeaders(app);

  await app.register(fastifyCookie);

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Rapport management API',
        version: VERSION,
        description:
          'Management API of Rapport. Authenticate with `Authorization: Bearer <secret key>`. Errors are RFC 9457 problem+json with a stable `code`. Lists are cursor-paginated.',
      },
      components: {
        securitySchemes: {
          secretKey: { type: 'http', scheme: 'bearer', description: 'A secret key (sk_…) from Settings → API keys' },
        },
      },
      security: [{ secretKey: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/api/docs', staticCSP: true });

  installAuth(app, deps.authenticator, deps.csrfHeader);

  app.get(
    '/health',
    {
      config: { auth: 'public' },
      schema: {
        hide: true,
        response: {
          200: z.object({
            status: z.literal('ok'),
            database: z.string(),
            version: z.string(),
            uptimeSeconds: z.number(),
          }),
          503: z.object({ status: z.literal('unavailable'), database: z.string(), version: z.string() }),
        },
      },
    },
    async (_request, reply) => {
      const health = await deps.health().catch(() => ({ database: 'unknown', ok: false }));
      if (!health.ok)
        return reply.status(503).send({ status: 'unavailable', database: health.database, version: VERSION });
      return {
        status: 'ok' as const,
        database: health.database,
        version: VERSION,
        uptimeSeconds: Math.round(process.uptime()),
      };
    },
  );

  app.get('/metrics', { config: { auth: 'public' }, schema: { hide: true } }, async (request, reply) => {
    if (config.metricsToken && request.headers.authorization !== `Bearer ${config.metricsToken}`) {
      return sendProblem(request, reply, 401, 'UNAUTHENTICATED', 'This endpoint needs the metrics token.');
    }
    reply.type(deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });

  app.get('/api/openapi.json', { config: { auth: 'public' }, schema: { hide: true } }, async () => app.swagger());

  await app.register(
    async (api) => {
      for (const plugin of deps.apiRoutes) await api.register(plugin);
    },
    { prefix: '/api/v1' },
  );
  for (const plugin of deps.rootRoutes ?? []) await app.register(plugin);

  await serveConsole(app, deps.serveConsole !== false);
  return app;
}

async function serveConsole(app: FastifyInstance, enabled: boolean) {
  const index = join(WEB_DIST, 'index.html');
  const built = enabled && existsSync(index);
  if (built) await app.register(fastifyStatic, { root: WEB_DIST, prefix: '/', wildcard: false, index: ['index.html'] });
  else if (enabled) {
    app.get('/', { config: { auth: 'public' }, schema: { hide: true } }, async (_request, reply) =>
      reply
        .type('text/html; charset=utf-8')
        .send(
          '<!doctype html><title>Rapport</title><p>The console is not built yet. Run <code>npm run build:web</code>.</p>',
        ),
    );
  }
  // Client-side routes (/settings/keys …) get the app shell; everything else, API paths above all, a problem.
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    const isApi = path.startsWith('/api/') || path.startsWith('/v1/') || path === '/health' || path === '/metrics';
    if (built && request.method === 'GET' && !isApi && !/\.[a-z0-9]+$/i.test(path)) {
      return reply.type('text/html; charset=utf-8').sendFile('index.html');
    }
    return sendProblem(request, reply, 404, 'ROUTE_NOT_FOUND', `No route ${request.method} ${path}`);
  });
}
