import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type {
  ConsentEntry,
  ConsentSettings,
  ConsentState,
  ConsentStatement,
  Wording,
} from '../../../src/modules/consent/consent.schemas.ts';
import { useCurrentWorkspaceId } from '../session/SessionContext.tsx';
import { type ApiError, api } from './client.ts';

export interface ProfileConsents {
  current: ConsentState[];
  history: ConsentEntry[];
}

export type ConsentSettingsWithWordings = ConsentSettings & { wordings: (Wording & { createdAt: string })[] };

export interface OutboxMessage {
  id: string;
  profileId: string;
  channel: string;
  address: string;
  subject: string;
  body: string;
  createdAt: string;
}

/** A statement as the console sends it: `source` is always named, `at` is never back-dated from here. */
export type StatementInput = Omit<ConsentStatement, 'at' | 'source'> & { source: ConsentStatement['source'] };

const consentKeys = {
  profile: (workspaceId: string, id: string) => ['ws', workspaceId, 'consent', 'profile', id] as const,
  settings: (workspaceId: string) => ['ws', workspaceId, 'consent', 'settings'] as const,
  outbox: (workspaceId: string) => ['ws', workspaceId, 'consent', 'outbox'] as const,
};

export function useProfileConsents(profileId: string) {
  const workspaceId = useCurrentWorkspaceId();
  return useQuery<ProfileConsents, ApiError>({
    queryKey: consentKeys.profile(workspaceId, profileId),
    queryFn: () => api<ProfileConsents>(`/api/v1/profiles/${encodeURIComponent(profileId)}/consents`),
  });
}

export function useRecordConsent(profileId: string) {
  const workspaceId = useCurrentWorkspaceId();
  const queryClient = useQueryClient();
  return useMutation<{ entries: { id: string; action: string }[] }, ApiError, StatementInput[]>({
    mutationFn: (statements) =>
      api(`/api/v1/profiles/${encodeURIComponent(profileId)}/consents`, { method: 'POST', body: { statements } }),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: consentKeys.profile(workspaceId, profileId) });
      // A double opt-in leaves a confirmation message in the outbox.
      void queryClient.invalidateQueries({ queryKey: consentKeys.outbox(workspaceId) });
    },
  });
}

export function useConsentSettings() {
  const workspaceId = useCurrentWorkspaceId();
  return useQuery<ConsentSettingsWithWordings, ApiError>({
    queryKey: consentKeys.settings(workspaceId),
    queryFn: () => api<ConsentSettingsWithWordings>('/api/v1/consent/settings'),
  });
}

export function useSaveConsentSettings() {
  const workspaceId = useCurrentWorkspaceId();
  const queryClient = useQueryClient();
  return useMutation<ConsentSettings, ApiError, ConsentSettings>({
    mutationFn: (settings) => api<ConsentSettings>('/api/v1/consent/settings', { method: 'PUT', body: settings }),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: consentKeys.settings(workspaceId) }),
  });
}

export function useAddWording() {
  const workspaceId = useCurrentWorkspaceId();
  const queryClient = useQueryClient();
  return useMutation<Wording, ApiError, Wording>({
    mutationFn: (wording) => api<Wording>('/api/v1/consent/wordings', { method: 'POST', body: wording }),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: consentKeys.settings(workspaceId) }),
  });
}

export function useConsentOutbox(enabled = true) {
  const workspaceId = useCurrentWorkspaceId();
  return useQuery<{ items: OutboxMessage[] }, ApiError>({
    queryKey: consentKeys.outbox(workspaceId),
    queryFn: () => api<{ items: OutboxMessage[] }>('/api/v1/consent/outbox', { query: { limit: 50 } }),
    enabled,
  });
}
