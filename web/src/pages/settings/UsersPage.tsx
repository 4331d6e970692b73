import {
  ActionIcon,
  Alert,
  Badge,
  Button,
  Code,
  CopyButton,
  Group,
  Modal,
  Paper,
  Stack,
  Table,
  Text,
  Tooltip,
} from '@mantine/core';
import { IconAlertTriangle, IconCheck, IconCopy, IconPencil, IconPlus, IconUserMinus } from '@tabler/icons-react';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { User, UserCreated } from '../../../../src/modules/org/org.schemas.ts';
import { useBranches, useRemoveUser, useUsers } from '../../api/org.ts';
import { ConfirmModal } from '../../components/ConfirmModal.tsx';
import { EmptyTableRow, LoadingBlock, LoadMore } from '../../components/ListStates.tsx';
import { PageHeader } from '../../components/PageHeader.tsx';
import { notifySuccess, ProblemAlert } from '../../components/ProblemAlert.tsx';
import { RequirePermission, useCan } from '../../components/RequirePermission.tsx';
import { useIsPhone } from '../../lib/useIsPhone.ts';
import { useWorkspaceClock } from '../../lib/useWorkspaceClock.ts';
import { useSession } from '../../session/SessionContext.tsx';
import { UserFormModal } from './UserFormModal.tsx';

type FormState = { mode: 'create' } | { mode: 'edit'; user: User } | null;

export function UsersPage() {
  const { t } = useTranslation();
  const canManage = useCan('users:manage');
  const [form, setForm] = useState<FormState>(null);
  return (
    <>
      <PageHeader
        title={t('users.title')}
        description={t('users.description')}
        actions={
          canManage && (
            <Button
              leftSection={<IconPlus size={16} />}
              onClick={() => setForm({ mode: 'create' })}
              data-testid="create-user"
            >
              {t('users.create')}
            </Button>
          )
        }
      />
      <RequirePermission permission="users:read">
        <UserTable canManage={canManage} form={form} setForm={setForm} />
      </RequirePermission>
    </>
  );
}

