import { Button, Center, Loader, Stack, Table, Text } from '@mantine/core';
import { useTranslation } from 'react-i18next';

export function LoadingBlock() {
  return (
    <Center py="xl">
      <Loader size="sm" />
    </Center>
  );
}

export function EmptyTableRow({ columns, message }: { columns: number; message: string }) {
  return (
    <Table.Tr>
      <Table.Td colSpan={columns}>
        <Text c="dimmed" ta="center" py="lg" size="sm">
          {message}
        </Text>
      </Table.Td>
    </Table.Tr>
  );
}

export function LoadMore({ hasMore, loading, onLoad }: { hasMore: boolean; loading: boolean; onLoad: () => void }) {
  const { t } = useTranslation();
  if (!hasMore) return null;
  return (
    <Stack align="center" mt="md">
      <Button variant="default" onClick={onLoad} loading={loading} data-testid="load-more">
        {t('common.loadMore')}
      </Button>
    </Stack>
  );
}
