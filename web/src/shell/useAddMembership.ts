import { useQueryClient } from '@tanstack/react-query';
import { useCallback } from 'react';
import type { Membership, Session } from '../../../src/modules/org/org.schemas.ts';
import { queryKeys } from '../api/org.ts';
import { useSession } from '../session/SessionContext.tsx';

/** After creating a workspace: list it at once, switch to it, then let the server's session confirm the list. */
export function useAddMembership() {
  const queryClient = useQueryClient();
  const { switchWorkspace } = useSession();
  return useCallback(
    (membership: Membership) => {
      queryClient.setQueryData<Session | null>(queryKeys.session, (session) =>
        session ? { ...session, memberships: [...session.memberships, membership] } : session,
      );
      switchWorkspace(membership.workspace.id);
      void queryClient.invalidateQueries({ queryKey: queryKeys.session });
    },
    [queryClient, switchWorkspace],
  );
}
