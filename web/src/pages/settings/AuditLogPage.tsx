import { Button, Group, Paper, Select, SimpleGrid, Stack, Table, Text, TextInput } from '@mantine/core';
import { IconFilter, IconX } from '@tabler/icons-react';
import { type FormEvent, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useSearchParams } from 'react-router';
import { type AuditEntry, AuditQuery } from '../../../../src/modules/org/org.schemas.ts';
import { type AuditFilters, useApiKeys, useAuditLog, useBranches, useUsers } from '../../api/org.ts';
import { EmptyTableRow, LoadingBlock, LoadMore } from '../../components/ListStates.tsx';
import { PageHeader } from '../../components/PageHeader.tsx';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { RequirePermission, useCan } from '../../components/RequirePermission.tsx';
import { en } from '../../i18n/en.ts';
import { startOfZonedDay } from '../../lib/format.ts';
import { useIsPhone } from '../../lib/useIsPhone.ts';
import { useWorkspaceClock } from '../../lib/useWorkspaceClock.ts';
import { AuditEntryView, actionLabel, type NameOf, targetKindLabel } from './AuditEntryView.tsx';

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

/**
 * The filters as the address holds them (so a link, such as a customer's "Audit trail", can open the log filtered,
 * and a reload keeps them): the query parameters of `GET /api/v1/audit`, with days instead of instants.
 */
interface FilterDraft {
  action: string;
  actorId: string;
  targetKind: string;
  targetId: string;
  fromDay: string;
  toDay: string;
}

const PARAMS: Record<keyof FilterDraft, string> = {
  action: 'action',
  actorId: 'actorId',
  targetKind: 'targetKind',
  targetId: 'targetId',
  fromDay: 'from',
  toDay: 'to',
};

function draftOf(params: URLSearchParams): FilterDraft {
  const value = (name: keyof FilterDraft) => params.get(PARAMS[name])?.trim() ?? '';
  const day = (name: keyof FilterDraft) => (/^\d{4}-\d{2}-\d{2}$/.test(value(name)) ? value(name) : '');
  return {
    action: value('action'),
    actorId: value('actorId'),
    targetKind: value('targetKind'),
    targetId: value('targetId'),
    fromDay: day('fromDay'),
    toDay: day('toDay'),
  };
}

function paramsOf(draft: FilterDraft): URLSearchParams {
  const params = new URLSearchParams();
  for (const [name, param] of Object.entries(PARAMS) as [keyof FilterDraft, string][]) {
    const value = draft[name].trim();
    if (value) params.set(param, value);
  }
  return params;
}

/** Days mean the workspace's days: "to" includes the whole of that day. */
function filtersOf(draft: FilterDraft, timeZone: string): AuditFilters {
  return {
    action: draft.action || undefined,
    actorId: draft.actorId || undefined,
    targetKind: draft.targetKind || undefined,
    targetId: draft.targetId || undefined,
    from: draft.fromDay ? startOfZonedDay(draft.fromDay, timeZone) : undefined,
    to: draft.toDay ? startOfZonedDay(draft.toDay, timeZone, true) : undefined,
  };
}

/** What the server records today; new actions still show up (by their code) as soon as they appear in the log. */
const KNOWN_ACTIONS = Object.keys(en.audit.actions);
const KNOWN_TARGET_KINDS = Object.keys(en.audit.targetKinds);

/** Actions, actors and object kinds seen in the entries loaded so far, offered in the filters with the known ones. */
function useSeen(items: AuditEntry[]) {
  const seen = useRef({ actions: new Set<string>(), kinds: new Set<string>(), actors: new Map<string, string>() });
  for (const entry of items) {
    seen.current.actions.add(entry.action);
    if (entry.targetKind) seen.current.kinds.add(entry.targetKind);
    if (entry.actorId && !seen.current.actors.has(entry.actorId)) {
      seen.current.actors.set(entry.actorId, entry.actorLabel ?? entry.actorId);
    }
  }
  return seen.current;
}

