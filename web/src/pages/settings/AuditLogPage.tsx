import {
  ActionIcon,
  Badge,
  Button,
  Code,
  Group,
  Paper,
  Popover,
  Select,
  Stack,
  Table,
  Text,
  TextInput,
} from '@mantine/core';
import { IconBraces, IconFilter, IconX } from '@tabler/icons-react';
import i18next, { type TFunction } from 'i18next';
import { type FormEvent, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { AuditEntry } from '../../../../src/modules/org/org.schemas.ts';
import { type AuditFilters, useApiKeys, useAuditLog, useBranches, useUsers } from '../../api/org.ts';
import { EmptyTableRow, LoadingBlock, LoadMore } from '../../components/ListStates.tsx';
import { PageHeader } from '../../components/PageHeader.tsx';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { RequirePermission, useCan } from '../../components/RequirePermission.tsx';
import { startOfZonedDay } from '../../lib/format.ts';
import { useWorkspaceClock } from '../../lib/useWorkspaceClock.ts';

export function AuditLogPage() {
  const { t } = useTranslation();
  return (
    <>
      <PageHeader title={t('audit.title')} description={t('audit.description')} />
      <RequirePermission permission="audit:read">
        <AuditLog />
      </RequirePermission>
    </>
  );
}

interface FilterDraft {
  action: string;
  fromDay: string;
  toDay: string;
}

const NO_FILTERS: FilterDraft = { action: '', fromDay: '', toDay: '' };

/** What the server records today; new actions still show up (by their code) as soon as they appear in the log. */
const KNOWN_ACTIONS = [
  'install.bootstrapped',
  'workspace.created',
  'workspace.updated',
  'user.created',
  'user.updated',
  'user.removed',
  'branch.created',
  'branch.updated',
  'branch.deleted',
  'key.created',
  'key.revoked',
];

function actionLabel(action: string, t: TFunction): string {
  const key = `audit.actions.${action}`;
  return i18next.exists(key) ? t(key as never) : action;
}

function AuditLog() {
  const { t } = useTranslation();
  const { timeZone, format } = useWorkspaceClock();
  const [draft, setDraft] = useState<FilterDraft>(NO_FILTERS);
  const [applied, setApplied] = useState<AuditFilters>({});
  const [knownActions, setKnownActions] = useState<string[]>([]);
  const audit = useAuditLog(applied);
  const nameOf = useKnownNames();

  // Suggest the known actions and those already seen, so people need not guess the exact spelling.
  const seenActions = [
    ...new Set([...KNOWN_ACTIONS, ...knownActions, ...audit.items.map((entry) => entry.action)]),
  ].sort();
  if (seenActions.length !== knownActions.length) setKnownActions(seenActions);
  const actionOptions = seenActions.map((action) => ({
    value: action,
    label: `${actionLabel(action, t)} · ${action}`,
  }));

  const rangeInvalid = draft.fromDay !== '' && draft.toDay !== '' && draft.fromDay > draft.toDay;

  function apply(event: FormEvent) {
    event.preventDefault();
    if (rangeInvalid) return;
    // Days mean the workspace's days: "to" includes the whole of that day.
    setApplied({
      action: draft.action.trim() || undefined,
      from: draft.fromDay ? startOfZonedDay(draft.fromDay, timeZone) : undefined,
      to: draft.toDay ? startOfZonedDay(draft.toDay, timeZone, true) : undefined,
    });
  }

  function reset() {
    setDraft(NO_FILTERS);
    setApplied({});
  }

  const filtered = Boolean(applied.action || applied.from || applied.to);

  return (
    <Stack gap="md">
      <Paper withBorder radius="md" p="md">
        <form onSubmit={apply} data-testid="audit-filters">
          <Group align="flex-end" gap="sm" wrap="wrap">
            <Select
              label={t('audit.action')}
              placeholder={t('audit.actionPlaceholder')}
              data={actionOptions}
              value={draft.action || null}
              onChange={(action) => setDraft((current) => ({ ...current, action: action ?? '' }))}
              searchable
              clearable
              nothingFoundMessage={t('common.nothingFound')}
              comboboxProps={{ withinPortal: true }}
              style={{ flex: '2 1 260px' }}
              data-testid="audit-action"
            />
            <TextInput
              type="date"
              label={t('audit.from')}
              value={draft.fromDay}
              onChange={(event) => {
                const fromDay = event.currentTarget.value;
                setDraft((current) => ({ ...current, fromDay }));
              }}
              style={{ flex: '1 1 150px' }}
              data-testid="audit-from"
            />
            <TextInput
              type="date"
              label={t('audit.to')}
              value={draft.toDay}
              onChange={(event) => {
                const toDay = event.currentTarget.value;
                setDraft((current) => ({ ...current, toDay }));
              }}
              error={rangeInvalid ? t('audit.rangeInvalid') : undefined}
              style={{ flex: '1 1 150px' }}
              data-testid="audit-to"
            />
            <Group gap="xs">
              <Button type="submit" leftSection={<IconFilter size={16} />} data-testid="audit-apply">
                {t('audit.apply')}
              </Button>
              {filtered && (
                <Button variant="subtle" color="gray" leftSection={<IconX size={16} />} onClick={reset}>
                  {t('audit.reset')}
                </Button>
              )}
            </Group>
          </Group>
          <Text size="xs" c="dimmed" mt="xs">
            {t('audit.timeZoneNote', { timeZone })}
          </Text>
        </form>
      </Paper>

      {audit.isPending ? (
        <LoadingBlock />
      ) : audit.isError ? (
        <ProblemAlert error={audit.error} />
      ) : (
        <>
          <Paper withBorder radius="md">
            <Table.ScrollContainer minWidth={820}>
              <Table highlightOnHover data-testid="audit-table">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>{t('audit.at')}</Table.Th>
                    <Table.Th>{t('audit.actor')}</Table.Th>
                    <Table.Th>{t('audit.action')}</Table.Th>
                    <Table.Th>{t('audit.target')}</Table.Th>
                    <Table.Th>{t('audit.ip')}</Table.Th>
                    <Table.Th w={70}>{t('audit.details')}</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {audit.items.length === 0 && (
                    <EmptyTableRow columns={6} message={filtered ? t('audit.emptyFiltered') : t('audit.empty')} />
                  )}
                  {audit.items.map((entry) => (
                    <AuditRow key={entry.id} entry={entry} at={format(entry.at)} nameOf={nameOf} />
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          </Paper>
          <LoadMore
            hasMore={audit.hasNextPage}
            loading={audit.isFetchingNextPage}
            onLoad={() => void audit.fetchNextPage()}
          />
        </>
      )}
    </Stack>
  );
}

/**
 * Names for the ids the log refers to, from the lists this role may read anyway: the log records ids, and
 * "user:01a2…" means nothing to a marketer.
 */
function useKnownNames() {
  const users = useUsers({ enabled: useCan('users:read') });
  const keys = useApiKeys({ enabled: useCan('keys:manage') });
  const branches = useBranches({ enabled: useCan('branches:read') });
  const names = new Map<string, string>();
  for (const user of users.items) names.set(user.id, user.name || user.email);
  for (const key of keys.items) names.set(key.id, key.name);
  for (const branch of branches.data ?? []) names.set(branch.id, branch.name);
  return (id: string | null) => (id ? names.get(id) : undefined);
}

function AuditRow({
  entry,
  at,
  nameOf,
}: {
  entry: AuditEntry;
  at: string;
  nameOf: (id: string | null) => string | undefined;
}) {
  const { t } = useTranslation();
  const hasDetails = Object.keys(entry.details).length > 0;
  const actor = nameOf(entry.actorId) ?? entry.actorLabel ?? entry.actorId ?? '—';
  const target = nameOf(entry.targetId);
  const targetKindKey = `audit.targetKinds.${entry.targetKind}`;
  const targetKind = entry.targetKind && i18next.exists(targetKindKey) ? t(targetKindKey as never) : entry.targetKind;
  return (
    <Table.Tr data-testid="audit-row">
      <Table.Td>
        <Text size="sm" style={{ whiteSpace: 'nowrap' }}>
          {at}
        </Text>
      </Table.Td>
      <Table.Td>
        <Group gap={6} wrap="nowrap">
          <Badge
            size="xs"
            variant="light"
            radius="sm"
            color={entry.actorKind === 'user' ? 'indigo' : entry.actorKind === 'key' ? 'grape' : 'gray'}
          >
            {t(`audit.actorKinds.${entry.actorKind}`)}
          </Badge>
          <Text size="sm" truncate maw={220} title={entry.actorLabel ?? undefined}>
            {actor}
          </Text>
        </Group>
      </Table.Td>
      <Table.Td>
        <Stack gap={2} align="flex-start">
          <Text size="sm">{actionLabel(entry.action, t)}</Text>
          <Code fz="xs">{entry.action}</Code>
        </Stack>
      </Table.Td>
      <Table.Td>
        {entry.targetKind ? (
          <Stack gap={0}>
            <Text size="sm" truncate maw={240}>
              {target ?? targetKind}
            </Text>
            {entry.targetId && (
              <Text size="xs" c="dimmed" ff="monospace" title={entry.targetId}>
                {target ? `${targetKind} · ` : ''}
                {entry.targetId.slice(0, 8)}
              </Text>
            )}
          </Stack>
        ) : (
          <Text size="sm" c="dimmed">
            —
          </Text>
        )}
      </Table.Td>
      <Table.Td>
        <Text size="sm" c="dimmed" ff="monospace">
          {entry.ip ?? '—'}
        </Text>
      </Table.Td>
      <Table.Td>
        {hasDetails && (
          <Popover width={360} position="bottom-end" shadow="md" withinPortal>
            <Popover.Target>
              <ActionIcon variant="subtle" color="gray" aria-label={t('audit.details')}>
                <IconBraces size={16} />
              </ActionIcon>
            </Popover.Target>
            <Popover.Dropdown>
              <Code block fz="xs" style={{ maxHeight: 320, overflow: 'auto' }}>
                {JSON.stringify(entry.details, null, 2)}
              </Code>
            </Popover.Dropdown>
          </Popover>
        )}
      </Table.Td>
    </Table.Tr>
  );
}
