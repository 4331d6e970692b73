import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { actorOf, principalOf, sessionOf } from '../../platform/http/auth.ts';
import { Problem } from '../../platform/http/problem.ts';
import { PageQuery, pageOf } from '../../platform/pagination.ts';
import { describeSession, listMemberships, SESSION_COOKIE, SESSION_TTL_MS, signIn, signOut } from './org.auth.ts';
import {
  ApiKey,
  ApiKeyCreate,
  ApiKeyCreated,
  AuditEntry,
  AuditQuery,
  Branch,
  BranchCreate,
  BranchUpdate,
  Me,
  Membership,
  type Permission,
  Session,
  SessionCreate,
  User,
  UserCreate,
  UserCreated,
  UserUpdate,
  Workspace,
  WorkspaceCreate,
  WorkspaceUpdate,
} from './org.schemas.ts';
import * as org from './org.service.ts';

const IdParams = z.object({ id: z.uuid() });
const errors = { 400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem, 429: Problem };
const need = (permission: Permission) => ({ auth: permission });

export function orgRoutes(deps: org.OrgDeps, options: { secureCookies: boolean }): FastifyPluginAsyncZod {
  return async (app) => {
    // ---- console sessions
    app.post(
      '/session',
      {
        config: { auth: 'public' },
        schema: {
          tags: ['session'],
          summary: 'Sign in to the console',
          security: [],
          body: SessionCreate,
          response: { 200: Session, ...errors },
        },
      },
      async (request, reply) => {
        const { token, session } = await signIn(deps, { ...request.body, ip: request.ip });
        reply.setCookie(SESSION_COOKIE, token, {
          httpOnly: true,
          sameSite: 'strict',
          secure: options.secureCookies,
          path: '/',
          maxAge: Math.floor(SESSION_TTL_MS / 1000),
        });
        return session;
      },
    );
    app.get(
      '/session',
      {
        config: { auth: 'session' },
        schema: { tags: ['session'], summary: 'The current console session', response: { 200: Session, ...errors } },
      },
      async (request) => describeSession(deps, sessionOf(request)),
    );
    app.delete(
      '/session',
      {
        config: { auth: 'session' },
        schema: { tags: ['session'], summary: 'Sign out', response: { 204: z.null(), ...errors } },
      },
      async (request, reply) => {
        await signOut(deps, sessionOf(request));
        reply.clearCookie(SESSION_COOKIE, { path: '/' });
        return reply.status(204).send(null);
      },
    );
    app.get(
      '/workspaces',
      {
        config: { auth: 'session' },
        schema: {
          tags: ['workspaces'],
          summary: "The signed-in user's workspaces",
          response: { 200: z.object({ items: z.array(Membership) }), ...errors },
        },
      },
      async (request) => ({ items: await listMemberships(deps, sessionOf(request).userId) }),
    );
    app.post(
      '/workspaces',
      {
        config: { auth: 'session' },
        schema: {
          tags: ['workspaces'],
          summary: 'Create a workspace (you become its owner)',
          body: WorkspaceCreate,
          response: { 201: Membership, ...errors },
        },
      },
      async (request, reply) =>
        reply.status(201).send(await org.createWorkspace(deps, sessionOf(request).userId, request.body, request.ip)),
    );

    // ---- the current workspace
    app.get(
      '/me',
      {
        config: need('workspace:read'),
        schema: { tags: ['workspaces'], summary: 'Who you are in this workspace', response: { 200: Me, ...errors } },
      },
      async (request) => {
        const principal = principalOf(request);
        return {
          kind: principal.kind,
          workspace: await org.getWorkspace(deps, principal.scope),
          role: principal.role as Me['role'],
          branchId: principal.scope.branchId,
          permissions: [...principal.permissions] as Permission[],
          userId: principal.userId,
          keyId: principal.keyId,
        };
      },
    );
    app.get(
      '/workspace',
      {
        config: need('workspace:read'),
        schema: { tags: ['workspaces'], summary: 'The current workspace', response: { 200: Workspace, ...errors } },
      },
      async (request) => org.getWorkspace(deps, principalOf(request).scope),
    );
    app.patch(
      '/workspace',
      {
        config: need('workspace:manage'),
        schema: {
          tags: ['workspaces'],
          summary: 'Change workspace settings',
          body: WorkspaceUpdate,
          response: { 200: Workspace, ...errors },
        },
      },
      async (request) => org.updateWorkspace(deps, actorOf(request), request.body),
    );

    // ---- users
    app.get(
      '/users',
      {
        config: need('users:read'),
        schema: {
          tags: ['users'],
          summary: 'List users',
          querystring: PageQuery,
          response: { 200: pageOf(User), ...errors },
        },
      },
      async (request) => org.listUsers(deps, principalOf(request).scope, request.query),
    );
    app.post(
      '/users',
      {
        config: need('users:manage'),
        schema: { tags: ['users'], summary: 'Add a user', body: UserCreate, response: { 201: UserCreated, ...errors } },
      },
      async (request, reply) => reply.status(201).send(await org.createUser(deps, actorOf(request), request.body)),
    );
    app.get(
      '/users/:id',
      {
        config: need('users:read'),
        schema: { tags: ['users'], summary: 'One user', params: IdParams, response: { 200: User, ...errors } },
      },
      async (request) => org.getUser(deps, principalOf(request).scope, request.params.id),
    );
    app.patch(
      '/users/:id',
      {
        config: need('users:manage'),
        schema: {
          tags: ['users'],
          summary: 'Change a user',
          params: IdParams,
          body: UserUpdate,
          response: { 200: User, ...errors },
        },
      },
      async (request) => org.updateUser(deps, actorOf(request), request.params.id, request.body),
    );
    app.delete(
      '/users/:id',
      {
        config: need('users:manage'),
        schema: {
          tags: ['users'],
          summary: 'Remove a user from the workspace',
          params: IdParams,
          response: { 204: z.null(), ...errors },
        },
      },
      async (request, reply) => {
        await org.removeUser(deps, actorOf(request), request.params.id);
        return reply.status(204).send(null);
      },
    );

    // ---- branches
    app.get(
      '/branches',
      {
        config: need('branches:read'),
        schema: {
          tags: ['branches'],
          summary: 'List branches',
          querystring: PageQuery,
          response: { 200: pageOf(Branch), ...errors },
        },
      },
      async (request) => org.listBranches(deps, principalOf(request).scope, request.query),
    );
    app.post(
      '/branches',
      {
        config: need('branches:manage'),
        schema: {
          tags: ['branches'],
          summary: 'Create a branch',
          body: BranchCreate,
          response: { 201: Branch, ...errors },
        },
      },
      async (request, reply) => reply.status(201).send(await org.createBranch(deps, actorOf(request), request.body)),
    );
    app.get(
      '/branches/:id',
      {
        config: need('branches:read'),
        schema: { tags: ['branches'], summary: 'One branch', params: IdParams, response: { 200: Branch, ...errors } },
      },
      async (request) => org.getBranch(deps, principalOf(request).scope, request.params.id),
    );
    app.patch(
      '/branches/:id',
      {
        config: need('branches:manage'),
        schema: {
          tags: ['branches'],
          summary: 'Change a branch',
          params: IdParams,
          body: BranchUpdate,
          response: { 200: Branch, ...errors },
        },
      },
      async (request) => org.updateBranch(deps, actorOf(request), request.params.id, request.body),
    );
    app.delete(
      '/branches/:id',
      {
        config: need('branches:manage'),
        schema: {
          tags: ['branches'],
          summary: 'Delete a branch',
          params: IdParams,
          response: { 204: z.null(), ...errors },
        },
      },
      async (request, reply) => {
        await org.deleteBranch(deps, actorOf(request), request.params.id);
        return reply.status(204).send(null);
      },
    );

    // ---- API keys
    app.get(
      '/keys',
      {
        config: need('keys:manage'),
        schema: {
          tags: ['keys'],
          summary: 'List API keys',
          querystring: PageQuery,
          response: { 200: pageOf(ApiKey), ...errors },
        },
      },
      async (request) => org.listApiKeys(deps, principalOf(request).scope, request.query),
    );
    app.post(
      '/keys',
      {
        config: need('keys:manage'),
        schema: {
          tags: ['keys'],
          summary: 'Create an API key (the secret is in this response only)',
          body: ApiKeyCreate,
          response: { 201: ApiKeyCreated, ...errors },
        },
      },
      async (request, reply) => reply.status(201).send(await org.createApiKey(deps, actorOf(request), request.body)),
    );
    app.delete(
      '/keys/:id',
      {
        config: need('keys:manage'),
        schema: {
          tags: ['keys'],
          summary: 'Revoke an API key',
          params: IdParams,
          response: { 200: ApiKey, ...errors },
        },
      },
      async (request) => org.revokeApiKey(deps, actorOf(request), request.params.id),
    );

    // ---- audit log
    app.get(
      '/audit',
      {
        config: need('audit:read'),
        schema: {
          tags: ['audit'],
          summary: 'The audit log, newest first',
          querystring: PageQuery.extend(AuditQuery.shape),
          response: { 200: pageOf(AuditEntry), ...errors },
        },
      },
      async (request) => {
        const { limit, cursor, ...filter } = request.query;
        return org.listAudit(deps, principalOf(request).scope, filter, { limit, cursor });
      },
    );
  };
}
