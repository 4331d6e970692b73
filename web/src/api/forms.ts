import { type InfiniteData, useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type {
  Form,
  FormCreate,
  FormDefinition,
  FormResults,
  FormSummaryRow,
  Submission,
} from '../../../src/modules/forms/forms.schemas.ts';
import { useCurrentWorkspaceId } from '../session/SessionContext.tsx';
import { type ApiError, api, download, type Page } from './client.ts';

const formKeys = {
  all: (workspaceId: string) => ['ws', workspaceId, 'forms'] as const,
  list: (workspaceId: string) => ['ws', workspaceId, 'forms', 'list'] as const,
  form: (workspaceId: string, id: string) => ['ws', workspaceId, 'forms', 'form', id] as const,
  submissions: (workspaceId: string, id: string) => ['ws', workspaceId, 'forms', 'submissions', id] as const,
  results: (workspaceId: string, id: string) => ['ws', workspaceId, 'forms', 'results', id] as const,
};

const formPath = (id: string) => `/api/v1/forms/${encodeURIComponent(id)}`;

function useInvalidateForms() {
  const client = useQueryClient();
  const workspaceId = useCurrentWorkspaceId();
  return () => client.invalidateQueries({ queryKey: formKeys.all(workspaceId) });
}

export function useForms() {
  const workspaceId = useCurrentWorkspaceId();
  return useQuery<{ items: FormSummaryRow[] }, ApiError>({
    queryKey: formKeys.list(workspaceId),
    queryFn: () => api<{ items: FormSummaryRow[] }>('/api/v1/forms'),
  });
}

export function useForm(id: string | undefined) {
  const workspaceId = useCurrentWorkspaceId();
  return useQuery<Form, ApiError>({
    queryKey: formKeys.form(workspaceId, id ?? ''),
    queryFn: () => api<Form>(formPath(id as string)),
    enabled: Boolean(id),
  });
}

export function useCreateForm() {
  const invalidate = useInvalidateForms();
  return useMutation<Form, ApiError, FormCreate>({
    mutationFn: (body) => api<Form>('/api/v1/forms', { method: 'POST', body }),
    onSuccess: invalidate,
  });
}

/** Saves the definition; a form that has been live gets a new version. */
export function useUpdateForm(id: string) {
  const invalidate = useInvalidateForms();
  return useMutation<Form, ApiError, FormDefinition>({
    mutationFn: (body) => api<Form>(formPath(id), { method: 'PUT', body }),
    onSuccess: invalidate,
  });
}

export function useFormStatus(id: string) {
  const invalidate = useInvalidateForms();
  return useMutation<Form, ApiError, 'publish' | 'close'>({
    mutationFn: (action) => api<Form>(`${formPath(id)}/${action}`, { method: 'POST' }),
    onSuccess: invalidate,
  });
}

export function useSubmissions(id: string) {
  const workspaceId = useCurrentWorkspaceId();
  const result = useInfiniteQuery<
    Page<Submission>,
    ApiError,
    InfiniteData<Page<Submission>>,
    readonly unknown[],
    string | null
  >({
    queryKey: formKeys.submissions(workspaceId, id),
    initialPageParam: null,
    queryFn: ({ pageParam }) =>
      api<Page<Submission>>(`${formPath(id)}/submissions`, { query: { limit: 50, cursor: pageParam } }),
    getNextPageParam: (lastPage) => lastPage.nextCursor,
  });
  const items = result.data?.pages.flatMap((page) => page.items) ?? [];
  return { ...result, items };
}

export function useFormResults(id: string) {
  const workspaceId = useCurrentWorkspaceId();
  return useQuery<FormResults, ApiError>({
    queryKey: formKeys.results(workspaceId, id),
    queryFn: () => api<FormResults>(`${formPath(id)}/results`),
  });
}

/** Every submission as CSV (the download is audited as an access to personal data). */
export function downloadSubmissions(form: { id: string; key: string }) {
  return download(`${formPath(form.id)}/submissions.csv`, `${form.key}-submissions.csv`);
}
