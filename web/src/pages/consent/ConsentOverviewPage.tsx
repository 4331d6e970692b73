import { Badge, Button, Group, Paper, Progress, Stack, Table, Text, Title, Tooltip } from '@mantine/core';
import { IconSettings } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { CHANNELS, type Purpose, type PurposeKind } from '../../../../src/modules/consent/consent.schemas.ts';
import { type ConsentSummary, useConsentSummary } from '../../api/consent.ts';
import { LoadingBlock } from '../../components/ListStates.tsx';
import { PageHeader } from '../../components/PageHeader.tsx';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { RequirePermission, useCan } from '../../components/RequirePermission.tsx';
import { consentChannelLabel, purposeLabel } from '../../lib/consent.ts';
import { useIsPhone } from '../../lib/useIsPhone.ts';
import { ConsentOutbox } from './ConsentOutbox.tsx';

const STATUSES = ['granted', 'pending', 'revoked'] as const;
type Status = (typeof STATUSES)[number];
const STATUS_COLOR: Record<Status, string> = { granted: 'green', pending: 'yellow', revoked: 'red' };

/** The Consent module's page: where customers stand on each purpose and channel, and the confirmation outbox. */
export function ConsentOverviewPage() {
  const { t } = useTranslation();
  const canManage = useCan('workspace:manage');
  return (
    <>
      <PageHeader
        title={t('nav.consent')}
        description={t('consentOverview.description')}
        actions={
          canManage && (
            <Button
              component={Link}
              to="/settings/consent"
              variant="default"
              size="xs"
              leftSection={<IconSettings size={14} />}
            >
              {t('nav.settings')}
            </Button>
          )
        }
      />
      <RequirePermission permission="profiles:read">
        <Stack gap="lg" maw={1080}>
          <StatusCard />
          {canManage && <ConsentOutbox />}
        </Stack>
      </RequirePermission>
    </>
  );
}

interface PurposeBlock {
  key: string;
  kind: PurposeKind | null;
  channels: { channel: string; counts: Record<Status, number>; total: number }[];
}

/** The summary's rows as blocks per purpose (configured ones first, in their order), channels in the usual order. */
function blocksOf(summary: ConsentSummary): PurposeBlock[] {
  const keys = [...summary.purposes.map((p) => p.key)];
  for (const row of summary.rows) if (!keys.includes(row.purpose)) keys.push(row.purpose);
  const channelRank = (channel: string) => {
    const rank = (CHANNELS as readonly string[]).indexOf(channel);
    return rank === -1 ? CHANNELS.length : rank;
  };
  return keys.map((key) => {
    const byChannel = new Map<string, Record<Status, number>>();
    for (const row of summary.rows) {
      if (row.purpose !== key || !(STATUSES as readonly string[]).includes(row.status)) continue;
      const counts = byChannel.get(row.channel) ?? { granted: 0, pending: 0, revoked: 0 };
      counts[row.status as Status] += row.count;
      byChannel.set(row.channel, counts);
    }
    const channels = [...byChannel]
      .map(([channel, counts]) => ({ channel, counts, total: counts.granted + counts.pending + counts.revoked }))
      .sort((a, b) => channelRank(a.channel) - channelRank(b.channel) || a.channel.localeCompare(b.channel));
    return { key, kind: summary.purposes.find((p) => p.key === key)?.kind ?? null, channels };
  });
}

