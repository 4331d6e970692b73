import { Badge, Group, Paper, Progress, Stack, Table, Text, Title } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import type { Import, ImportStatus } from '../../../../src/modules/events/events.uploads.schemas.ts';
import { useImports } from '../../api/imports.ts';
import { EmptyTableRow, LoadingBlock, LoadMore } from '../../components/ListStates.tsx';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { formatBytes, importCounts } from '../../lib/format.ts';
import { useIsPhone } from '../../lib/useIsPhone.ts';
import { useWorkspaceClock } from '../../lib/useWorkspaceClock.ts';
import { RejectsButton } from './RejectsButton.tsx';

const STATUS_COLORS: Record<ImportStatus, string> = {
  uploading: 'gray',
  queued: 'gray',
  running: 'blue',
  done: 'teal',
  failed: 'red',
};

/** Past imports of the workspace, newest first, refreshing themselves while one is in progress. */
export function ImportHistory() {
  const { t } = useTranslation();
  const imports = useImports();
  const phone = useIsPhone();
  return (
    <Stack gap="sm">
      <Title order={4}>{t('imports.history')}</Title>
      {imports.isPending ? (
        <LoadingBlock />
      ) : imports.isError ? (
        <ProblemAlert error={imports.error} />
      ) : (
        <>
          <Paper withBorder radius="md">
            <Table.ScrollContainer minWidth={phone ? 0 : 720}>
              <Table data-testid="import-table" verticalSpacing="sm">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>{t('imports.colFile')}</Table.Th>
                    {!phone && (
                      <>
                        <Table.Th>{t('imports.colStatus')}</Table.Th>
                        <Table.Th ta="right">{t('imports.colRows')}</Table.Th>
                        <Table.Th ta="right">{t('imports.colAccepted')}</Table.Th>
                        <Table.Th ta="right">{t('imports.colRejected')}</Table.Th>
                        <Table.Th>{t('imports.colWhen')}</Table.Th>
                      </>
                    )}
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {imports.items.length === 0 && (
                    <EmptyTableRow columns={phone ? 1 : 6} message={t('imports.historyEmpty')} />
                  )}
                  {imports.items.map((item) => (
                    <ImportRow key={item.id} item={item} phone={phone} />
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          </Paper>
          <LoadMore
            hasMore={imports.hasNextPage}
            loading={imports.isFetchingNextPage}
            onLoad={() => void imports.fetchNextPage()}
          />
        </>
      )}
    </Stack>
  );
}

function StatusBadge({ item }: { item: Import }) {
  const { t } = useTranslation();
  return (
    <Badge color={STATUS_COLORS[item.status]} variant="light" tt="none" fw={500}>
      {t(`imports.status.${item.status}`)}
    </Badge>
  );
}

function ImportRow({ item, phone }: { item: Import; phone: boolean }) {
  const { t, i18n } = useTranslation();
  const { format, relative } = useWorkspaceClock();
  const language = i18n.resolvedLanguage ?? 'en';
  const inProgress = item.status === 'queued' || item.status === 'running' || item.status === 'uploading';
  const percent = item.totalBytes ? Math.floor((item.bytesDone / item.totalBytes) * 100) : 0;
  const file = (
    <Stack gap={2} style={{ minWidth: 0 }}>
      <Text size="sm" fw={600} style={{ wordBreak: 'break-word' }}>
        {item.fileName}
      </Text>
      <Text size="xs" c="dimmed">
        {t(`imports.kinds.${item.kind}`)} · {formatBytes(item.totalBytes, language)}
      </Text>
      {item.status === 'failed' && item.error && (
        <Text size="xs" c="red" style={{ wordBreak: 'break-word' }}>
          {item.error}
        </Text>
      )}
    </Stack>
  );
  return (
    <Table.Tr data-testid="import-row" data-status={item.status}>
      {phone ? (
        <Table.Td>
          <Stack gap={6}>
            <Group justify="space-between" align="flex-start" wrap="nowrap" gap="xs">
              {file}
              <StatusBadge item={item} />
            </Group>
            {inProgress && <Progress value={percent} size="sm" />}
            <Text size="xs">{t('imports.counts', importCounts(item, language))}</Text>
            <Group justify="space-between" gap="xs">
              <Text size="xs" c="dimmed" title={format(item.createdAt)}>
                {relative(item.createdAt)}
              </Text>
              {item.rejected > 0 && <RejectsButton item={item} compact />}
            </Group>
          </Stack>
        </Table.Td>
      ) : (
        <>
          <Table.Td maw={320}>{file}</Table.Td>
          <Table.Td>
            <Stack gap={4}>
              <StatusBadge item={item} />
              {inProgress && <Progress value={percent} size="sm" w={100} />}
            </Stack>
          </Table.Td>
          <Table.Td ta="right">{item.rows.toLocaleString(language)}</Table.Td>
          <Table.Td ta="right">{item.accepted.toLocaleString(language)}</Table.Td>
          <Table.Td ta="right">
            {item.rejected > 0 ? <RejectsButton item={item} compact /> : <Text size="sm">0</Text>}
          </Table.Td>
          <Table.Td>
            <Text size="sm" style={{ whiteSpace: 'nowrap' }}>
              {relative(item.createdAt)}
            </Text>
            <Text size="xs" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
              {format(item.createdAt)}
            </Text>
          </Table.Td>
        </>
      )}
    </Table.Tr>
  );
}
