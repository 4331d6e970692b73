import {
  Badge,
  Card,
  Group,
  Paper,
  SimpleGrid,
  Skeleton,
  Stack,
  Text,
  ThemeIcon,
  Title,
  UnstyledButton,
} from '@mantine/core';
import { IconArrowRight, IconClock, IconCoin, IconDatabase, IconLanguage, IconShieldLock } from '@tabler/icons-react';
import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { useHealth, useMe } from '../api/org.ts';
import { ProblemAlert } from '../components/ProblemAlert.tsx';
import { describeTimeZone } from '../lib/format.ts';
import { PRODUCT_MODULES, SETTINGS_SCREENS } from '../modules.ts';
import { useSession } from '../session/SessionContext.tsx';

interface FactProps {
  icon: ReactNode;
  label: string;
  value: ReactNode;
  note?: string;
  testId: string;
}

function Fact({ icon, label, value, note, testId }: FactProps) {
  return (
    <Group gap="sm" wrap="nowrap" align="flex-start">
      <ThemeIcon variant="light" size={36} radius="md">
        {icon}
      </ThemeIcon>
      <Stack gap={0} style={{ minWidth: 0 }}>
        <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
          {label}
        </Text>
        <Text fw={500} data-testid={testId} style={{ overflowWrap: 'anywhere' }}>
          {value}
        </Text>
        {note && (
          <Text size="xs" c="dimmed">
            {note}
          </Text>
        )}
      </Stack>
    </Group>
  );
}

export function OverviewPage() {
  const { t } = useTranslation();
  const { session, membership } = useSession();
  const me = useMe();
  const health = useHealth();
  const workspace = me.data?.workspace ?? membership.workspace;
  const role = me.data?.role ?? membership.role;
  const permissions = me.data?.permissions ?? [];
  const upcoming = PRODUCT_MODULES.filter((module) => !module.built);

  const database = health.isPending ? (
    <Skeleton height={18} width={120} mt={2} />
  ) : health.isError ? (
    t('overview.databaseUnknown')
  ) : health.data.database === 'postgres' ? (
    t('overview.databasePostgres')
  ) : health.data.database === 'pglite' ? (
    t('overview.databasePglite')
  ) : (
    health.data.database
  );
  const version = health.data ? t('overview.version', { version: health.data.version }) : undefined;

  return (
    <Stack gap="lg">
      <Paper withBorder radius="lg" p={{ base: 'md', sm: 'xl' }} shadow="xs" data-testid="welcome-card">
        <Stack gap="lg">
          <Stack gap={4}>
            <Text c="dimmed" size="sm">
              {t('overview.greeting', { name: session.user.name })}
            </Text>
            <Group gap="sm" align="center">
              <Title order={1} fz={{ base: 24, sm: 30 }} data-testid="overview-workspace-name">
                {workspace.name}
              </Title>
              <Badge variant="light" size="lg" radius="sm">
                {t(`roles.${role}`)}
              </Badge>
            </Group>
            <Text c="dimmed" size="sm" maw={680}>
              {t('overview.intro')}
            </Text>
          </Stack>
          <SimpleGrid cols={{ base: 1, xs: 2, lg: 4 }} spacing="lg">
            <Fact
              icon={<IconClock size={20} />}
              label={t('overview.timeZone')}
              value={describeTimeZone(workspace.timeZone)}
              testId="overview-time-zone"
            />
            <Fact
              icon={<IconCoin size={20} />}
              label={t('overview.currency')}
              value={workspace.currency}
              testId="overview-currency"
            />
            <Fact
              icon={<IconLanguage size={20} />}
              label={t('overview.locale')}
              value={t(`locales.${workspace.locale}`)}
              testId="overview-locale"
            />
            <Fact
              icon={<IconDatabase size={20} />}
              label={t('overview.database')}
              value={database}
              note={version}
              testId="overview-database"
            />
          </SimpleGrid>
        </Stack>
      </Paper>

      {me.isError && <ProblemAlert error={me.error} />}

      <Stack gap="sm">
        <Title order={3} fz="lg">
          {t('overview.quickLinks')}
        </Title>
        <SimpleGrid cols={{ base: 1, xs: 2, md: 3 }} spacing="md">
          {SETTINGS_SCREENS.filter((screen) => permissions.includes(screen.permission)).map((screen) => (
            <UnstyledButton key={screen.id} component={Link} to={screen.path} data-testid={`quick-link-${screen.id}`}>
              <Card withBorder radius="md" padding="md" h="100%">
                <Group wrap="nowrap" align="flex-start" gap="sm">
                  <ThemeIcon variant="light" color="indigo" size={38} radius="md">
                    <screen.icon size={20} stroke={1.6} />
                  </ThemeIcon>
                  <Stack gap={2} style={{ flex: 1, minWidth: 0 }}>
                    <Group justify="space-between" wrap="nowrap">
                      <Text fw={600}>{t(`nav.${screen.id}`)}</Text>
                      <IconArrowRight size={16} color="var(--mantine-color-gray-5)" />
                    </Group>
                    <Text size="sm" c="dimmed">
                      {t(`overview.links.${screen.id}`)}
                    </Text>
                  </Stack>
                </Group>
              </Card>
            </UnstyledButton>
          ))}
        </SimpleGrid>
      </Stack>

      <Paper withBorder radius="md" p="md">
        <Group gap="sm" mb="xs">
          <ThemeIcon variant="light" color="teal" radius="md">
            <IconShieldLock size={18} />
          </ThemeIcon>
          <Text fw={600}>{t('overview.roadmapTitle')}</Text>
        </Group>
        <Text size="sm" c="dimmed" mb="sm">
          {t('overview.roadmapText')}
        </Text>
        <Group gap={6}>
          {upcoming.map((module) => (
            <Badge
              key={module.id}
              component={Link}
              to={module.path}
              variant="default"
              radius="sm"
              tt="none"
              fw={500}
              style={{ cursor: 'pointer' }}
              leftSection={<module.icon size={12} />}
            >
              {t(`nav.${module.id}`)}
            </Badge>
          ))}
        </Group>
      </Paper>
    </Stack>
  );
}
