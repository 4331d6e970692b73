import { type InfiniteData, useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type {
  Attempt,
  AttemptOutcome,
  AttemptsSummary,
  Batch,
  BatchCreate,
  DownloadFormat,
  ImportResult,
  Placement,
  PlacementCreate,
  PlacementMedium,
  PlacementReport,
  PlacementUpdate,
  Promotion,
  PromotionCreate,
  PromotionUpdate,
} from '../../../src/modules/codes/codes.schemas.ts';
import { useCurrentWorkspaceId } from '../session/SessionContext.tsx';
import { type ApiError, api, download, type Page, upload } from './client.ts';

/** A promotion with its batches and how many of its live codes a bot could guess within today's limits. */
export interface PromotionDetail {
  promotion: Promotion;
  exposure: { attackBudget: number; expectedGuessable: number; oneIn: number | null };
  batches: Batch[];
}

export interface CreatedBatch {
  batch: Batch;
  downloadUrl: string;
}

/** The fraud screen's filters, as the API names them; empty values are left out of the request. */
export interface AttemptFilters {
  promotionId?: string;
  outcome?: AttemptOutcome;
  net?: string;
  identifierHash?: string;
  deviceHash?: string;
}

const codeKeys = {
  all: (workspaceId: string) => ['ws', workspaceId, 'codes'] as const,
  promotions: (workspaceId: string) => ['ws', workspaceId, 'codes', 'promotions'] as const,
  promotion: (workspaceId: string, id: string) => ['ws', workspaceId, 'codes', 'promotion', id] as const,
  attempts: (workspaceId: string, filters: AttemptFilters) =>
    ['ws', workspaceId, 'codes', 'attempts', filters] as const,
  summary: (workspaceId: string, minutes: number, promotionId: string | undefined) =>
    ['ws', workspaceId, 'codes', 'summary', minutes, promotionId ?? null] as const,
  placements: (workspaceId: string, medium: PlacementMedium | undefined) =>
    ['ws', workspaceId, 'codes', 'placements', medium ?? null] as const,
  report: (workspaceId: string, from: string, to: string) =>
    ['ws', workspaceId, 'codes', 'placement-report', from, to] as const,
};

/** How often the live dashboard asks for fresh counts. */
export const LIVE_REFRESH_MS = 5_000;

const promotionPath = (id: string) => `/api/v1/codes/promotions/${encodeURIComponent(id)}`;
const batchPath = (id: string) => `/api/v1/codes/batches/${encodeURIComponent(id)}`;

export function usePromotions() {
  const workspaceId = useCurrentWorkspaceId();
  return useQuery<{ items: Promotion[] }, ApiError>({
    queryKey: codeKeys.promotions(workspaceId),
    queryFn: () => api<{ items: Promotion[] }>('/api/v1/codes/promotions'),
  });
}

/**
 * One promotion with its batches. While a batch is being generated or imported (its codes still arriving), the
 * promotion is read again every two seconds so the counts move on screen; with `live`, every few seconds.
 */
export function usePromotion(id: string, options: { live?: boolean } = {}) {
  const workspaceId = useCurrentWorkspaceId();
  return useQuery<PromotionDetail, ApiError>({
    queryKey: codeKeys.promotion(workspaceId, id),
    queryFn: () => api<PromotionDetail>(promotionPath(id)),
    // Also while the live dashboard is shown, so that the budget used moves with the registrations.
    refetchInterval: (query) =>
      query.state.data?.batches.some((batch) => batch.status === 'generating')
        ? 2000
        : options.live
          ? LIVE_REFRESH_MS
          : false,
  });
}

function useInvalidateCodes() {
  const workspaceId = useCurrentWorkspaceId();
  const queryClient = useQueryClient();
  return () => void queryClient.invalidateQueries({ queryKey: codeKeys.all(workspaceId) });
}

export function useCreatePromotion() {
  const invalidate = useInvalidateCodes();
  return useMutation<Promotion, ApiError, PromotionCreate>({
    mutationFn: (body) => api<Promotion>('/api/v1/codes/promotions', { method: 'POST', body }),
    onSuccess: invalidate,
  });
}

export function useUpdatePromotion(id: string) {
  const invalidate = useInvalidateCodes();
  return useMutation<Promotion, ApiError, PromotionUpdate>({
    mutationFn: (body) => api<Promotion>(promotionPath(id), { method: 'PATCH', body }),
    onSuccess: invalidate,
  });
}

/** Creates a batch: its length and guess odds are fixed now; its codes are generated while they are downloaded. */
export function useCreateBatch(promotionId: string) {
  const invalidate = useInvalidateCodes();
  return useMutation<CreatedBatch, ApiError, BatchCreate>({
    mutationFn: (body) => api<CreatedBatch>(`${promotionPath(promotionId)}/batches`, { method: 'POST', body }),
    onSuccess: invalidate,
  });
}

function fileNameOf(batch: Batch, format: DownloadFormat) {
  const label = (batch.label ?? 'codes').replace(/[^\p{L}\p{N}._-]+/gu, '_').slice(0, 60) || 'codes';
  return `${label}-${batch.id.slice(0, 8)}.${format}`;
}

/**
 * The batch's one download: the server generates the codes while it streams them, and refuses a second download.
 * The file is assembled in the browser before it is saved (a link could not send the workspace header).
 */
export function useDownloadBatch() {
  const invalidate = useInvalidateCodes();
  return useMutation<void, ApiError, { batch: Batch; format: DownloadFormat }>({
    mutationFn: ({ batch, format }) =>
      download(`${batchPath(batch.id)}/download`, fileNameOf(batch, format), { format }),
    onSettled: invalidate,
  });
}

/** The owner's export of a generated batch after its first download; every one is in the audit log. */
export function useExportBatch() {
  const invalidate = useInvalidateCodes();
  return useMutation<void, ApiError, { batch: Batch; format: DownloadFormat }>({
    mutationFn: ({ batch, format }) => download(`${batchPath(batch.id)}/export`, fileNameOf(batch, format), { format }),
    onSettled: invalidate,
  });
}

export function useRevokeBatch() {
  const invalidate = useInvalidateCodes();
  return useMutation<Batch, ApiError, string>({
    mutationFn: (batchId) => api<Batch>(`${batchPath(batchId)}/revoke`, { method: 'POST' }),
    onSuccess: invalidate,
  });
}

export interface BatchImport {
  file: File;
  label?: string;
  onProgress?: (sent: number, total: number) => void;
  signal?: AbortSignal;
}

/** Uploads a file of codes printed elsewhere (one code per line, or the first CSV column); only hashes are kept. */
export function useImportBatch(promotionId: string) {
  const invalidate = useInvalidateCodes();
  return useMutation<ImportResult, ApiError, BatchImport>({
    mutationFn: ({ file, label, onProgress, signal }) =>
      upload<ImportResult>(`${promotionPath(promotionId)}/imports`, file, {
        query: { label: label?.trim() || undefined },
        contentType: file.type || 'text/plain',
        onProgress,
        signal,
      }),
    onSettled: invalidate,
  });
}

/** Registration attempts, newest first, narrowed by the fraud screen's filters. */
export function useAttempts(filters: AttemptFilters, options: { poll?: boolean } = {}) {
  const workspaceId = useCurrentWorkspaceId();
  const result = useInfiniteQuery<
    Page<Attempt>,
    ApiError,
    InfiniteData<Page<Attempt>>,
    readonly unknown[],
    string | null
  >({
    queryKey: codeKeys.attempts(workspaceId, filters),
    initialPageParam: null,
    queryFn: ({ pageParam }) =>
      api<Page<Attempt>>('/api/v1/codes/attempts', { query: { ...filters, limit: 50, cursor: pageParam } }),
    getNextPageParam: (lastPage) => lastPage.nextCursor,
    placeholderData: (previous) => previous,
    // Only the first page is worth refreshing: once someone pages back in history they are reading, not watching.
    refetchInterval: (query) => (options.poll && (query.state.data?.pages.length ?? 1) <= 1 ? 10_000 : false),
  });
  const items = result.data?.pages.flatMap((page) => page.items) ?? [];
  return { ...result, items };
}

/** Attempts per minute, by channel and the top failing networks, identifiers and devices, polled while shown. */
export function useAttemptsSummary(minutes: number, promotionId?: string, live = true) {
  const workspaceId = useCurrentWorkspaceId();
  return useQuery<AttemptsSummary, ApiError>({
    queryKey: codeKeys.summary(workspaceId, minutes, promotionId),
    queryFn: () => api<AttemptsSummary>('/api/v1/codes/attempts/summary', { query: { minutes, promotionId } }),
    refetchInterval: live ? LIVE_REFRESH_MS : false,
    refetchIntervalInBackground: false,
    placeholderData: (previous) => previous,
  });
}

// ---- placements: response codes per medium

const placementPath = (id: string) => `/api/v1/codes/placements/${encodeURIComponent(id)}`;

/** Placements, newest first, a page at a time. */
export function usePlacements(medium?: PlacementMedium) {
  const workspaceId = useCurrentWorkspaceId();
  const result = useInfiniteQuery<
    Page<Placement>,
    ApiError,
    InfiniteData<Page<Placement>>,
    readonly unknown[],
    string | null
  >({
    queryKey: codeKeys.placements(workspaceId, medium),
    initialPageParam: null,
    queryFn: ({ pageParam }) =>
      api<Page<Placement>>('/api/v1/codes/placements', { query: { medium, limit: 50, cursor: pageParam } }),
    getNextPageParam: (lastPage) => lastPage.nextCursor,
  });
  const items = result.data?.pages.flatMap((page) => page.items) ?? [];
  return { ...result, items };
}

export function useCreatePlacement() {
  const invalidate = useInvalidateCodes();
  return useMutation<Placement, ApiError, PlacementCreate>({
    mutationFn: (body) => api<Placement>('/api/v1/codes/placements', { method: 'POST', body }),
    onSuccess: invalidate,
  });
}

export function useUpdatePlacement(id: string) {
  const invalidate = useInvalidateCodes();
  return useMutation<Placement, ApiError, PlacementUpdate>({
    mutationFn: (body) => api<Placement>(placementPath(id), { method: 'PATCH', body }),
    onSuccess: invalidate,
  });
}

export function useDeletePlacement() {
  const invalidate = useInvalidateCodes();
  return useMutation<unknown, ApiError, string>({
    mutationFn: (id) => api<unknown>(placementPath(id), { method: 'DELETE' }),
    onSuccess: invalidate,
  });
}

/** The placement's QR code as a file (SVG to print at any size, PNG for slides). */
export function useDownloadQr() {
  return useMutation<void, ApiError, { placement: Placement; format: 'svg' | 'png' }>({
    mutationFn: ({ placement, format }) =>
      download(`${placementPath(placement.id)}/qr`, `${placement.keyword.toLowerCase()}-qr.${format}`, {
        format,
        size: 1200,
      }),
  });
}

/** Contacts, people, new people, registrations and cost per lead by medium and placement, for [from, to). */
export function usePlacementReport(from: string, to: string) {
  const workspaceId = useCurrentWorkspaceId();
  return useQuery<PlacementReport, ApiError>({
    queryKey: codeKeys.report(workspaceId, from, to),
    queryFn: () => api<PlacementReport>('/api/v1/codes/placements/report', { query: { from, to } }),
    placeholderData: (previous) => previous,
  });
}
