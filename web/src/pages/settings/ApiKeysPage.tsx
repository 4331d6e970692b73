import { ActionIcon, Badge, Button, Code, CopyButton, Group, Paper, Table, Text, Tooltip } from '@mantine/core';
import { IconBan, IconCheck, IconCopy, IconPlus } from '@tabler/icons-react';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { ApiKey, ApiKeyCreated } from '../../../../src/modules/org/org.schemas.ts';
import { useApiKeys, useBranches, useRevokeApiKey } from '../../api/org.ts';
import { ConfirmModal } from '../../components/ConfirmModal.tsx';
import { EmptyTableRow, LoadingBlock, LoadMore } from '../../components/ListStates.tsx';
import { PageHeader } from '../../components/PageHeader.tsx';
import { notifySuccess, ProblemAlert } from '../../components/ProblemAlert.tsx';
import { RequirePermission, useCan } from '../../components/RequirePermission.tsx';
import { useWorkspaceClock } from '../../lib/useWorkspaceClock.ts';
import { CreateKeyModal } from './CreateKeyModal.tsx';
import { SecretRevealModal } from './SecretRevealModal.tsx';

export function ApiKeysPage() {
  const { t } = useTranslation();
  const canManage = useCan('keys:manage');
  const [creating, setCreating] = useState(false);
  return (
    <>
      <PageHeader
        title={t('keys.title')}
        description={t('keys.description')}
        actions={
          canManage && (
            <Button leftSection={<IconPlus size={16} />} onClick={() => setCreating(true)} data-testid="create-key">
              {t('keys.create')}
            </Button>
          )
        }
      />
      <RequirePermission permission="keys:manage">
        <ApiKeyTable creating={creating} onCreatingDone={() => setCreating(false)} />
      </RequirePermission>
    </>
  );
}

