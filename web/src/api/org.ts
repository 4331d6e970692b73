import { type InfiniteData, useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type {
  ApiKey,
  ApiKeyCreate,
  ApiKeyCreated,
  AuditEntry,
  Branch,
  BranchCreate,
  BranchUpdate,
  Me,
  Membership,
  Session,
  User,
  UserCreate,
  UserCreated,
  UserUpdate,
  Workspace,
  WorkspaceCreate,
  WorkspaceUpdate,
} from '../../../src/modules/org/org.schemas.ts';
import { useCurrentWorkspaceId } from '../session/SessionContext.tsx';
import { ApiError, api, type Page } from './client.ts';

export interface Health {
  status: string;
  database: 'pglite' | 'postgres' | string;
  version: string;
}

// Every workspace-scoped key starts with the workspace id, so switching workspace never shows another one's data.
export const queryKeys = {
  session: ['session'] as const,
  health: ['health'] as const,
  workspace: (workspaceId: string) => ['ws', workspaceId] as const,
  me: (workspaceId: string) => ['ws', workspaceId, 'me'] as const,
  users: (workspaceId: string) => ['ws', workspaceId, 'users'] as const,
  branches: (workspaceId: string) => ['ws', workspaceId, 'branches'] as const,
  keys: (workspaceId: string) => ['ws', workspaceId, 'keys'] as const,
  audit: (workspaceId: string, filters: AuditFilters) => ['ws', workspaceId, 'audit', filters] as const,
};

/** The signed-in session, or null when nobody is signed in (401 is an answer here, not a failure). */
export async function fetchSession(): Promise<Session | null> {
  try {
    return await api<Session>('/api/v1/session', { expectUnauthorized: true });
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}

export function signIn(email: string, password: string) {
  return api<Session>('/api/v1/session', { method: 'POST', body: { email, password }, expectUnauthorized: true });
}

export function signOut() {
  return api<void>('/api/v1/session', { method: 'DELETE', expectUnauthorized: true });
}

export function useHealth() {
  return useQuery({
    queryKey: queryKeys.health,
    queryFn: () => api<Health>('/health'),
    staleTime: 60_000,
  });
}

export function useMe() {
  const workspaceId = useCurrentWorkspaceId();
  return useQuery({ queryKey: queryKeys.me(workspaceId), queryFn: () => api<Me>('/api/v1/me') });
}

export function useWorkspace() {
  const workspaceId = useCurrentWorkspaceId();
  return useQuery({
    queryKey: [...queryKeys.workspace(workspaceId), 'settings'],
    queryFn: () => api<Workspace>('/api/v1/workspace'),
  });
}

export function useCreateWorkspace() {
  return useMutation({
    mutationFn: (input: WorkspaceCreate) => api<Membership>('/api/v1/workspaces', { method: 'POST', body: input }),
  });
}

export function useUpdateWorkspace() {
  const workspaceId = useCurrentWorkspaceId();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (input: WorkspaceUpdate) => api<Workspace>('/api/v1/workspace', { method: 'PATCH', body: input }),
    onSuccess: () => {
      // The workspace shows up in the session's memberships and in Me: refresh both.
      void queryClient.invalidateQueries({ queryKey: queryKeys.session });
      void queryClient.invalidateQueries({ queryKey: queryKeys.workspace(workspaceId) });
    },
  });
}

/** A cursor-paged list read page by page ("load more"). */
function usePagedList<T>(
  queryKey: readonly unknown[],
  path: string,
  query: Record<string, string | undefined> = {},
  enabled = true,
) {
  const result = useInfiniteQuery<Page<T>, ApiError, InfiniteData<Page<T>>, readonly unknown[], string | null>({
    queryKey,
    enabled,
    initialPageParam: null,
    queryFn: ({ pageParam }) => api<Page<T>>(path, { query: { ...query, limit: 50, cursor: pageParam } }),
    getNextPageParam: (lastPage) => lastPage.nextCursor,
  });
  const items = result.data?.pages.flatMap((page) => page.items) ?? [];
  return { ...result, items };
}

export function useUsers(options: { enabled?: boolean } = {}) {
  const workspaceId = useCurrentWorkspaceId();
  return usePagedList<User>(queryKeys.users(workspaceId), '/api/v1/users', {}, options.enabled);
}

