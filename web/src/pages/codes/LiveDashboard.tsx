import { Box, Group, Paper, Progress, SegmentedControl, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { AttemptsSummary } from '../../../../src/modules/codes/codes.schemas.ts';
import { LIVE_REFRESH_MS, useAttemptsSummary } from '../../api/codes.ts';
import { EmptyTableRow, LoadingBlock } from '../../components/ListStates.tsx';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { useWorkspaceClock } from '../../lib/useWorkspaceClock.ts';
import { codeChannelLabel } from './AttemptsView.tsx';

/** Periods offered, in minutes, and the bucket each is drawn in (so a chart never has more than ~100 bars). */
const PERIODS = [
  { minutes: 15, bucket: 1 },
  { minutes: 60, bucket: 1 },
  { minutes: 360, bucket: 5 },
  { minutes: 1440, bucket: 15 },
] as const;

const SERIES = [
  { key: 'accepted', color: 'var(--mantine-color-teal-6)' },
  { key: 'refused', color: 'var(--mantine-color-red-6)' },
  { key: 'typo', color: 'var(--mantine-color-yellow-5)' },
  { key: 'limited', color: 'var(--mantine-color-gray-5)' },
] as const;
type SeriesKey = (typeof SERIES)[number]['key'];

interface Bucket {
  start: number;
  counts: Record<SeriesKey, number>;
}

/** The API lists only minutes that had attempts: every bucket of the period is drawn, empty ones as gaps. */
function bucketsOf(summary: AttemptsSummary, bucketMinutes: number, now: number): Bucket[] {
  const size = bucketMinutes * 60_000;
  const first = Math.floor(Date.parse(summary.since) / size) * size;
  const last = Math.floor(now / size) * size;
  const buckets = new Map<number, Bucket>();
  for (let start = first; start <= last; start += size)
    buckets.set(start, { start, counts: { accepted: 0, refused: 0, typo: 0, limited: 0 } });
  for (const minute of summary.perMinute) {
    const start = Math.floor(Date.parse(minute.minute) / size) * size;
    const bucket = buckets.get(start);
    if (!bucket) continue;
    for (const { key } of SERIES) bucket.counts[key] += minute[key];
  }
  return [...buckets.values()];
}

/** Registrations of a promotion (or of the workspace) as they happen: re-read every few seconds while shown. */
export function LiveDashboard({ promotionId }: { promotionId?: string }) {
  const { t, i18n } = useTranslation();
  const [period, setPeriod] = useState<number>(60);
  const summary = useAttemptsSummary(period, promotionId);
  const { time } = useWorkspaceClock();
  const number = new Intl.NumberFormat(i18n.resolvedLanguage === 'ru' ? 'ru-RU' : 'en-GB');
  const bucket = PERIODS.find((p) => p.minutes === period)?.bucket ?? 1;

  return (
    <Stack gap="md" data-testid="live-dashboard">
      <Group justify="space-between" gap="sm">
        <SegmentedControl
          value={String(period)}
          onChange={(value) => setPeriod(Number(value))}
          data={PERIODS.map((p) => ({ value: String(p.minutes), label: t(`codes.live.periods.${p.minutes}`) }))}
          size="xs"
          data-testid="live-period"
        />
        {summary.data && (
          <Group gap={6} wrap="nowrap">
            <Box
              w={8}
              h={8}
              bg={summary.isError ? 'red' : 'teal'}
              style={{ borderRadius: 4, opacity: summary.isFetching ? 0.4 : 1, transition: 'opacity 200ms' }}
            />
            <Text size="xs" c="dimmed" data-testid="live-updated">
              {t('codes.live.updated', {
                time: time(new Date(summary.dataUpdatedAt).toISOString()),
                seconds: LIVE_REFRESH_MS / 1000,
              })}
            </Text>
          </Group>
        )}
      </Group>
      {summary.isPending ? (
        <LoadingBlock />
      ) : summary.isError && !summary.data ? (
        <ProblemAlert error={summary.error} />
      ) : (
        <LiveFigures summary={summary.data} bucket={bucket} number={number} now={summary.dataUpdatedAt} />
      )}
    </Stack>
  );
}

function LiveFigures({
  summary,
  bucket,
  number,
  now,
}: {
  summary: AttemptsSummary;
  bucket: number;
  number: Intl.NumberFormat;
  now: number;
}) {
  const { t } = useTranslation();
  const totals = { accepted: 0, refused: 0, typo: 0, limited: 0 };
  for (const minute of summary.perMinute) for (const { key } of SERIES) totals[key] += minute[key];
  const rejected = totals.refused + totals.typo + totals.limited;
  const all = totals.accepted + rejected;
  const rate = all > 0 ? Math.round((totals.accepted / all) * 100) : null;
  return (
    <>
      <SimpleGrid cols={{ base: 2, sm: 4 }} spacing="sm">
        <Kpi
          label={t('codes.live.accepted')}
          value={number.format(totals.accepted)}
          color="teal"
          testId="live-accepted"
        />
        <Kpi label={t('codes.live.rejected')} value={number.format(rejected)} color="red" testId="live-rejected" />
        <Kpi label={t('codes.live.rate')} value={rate === null ? '—' : `${rate}%`} />
        <Kpi label={t('codes.live.typos')} value={number.format(totals.typo)} />
      </SimpleGrid>
      <Paper withBorder radius="md" p={{ base: 'sm', sm: 'md' }}>
        <Group justify="space-between" mb="xs" gap="xs">
          <Title order={5}>{bucket === 1 ? t('codes.live.perMinute') : t('codes.live.perBucket', { n: bucket })}</Title>
          <Group gap="sm">
            {SERIES.map((series) => (
              <Group key={series.key} gap={4} wrap="nowrap">
                <Box w={10} h={10} style={{ background: series.color, borderRadius: 2 }} />
                <Text size="xs">{t(`codes.outcomes.${series.key}`)}</Text>
              </Group>
            ))}
          </Group>
        </Group>
        {all === 0 ? (
          <Text size="sm" c="dimmed" ta="center" py="xl" data-testid="live-empty">
            {t('codes.live.empty')}
          </Text>
        ) : (
          <BarChart buckets={bucketsOf(summary, bucket, now)} bucket={bucket} />
        )}
      </Paper>
      <SimpleGrid cols={{ base: 1, md: 2 }} spacing="sm">
        <SplitTable
          testId="live-channels"
          rowTestId="live-channel-row"
          kind="channel"
          heading={t('codes.live.channel')}
          empty={t('codes.live.noChannels')}
          rows={summary.byChannel.map((row) => ({ ...row, key: row.channel, label: codeChannelLabel(row.channel, t) }))}
          number={number}
        />
        <SplitTable
          testId="live-media"
          rowTestId="live-medium-row"
          kind="medium"
          heading={t('codes.live.medium')}
          empty={t('codes.live.noMedia')}
          rows={(summary.byMedium ?? []).map((row) => ({
            ...row,
            key: row.medium,
            label: t(`codes.media.${row.medium}`, { defaultValue: row.medium }),
          }))}
          number={number}
        />
      </SimpleGrid>
    </>
  );
}

/** Accepted against rejected per channel or per medium, each row with its share as a bar. */
function SplitTable({
  testId,
  rowTestId,
  kind,
  heading,
  empty,
  rows,
  number,
}: {
  testId: string;
  rowTestId: string;
  /** Named on each row as data-channel or data-medium. */
  kind: 'channel' | 'medium';
  heading: string;
  empty: string;
  rows: { key: string; label: string; accepted: number; rejected: number }[];
  number: Intl.NumberFormat;
}) {
  const { t } = useTranslation();
  return (
    <Paper withBorder radius="md">
      <Table data-testid={testId} layout="fixed">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{heading}</Table.Th>
            <Table.Th ta="right" w={110}>
              {t('codes.live.accepted')}
            </Table.Th>
            <Table.Th ta="right" w={110}>
              {t('codes.live.rejected')}
            </Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {rows.length === 0 && <EmptyTableRow columns={3} message={empty} />}
          {rows.map((row) => {
            const total = row.accepted + row.rejected;
            return (
              <Table.Tr key={row.key} data-testid={rowTestId} {...{ [`data-${kind}`]: row.key }}>
                <Table.Td>
                  <Text size="sm">{row.label}</Text>
                  <Progress.Root size="xs" mt={4}>
                    <Progress.Section value={total ? (row.accepted / total) * 100 : 0} color="teal" />
                    <Progress.Section value={total ? (row.rejected / total) * 100 : 0} color="red" />
                  </Progress.Root>
                </Table.Td>
                <Table.Td ta="right">{number.format(row.accepted)}</Table.Td>
                <Table.Td ta="right">{number.format(row.rejected)}</Table.Td>
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
    </Paper>
  );
}

function Kpi({ label, value, color, testId }: { label: string; value: string; color?: string; testId?: string }) {
  return (
    <Paper withBorder radius="md" p="sm">
      <Text size="xs" c="dimmed" tt="uppercase" fw={600} lineClamp={1}>
        {label}
      </Text>
      <Text size="xl" fw={700} c={color} data-testid={testId}>
        {value}
      </Text>
    </Paper>
  );
}

const CHART_HEIGHT = 160;

/** Stacked bars in SVG: one per bucket, outcomes stacked; each bar's title lists its counts. */
function BarChart({ buckets, bucket }: { buckets: Bucket[]; bucket: number }) {
  const { t } = useTranslation();
  const { time } = useWorkspaceClock();
  const max = Math.max(1, ...buckets.map((b) => SERIES.reduce((sum, s) => sum + b.counts[s.key], 0)));
  const width = 1000;
  const slot = width / Math.max(1, buckets.length);
  const gap = Math.min(2, slot * 0.2);
  const at = (index: number) => new Date(buckets[index]?.start ?? 0).toISOString();
  const labels = buckets.length > 0 ? [0, Math.floor((buckets.length - 1) / 2), buckets.length - 1] : [];
  return (
    <Box data-testid="live-chart" data-buckets={buckets.length} data-bucket-minutes={bucket}>
      <Group gap={6} align="stretch" wrap="nowrap">
        <Stack justify="space-between" h={CHART_HEIGHT} gap={0}>
          <Text size="xs" c="dimmed" ta="right">
            {max}
          </Text>
          <Text size="xs" c="dimmed" ta="right">
            0
          </Text>
        </Stack>
        <svg
          viewBox={`0 0 ${width} ${CHART_HEIGHT}`}
          preserveAspectRatio="none"
          width="100%"
          height={CHART_HEIGHT}
          role="img"
          aria-label={t('codes.live.chartLabel')}
          style={{ borderBottom: '1px solid var(--mantine-color-gray-3)', display: 'block', flex: 1, minWidth: 0 }}
        >
          {buckets.map((b, index) => {
            let y = CHART_HEIGHT;
            const summaryText = SERIES.map((s) => `${t(`codes.outcomes.${s.key}`)}: ${b.counts[s.key]}`).join(', ');
            return (
              <g key={b.start}>
                <title>{`${time(at(index))} — ${summaryText}`}</title>
                <rect x={index * slot} y={0} width={slot} height={CHART_HEIGHT} fill="transparent" />
                {SERIES.map((s) => {
                  const h = (b.counts[s.key] / max) * (CHART_HEIGHT - 4);
                  y -= h;
                  return h > 0 ? (
                    <rect key={s.key} x={index * slot + gap / 2} y={y} width={slot - gap} height={h} fill={s.color} />
                  ) : null;
                })}
              </g>
            );
          })}
        </svg>
      </Group>
      <Group justify="space-between" pl={28} mt={4}>
        {labels.map((index, position) => (
          <Text key={['first', 'middle', 'last'][position]} size="xs" c="dimmed">
            {time(at(index))}
          </Text>
        ))}
      </Group>
    </Box>
  );
}