/** Names for the ids the log refers to, from the lists this role may read anyway. */
function useKnownNames(): { nameOf: NameOf; actors: { value: string; label: string }[] } {
  const users = useUsers({ enabled: useCan('users:read') });
  const keys = useApiKeys({ enabled: useCan('keys:manage') });
  const branches = useBranches({ enabled: useCan('branches:read') });
  const names = new Map<string, string>();
  const actors: { value: string; label: string }[] = [];
  for (const user of users.items) {
    names.set(user.id, user.name || user.email);
    actors.push({ value: user.id, label: user.name ? `${user.name} <${user.email}>` : user.email });
  }
  for (const key of keys.items) {
    names.set(key.id, key.name);
    actors.push({ value: key.id, label: `${key.name} · ${key.prefix}…` });
  }
  for (const branch of branches.data ?? []) names.set(branch.id, branch.name);
  return { nameOf: (id) => (id ? names.get(id) : undefined), actors };
}

function AuditLog() {
  const { t } = useTranslation();
  const { timeZone, format } = useWorkspaceClock();
  const isPhone = useIsPhone();
  const [params, setParams] = useSearchParams();
  const draft = draftOf(params);
  const audit = useAuditLog(filtersOf(draft, timeZone));
  const seen = useSeen(audit.items);
  const known = useKnownNames();
  const filtered = Object.values(draft).some(Boolean);
  const [openIds, setOpenIds] = useState<ReadonlySet<string>>(new Set());
  const toggle = (id: string) =>
    setOpenIds((current) => {
      const next = new Set(current);
      if (!next.delete(id)) next.add(id);
      return next;
    });

  const actions = [...new Set([...KNOWN_ACTIONS, ...seen.actions, ...(draft.action ? [draft.action] : [])])].sort();
  const kinds = [...new Set([...KNOWN_TARGET_KINDS, ...seen.kinds, ...(draft.targetKind ? [draft.targetKind] : [])])];
  const actors = [...known.actors];
  for (const [id, label] of seen.actors) if (!actors.some((a) => a.value === id)) actors.push({ value: id, label });
  if (draft.actorId && !actors.some((a) => a.value === draft.actorId)) {
    actors.push({ value: draft.actorId, label: draft.actorId });
  }

  const options = {
    actions: actions.map((action) => ({ value: action, label: `${actionLabel(action, t)} · ${action}` })),
    kinds: kinds.map((kind) => ({ value: kind, label: targetKindLabel(kind, t) })),
    actors,
  };
  const apply = (next: FilterDraft) => setParams(paramsOf(next));

  return (
    <Stack gap="md">
      {/* Keyed by the address, so that a link or the back button brings the form in line with what is shown. */}
      <FilterForm key={params.toString()} initial={draft} options={options} onApply={apply} filtered={filtered} />
      {audit.isPending ? (
        <LoadingBlock />
      ) : audit.isError ? (
        <ProblemAlert error={audit.error} />
      ) : (
        <>
          {isPhone ? (
            <Stack gap="sm" data-testid="audit-table">
              {audit.items.length === 0 && (
                <Text c="dimmed" ta="center" py="lg" size="sm">
                  {filtered ? t('audit.emptyFiltered') : t('audit.empty')}
                </Text>
              )}
              {audit.items.map((entry) => (
                <AuditEntryView
                  key={entry.id}
                  entry={entry}
                  at={format(entry.at)}
                  nameOf={known.nameOf}
                  onFilter={(filter) => apply({ ...draft, ...filter })}
                  open={openIds.has(entry.id)}
                  onToggle={() => toggle(entry.id)}
                  compact
                />
              ))}
            </Stack>
          ) : (
            <Paper withBorder radius="md">
              <Table.ScrollContainer minWidth={760}>
                <Table data-testid="audit-table" layout="fixed">
                  <Table.Thead>
                    <Table.Tr>
                      <Table.Th w={190}>{t('audit.at')}</Table.Th>
                      <Table.Th w="28%">{t('audit.actor')}</Table.Th>
                      <Table.Th>{t('audit.action')}</Table.Th>
                      <Table.Th w="22%">{t('audit.target')}</Table.Th>
                      <Table.Th w={52} />
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {audit.items.length === 0 && (
                      <EmptyTableRow columns={5} message={filtered ? t('audit.emptyFiltered') : t('audit.empty')} />
                    )}
                    {audit.items.map((entry) => (
                      <AuditEntryView
                        key={entry.id}
                        entry={entry}
                        at={format(entry.at)}
                        nameOf={known.nameOf}
                        onFilter={(filter) => apply({ ...draft, ...filter })}
                        open={openIds.has(entry.id)}
                        onToggle={() => toggle(entry.id)}
                        compact={false}
                      />
                    ))}
                  </Table.Tbody>
                </Table>
              </Table.ScrollContainer>
            </Paper>
          )}
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

type Option = { value: string; label: string };

function FilterForm({
  initial,
  options,
  onApply,
  filtered,
}: {
  initial: FilterDraft;
  options: { actions: Option[]; kinds: Option[]; actors: Option[] };
  onApply: (draft: FilterDraft) => void;
  filtered: boolean;
}) {
  const { t } = useTranslation();
  const { timeZone } = useWorkspaceClock();
  const [draft, setDraft] = useState<FilterDraft>(initial);
  const set = (name: keyof FilterDraft) => (value: string | null) =>
    setDraft((current) => ({ ...current, [name]: value ?? '' }));
  const rangeInvalid = draft.fromDay !== '' && draft.toDay !== '' && draft.fromDay > draft.toDay;
  const targetIdInvalid = !AuditQuery.shape.targetId.safeParse(draft.targetId.trim() || undefined).success;

  function submit(event: FormEvent) {
    event.preventDefault();
    if (rangeInvalid || targetIdInvalid) return;
    onApply(draft);
  }

  const select = {
    searchable: true,
    clearable: true,
    nothingFoundMessage: t('common.nothingFound'),
    comboboxProps: { withinPortal: true },
  };

  return (
    <Paper withBorder radius="md" p="md">
      <form onSubmit={submit} data-testid="audit-filters">
        <SimpleGrid cols={{ base: 1, xs: 2, md: 3 }} spacing="sm" verticalSpacing="sm">
          <Select
            label={t('audit.action')}
            placeholder={t('audit.actionPlaceholder')}
            data={options.actions}
            value={draft.action || null}
            onChange={set('action')}
            {...select}
            data-testid="audit-action"
          />
          <Select
            label={t('audit.actor')}
            placeholder={t('audit.actorPlaceholder')}
            data={options.actors}
            value={draft.actorId || null}
            onChange={set('actorId')}
            {...select}
            data-testid="audit-actor-filter"
          />
          <Select
            label={t('audit.targetKind')}
            placeholder={t('audit.targetKindPlaceholder')}
            data={options.kinds}
            value={draft.targetKind || null}
            onChange={set('targetKind')}
            {...select}
            data-testid="audit-target-kind"
          />
          <TextInput
            label={t('audit.targetId')}
            placeholder={t('audit.targetIdPlaceholder')}
            value={draft.targetId}
            onChange={(event) => set('targetId')(event.currentTarget.value)}
            error={targetIdInvalid ? t('audit.targetIdInvalid') : undefined}
            styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
            data-testid="audit-target-id"
          />
          <TextInput
            type="date"
            label={t('audit.from')}
            value={draft.fromDay}
            onChange={(event) => set('fromDay')(event.currentTarget.value)}
            data-testid="audit-from"
          />
          <TextInput
            type="date"
            label={t('audit.to')}
            value={draft.toDay}
            onChange={(event) => set('toDay')(event.currentTarget.value)}
            error={rangeInvalid ? t('audit.rangeInvalid') : undefined}
            data-testid="audit-to"
          />
        </SimpleGrid>
        <Group justify="space-between" align="center" gap="sm" mt="sm" wrap="wrap">
          <Text size="xs" c="dimmed" style={{ flex: '1 1 260px' }}>
            {t('audit.timeZoneNote', { timeZone })} {t('audit.targetIdHint')}
          </Text>
          <Group gap="xs">
            {filtered && (
              <Button
                variant="subtle"
                color="gray"
                leftSection={<IconX size={16} />}
                onClick={() => onApply(draftOf(new URLSearchParams()))}
                data-testid="audit-reset"
              >
                {t('audit.reset')}
              </Button>
            )}
            <Button type="submit" leftSection={<IconFilter size={16} />} data-testid="audit-apply">
              {t('audit.apply')}
            </Button>
          </Group>
        </Group>
      </form>
    </Paper>
  );
}