function useInvalidate(key: (workspaceId: string) => readonly unknown[]) {
  const workspaceId = useCurrentWorkspaceId();
  const queryClient = useQueryClient();
  return () => queryClient.invalidateQueries({ queryKey: key(workspaceId) });
}

export function useCreateUser() {
  const invalidate = useInvalidate(queryKeys.users);
  return useMutation({
    mutationFn: (input: UserCreate) => api<UserCreated>('/api/v1/users', { method: 'POST', body: input }),
    onSuccess: invalidate,
    // The response may hold a one-time password: do not keep it in the mutation cache after the screen is done.
    gcTime: 0,
  });
}

export function useUpdateUser() {
  const invalidate = useInvalidate(queryKeys.users);
  return useMutation({
    mutationFn: ({ id, input }: { id: string; input: UserUpdate }) =>
      api<User>(`/api/v1/users/${id}`, { method: 'PATCH', body: input }),
    onSuccess: invalidate,
  });
}

export function useRemoveUser() {
  const invalidate = useInvalidate(queryKeys.users);
  return useMutation({
    mutationFn: (id: string) => api<void>(`/api/v1/users/${id}`, { method: 'DELETE' }),
    onSuccess: invalidate,
  });
}

/** Branches are shown as one tree, so all of them are read (200 at a time), not one page. */
async function fetchAllBranches(): Promise<Branch[]> {
  const branches: Branch[] = [];
  let cursor: string | null = null;
  for (let pageCount = 0; pageCount < 50; pageCount++) {
    const page: Page<Branch> = await api<Page<Branch>>('/api/v1/branches', { query: { limit: 200, cursor } });
    branches.push(...page.items);
    cursor = page.nextCursor;
    if (!cursor) break;
  }
  return branches;
}

export function useBranches(options: { enabled?: boolean } = {}) {
  const workspaceId = useCurrentWorkspaceId();
  return useQuery({ queryKey: queryKeys.branches(workspaceId), queryFn: fetchAllBranches, enabled: options.enabled });
}

export function useCreateBranch() {
  const invalidate = useInvalidate(queryKeys.branches);
  return useMutation({
    mutationFn: (input: BranchCreate) => api<Branch>('/api/v1/branches', { method: 'POST', body: input }),
    onSuccess: invalidate,
  });
}

export function useUpdateBranch() {
  const invalidate = useInvalidate(queryKeys.branches);
  return useMutation({
    mutationFn: ({ id, input }: { id: string; input: BranchUpdate }) =>
      api<Branch>(`/api/v1/branches/${id}`, { method: 'PATCH', body: input }),
    onSuccess: invalidate,
  });
}

export function useDeleteBranch() {
  const invalidate = useInvalidate(queryKeys.branches);
  return useMutation({
    mutationFn: (id: string) => api<void>(`/api/v1/branches/${id}`, { method: 'DELETE' }),
    onSuccess: invalidate,
  });
}

export function useApiKeys(options: { enabled?: boolean } = {}) {
  const workspaceId = useCurrentWorkspaceId();
  return usePagedList<ApiKey>(queryKeys.keys(workspaceId), '/api/v1/keys', {}, options.enabled);
}

export function useCreateApiKey() {
  const invalidate = useInvalidate(queryKeys.keys);
  return useMutation({
    mutationFn: (input: ApiKeyCreate) => api<ApiKeyCreated>('/api/v1/keys', { method: 'POST', body: input }),
    onSuccess: invalidate,
    // The secret is shown once; keeping the response cached would keep it in memory for minutes.
    gcTime: 0,
  });
}

export function useRevokeApiKey() {
  const invalidate = useInvalidate(queryKeys.keys);
  return useMutation({
    mutationFn: (id: string) => api<ApiKey>(`/api/v1/keys/${id}`, { method: 'DELETE' }),
    onSuccess: invalidate,
  });
}

/** The audit log's filters, as `GET /api/v1/audit` takes them (AuditQuery). */
export interface AuditFilters {
  action?: string;
  actorId?: string;
  targetKind?: string;
  targetId?: string;
  from?: string;
  to?: string;
}

export function useAuditLog(filters: AuditFilters) {
  const workspaceId = useCurrentWorkspaceId();
  return usePagedList<AuditEntry>(queryKeys.audit(workspaceId, filters), '/api/v1/audit', { ...filters });
}