function StatusCard() {
  const { t, i18n } = useTranslation();
  const summary = useConsentSummary();
  const isPhone = useIsPhone();
  const number = new Intl.NumberFormat(i18n.resolvedLanguage === 'ru' ? 'ru-RU' : 'en-GB');
  const columns = isPhone ? 4 : 5;

  return (
    <Paper withBorder radius="md" p={{ base: 'md', sm: 'lg' }} data-testid="consent-summary">
      <Stack gap={2} mb="md">
        <Title order={4}>{t('consentOverview.statusTitle')}</Title>
        {/* How rows are counted matters only once there are rows. */}
        {summary.data && summary.data.rows.length > 0 && (
          <Text size="sm" c="dimmed">
            {t('consentOverview.statusHint')}
          </Text>
        )}
      </Stack>
      {summary.isPending ? (
        <LoadingBlock />
      ) : summary.isError ? (
        <ProblemAlert error={summary.error} />
      ) : summary.data.rows.length === 0 ? (
        <Text size="sm" c="dimmed" ta="center" py="lg" maw={560} mx="auto" data-testid="consent-summary-empty">
          {t('consentOverview.empty')}
        </Text>
      ) : (
        <Table
          verticalSpacing={6}
          horizontalSpacing={isPhone ? 6 : 'sm'}
          layout="fixed"
          data-testid="consent-summary-table"
        >
          <Table.Thead>
            <Table.Tr>
              <Table.Th w={isPhone ? undefined : '30%'}>{t('consent.channel')}</Table.Th>
              {STATUSES.map((status) => (
                <Table.Th key={status} ta="right" w={isPhone ? 68 : undefined}>
                  <Text span size={isPhone ? 'xs' : 'sm'} fw={600}>
                    {t(`consent.status.${status}`)}
                  </Text>
                </Table.Th>
              ))}
              {!isPhone && <Table.Th w="28%">{t('consentOverview.share')}</Table.Th>}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {blocksOf(summary.data).map((block) => (
              <PurposeRows
                key={block.key}
                block={block}
                purposes={summary.data.purposes}
                columns={columns}
                number={number}
                compact={isPhone}
              />
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Paper>
  );
}

function PurposeRows({
  block,
  purposes,
  columns,
  number,
  compact,
}: {
  block: PurposeBlock;
  purposes: Purpose[];
  columns: number;
  number: Intl.NumberFormat;
  compact: boolean;
}) {
  const { t, i18n } = useTranslation();
  return (
    <>
      <Table.Tr bg="var(--mantine-color-gray-0)" data-testid="consent-summary-purpose" data-purpose={block.key}>
        <Table.Td colSpan={columns}>
          <Group gap="xs" wrap="wrap">
            <Text size="sm" fw={600} style={{ wordBreak: 'break-word' }}>
              {purposeLabel(block.key, purposes, i18n.resolvedLanguage)}
            </Text>
            {block.kind && (
              <Badge size="xs" variant="outline" color="gray" tt="none" fw={500}>
                {t(`consent.kinds.${block.kind}`)}
              </Badge>
            )}
          </Group>
        </Table.Td>
      </Table.Tr>
      {block.channels.length === 0 && (
        <Table.Tr>
          <Table.Td colSpan={columns}>
            <Text size="xs" c="dimmed" pl={compact ? 0 : 'md'}>
              {t('consentOverview.purposeEmpty')}
            </Text>
          </Table.Td>
        </Table.Tr>
      )}
      {block.channels.map(({ channel, counts, total }) => (
        <Table.Tr key={channel} data-testid="consent-summary-row" data-purpose={block.key} data-channel={channel}>
          <Table.Td>
            <Text size="sm" pl={compact ? 0 : 'md'} style={{ wordBreak: 'break-word' }}>
              {consentChannelLabel(channel, t)}
            </Text>
          </Table.Td>
          {STATUSES.map((status) => (
            <Table.Td key={status} ta="right" data-testid="consent-summary-count" data-status={status}>
              <Text
                size="sm"
                ff="monospace"
                c={counts[status] === 0 ? 'dimmed' : undefined}
                fw={status === 'granted' && counts[status] > 0 ? 600 : undefined}
              >
                {number.format(counts[status])}
              </Text>
            </Table.Td>
          ))}
          {!compact && (
            <Table.Td>
              <ShareBar counts={counts} total={total} number={number} />
            </Table.Td>
          )}
        </Table.Tr>
      ))}
    </>
  );
}

function ShareBar({
  counts,
  total,
  number,
}: {
  counts: Record<Status, number>;
  total: number;
  number: Intl.NumberFormat;
}) {
  const { t } = useTranslation();
  const percent = (count: number) => (total === 0 ? 0 : (count / total) * 100);
  return (
    <Group gap="sm" wrap="nowrap">
      <Progress.Root size="md" style={{ flex: 1 }}>
        {STATUSES.map((status) => (
          <Tooltip
            key={status}
            label={`${t(`consent.status.${status}`)}: ${number.format(counts[status])}`}
            withinPortal
          >
            <Progress.Section value={percent(counts[status])} color={STATUS_COLOR[status]} />
          </Tooltip>
        ))}
      </Progress.Root>
      <Text size="xs" c="dimmed" w={40} ta="right">
        {Math.round(percent(counts.granted))}%
      </Text>
    </Group>
  );
}
