import { type InfiniteData, useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect } from 'react';
import type { EventType, TimelineEvent } from '../../../src/modules/events/events.schemas.ts';
import type {
  ErasureRequest,
  ErasureResult,
  Profile,
  ProfileSummary,
  SubjectExportQuery,
} from '../../../src/modules/profiles/profiles.schemas.ts';
import { useCurrentWorkspaceId } from '../session/SessionContext.tsx';
import { type ApiError, api, download, type Page } from './client.ts';

/** How the customer list is narrowed: nothing (newest first), a text search, or one exact identifier. */
export type ProfileSearch = { mode: 'all' } | { mode: 'q'; q: string } | { mode: 'identifier'; identifier: string };

export interface TimelineFilters {
  type?: EventType;
  channel?: string;
}

const profileKeys = {
  list: (workspaceId: string, search: ProfileSearch) => ['ws', workspaceId, 'profiles', 'list', search] as const,
  one: (workspaceId: string, id: string) => ['ws', workspaceId, 'profiles', 'one', id] as const,
  timeline: (workspaceId: string, id: string, filters: TimelineFilters) =>
    ['ws', workspaceId, 'profiles', 'timeline', id, filters] as const,
};

function useCursorPages<T>(
  queryKey: readonly unknown[],
  path: string,
  query: Record<string, string | undefined>,
  keepPrevious = false,
) {
  const result = useInfiniteQuery<Page<T>, ApiError, InfiniteData<Page<T>>, readonly unknown[], string | null>({
    queryKey,
    initialPageParam: null,
    queryFn: ({ pageParam }) => api<Page<T>>(path, { query: { ...query, limit: 50, cursor: pageParam } }),
    getNextPageParam: (lastPage) => lastPage.nextCursor,
    // While a new search runs, the previous results stay on screen instead of a spinner flashing at every keystroke.
    placeholderData: keepPrevious ? (previous) => previous : undefined,
  });
  const items = result.data?.pages.flatMap((page) => page.items) ?? [];
  return { ...result, items };
}

export function useProfiles(search: ProfileSearch) {
  const workspaceId = useCurrentWorkspaceId();
  const query =
    search.mode === 'q'
      ? { q: search.q }
      : search.mode === 'identifier'
        ? { identifier: search.identifier }
        : ({} as Record<string, string | undefined>);
  return useCursorPages<ProfileSummary>(profileKeys.list(workspaceId, search), '/api/v1/profiles', query, true);
}

export function useProfile(id: string, enabled = true) {
  const workspaceId = useCurrentWorkspaceId();
  return useQuery<Profile, ApiError>({
    queryKey: profileKeys.one(workspaceId, id),
    queryFn: () => api<Profile>(`/api/v1/profiles/${encodeURIComponent(id)}`),
    enabled: enabled && id !== '',
  });
}

export function useTimeline(id: string, filters: TimelineFilters) {
  const workspaceId = useCurrentWorkspaceId();
  return useCursorPages<TimelineEvent>(
    profileKeys.timeline(workspaceId, id, filters),
    `/api/v1/profiles/${encodeURIComponent(id)}/events`,
    { type: filters.type, channel: filters.channel },
  );
}

/** Starts the demo brand in the background; the customer list then refreshes itself until customers arrive. */
export function useLoadDemo() {
  return useMutation({
    mutationFn: (customers: number) =>
      api<{ jobId: string | null; customers: number }>('/api/v1/demo', { method: 'POST', body: { customers } }),
  });
}

/** While `active`, re-reads the customer list every few seconds (a background job is filling it). */
export function useRefreshCustomersWhile(active: boolean) {
  const workspaceId = useCurrentWorkspaceId();
  const queryClient = useQueryClient();
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => {
      void queryClient.invalidateQueries({ queryKey: ['ws', workspaceId, 'profiles', 'list'] });
    }, 3000);
    return () => clearInterval(timer);
  }, [active, workspaceId, queryClient]);
}

export type ExportFormat = SubjectExportQuery['format'];

/** Everything kept about a person, as one JSON file or a zip of one CSV per section (the server audits it). */
export function useExportProfile(id: string) {
  return useMutation<void, ApiError, ExportFormat>({
    mutationFn: (format) =>
      download(
        `/api/v1/profiles/${encodeURIComponent(id)}/export`,
        `profile-${id}.${format === 'csv' ? 'zip' : 'json'}`,
        { format },
      ),
  });
}

/** Erases a person for good; afterwards everything cached about them is read again (the profile is a tombstone). */
export function useEraseProfile(id: string) {
  const workspaceId = useCurrentWorkspaceId();
  const queryClient = useQueryClient();
  return useMutation<ErasureResult, ApiError, ErasureRequest>({
    mutationFn: (request) =>
      api<ErasureResult>(`/api/v1/profiles/${encodeURIComponent(id)}/erase`, { method: 'POST', body: request }),
    onSuccess: (result) => {
      // The profile, its timeline and consents (keys with this id or the survivor's), and lists that showed it.
      void queryClient.invalidateQueries({
        predicate: (query) =>
          query.queryKey[0] === 'ws' &&
          query.queryKey[1] === workspaceId &&
          (query.queryKey.includes(id) ||
            query.queryKey.includes(result.profileId) ||
            (query.queryKey[2] === 'profiles' && query.queryKey[3] === 'list')),
      });
    },
  });
}
