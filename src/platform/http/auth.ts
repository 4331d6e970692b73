import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DomainError } from '../errors.ts';
import type { Actor, Principal } from '../principal.ts';

export type { Actor, Principal };

/**
 * Access control for HTTP routes. The Authenticator (provided by the org module) resolves the caller; the platform
 * enforces what each route declares next to its definition in `config.auth`:
 *   - 'public'  — anyone (health, sign-in, consumer endpoints with their own checks)
 *   - 'session' — a signed-in console user, whatever the workspace (session, workspace list)
 *   - 'write_key' — the tracking API; the module that owns the route checks the write key itself
 *   - any other string — a permission the principal must hold in the current workspace
 */
export interface SessionIdentity {
  readonly sessionId: string;
  readonly userId: string;
  readonly csrfToken: string;
  /** How the user appears in audit entries and consent proof: "Name <e-mail>". */
  readonly label?: string;
}

export interface Authentication {
  /** Present when the caller is authorised in a workspace. */
  principal: Principal | null;
  /** Present when the caller came with a console session cookie. */
  session: SessionIdentity | null;
}

export interface Authenticator {
  /** Returns nulls for no credentials; throws DomainError('unauthenticated') for bad ones. */
  authenticate(request: FastifyRequest): Promise<Authentication>;
}

export type RouteAuth = 'public' | 'session' | 'write_key' | (string & {});

export interface RouteInfo {
  method: string;
  url: string;
  auth: RouteAuth;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: RouteAuth;
  }
  interface FastifyRequest {
    auth: Authentication;
  }
  interface FastifyInstance {
    /** Every route with its declared access, for the role × route tests and the docs. */
    routeTable: RouteInfo[];
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Registers the access check for every route under `/api/` and refuses to start if such a route does not declare
 * its access. Cookie-authenticated writes must carry the session's CSRF token in a header that a cross-site form
 * cannot set.
 */
export function installAuth(app: FastifyInstance, authenticator: Authenticator, csrfHeader: string) {
  app.decorateRequest('auth', null as unknown as Authentication);
  const routeTable: RouteInfo[] = [];
  app.decorate('routeTable', routeTable);

  app.addHook('onRoute', (route) => {
    const needsDeclaration = route.url.startsWith('/api/v1/') || route.url.startsWith('/v1/');
    if (needsDeclaration && !route.config?.auth) {
      throw new Error(`Route ${route.method} ${route.url} does not declare config.auth`);
    }
    for (const method of [route.method].flat()) {
      if (method !== 'HEAD') routeTable.push({ method, url: route.url, auth: route.config?.auth ?? 'public' });
    }
  });

  app.addHook('onRequest', async (request) => {
    const declared = request.routeOptions.config?.auth;
    request.auth = { principal: null, session: null };
    if (!declared || declared === 'public' || declared === 'write_key') return;

    request.auth = await authenticator.authenticate(request);
    const { principal, session } = request.auth;

    if (session && !SAFE_METHODS.has(request.method)) {
      const sent = request.headers[csrfHeader];
      if (typeof sent !== 'string' || sent !== session.csrfToken) {
        throw new DomainError(
          'forbidden',
          'CSRF_TOKEN_INVALID',
          `Send the session's CSRF token in the ${csrfHeader} header with every change.`,
        );
      }
    }

    if (declared === 'session') {
      if (!session) throw new DomainError('unauthenticated', 'SESSION_REQUIRED', 'Sign in to the console first.');
      return;
    }
    if (!principal) {
      throw new DomainError(
        'unauthenticated',
        'UNAUTHENTICATED',
        'Send a secret key as "Authorization: Bearer <key>" or sign in to the console.',
      );
    }
    if (!principal.permissions.has(declared)) {
      throw new DomainError(
        'forbidden',
        'FORBIDDEN',
        `The role ${principal.role} does not have the permission ${declared}.`,
      );
    }
  });
}

/** The authorised principal of a route that declared a permission (never null there). */
export function principalOf(request: FastifyRequest): Principal {
  const principal = request.auth?.principal;
  if (!principal) throw new DomainError('unauthenticated', 'UNAUTHENTICATED', 'Authentication required.');
  return principal;
}

export function sessionOf(request: FastifyRequest): SessionIdentity {
  const session = request.auth?.session;
  if (!session) throw new DomainError('unauthenticated', 'SESSION_REQUIRED', 'Sign in to the console first.');
  return session;
}

export function actorOf(request: FastifyRequest): Actor {
  const agent = request.headers['user-agent'];
  return {
    principal: principalOf(request),
    ip: request.ip ?? null,
    userAgent: typeof agent === 'string' && agent ? agent.slice(0, 300) : null,
  };
}
