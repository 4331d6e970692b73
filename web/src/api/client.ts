import { CSRF_HEADER, WORKSPACE_HEADER } from '../../../src/modules/org/org.schemas.ts';

/** RFC 9457 problem details as the Rapport API sends them. */
export interface Problem {
  type?: string;
  title: string;
  status: number;
  code: string;
  detail?: string;
  requestId?: string;
  errors?: { path: string; message: string }[];
  /** Sent with RATE_LIMITED: how long until the next attempt is accepted. */
  retryAfterSeconds?: number;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** An API call that failed: carries the problem body so screens can show `detail` and branch on `code`. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly detail: string | undefined;
  readonly requestId: string | undefined;
  readonly fieldErrors: { path: string; message: string }[];
  readonly retryAfterSeconds: number | undefined;

  constructor(problem: Problem) {
    super(problem.detail ?? problem.title);
    this.name = 'ApiError';
    this.status = problem.status;
    this.code = problem.code;
    this.detail = problem.detail;
    this.requestId = problem.requestId;
    this.fieldErrors = problem.errors ?? [];
    this.retryAfterSeconds = typeof problem.retryAfterSeconds === 'number' ? problem.retryAfterSeconds : undefined;
  }
}

/**
 * Request context shared by every call. It lives outside React because the CSRF token and the workspace must reach
 * requests started from anywhere (queries, mutations, sign-out) without threading them through props.
 */
const context: { csrfToken: string | null; workspaceId: string | null; onUnauthorized: () => void } = {
  csrfToken: null,
  workspaceId: null,
  onUnauthorized: () => {},
};

export function setCsrfToken(token: string | null) {
  context.csrfToken = token;
}

export function setWorkspaceId(workspaceId: string | null) {
  context.workspaceId = workspaceId;
}

export function onUnauthorized(handler: () => void) {
  context.onUnauthorized = handler;
}

type QueryValue = string | number | null | undefined;

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  body?: unknown;
  query?: Record<string, QueryValue>;
  /** Session endpoints answer 401 as part of their normal flow; they must not bounce the user to sign-in. */
  expectUnauthorized?: boolean;
}

function buildUrl(path: string, query: RequestOptions['query']): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== '') params.set(name, String(value));
  }
  const search = params.toString();
  return search ? `${path}?${search}` : path;
}

async function readProblem(response: Response): Promise<Problem> {
  const fallback: Problem = {
    title: response.statusText || 'Error',
    status: response.status,
    code: `HTTP_${response.status}`,
  };
  try {
    const body = (await response.json()) as Partial<Problem>;
    return { ...fallback, ...body, status: response.status };
  } catch {
    // A proxy or a crashed server may answer with HTML or nothing; the status alone still tells the user something.
    return fallback;
  }
}

export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const method = options.method ?? 'GET';
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && context.csrfToken) headers[CSRF_HEADER] = context.csrfToken;
  if (context.workspaceId) headers[WORKSPACE_HEADER] = context.workspaceId;

  let response: Response;
  try {
    response = await fetch(buildUrl(path, options.query), {
      method,
      headers,
      credentials: 'same-origin',
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
  } catch {
    throw new ApiError({ title: 'Network error', status: 0, code: 'NETWORK_ERROR' });
  }

  if (!response.ok) {
    const problem = await readProblem(response);
    if (response.status === 401 && !options.expectUnauthorized) context.onUnauthorized();
    throw new ApiError(problem);
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  return (text ? JSON.parse(text) : undefined) as T;
}
