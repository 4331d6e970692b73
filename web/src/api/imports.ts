import { type InfiniteData, useInfiniteQuery, useQuery, useQueryClient } from '@tanstack/react-query';
import { useCallback } from 'react';
import type { Import, ImportFormat, ImportKind } from '../../../src/modules/events/events.uploads.schemas.ts';
import { useCurrentWorkspaceId } from '../session/SessionContext.tsx';
import { type ApiError, api, download, type Page, upload } from './client.ts';

const importKeys = {
  all: (workspaceId: string) => ['ws', workspaceId, 'imports'] as const,
  list: (workspaceId: string) => ['ws', workspaceId, 'imports', 'list'] as const,
  one: (workspaceId: string, id: string) => ['ws', workspaceId, 'imports', 'one', id] as const,
};

const isOver = (item: Import | undefined) => item?.status === 'done' || item?.status === 'failed';

/** Past imports, newest first; re-read every two seconds while one of them is still in progress. */
export function useImports() {
  const workspaceId = useCurrentWorkspaceId();
  const result = useInfiniteQuery<
    Page<Import>,
    ApiError,
    InfiniteData<Page<Import>>,
    readonly unknown[],
    string | null
  >({
    queryKey: importKeys.list(workspaceId),
    initialPageParam: null,
    queryFn: ({ pageParam }) => api<Page<Import>>('/api/v1/imports', { query: { limit: 20, cursor: pageParam } }),
    getNextPageParam: (lastPage) => lastPage.nextCursor,
    refetchInterval: (query) =>
      query.state.data?.pages.some((page) => page.items.some((item) => !isOver(item))) ? 2000 : false,
  });
  const items = result.data?.pages.flatMap((page) => page.items) ?? [];
  return { ...result, items };
}

/** One import, polled every second until it is done or failed. */
export function useImport(id: string | null) {
  const workspaceId = useCurrentWorkspaceId();
  return useQuery<Import, ApiError>({
    queryKey: importKeys.one(workspaceId, id ?? ''),
    queryFn: () => api<Import>(`/api/v1/imports/${encodeURIComponent(id ?? '')}`),
    enabled: id !== null,
    refetchInterval: (query) => (isOver(query.state.data) ? false : 1000),
  });
}

export interface UploadRequest {
  file: File;
  kind: ImportKind;
  format: ImportFormat;
  /** header → field; empty when the file's own column names are to be used */
  mapping: Record<string, string>;
}

/** The mapping as the API's `map` parameter: Header=field pairs separated by commas. */
export function mappingParam(mapping: Record<string, string>): string | undefined {
  const pairs = Object.entries(mapping)
    .filter(([header, field]) => header && field.trim())
    .map(([header, field]) => `${header}=${field.trim()}`);
  return pairs.length ? pairs.join(',') : undefined;
}

/** Uploads a file to import; resolves with the queued import once the whole file has reached the server. */
export function useUploadImport() {
  const workspaceId = useCurrentWorkspaceId();
  const queryClient = useQueryClient();
  return useCallback(
    async (request: UploadRequest, onProgress: (sent: number, total: number) => void, signal?: AbortSignal) => {
      const created = await upload<Import>('/api/v1/imports', request.file, {
        query: {
          kind: request.kind,
          format: request.format,
          fileName: request.file.name,
          map: mappingParam(request.mapping),
        },
        contentType: request.format === 'ndjson' ? 'application/x-ndjson' : 'text/csv',
        onProgress,
        signal,
      });
      void queryClient.invalidateQueries({ queryKey: importKeys.all(workspaceId) });
      return created;
    },
    [workspaceId, queryClient],
  );
}

export function downloadRejects(item: Import) {
  const base = item.fileName.replace(/\.[^.]*$/, '') || 'import';
  return download(`/api/v1/imports/${encodeURIComponent(item.id)}/rejects.csv`, `${base}.rejects.csv`);
}
