import type { ReactNode } from 'react';
import type { Permission } from '../../../src/modules/org/org.schemas.ts';
import { ApiError } from '../api/client.ts';
import { useMe } from '../api/org.ts';
import { LoadingBlock } from './ListStates.tsx';
import { ProblemAlert } from './ProblemAlert.tsx';

/** Screens a role cannot read say so plainly instead of failing request by request. */
export function RequirePermission({ permission, children }: { permission: Permission; children: ReactNode }) {
  const me = useMe();
  if (me.isPending) return <LoadingBlock />;
  if (me.isError) return <ProblemAlert error={me.error} />;
  if (!me.data.permissions.includes(permission)) {
    return <ProblemAlert error={new ApiError({ title: 'Forbidden', status: 403, code: 'FORBIDDEN' })} />;
  }
  return <>{children}</>;
}

/** Whether the signed-in user's role in the current workspace holds a permission (false until known). */
export function useCan(permission: Permission): boolean {
  const me = useMe();
  return me.data?.permissions.includes(permission) ?? false;
}
