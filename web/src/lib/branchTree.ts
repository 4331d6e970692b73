import type { Branch } from '../../../src/modules/org/org.schemas.ts';

export interface BranchNode {
  branch: Branch;
  level: number;
}

/**
 * Branches in tree order (each parent followed by its children, siblings by name), with the nesting level to indent
 * by. A branch whose parent is not in the list (a branch manager sees only their own subtree) is shown as a root.
 */
export function orderBranchTree(branches: readonly Branch[]): BranchNode[] {
  const known = new Set(branches.map((branch) => branch.id));
  const childrenOf = new Map<string | null, Branch[]>();
  for (const branch of branches) {
    const parentKey = branch.parentId && known.has(branch.parentId) ? branch.parentId : null;
    const siblings = childrenOf.get(parentKey) ?? [];
    siblings.push(branch);
    childrenOf.set(parentKey, siblings);
  }
  for (const siblings of childrenOf.values()) siblings.sort((a, b) => a.name.localeCompare(b.name));

  const ordered: BranchNode[] = [];
  const visited = new Set<string>();
  const visit = (parentKey: string | null, level: number) => {
    for (const branch of childrenOf.get(parentKey) ?? []) {
      // Guards against a malformed cycle turning the page into an infinite loop.
      if (visited.has(branch.id)) continue;
      visited.add(branch.id);
      ordered.push({ branch, level });
      visit(branch.id, level + 1);
    }
  };
  visit(null, 0);
  return ordered;
}

export function branchOptions(branches: readonly Branch[], excludeId?: string) {
  return orderBranchTree(branches)
    .filter((node) => node.branch.id !== excludeId)
    .map((node) => ({
      value: node.branch.id,
      // Non-breaking spaces survive the select's rendering, so the tree still reads as a tree in the dropdown.
      label: `${'\u00a0\u00a0\u00a0'.repeat(node.level)}${node.branch.name} (${node.branch.code})`,
    }));
}
