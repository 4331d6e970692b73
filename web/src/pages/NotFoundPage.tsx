import { Button, Center, Stack, Text, Title } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';

export function NotFoundPage() {
  const { t } = useTranslation();
  return (
    <Center py={80}>
      <Stack align="center" gap="sm" ta="center">
        <Title order={2}>{t('errors.notFoundTitle')}</Title>
        <Text c="dimmed">{t('errors.notFoundText')}</Text>
        <Button component={Link} to="/" mt="sm">
          {t('errors.backToOverview')}
        </Button>
      </Stack>
    </Center>
  );
}
