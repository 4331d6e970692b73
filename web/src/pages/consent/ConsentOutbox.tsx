import { Anchor, Badge, Group, Paper, Stack, Text, Title } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { useConsentOutbox } from '../../api/consent.ts';
import { LoadingBlock } from '../../components/ListStates.tsx';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { consentChannelLabel } from '../../lib/consent.ts';
import { useWorkspaceClock } from '../../lib/useWorkspaceClock.ts';

/**
 * The confirmation messages (double opt-in requests) the embedded outbox holds until a sending channel is
 * configured, newest first. The caller shows it only to roles with workspace:manage, which the endpoint needs.
 */
export function ConsentOutbox() {
  const { t } = useTranslation();
  const { format, relative } = useWorkspaceClock();
  const outbox = useConsentOutbox();
  return (
    <Paper withBorder radius="md" p={{ base: 'md', sm: 'lg' }} data-testid="consent-outbox">
      <Stack gap={2} mb="md">
        <Title order={4}>{t('consentSettings.outbox')}</Title>
        <Text size="sm" c="dimmed">
          {t('consentSettings.outboxHint')}
        </Text>
      </Stack>
      {outbox.isPending ? (
        <LoadingBlock />
      ) : outbox.isError ? (
        <ProblemAlert error={outbox.error} />
      ) : outbox.data.items.length === 0 ? (
        <Text size="sm" c="dimmed" ta="center" py="md" data-testid="consent-outbox-empty">
          {t('consentSettings.noOutbox')}
        </Text>
      ) : (
        <Stack gap="sm">
          {outbox.data.items.map((message) => (
            <Paper key={message.id} withBorder radius="sm" p="sm" data-testid="consent-outbox-row">
              <Group justify="space-between" gap="xs" mb={4} wrap="wrap" align="flex-start">
                <Group gap={6} style={{ minWidth: 0 }}>
                  <Badge size="sm" variant="light" color="indigo" tt="none">
                    {consentChannelLabel(message.channel, t)}
                  </Badge>
                  <Text size="sm" style={{ wordBreak: 'break-all' }}>
                    {t('consentSettings.to')}: {message.address}
                  </Text>
                </Group>
                <Text size="xs" c="dimmed" title={format(message.createdAt)}>
                  {relative(message.createdAt)} · {format(message.createdAt)}
                </Text>
              </Group>
              {message.subject && (
                <Text size="sm" fw={600} style={{ wordBreak: 'break-word' }}>
                  {message.subject}
                </Text>
              )}
              <Text size="sm" c="dimmed" lineClamp={3} style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-word' }}>
                {message.body}
              </Text>
              <Anchor
                component={Link}
                to={`/customers/${encodeURIComponent(message.profileId)}`}
                size="xs"
                mt={4}
                display="inline-block"
                data-testid="consent-outbox-profile"
              >
                {t('consentOverview.openCustomer')}
              </Anchor>
            </Paper>
          ))}
        </Stack>
      )}
    </Paper>
  );
}
