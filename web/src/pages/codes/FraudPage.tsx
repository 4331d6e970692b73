import { Anchor, Box, Group, Paper, SimpleGrid, Stack, Table, Text, Title, UnstyledButton } from '@mantine/core';
import { IconArrowLeft } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { useAttemptsSummary } from '../../api/codes.ts';
import { PageHeader } from '../../components/PageHeader.tsx';
import { RequirePermission } from '../../components/RequirePermission.tsx';
import { AttemptsView, shortHash, useAttemptFilters } from './AttemptsView.tsx';

/** The fraud screen: every registration attempt with its outcome, and who fails most in the last day. */
export function FraudPage() {
  const { t } = useTranslation();
  return (
    <>
      <Box mb="xs">
        <Anchor component={Link} to="/promo-codes" size="sm" c="dimmed">
          <Group gap={4} component="span">
            <IconArrowLeft size={14} />
            {t('codes.backToList')}
          </Group>
        </Anchor>
      </Box>
      <PageHeader title={t('codes.fraud.title')} description={t('codes.fraud.description')} />
      <RequirePermission permission="codes:read">
        <Stack gap="lg">
          <TopFailures />
          <AttemptsView />
        </Stack>
      </RequirePermission>
    </>
  );
}

type TopKind = 'net' | 'identifier' | 'device';

function TopFailures() {
  const { t, i18n } = useTranslation();
  const { filters, setFilter } = useAttemptFilters();
  const summary = useAttemptsSummary(1440, filters.promotionId);
  const number = new Intl.NumberFormat(i18n.resolvedLanguage === 'ru' ? 'ru-RU' : 'en-GB');
  if (!summary.data) return null;
  const lists: { kind: TopKind; title: string; rows: { value: string; failures: number; accepted: number }[] }[] = [
    { kind: 'net', title: t('codes.fraud.topNets'), rows: summary.data.topNets.map((r) => ({ ...r, value: r.net })) },
    {
      kind: 'identifier',
      title: t('codes.fraud.topPeople'),
      rows: summary.data.topIdentifiers.map((r) => ({ ...r, value: r.identifierHash })),
    },
    {
      kind: 'device',
      title: t('codes.fraud.topDevices'),
      rows: summary.data.topDevices.map((r) => ({ ...r, value: r.deviceHash })),
    },
  ];
  return (
    <Stack gap="xs" data-testid="fraud-top">
      <Title order={4}>{t('codes.fraud.topTitle')}</Title>
      <SimpleGrid cols={{ base: 1, sm: 3 }} spacing="sm">
        {lists.map((list) => (
          <Paper key={list.kind} withBorder radius="md" p="sm" data-testid={`fraud-top-${list.kind}`}>
            <Text size="sm" fw={600} mb={4}>
              {list.title}
            </Text>
            {list.rows.length === 0 ? (
              <Text size="xs" c="dimmed">
                {t('codes.fraud.topNone')}
              </Text>
            ) : (
              <Table withRowBorders={false} verticalSpacing={2} horizontalSpacing={4} layout="fixed">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th />
                    <Table.Th ta="right" w={72}>
                      <Text size="xs" c="dimmed">
                        {t('codes.fraud.failures')}
                      </Text>
                    </Table.Th>
                    <Table.Th ta="right" w={72}>
                      <Text size="xs" c="dimmed">
                        {t('codes.outcomes.accepted')}
                      </Text>
                    </Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {list.rows.slice(0, 5).map((row) => (
                    <Table.Tr key={row.value}>
                      <Table.Td>
                        <UnstyledButton onClick={() => setFilter(list.kind, row.value)} title={row.value}>
                          <Text size="xs" ff="monospace" c="indigo" truncate>
                            {list.kind === 'net' ? row.value : shortHash(row.value)}
                          </Text>
                        </UnstyledButton>
                      </Table.Td>
                      <Table.Td ta="right">
                        <Text size="xs" c="red" fw={600}>
                          {number.format(row.failures)}
                        </Text>
                      </Table.Td>
                      <Table.Td ta="right">
                        <Text size="xs">{number.format(row.accepted)}</Text>
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            )}
          </Paper>
        ))}
      </SimpleGrid>
    </Stack>
  );
}
