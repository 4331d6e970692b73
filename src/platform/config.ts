import { z } from 'zod';

/**
 * The one place that reads process.env. Everything else receives a parsed Config, so a typo in a variable name
 * fails at start-up with a readable message instead of surfacing as `undefined` somewhere deep in a request.
 */
const emptyAsUndefined = (v: unknown) => (v === '' ? undefined : v);

export const ConfigSchema = z.object({
  port: z.coerce.number().int().min(0).max(65535).default(3000),
  host: z.string().default('127.0.0.1'),
  publicUrl: z.preprocess(emptyAsUndefined, z.url().optional()),
  databaseUrl: z.preprocess(emptyAsUndefined, z.string().optional()),
  dataDir: z.string().default('./data'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  bodyLimitBytes: z.coerce.number().int().positive().default(1_048_576),
  metricsToken: z.preprocess(emptyAsUndefined, z.string().optional()),
  adminEmail: z.preprocess(emptyAsUndefined, z.email().optional()),
  adminPassword: z.preprocess(emptyAsUndefined, z.string().min(8).optional()),
  writeKey: z.preprocess(emptyAsUndefined, z.string().min(16).optional()),
  secretKey: z.preprocess(emptyAsUndefined, z.string().min(24).optional()),
  /** A fresh install's workspace: name, time zone, locale and currency. */
  workspaceName: z.string().default('My brand'),
  timeZone: z.string().default('UTC'),
  secureCookies: z.preprocess(
    (v) => (v === undefined || v === '' ? undefined : v === 'true' || v === '1'),
    z.boolean().optional(),
  ),
  /** How long a verified secret key or session is trusted before it is looked up again (revocation delay). */
  authCacheSeconds: z.coerce.number().min(0).max(300).default(5),
  dbPoolSize: z.coerce.number().int().min(1).max(200).default(10),
  /** How many `serve` processes share the port (node:cluster); more than one needs PostgreSQL. */
  processes: z.coerce.number().int().min(1).max(64).default(1),
  /** Audit entries older than this many days are deleted each night; 0 keeps them forever (the default). */
  auditRetentionDays: z.coerce
    .number()
    .int()
    .refine((d) => d === 0 || (d >= 180 && d <= 3650), 'either 0 (keep forever) or 180 to 3650 days')
    .default(0),
});
export type Config = z.infer<typeof ConfigSchema>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const parsed = ConfigSchema.safeParse({
    port: env.PORT,
    host: env.HOST,
    publicUrl: env.RAPPORT_PUBLIC_URL,
    databaseUrl: env.DATABASE_URL,
    dataDir: env.RAPPORT_DATA_DIR,
    logLevel: env.LOG_LEVEL,
    bodyLimitBytes: env.RAPPORT_BODY_LIMIT,
    metricsToken: env.RAPPORT_METRICS_TOKEN,
    adminEmail: env.RAPPORT_ADMIN_EMAIL,
    adminPassword: env.RAPPORT_ADMIN_PASSWORD,
    writeKey: env.RAPPORT_WRITE_KEY,
    secretKey: env.RAPPORT_SECRET_KEY,
    workspaceName: env.RAPPORT_WORKSPACE_NAME,
    timeZone: env.RAPPORT_TIME_ZONE,
    secureCookies: env.RAPPORT_SECURE_COOKIES,
    authCacheSeconds: env.RAPPORT_AUTH_CACHE_SECONDS,
    dbPoolSize: env.RAPPORT_DB_POOL_SIZE,
    processes: env.RAPPORT_PROCESSES,
    auditRetentionDays: env.RAPPORT_AUDIT_RETENTION_DAYS,
  });
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return { ...parsed.data, ...overrides };
}

/** The variables loadConfig reads (besides every `RAPPORT_…`). */
const CONFIG_VARIABLES = new Set(['PORT', 'HOST', 'DATABASE_URL', 'LOG_LEVEL']);

/**
 * The environment for a `rapport` process a test or tool starts: this process's own (PATH, HOME, NODE_OPTIONS …)
 * without any of Rapport's configuration variables, plus `given`. So a developer's shell with DATABASE_URL set
 * cannot turn a test meant for the embedded database into one against their server.
 */
export function childEnvironment(
  given: Record<string, string>,
  env: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv {
  const inherited = Object.entries(env).filter(([name]) => !CONFIG_VARIABLES.has(name) && !name.startsWith('RAPPORT_'));
  return { ...Object.fromEntries(inherited), ...given };
}

/** Test-only knobs live here too so that tests never read process.env themselves. */
export function testDatabaseUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.TEST_DATABASE_URL || undefined;
}
export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.CHROMIUM_PATH || '/usr/bin/chromium';
}
/** Runs of the loyalty model-based property test (LOYALTY_MODEL_RUNS, default 40) and whether to print its stats. */
export function loyaltyModelSettings(env: NodeJS.ProcessEnv = process.env): { runs: number; stats: boolean } {
  const runs = Number(env.LOYALTY_MODEL_RUNS ?? 40);
  return { runs: Number.isInteger(runs) && runs > 0 ? runs : 40, stats: Boolean(env.LOYALTY_MODEL_STATS) };
}