function ApiKeyTable({ creating, onCreatingDone }: { creating: boolean; onCreatingDone: () => void }) {
  const { t } = useTranslation();
  const { format } = useWorkspaceClock();
  const keys = useApiKeys();
  const branches = useBranches({ enabled: useCan('branches:read') });
  const revoke = useRevokeApiKey();
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  // Holds the one-time secret only while the reveal modal is open; cleared on close so it leaves the page for good.
  const [revealed, setRevealed] = useState<ApiKeyCreated | null>(null);

  const branchName = new Map((branches.data ?? []).map((branch) => [branch.id, branch.name]));

  function closeRevoke() {
    revoke.reset();
    setRevoking(null);
  }

  if (keys.isPending) return <LoadingBlock />;
  if (keys.isError) return <ProblemAlert error={keys.error} />;

  return (
    <>
      <Paper withBorder radius="md">
        <Table.ScrollContainer minWidth={860}>
          <Table highlightOnHover data-testid="key-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t('keys.name')}</Table.Th>
                <Table.Th>{t('keys.kind')}</Table.Th>
                <Table.Th>{t('keys.key')}</Table.Th>
                <Table.Th>{t('keys.access')}</Table.Th>
                <Table.Th>{t('common.createdAt')}</Table.Th>
                <Table.Th>{t('keys.lastUsed')}</Table.Th>
                <Table.Th>{t('keys.status')}</Table.Th>
                <Table.Th w={60} />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {keys.items.length === 0 && <EmptyTableRow columns={8} message={t('keys.empty')} />}
              {keys.items.map((key) => {
                const revoked = key.revokedAt !== null;
                return (
                  <Table.Tr
                    key={key.id}
                    data-testid="key-row"
                    data-key-id={key.id}
                    style={revoked ? { opacity: 0.6 } : undefined}
                  >
                    <Table.Td>
                      <Text size="sm" fw={500} data-testid="key-name-cell">
                        {key.name}
                      </Text>
                    </Table.Td>
                    <Table.Td>
                      <Badge variant="light" color={key.kind === 'secret' ? 'grape' : 'cyan'} radius="sm">
                        {key.kind === 'secret' ? t('keys.kindSecret') : t('keys.kindWrite')}
                      </Badge>
                    </Table.Td>
                    <Table.Td>
                      {key.writeKey ? (
                        <Group gap={4} wrap="nowrap">
                          <Code
                            data-testid="key-prefix"
                            title={key.writeKey}
                            style={{
                              maxWidth: 160,
                              overflow: 'hidden',
                              textOverflow: 'ellipsis',
                              whiteSpace: 'nowrap',
                              display: 'inline-block',
                            }}
                          >
                            {key.writeKey}
                          </Code>
                          <CopyButton value={key.writeKey}>
                            {({ copied, copy }) => (
                              <ActionIcon
                                variant="subtle"
                                color={copied ? 'teal' : 'gray'}
                                size="sm"
                                onClick={copy}
                                aria-label={t('common.copy')}
                              >
                                {copied ? <IconCheck size={14} /> : <IconCopy size={14} />}
                              </ActionIcon>
                            )}
                          </CopyButton>
                        </Group>
                      ) : (
                        <Code data-testid="key-prefix" style={{ whiteSpace: 'nowrap' }}>
                          {key.prefix}…
                        </Code>
                      )}
                    </Table.Td>
                    <Table.Td>
                      {key.kind === 'secret' && key.role ? (
                        <Text size="sm">
                          {t(`roles.${key.role}`)}
                          <Text span size="xs" c="dimmed">
                            {' · '}
                            {key.branchId
                              ? (branchName.get(key.branchId) ?? t('keys.oneBranch'))
                              : t('keys.allBranches')}
                          </Text>
                        </Text>
                      ) : (
                        <Text size="sm" c="dimmed">
                          {t('keys.writeAccess')}
                        </Text>
                      )}
                    </Table.Td>
                    <Table.Td>
                      <Text size="sm" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
                        {format(key.createdAt)}
                      </Text>
                    </Table.Td>
                    <Table.Td>
                      <Text size="sm" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
                        {key.lastUsedAt ? format(key.lastUsedAt) : t('common.never')}
                      </Text>
                    </Table.Td>
                    <Table.Td>
                      {revoked ? (
                        <Tooltip label={format(key.revokedAt)}>
                          <Badge color="red" variant="light" radius="sm" data-testid="key-status">
                            {t('keys.revoked')}
                          </Badge>
                        </Tooltip>
                      ) : (
                        <Badge color="teal" variant="light" radius="sm" data-testid="key-status">
                          {t('keys.active')}
                        </Badge>
                      )}
                    </Table.Td>
                    <Table.Td>
                      {!revoked && (
                        <Tooltip label={t('keys.revoke')}>
                          <ActionIcon
                            variant="subtle"
                            color="red"
                            aria-label={t('keys.revoke')}
                            onClick={() => setRevoking(key)}
                            data-testid="key-revoke"
                          >
                            <IconBan size={16} />
                          </ActionIcon>
                        </Tooltip>
                      )}
                    </Table.Td>
                  </Table.Tr>
                );
              })}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      </Paper>
      <LoadMore hasMore={keys.hasNextPage} loading={keys.isFetchingNextPage} onLoad={() => void keys.fetchNextPage()} />

      {creating && (
        <CreateKeyModal
          branches={branches.data ?? []}
          onClose={onCreatingDone}
          onCreated={(created) => {
            onCreatingDone();
            setRevealed(created);
          }}
        />
      )}
      {revealed && <SecretRevealModal created={revealed} onClose={() => setRevealed(null)} />}
      <ConfirmModal
        opened={revoking !== null}
        title={t('keys.revokeTitle')}
        message={t('keys.revokeText', { name: revoking?.name ?? '' })}
        confirmLabel={t('keys.revoke')}
        pending={revoke.isPending}
        error={revoke.error}
        onClose={closeRevoke}
        onConfirm={() =>
          revoking &&
          revoke.mutate(revoking.id, {
            onSuccess: () => {
              notifySuccess(t('keys.revokedNotice', { name: revoking.name }));
              closeRevoke();
            },
          })
        }
      />
    </>
  );
}
