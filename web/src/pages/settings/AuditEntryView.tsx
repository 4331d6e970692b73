import { ActionIcon, Anchor, Badge, Button, Code, Group, Paper, SimpleGrid, Stack, Table, Text } from '@mantine/core';
import { IconChevronDown, IconChevronRight, IconFilter } from '@tabler/icons-react';
import i18next, { type TFunction } from 'i18next';
import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import type { AuditEntry } from '../../../../src/modules/org/org.schemas.ts';

export function actionLabel(action: string, t: TFunction): string {
  const key = `audit.actions.${action}`;
  return i18next.exists(key) ? t(key as never) : action;
}

export function targetKindLabel(kind: string, t: TFunction): string {
  const key = `audit.targetKinds.${kind}`;
  return i18next.exists(key) ? t(key as never) : kind;
}

/** Names for the ids the log refers to, from the lists the viewer's role may read anyway. */
export type NameOf = (id: string | null) => string | undefined;

/**
 * Who acted, in two lines: users are recorded as "Name <e-mail>" (or the e-mail alone), keys as "key:<prefix>";
 * a key's name, when the viewer may list keys, comes first.
 */
export function describeActor(entry: AuditEntry, nameOf: NameOf, t: TFunction): { name: string; detail?: string } {
  if (entry.actorKind === 'system') return { name: t('audit.actorKinds.system') };
  const label = entry.actorLabel ?? undefined;
  const person = label ? /^(.*\S)\s*<([^<>]+)>$/.exec(label) : null;
  if (person?.[1] && person[2]) return { name: person[1], detail: person[2] };
  const known = nameOf(entry.actorId);
  if (entry.actorKind === 'key') return known ? { name: known, detail: label } : { name: label ?? '—' };
  return { name: label ?? known ?? entry.actorId ?? '—' };
}

function profileIdsOf(entry: AuditEntry): string[] {
  const ids = entry.details.profileIds;
  return Array.isArray(ids) ? ids.filter((id): id is string => typeof id === 'string') : [];
}

export interface AuditEntryViewProps {
  entry: AuditEntry;
  at: string;
  nameOf: NameOf;
  /** Narrows the log to this entry's actor or object. */
  onFilter: (filter: { actorId?: string; targetKind?: string; targetId?: string }) => void;
  compact: boolean;
  /** Whether its details are shown: kept by the list, so that they stay open when the layout changes. */
  open: boolean;
  onToggle: () => void;
}

/** One audit entry: a table row with a details row under it on wide screens, a card on phones. */
export function AuditEntryView(props: AuditEntryViewProps) {
  return props.compact ? <AuditCard {...props} /> : <AuditRows {...props} />;
}

type ViewProps = AuditEntryViewProps;

function ActorCell({ entry, nameOf }: { entry: AuditEntry; nameOf: NameOf }) {
  const { t } = useTranslation();
  const actor = describeActor(entry, nameOf, t);
  return (
    <Group gap={6} wrap="nowrap" align="flex-start" style={{ minWidth: 0 }}>
      <Badge
        size="xs"
        variant="light"
        radius="sm"
        mt={3}
        style={{ flexShrink: 0 }}
        color={entry.actorKind === 'user' ? 'indigo' : entry.actorKind === 'key' ? 'grape' : 'gray'}
      >
        {t(`audit.actorKinds.${entry.actorKind}`)}
      </Badge>
      <Stack gap={0} style={{ minWidth: 0 }}>
        <Text size="sm" truncate title={entry.actorLabel ?? undefined} data-testid="audit-actor">
          {actor.name}
        </Text>
        {actor.detail && (
          <Text size="xs" c="dimmed" truncate title={actor.detail}>
            {actor.detail}
          </Text>
        )}
      </Stack>
    </Group>
  );
}

function TargetCell({ entry, nameOf }: { entry: AuditEntry; nameOf: NameOf }) {
  const { t } = useTranslation();
  const shown = profileIdsOf(entry);
  if (!entry.targetKind || !entry.targetId) {
    return shown.length > 0 ? (
      <Text size="sm" c="dimmed">
        {t('audit.customersShown', { count: shown.length })}
      </Text>
    ) : (
      <Text size="sm" c="dimmed">
        —
      </Text>
    );
  }
  const kind = targetKindLabel(entry.targetKind, t);
  const name = nameOf(entry.targetId);
  const shortId = entry.targetId.slice(0, 8);
  return (
    <Stack gap={0} style={{ minWidth: 0 }}>
      <Text size="sm" truncate>
        {name ?? kind}
      </Text>
      {entry.targetKind === 'profile' ? (
        <Anchor
          component={Link}
          to={`/customers/${encodeURIComponent(entry.targetId)}`}
          size="xs"
          ff="monospace"
          title={entry.targetId}
          data-testid="audit-profile-link"
        >
          {shortId}
        </Anchor>
      ) : (
        <Text size="xs" c="dimmed" ff="monospace" title={entry.targetId}>
          {name ? `${kind} · ` : ''}
          {shortId}
        </Text>
      )}
    </Stack>
  );
}

function ActionCell({ entry }: { entry: AuditEntry }) {
  const { t } = useTranslation();
  return (
    <Stack gap={2} align="flex-start">
      <Text size="sm">{actionLabel(entry.action, t)}</Text>
      <Code fz="xs">{entry.action}</Code>
    </Stack>
  );
}

