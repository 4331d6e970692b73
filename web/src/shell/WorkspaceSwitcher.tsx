import { ActionIcon, Group, Select, Tooltip } from '@mantine/core';
import { IconBuildingStore, IconPlus } from '@tabler/icons-react';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useSession } from '../session/SessionContext.tsx';
import { CreateWorkspaceModal } from './CreateWorkspaceModal.tsx';
import { useAddMembership } from './useAddMembership.ts';

export function WorkspaceSwitcher({ fullWidth = false }: { fullWidth?: boolean }) {
  const { t } = useTranslation();
  const { session, membership, switchWorkspace } = useSession();
  const [creating, setCreating] = useState(false);
  const addMembership = useAddMembership();

  return (
    <Group gap={6} wrap="nowrap" w={fullWidth ? '100%' : undefined}>
      <Select
        aria-label={t('shell.workspace')}
        data={session.memberships.map((m) => ({ value: m.workspace.id, label: m.workspace.name }))}
        value={membership.workspace.id}
        onChange={(value) => value && switchWorkspace(value)}
        allowDeselect={false}
        leftSection={<IconBuildingStore size={16} stroke={1.6} />}
        w={fullWidth ? undefined : 220}
        style={fullWidth ? { flex: 1 } : undefined}
        comboboxProps={{ withinPortal: true }}
        data-testid="workspace-switcher"
      />
      <Tooltip label={t('shell.createWorkspace')}>
        <ActionIcon
          variant="default"
          size={36}
          onClick={() => setCreating(true)}
          aria-label={t('shell.createWorkspace')}
          data-testid="create-workspace"
        >
          <IconPlus size={16} />
        </ActionIcon>
      </Tooltip>
      <CreateWorkspaceModal opened={creating} onClose={() => setCreating(false)} onCreated={addMembership} />
    </Group>
  );
}
