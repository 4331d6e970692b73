/**
 * Whose data a call may touch. Every repository function takes a Scope and applies it itself, so that no caller
 * can forget the workspace filter. `branchPath` is set for branch-scoped principals (branch managers and keys
 * bound to a branch): they see only rows of that branch and the branches below it.
 */
export interface Scope {
  readonly workspaceId: string;
  readonly branchId: string | null;
  /** Materialised path of the branch ('/root-id/…/branch-id/'), when branch-scoped. */
  readonly branchPath: string | null;
}

export function workspaceScope(workspaceId: string): Scope {
  return { workspaceId, branchId: null, branchPath: null };
}
