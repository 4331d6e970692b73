import { Button, Center, Loader, Paper, Stack, Title } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useCallback, useEffect, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { Session } from '../../../src/modules/org/org.schemas.ts';
import { onUnauthorized, setCsrfToken, setWorkspaceId } from '../api/client.ts';
import { fetchSession, queryKeys, signOut } from '../api/org.ts';
import { ProblemAlert } from '../components/ProblemAlert.tsx';
import { NoWorkspacePage } from '../pages/NoWorkspacePage.tsx';
import { SignInPage } from '../pages/SignInPage.tsx';
import { ConsoleRoutes } from '../shell/ConsoleRoutes.tsx';
import { rememberedWorkspaceId, rememberWorkspaceId, SessionContext, type SessionState } from './SessionContext.tsx';

/** Decides what the visitor sees: sign-in, a first-workspace prompt, or the console for the selected workspace. */
export function SessionGate() {
  const { t } = useTranslation();
  const queryClient = useQueryClient();
  const sessionQuery = useQuery({
    queryKey: queryKeys.session,
    queryFn: fetchSession,
    staleTime: Number.POSITIVE_INFINITY,
  });
  const [selectedWorkspaceId, setSelectedWorkspaceId] = useState<string | null>(rememberedWorkspaceId);

  useEffect(() => {
    // A 401 from any call means the session ended (expired or signed out elsewhere): back to the sign-in page.
    onUnauthorized(() => {
      setCsrfToken(null);
      queryClient.removeQueries({ queryKey: ['ws'] });
      queryClient.setQueryData(queryKeys.session, null);
    });
  }, [queryClient]);

  const session = sessionQuery.data ?? null;
  setCsrfToken(session?.csrfToken ?? null);

  const membership = useMemo(() => {
    const memberships = session?.memberships ?? [];
    return memberships.find((m) => m.workspace.id === selectedWorkspaceId) ?? memberships[0] ?? null;
  }, [session, selectedWorkspaceId]);
  setWorkspaceId(membership?.workspace.id ?? null);

  const switchWorkspace = useCallback((workspaceId: string) => {
    rememberWorkspaceId(workspaceId);
    setSelectedWorkspaceId(workspaceId);
  }, []);

  const endSession = useCallback(async () => {
    try {
      await signOut();
    } catch {
      // Signing out must always succeed locally, even when the server is unreachable or the session already expired.
    }
    setCsrfToken(null);
    // Not queryClient.clear(): it would detach the session observer above, leaving the console on screen.
    queryClient.setQueryData(queryKeys.session, null);
    queryClient.removeQueries({ queryKey: ['ws'] });
  }, [queryClient]);

  const acceptSession = useCallback(
    (next: Session, workspaceId?: string) => {
      if (workspaceId) switchWorkspace(workspaceId);
      setCsrfToken(next.csrfToken);
      queryClient.setQueryData(queryKeys.session, next);
    },
    [queryClient, switchWorkspace],
  );

  const state = useMemo<SessionState | null>(
    () => (session && membership ? { session, membership, switchWorkspace, signOut: endSession } : null),
    [session, membership, switchWorkspace, endSession],
  );

  if (sessionQuery.isPending) {
    return (
      <Center h="100vh">
        <Loader />
      </Center>
    );
  }
  if (sessionQuery.isError) {
    return (
      <Center mih="100vh" p="md">
        <Paper withBorder p="xl" maw={520} w="100%">
          <Stack>
            <Title order={3}>{t('errors.cannotStartTitle')}</Title>
            <ProblemAlert error={sessionQuery.error} />
            <Button onClick={() => sessionQuery.refetch()} loading={sessionQuery.isFetching}>
              {t('common.retry')}
            </Button>
          </Stack>
        </Paper>
      </Center>
    );
  }
  if (!session) return <SignInPage onSignedIn={(next) => acceptSession(next)} />;
  if (!state) {
    return (
      <NoWorkspacePage
        session={session}
        onCreated={(created) =>
          acceptSession({ ...session, memberships: [...session.memberships, created] }, created.workspace.id)
        }
        onSignOut={endSession}
      />
    );
  }
  return (
    <SessionContext.Provider value={state}>
      <ConsoleRoutes />
    </SessionContext.Provider>
  );
}
