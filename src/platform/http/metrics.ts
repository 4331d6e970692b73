import type { FastifyInstance } from 'fastify';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/** Prometheus metrics, one registry per app instance (tests build many in one process). */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'rapport_' });
  const requests = new Counter({
    name: 'rapport_http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'rapport_http_request_duration_seconds',
    help: 'HTTP request duration by method and route',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  return { registry, requests, duration };
}
export type Metrics = ReturnType<typeof createMetrics>;

/**
 * One hook per finished request: a metric sample and one log line. Both use the route pattern, never the raw URL:
 * ids and query strings would explode cardinality, and URLs can carry e-mails or phone numbers.
 */
export function installRequestAccounting(app: FastifyInstance, metrics: Metrics) {
  // Label children cached per route and status: prom-client otherwise hashes the label set on every call.
  const counters = new Map<string, { inc(): void }>();
  const timers = new Map<string, { observe(seconds: number): void }>();
  app.addHook('onResponse', (request, reply, done) => {
    const method = request.method;
    const route = request.routeOptions.url ?? 'unmatched';
    const status = reply.statusCode;
    const ms = reply.elapsedTime;
    const timerKey = `${method} ${route}`;
    const counterKey = `${timerKey} ${status}`;
    let counter = counters.get(counterKey);
    if (!counter) {
      counter = metrics.requests.labels(method, route, String(status));
      counters.set(counterKey, counter);
    }
    let timer = timers.get(timerKey);
    if (!timer) {
      timer = metrics.duration.labels(method, route);
      timers.set(timerKey, timer);
    }
    counter.inc();
    timer.observe(ms / 1000);
    request.log.info({ reqId: request.id, method, route, status, ms: Math.round(ms * 10) / 10 }, 'request');
    done();
  });
}
