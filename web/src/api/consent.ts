import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type {
  ConsentEntry,
  ConsentSettings,
  ConsentState,
  ConsentStatement,
  Purpose,
  Wording,
} from '../../../src/modules/consent/consent.schemas.ts';
import { useCurrentWorkspaceId } from '../session/SessionContext.tsx';
import { type ApiError, api, openDocument } from './client.ts';

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

/** Current consent status counted per channel × purpose × status, for the Consent overview. */
export interface ConsentSummary {
  /** `status` is granted, pending or revoked today; anything else is a status this console does not know yet. */
  rows: { channel: string; purpose: string; status: string; count: number }[];
  purposes: Purpose[];
}

const consentKeys = {
  profile: (workspaceId: string, id: string) => ['ws', workspaceId, 'consent', 'profile', id] as const,
  settings: (workspaceId: string) => ['ws', workspaceId, 'consent', 'settings'] as const,
  outbox: (workspaceId: string) => ['ws', workspaceId, 'consent', 'outbox'] as const,
  summary: (workspaceId: string) => ['ws', workspaceId, 'consent', 'summary'] as const,
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
      void queryClient.invalidateQueries({ queryKey: consentKeys.summary(workspaceId) });
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

export function useConsentSummary() {
  const workspaceId = useCurrentWorkspaceId();
  return useQuery<ConsentSummary, ApiError>({
    queryKey: consentKeys.summary(workspaceId),
    queryFn: () => api<ConsentSummary>('/api/v1/consent/summary'),
  });
}

/**
 * Opens the printable proof of a profile's consents (all of them, or those given for one address) in a new tab, in
 * `lang`, with times in the workspace's `timeZone`. `waiting` is shown in the tab until the report arrives. Each one opened is audited (`consent.proof`).
 */
export function openConsentProof(
  profileId: string,
  address: string | null,
  lang: 'en' | 'ru',
  timeZone: string,
  waiting: string,
): Promise<void> {
  return openDocument(
    `/api/v1/profiles/${encodeURIComponent(profileId)}/consents/proof`,
    { format: 'html', address, lang, timeZone },
    waiting,
  );
}
