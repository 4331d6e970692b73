import { ActionIcon, Box, Button, Code, Group, Paper, Stack, Table, Text, Tooltip } from '@mantine/core';
import { IconCornerDownRight, IconPencil, IconPlus, IconSitemap, IconTrash } from '@tabler/icons-react';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { Branch } from '../../../../src/modules/org/org.schemas.ts';
import { useBranches, useDeleteBranch, useMe } from '../../api/org.ts';
import { ConfirmModal } from '../../components/ConfirmModal.tsx';
import { EmptyTableRow, LoadingBlock } from '../../components/ListStates.tsx';
import { PageHeader } from '../../components/PageHeader.tsx';
import { notifySuccess, ProblemAlert } from '../../components/ProblemAlert.tsx';
import { RequirePermission, useCan } from '../../components/RequirePermission.tsx';
import { orderBranchTree } from '../../lib/branchTree.ts';
import { useIsPhone } from '../../lib/useIsPhone.ts';
import { useWorkspaceClock } from '../../lib/useWorkspaceClock.ts';
import { BranchFormModal } from './BranchFormModal.tsx';

type FormState = { mode: 'create'; parentId: string | null } | { mode: 'edit'; branch: Branch } | null;

export function BranchesPage() {
  const { t } = useTranslation();
  const canManage = useCan('branches:manage');
  const [form, setForm] = useState<FormState>(null);
  // A branch manager may only create inside their own branch, so that is where a new branch starts.
  const ownBranchId = useMe().data?.branchId ?? null;
  return (
    <>
      <PageHeader
        title={t('branches.title')}
        description={t('branches.description')}
        actions={
          canManage && (
            <Button
              leftSection={<IconPlus size={16} />}
              onClick={() => setForm({ mode: 'create', parentId: ownBranchId })}
              data-testid="create-branch"
            >
              {t('branches.create')}
            </Button>
          )
        }
      />
      <RequirePermission permission="branches:read">
        <BranchTable canManage={canManage} form={form} setForm={setForm} />
      </RequirePermission>
    </>
  );
}

function BranchTable({
  canManage,
  form,
  setForm,
}: {
  canManage: boolean;
  form: FormState;
  setForm: (form: FormState) => void;
}) {
  const { t } = useTranslation();
  const { format } = useWorkspaceClock();
  const branches = useBranches();
  const deleteBranch = useDeleteBranch();
  const [deleting, setDeleting] = useState<Branch | null>(null);
  const phone = useIsPhone();
  const columns = (phone ? 1 : 4) + (canManage ? 1 : 0);

  if (branches.isPending) return <LoadingBlock />;
  if (branches.isError) return <ProblemAlert error={branches.error} />;
  const nodes = orderBranchTree(branches.data);

  function closeDelete() {
    deleteBranch.reset();
    setDeleting(null);
  }

  return (
    <>
      <Paper withBorder radius="md">
        <Table.ScrollContainer minWidth={phone ? 0 : 640}>
          <Table highlightOnHover data-testid="branch-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t('branches.name')}</Table.Th>
                {!phone && (
                  <>
                    <Table.Th>{t('branches.code')}</Table.Th>
                    <Table.Th>{t('branches.timeZone')}</Table.Th>
                    <Table.Th>{t('common.createdAt')}</Table.Th>
                  </>
                )}
                {canManage && <Table.Th w={120} />}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {nodes.length === 0 && <EmptyTableRow columns={columns} message={t('branches.empty')} />}
              {nodes.map(({ branch, level }) => (
                <Table.Tr key={branch.id} data-testid="branch-row" data-branch-code={branch.code}>
                  <Table.Td>
                    <Group gap={6} wrap="nowrap" pl={level * 22}>
                      {level === 0 ? (
                        <IconSitemap size={16} color="var(--mantine-color-indigo-5)" />
                      ) : (
                        <IconCornerDownRight size={16} color="var(--mantine-color-gray-5)" />
                      )}
                      <Stack gap={0}>
                        <Text size="sm" fw={level === 0 ? 600 : 500}>
                          {branch.name}
                        </Text>
                        {phone && (
                          <Text size="xs" c="dimmed" ff="monospace">
                            {branch.code}
                          </Text>
                        )}
                      </Stack>
                    </Group>
                  </Table.Td>
                  {!phone && (
                    <>
                      <Table.Td>
                        <Code style={{ whiteSpace: 'nowrap' }}>{branch.code}</Code>
                      </Table.Td>
                      <Table.Td>
                        {branch.timeZone ? (
                          <Text size="sm">{branch.timeZone}</Text>
                        ) : (
                          <Text size="sm" c="dimmed">
                            {t('branches.timeZoneInherit')}
                          </Text>
                        )}
                      </Table.Td>
                      <Table.Td>
                        <Text size="sm" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
                          {format(branch.createdAt)}
                        </Text>
                      </Table.Td>
                    </>
                  )}
                  {canManage && (
                    <Table.Td>
                      <Group gap={4} justify="flex-end" wrap="nowrap">
                        <Tooltip label={t('branches.addChild')}>
                          <ActionIcon
                            variant="subtle"
                            color="gray"
                            aria-label={t('branches.addChild')}
                            onClick={() => setForm({ mode: 'create', parentId: branch.id })}
                          >
                            <IconPlus size={16} />
                          </ActionIcon>
                        </Tooltip>
                        <Tooltip label={t('common.edit')}>
                          <ActionIcon
                            variant="subtle"
                            color="gray"
                            aria-label={t('common.edit')}
                            onClick={() => setForm({ mode: 'edit', branch })}
                            data-testid="branch-edit"
                          >
                            <IconPencil size={16} />
                          </ActionIcon>
                        </Tooltip>
                        <Tooltip label={t('common.delete')}>
                          <ActionIcon
                            variant="subtle"
                            color="red"
                            aria-label={t('common.delete')}
                            onClick={() => setDeleting(branch)}
                            data-testid="branch-delete"
                          >
                            <IconTrash size={16} />
                          </ActionIcon>
                        </Tooltip>
                      </Group>
                    </Table.Td>
                  )}
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      </Paper>
      <Box>
        {form?.mode === 'create' && (
          <BranchFormModal parentId={form.parentId} branches={branches.data} onClose={() => setForm(null)} />
        )}
        {form?.mode === 'edit' && (
          <BranchFormModal branch={form.branch} branches={branches.data} onClose={() => setForm(null)} />
        )}
      </Box>
      <ConfirmModal
        opened={deleting !== null}
        title={t('branches.deleteTitle')}
        message={t('branches.deleteText', { name: deleting?.name ?? '' })}
        confirmLabel={t('common.delete')}
        pending={deleteBranch.isPending}
        error={deleteBranch.error}
        onClose={closeDelete}
        onConfirm={() =>
          deleting &&
          deleteBranch.mutate(deleting.id, {
            onSuccess: () => {
              notifySuccess(t('branches.deleted', { name: deleting.name }));
              closeDelete();
            },
          })
        }
      />
    </>
  );
}
