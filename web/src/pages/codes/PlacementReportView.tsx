import { Badge, Group, Paper, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { PlacementReport } from '../../../../src/modules/codes/codes.schemas.ts';
import { usePlacementReport } from '../../api/codes.ts';
import { EmptyTableRow, LoadingBlock } from '../../components/ListStates.tsx';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { formatMinor } from '../../lib/money.ts';
import { useIsPhone } from '../../lib/useIsPhone.ts';

const DAY = 86_400_000;
const dateOf = (d: Date) => d.toISOString().slice(0, 10);

type Figures = PlacementReport['media'][number];

/** What each medium and placement brought in a period, and what a new person cost. */
export function PlacementReportView() {
  const { t } = useTranslation();
  // Whole days in the browser's calendar; the end day is included.
  const [from, setFrom] = useState(() => dateOf(new Date(Date.now() - 29 * DAY)));
  const [to, setTo] = useState(() => dateOf(new Date()));
  const valid = /^\d{4}-\d{2}-\d{2}$/.test(from) && /^\d{4}-\d{2}-\d{2}$/.test(to) && from <= to;
  const fromIso = valid ? new Date(`${from}T00:00:00`).toISOString() : '';
  const toIso = valid ? new Date(new Date(`${to}T00:00:00`).getTime() + DAY).toISOString() : '';
  const report = usePlacementReport(fromIso, toIso);

  return (
    <Stack gap="md" data-testid="placement-report">
      <Group justify="space-between" align="flex-end" gap="sm">
        <Text size="sm" c="dimmed" maw={760}>
          {t('codes.report.description')}
        </Text>
        <Group gap="sm">
          <TextInput
            type="date"
            label={t('codes.report.from')}
            value={from}
            onChange={(e) => setFrom(e.currentTarget.value)}
            data-testid="report-from"
          />
          <TextInput
            type="date"
            label={t('codes.report.to')}
            value={to}
            onChange={(e) => setTo(e.currentTarget.value)}
            data-testid="report-to"
          />
        </Group>
      </Group>
      {report.isPending ? (
        <LoadingBlock />
      ) : report.isError ? (
        <ProblemAlert error={report.error} />
      ) : (
        <>
          <Title order={4}>{t('codes.report.byMedium')}</Title>
          <FiguresTable
            testId="report-media"
            heading={t('codes.placements.medium')}
            rows={report.data.media.map((m) => ({
              key: `${m.medium}-${m.currency}`,
              rowKey: m.medium,
              label: <Text size="sm">{t(`codes.media.${m.medium}`)}</Text>,
              figures: m,
            }))}
          />
          <Title order={4}>{t('codes.report.byPlacement')}</Title>
          <FiguresTable
            testId="report-placements"
            heading={t('codes.placements.name')}
            rows={report.data.placements.map((p) => ({
              key: p.placementId,
              rowKey: p.keyword,
              label: (
                <Stack gap={0}>
                  <Group gap={6} wrap="nowrap">
                    <Badge size="xs" variant="light">
                      {t(`codes.media.${p.medium}`)}
                    </Badge>
                    <Text size="sm" fw={600} style={{ wordBreak: 'break-word' }}>
                      {p.name}
                    </Text>
                  </Group>
                  <Text size="xs" ff="monospace" c="dimmed">
                    {p.keyword}
                  </Text>
                </Stack>
              ),
              figures: p,
            }))}
          />
        </>
      )}
    </Stack>
  );
}

function FiguresTable({
  testId,
  heading,
  rows,
}: {
  testId: string;
  heading: string;
  rows: { key: string; rowKey: string; label: React.ReactNode; figures: Figures }[];
}) {
  const { t, i18n } = useTranslation();
  const phone = useIsPhone();
  const language = i18n.resolvedLanguage === 'ru' ? 'ru-RU' : 'en-GB';
  const number = new Intl.NumberFormat(language);
  const money = (minor: number | null, currency: string) =>
    minor === null ? '—' : formatMinor(minor, currency, language);
  return (
    <Paper withBorder radius="md">
      <Table.ScrollContainer minWidth={phone ? 820 : 860}>
        <Table data-testid={testId} striped>
          <Table.Thead>
            <Table.Tr>
              <Table.Th miw={200}>{heading}</Table.Th>
              <Table.Th ta="right">{t('codes.report.contacts')}</Table.Th>
              <Table.Th ta="right">{t('codes.report.people')}</Table.Th>
              <Table.Th ta="right">{t('codes.report.newProfiles')}</Table.Th>
              <Table.Th ta="right">{t('codes.report.registrations')}</Table.Th>
              <Table.Th ta="right">{t('codes.report.cost')}</Table.Th>
              <Table.Th ta="right">{t('codes.report.costPerLead')}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {rows.length === 0 && <EmptyTableRow columns={7} message={t('codes.report.empty')} />}
            {rows.map(({ key, rowKey, label, figures: f }) => (
              <Table.Tr key={key} data-testid={`${testId}-row`} data-key={rowKey}>
                <Table.Td>{label}</Table.Td>
                <Table.Td ta="right" data-testid="report-contacts">
                  {number.format(f.contacts)}
                </Table.Td>
                <Table.Td ta="right">{number.format(f.people)}</Table.Td>
                <Table.Td ta="right" data-testid="report-new">
                  {number.format(f.newProfiles)}
                </Table.Td>
                <Table.Td ta="right">{number.format(f.registrations)}</Table.Td>
                <Table.Td ta="right" style={{ whiteSpace: 'nowrap' }}>
                  {money(f.costMinor, f.currency)}
                </Table.Td>
                <Table.Td ta="right" style={{ whiteSpace: 'nowrap' }} fw={600} data-testid="report-cpl">
                  {money(f.costPerLeadMinor, f.currency)}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
    </Paper>
  );
}
