import { createContext, useContext } from 'react';
import type { Membership, Session } from '../../../src/modules/org/org.schemas.ts';

export interface SessionState {
  session: Session;
  membership: Membership;
  switchWorkspace: (workspaceId: string) => void;
  signOut: () => Promise<void>;
}

export const SessionContext = createContext<SessionState | null>(null);

export function useSession(): SessionState {
  const state = useContext(SessionContext);
  if (!state) throw new Error('useSession is used outside a signed-in, workspace-selected part of the console');
  return state;
}

export function useCurrentWorkspaceId(): string {
  return useSession().membership.workspace.id;
}

const WORKSPACE_STORAGE_KEY = 'rapport.workspaceId';

export function rememberedWorkspaceId(): string | null {
  try {
    return localStorage.getItem(WORKSPACE_STORAGE_KEY);
  } catch {
    return null;
  }
}

export function rememberWorkspaceId(workspaceId: string) {
  try {
    localStorage.setItem(WORKSPACE_STORAGE_KEY, workspaceId);
  } catch {
    // Private modes may refuse storage; the choice then lasts only for this tab, which is acceptable.
  }
}