function UserTable({
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
  const { session } = useSession();
  const users = useUsers();
  const branches = useBranches({ enabled: useCan('branches:read') });
  const removeUser = useRemoveUser();
  const [removing, setRemoving] = useState<User | null>(null);
  // The generated password is held only until its modal closes.
  const [temporary, setTemporary] = useState<UserCreated | null>(null);
  const branchName = new Map((branches.data ?? []).map((branch) => [branch.id, branch.name]));
  const phone = useIsPhone();
  const columns = (phone ? 1 : 5) + (canManage ? 1 : 0);

  function closeRemove() {
    removeUser.reset();
    setRemoving(null);
  }

  if (users.isPending) return <LoadingBlock />;
  if (users.isError) return <ProblemAlert error={users.error} />;

  return (
    <>
      <Paper withBorder radius="md">
        <Table.ScrollContainer minWidth={phone ? 0 : 760}>
          <Table highlightOnHover data-testid="user-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t('users.name')}</Table.Th>
                {!phone && (
                  <>
                    <Table.Th>{t('users.role')}</Table.Th>
                    <Table.Th>{t('users.branch')}</Table.Th>
                    <Table.Th>{t('users.lastLogin')}</Table.Th>
                    <Table.Th>{t('common.createdAt')}</Table.Th>
                  </>
                )}
                {canManage && <Table.Th w={90} />}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {users.items.length === 0 && <EmptyTableRow columns={columns} message={t('users.empty')} />}
              {users.items.map((user) => {
                const isSelf = user.id === session.user.id;
                const role = (
                  <Badge variant="light" radius="sm" color={user.role === 'owner' ? 'indigo' : 'gray'}>
                    {t(`roles.${user.role}`)}
                  </Badge>
                );
                const branch = (
                  <Text size="sm" c={user.branchId ? undefined : 'dimmed'}>
                    {user.branchId ? (branchName.get(user.branchId) ?? '—') : t('users.allBranches')}
                  </Text>
                );
                return (
                  <Table.Tr key={user.id} data-testid="user-row">
                    <Table.Td>
                      <Stack gap={0}>
                        <Group gap={6}>
                          <Text size="sm" fw={500}>
                            {user.name}
                          </Text>
                          {isSelf && (
                            <Badge size="xs" variant="outline" radius="sm">
                              {t('users.you')}
                            </Badge>
                          )}
                        </Group>
                        <Text size="xs" c="dimmed">
                          {user.email}
                        </Text>
                        {phone && (
                          <Group gap={6} mt={4}>
                            {role}
                            {branch}
                          </Group>
                        )}
                      </Stack>
                    </Table.Td>
                    {!phone && (
                      <>
                        <Table.Td>{role}</Table.Td>
                        <Table.Td>{branch}</Table.Td>
                        <Table.Td>
                          <Text size="sm" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
                            {user.lastLoginAt ? format(user.lastLoginAt) : t('common.never')}
                          </Text>
                        </Table.Td>
                        <Table.Td>
                          <Text size="sm" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
                            {format(user.createdAt)}
                          </Text>
                        </Table.Td>
                      </>
                    )}
                    {canManage && (
                      <Table.Td>
                        <Group gap={4} justify="flex-end" wrap="nowrap">
                          <Tooltip label={t('common.edit')}>
                            <ActionIcon
                              variant="subtle"
                              color="gray"
                              aria-label={t('common.edit')}
                              onClick={() => setForm({ mode: 'edit', user })}
                            >
                              <IconPencil size={16} />
                            </ActionIcon>
                          </Tooltip>
                          {!isSelf && (
                            <Tooltip label={t('users.remove')}>
                              <ActionIcon
                                variant="subtle"
                                color="red"
                                aria-label={t('users.remove')}
                                onClick={() => setRemoving(user)}
                              >
                                <IconUserMinus size={16} />
                              </ActionIcon>
                            </Tooltip>
                          )}
                        </Group>
                      </Table.Td>
                    )}
                  </Table.Tr>
                );
              })}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      </Paper>
      <LoadMore
        hasMore={users.hasNextPage}
        loading={users.isFetchingNextPage}
        onLoad={() => void users.fetchNextPage()}
      />

      {form?.mode === 'create' && (
        <UserFormModal
          branches={branches.data ?? []}
          onClose={() => setForm(null)}
          onCreated={(created) => {
            setForm(null);
            if (created.temporaryPassword) setTemporary(created);
          }}
        />
      )}
      {form?.mode === 'edit' && (
        <UserFormModal user={form.user} branches={branches.data ?? []} onClose={() => setForm(null)} />
      )}
      {temporary?.temporaryPassword && (
        <Modal
          opened
          onClose={() => setTemporary(null)}
          title={t('users.temporaryTitle')}
          centered
          closeOnClickOutside={false}
        >
          <Stack gap="md">
            <Alert color="orange" variant="light" icon={<IconAlertTriangle size={18} />}>
              {t('users.temporaryText', { email: temporary.user.email })}
            </Alert>
            <Code block data-testid="temporary-password" fz="sm" style={{ wordBreak: 'break-all' }}>
              {temporary.temporaryPassword}
            </Code>
            <Group justify="space-between">
              <CopyButton value={temporary.temporaryPassword}>
                {({ copied, copy }) => (
                  <Button
                    variant="default"
                    leftSection={copied ? <IconCheck size={16} /> : <IconCopy size={16} />}
                    onClick={copy}
                  >
                    {copied ? t('common.copied') : t('common.copy')}
                  </Button>
                )}
              </CopyButton>
              <Button onClick={() => setTemporary(null)} data-testid="temporary-close">
                {t('common.done')}
              </Button>
            </Group>
          </Stack>
        </Modal>
      )}
      <ConfirmModal
        opened={removing !== null}
        title={t('users.removeTitle')}
        message={t('users.removeText', { name: removing?.name ?? '', email: removing?.email ?? '' })}
        confirmLabel={t('users.remove')}
        pending={removeUser.isPending}
        error={removeUser.error}
        onClose={closeRemove}
        onConfirm={() =>
          removing &&
          removeUser.mutate(removing.id, {
            onSuccess: () => {
              notifySuccess(t('users.removed', { name: removing.name }));
              closeRemove();
            },
          })
        }
      />
    </>
  );
}
