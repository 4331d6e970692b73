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
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
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

/** The session's CSRF token on changes and the selected workspace on everything: what every request carries. */
function contextHeaders(method: string): Record<string, string> {
  const headers: Record<string, string> = {};
  if (method !== 'GET' && context.csrfToken) headers[CSRF_HEADER] = context.csrfToken;
  if (context.workspaceId) headers[WORKSPACE_HEADER] = context.workspaceId;
  return headers;
}

export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const method = options.method ?? 'GET';
  const headers: Record<string, string> = { accept: 'application/json', ...contextHeaders(method) };
  if (options.body !== undefined) headers['content-type'] = 'application/json';

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

export interface UploadOptions {
  query?: Record<string, QueryValue>;
  contentType: string;
  /** Bytes sent so far and the total, as the browser reports them. */
  onProgress?: (sent: number, total: number) => void;
  signal?: AbortSignal;
}

/**
 * POSTs a file as the raw request body. XMLHttpRequest rather than fetch, because only it reports upload
 * progress; the headers, problem handling and 401 behaviour are those of `api`.
 */
export function upload<T>(path: string, file: Blob, options: UploadOptions): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', buildUrl(path, options.query));
    xhr.withCredentials = true;
    xhr.setRequestHeader('accept', 'application/json');
    xhr.setRequestHeader('content-type', options.contentType);
    for (const [name, value] of Object.entries(contextHeaders('POST'))) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) =>
      options.onProgress?.(event.loaded, event.lengthComputable ? event.total : file.size);
    xhr.onerror = () => reject(new ApiError({ title: 'Network error', status: 0, code: 'NETWORK_ERROR' }));
    xhr.onabort = () => reject(new ApiError({ title: 'Cancelled', status: 0, code: 'UPLOAD_CANCELLED' }));
    xhr.onload = () => {
      let body: unknown;
      try {
        body = xhr.responseText ? JSON.parse(xhr.responseText) : undefined;
      } catch {
        body = undefined;
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve(body as T);
        return;
      }
      const fallback: Problem = { title: xhr.statusText || 'Error', status: xhr.status, code: `HTTP_${xhr.status}` };
      if (xhr.status === 401) context.onUnauthorized();
      reject(new ApiError({ ...fallback, ...(body as Partial<Problem>), status: xhr.status }));
    };
    options.signal?.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(file);
  });
}

/** A GET with the session's headers whose body is a file, not JSON; problems are thrown as `api` throws them. */
async function fetchFile(path: string, query?: RequestOptions['query']): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(buildUrl(path, query), { headers: contextHeaders('GET'), credentials: 'same-origin' });
  } catch {
    throw new ApiError({ title: 'Network error', status: 0, code: 'NETWORK_ERROR' });
  }
  if (!response.ok) {
    if (response.status === 401) context.onUnauthorized();
    throw new ApiError(await readProblem(response));
  }
  return response;
}

/** Downloads a file the API serves (it needs the workspace header, so a plain link cannot fetch it). */
export async function download(path: string, fileName: string, query?: RequestOptions['query']): Promise<void> {
  const response = await fetchFile(path, query);
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  document.body.append(link);
  link.click();
  link.remove();
  // Revoked a moment later: some browsers start the download after click() returns.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * Shows an HTML document the API renders (a printable report) in a new tab. A plain link would reach the server
 * without the workspace header, so the server would answer for the user's first workspace rather than the one on
 * screen: the document is fetched here and opened from a Blob URL. The tab is opened before the request, while the
 * click still counts as a user gesture (browsers block tabs opened later), shows `waiting` meanwhile, and is closed
 * again if the request fails. The Blob document is same-origin and so carries the console's CSP: no scripts run in it.
 */
export async function openDocument(path: string, query: RequestOptions['query'], waiting: string): Promise<void> {
  const tab = window.open('', '_blank');
  if (tab) {
    tab.opener = null;
    tab.document.title = waiting;
    tab.document.body.textContent = waiting;
  }
  let url: string;
  try {
    const response = await fetchFile(path, query);
    url = URL.createObjectURL(new Blob([await response.arrayBuffer()], { type: 'text/html;charset=utf-8' }));
  } catch (error) {
    tab?.close();
    throw error;
  }
  if (tab) {
    tab.location.href = url;
  } else {
    // A blocked pop-up: a link may still open it while the gesture lasts, or the browser asks to allow pop-ups.
    const link = document.createElement('a');
    link.href = url;
    link.target = '_blank';
    link.rel = 'noopener';
    document.body.append(link);
    link.click();
    link.remove();
  }
  // Kept a minute, so that a slow tab still finds it; the open document keeps its own copy.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
