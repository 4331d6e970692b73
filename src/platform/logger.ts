import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs. Personal data stays out by construction: request lines carry method, route pattern,
 * status and duration only (http/metrics.ts), never URLs or bodies. As a second line of defence these fields are
 * redacted if a log call ever passes them. Explicit paths only: wildcard paths made every log call walk its object.
 */
export const REDACTED_PATHS = [
  'password',
  'email',
  'phone',
  'secret',
  'token',
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
