import { Badge, Button, Center, Paper, Stack, Text, ThemeIcon, Title } from '@mantine/core';
import { IconHourglass } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { PRODUCT_MODULES, type UpcomingModuleId } from '../modules.ts';

export function ComingSoonPage({ moduleId }: { moduleId: UpcomingModuleId }) {
  const { t } = useTranslation();
  const module = PRODUCT_MODULES.find((candidate) => candidate.id === moduleId);
  const ModuleIcon = module?.icon ?? IconHourglass;
  return (
    <Center py={{ base: 'lg', sm: 60 }}>
      <Paper withBorder radius="lg" p={{ base: 'lg', sm: 40 }} maw={560} w="100%" data-testid="coming-soon">
        <Stack align="center" gap="md" ta="center">
          <ThemeIcon size={64} radius="xl" variant="light">
            <ModuleIcon size={34} stroke={1.5} />
          </ThemeIcon>
          <Badge variant="light" color="gray" leftSection={<IconHourglass size={12} />}>
            {t('comingSoon.badge')}
          </Badge>
          <Title order={2}>{t(`nav.${moduleId}`)}</Title>
          <Text c="dimmed">{t(`comingSoon.modules.${moduleId}`)}</Text>
          <Button component={Link} to="/" variant="default">
            {t('errors.backToOverview')}
          </Button>
        </Stack>
      </Paper>
    </Center>
  );
}
