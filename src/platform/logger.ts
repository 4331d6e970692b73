import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs. Personal data never goes in clear: these paths are redacted wherever they appear, and
 * request logging records method, route and status only (see http/server.ts).
 */
export const REDACTED_PATHS = [
  'password',
  '*.password',
  'email',
  '*.email',
  'phone',
  '*.phone',
  'secret',
  '*.secret',
  'token',
  '*.token',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
];

/**
 * Lines are written asynchronously in 4 KiB chunks: a synchronous write per request cost a measurable share of
 * throughput. pino flushes the buffer when the process exits, including on a fatal error.
 */
export function createLogger(level: string): Logger {
  return pino(
    { level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' }, base: { service: 'rapport' } },
    pino.destination({ dest: 1, sync: false, minLength: 4096 }),
  );
}
