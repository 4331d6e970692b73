import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import helmet from 'helmet';

/**
 * Security headers. Documents (console, API reference) get helmet's full set with our CSP; JSON responses get a
 * lean set that still forbids sniffing, framing and caching. helmet runs once at start-up to compute each set, so
 * a request pays for setting a few constant headers, not for building a policy (the difference was half of the
 * management API's throughput, see bench/RESULTS.md).
 */
const CONSOLE_CSP = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  imgSrc: ["'self'", 'data:'],
  connectSrc: ["'self'"],
  fontSrc: ["'self'", 'data:'],
  objectSrc: ["'none'"],
  frameAncestors: ["'none'"],
  // Not upgrade-insecure-requests: an install reached over plain HTTP on a LAN address would fail to load its assets.
  // HTTPS deployments get HSTS instead.
  upgradeInsecureRequests: null,
};

function headersOf(middleware: ReturnType<typeof helmet>): [string, string][] {
  const headers: [string, string][] = [];
  const res = {
    setHeader: (name: string, value: string) => headers.push([name.toLowerCase(), String(value)]),
    removeHeader: () => {},
  } as unknown as ServerResponse;
  middleware({} as IncomingMessage, res, () => {});
  return headers;
}

export const DOCUMENT_HEADERS = headersOf(
  helmet({ contentSecurityPolicy: { directives: CONSOLE_CSP }, crossOriginEmbedderPolicy: false }),
);
// The API reference UI runs an inline bootstrap script from @fastify/swagger-ui.
const DOCS_HEADERS = headersOf(
  helmet({
    contentSecurityPolicy: { directives: { ...CONSOLE_CSP, scriptSrc: ["'self'", "'unsafe-inline'"] } },
    crossOriginEmbedderPolicy: false,
  }),
);
export const API_HEADERS: [string, string][] = [
  ['x-content-type-options', 'nosniff'],
  ['content-security-policy', "default-src 'none'; frame-ancestors 'none'"],
  ['referrer-policy', 'no-referrer'],
  ['cache-control', 'no-store'],
];

function isApiPath(url: string) {
  return (
    url.startsWith('/api/v1/') ||
    url.startsWith('/v1/') ||
    url === '/health' ||
    url === '/metrics' ||
    url === '/api/openapi.json'
  );
}

/** Security headers and the request id, set in one synchronous hook before anything else runs. */
export function installResponseHeaders(app: FastifyInstance) {
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    const url = request.url;
    const set = isApiPath(url) ? API_HEADERS : url.startsWith('/api/docs') ? DOCS_HEADERS : DOCUMENT_HEADERS;
    for (const [name, value] of set) reply.header(name, value);
    done();
  });
}