function ToggleDetails({ open, onToggle }: { open: boolean; onToggle: () => void }) {
  const { t } = useTranslation();
  return (
    <ActionIcon
      variant="subtle"
      color="gray"
      onClick={onToggle}
      aria-expanded={open}
      aria-label={open ? t('audit.hideDetails') : t('audit.showDetails')}
      data-testid="audit-toggle"
    >
      {open ? <IconChevronDown size={16} /> : <IconChevronRight size={16} />}
    </ActionIcon>
  );
}

function AuditRows({ entry, at, nameOf, onFilter, open, onToggle }: ViewProps) {
  return (
    <>
      <Table.Tr data-testid="audit-row" data-action={entry.action}>
        <Table.Td>
          <Text size="sm" style={{ whiteSpace: 'nowrap' }}>
            {at}
          </Text>
        </Table.Td>
        <Table.Td>
          <ActorCell entry={entry} nameOf={nameOf} />
        </Table.Td>
        <Table.Td>
          <ActionCell entry={entry} />
        </Table.Td>
        <Table.Td>
          <TargetCell entry={entry} nameOf={nameOf} />
        </Table.Td>
        <Table.Td>
          <ToggleDetails open={open} onToggle={onToggle} />
        </Table.Td>
      </Table.Tr>
      {open && (
        <Table.Tr data-testid="audit-details">
          <Table.Td colSpan={5} bg="var(--mantine-color-gray-0)">
            <AuditDetails entry={entry} onFilter={onFilter} />
          </Table.Td>
        </Table.Tr>
      )}
    </>
  );
}

function AuditCard({ entry, at, nameOf, onFilter, open, onToggle }: ViewProps) {
  return (
    <Paper withBorder radius="md" p="sm" data-testid="audit-row" data-action={entry.action}>
      <Group justify="space-between" align="flex-start" wrap="nowrap" gap="xs">
        <Stack gap={6} style={{ minWidth: 0, flex: 1 }}>
          <Text size="xs" c="dimmed">
            {at}
          </Text>
          <ActionCell entry={entry} />
          <ActorCell entry={entry} nameOf={nameOf} />
          <TargetCell entry={entry} nameOf={nameOf} />
        </Stack>
        <ToggleDetails open={open} onToggle={onToggle} />
      </Group>
      {open && (
        <Paper bg="gray.0" radius="sm" p="sm" mt="sm" data-testid="audit-details">
          <AuditDetails entry={entry} onFilter={onFilter} />
        </Paper>
      )}
    </Paper>
  );
}

function Fact({ label, children }: { label: string; children: ReactNode }) {
  return (
    <Stack gap={2} style={{ minWidth: 0 }}>
      <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
        {label}
      </Text>
      {children}
    </Stack>
  );
}

function AuditDetails({ entry, onFilter }: { entry: AuditEntry; onFilter: AuditEntryViewProps['onFilter'] }) {
  const { t } = useTranslation();
  const hasDetails = Object.keys(entry.details).length > 0;
  const mono = (value: string | null) => (
    <Text size="sm" ff="monospace" style={{ wordBreak: 'break-all' }} c={value ? undefined : 'dimmed'}>
      {value ?? '—'}
    </Text>
  );
  return (
    <Stack gap="sm">
      <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm" verticalSpacing="sm">
        <Fact label={t('audit.ip')}>{mono(entry.ip)}</Fact>
        <Fact label={t('audit.userAgent')}>
          <Text size="sm" style={{ wordBreak: 'break-word' }} c={entry.userAgent ? undefined : 'dimmed'}>
            {entry.userAgent ?? '—'}
          </Text>
        </Fact>
        <Fact label={t('audit.actorId')}>{mono(entry.actorId)}</Fact>
        <Fact label={t('audit.targetId')}>
          {entry.targetKind === 'profile' && entry.targetId ? (
            <Anchor
              component={Link}
              to={`/customers/${encodeURIComponent(entry.targetId)}`}
              size="sm"
              ff="monospace"
              style={{ wordBreak: 'break-all' }}
            >
              {entry.targetId}
            </Anchor>
          ) : (
            mono(entry.targetId)
          )}
        </Fact>
      </SimpleGrid>
      {hasDetails && (
        <Fact label={t('audit.details')}>
          <Code block fz="xs" style={{ maxHeight: 240, overflow: 'auto' }}>
            {JSON.stringify(entry.details, null, 2)}
          </Code>
        </Fact>
      )}
      <Group gap="xs">
        {entry.actorId && (
          <Button
            size="compact-xs"
            variant="default"
            leftSection={<IconFilter size={12} />}
            onClick={() => onFilter({ actorId: entry.actorId ?? undefined })}
            data-testid="audit-filter-actor"
          >
            {t('audit.filterByActor')}
          </Button>
        )}
        {entry.targetKind && entry.targetId && (
          <Button
            size="compact-xs"
            variant="default"
            leftSection={<IconFilter size={12} />}
            onClick={() =>
              // By id alone for a customer, so that the lists and searches that showed them are found too.
              onFilter({
                targetKind: entry.targetKind === 'profile' ? undefined : (entry.targetKind ?? undefined),
                targetId: entry.targetId ?? undefined,
              })
            }
            data-testid="audit-filter-target"
          >
            {t('audit.filterByTarget')}
          </Button>
        )}
      </Group>
    </Stack>
  );
}
