import { Button, Paper, Table } from '@mantine/core';
import { IconPlus } from '@tabler/icons-react';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { ApiKey, ApiKeyCreated } from '../../../../src/modules/org/org.schemas.ts';
import { useApiKeys, useBranches, useRevokeApiKey } from '../../api/org.ts';
import { ConfirmModal } from '../../components/ConfirmModal.tsx';
import { EmptyTableRow, LoadingBlock, LoadMore } from '../../components/ListStates.tsx';
import { PageHeader } from '../../components/PageHeader.tsx';
import { notifySuccess, ProblemAlert } from '../../components/ProblemAlert.tsx';
import { RequirePermission, useCan } from '../../components/RequirePermission.tsx';
import { useIsPhone } from '../../lib/useIsPhone.ts';
import { useWorkspaceClock } from '../../lib/useWorkspaceClock.ts';
import { API_KEY_COLUMNS, ApiKeyHeader, ApiKeyRow } from './ApiKeyRow.tsx';
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

  const phone = useIsPhone();
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
        <Table.ScrollContainer minWidth={phone ? 0 : 860}>
          <Table highlightOnHover data-testid="key-table">
            <Table.Thead>
              <ApiKeyHeader compact={phone} />
            </Table.Thead>
            <Table.Tbody>
              {keys.items.length === 0 && (
                <EmptyTableRow
                  columns={phone ? API_KEY_COLUMNS.compact : API_KEY_COLUMNS.full}
                  message={t('keys.empty')}
                />
              )}
              {keys.items.map((key) => (
                <ApiKeyRow
                  key={key.id}
                  apiKey={key}
                  branchName={(id) => branchName.get(id)}
                  format={format}
                  onRevoke={setRevoking}
                  compact={phone}
                />
              ))}
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
