import { Button, Center, Group, Paper, Stack, Text, Title } from '@mantine/core';
import { IconPlus } from '@tabler/icons-react';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { Membership, Session } from '../../../src/modules/org/org.schemas.ts';
import { LanguageSwitch } from '../components/LanguageSwitch.tsx';
import { Logo } from '../components/Logo.tsx';
import { CreateWorkspaceModal } from '../shell/CreateWorkspaceModal.tsx';

/** A signed-in user who belongs to no workspace yet can only create one (or leave). */
export function NoWorkspacePage({
  session,
  onCreated,
  onSignOut,
}: {
  session: Session;
  onCreated: (membership: Membership) => void;
  onSignOut: () => void;
}) {
  const { t } = useTranslation();
  const [creating, setCreating] = useState(false);
  return (
    <Center mih="100vh" p="md" bg="gray.0">
      <Paper withBorder radius="lg" p="xl" maw={480} w="100%">
        <Stack gap="md">
          <Group justify="space-between">
            <Logo />
            <LanguageSwitch />
          </Group>
          <Title order={2}>{t('noWorkspace.title', { name: session.user.name })}</Title>
          <Text c="dimmed">{t('noWorkspace.text')}</Text>
          <Group>
            <Button leftSection={<IconPlus size={16} />} onClick={() => setCreating(true)}>
              {t('shell.createWorkspace')}
            </Button>
            <Button variant="default" onClick={onSignOut}>
              {t('shell.signOut')}
            </Button>
          </Group>
        </Stack>
      </Paper>
      <CreateWorkspaceModal opened={creating} onClose={() => setCreating(false)} onCreated={onCreated} />
    </Center>
  );
}
