import { Badge, Button, Group, Paper, SimpleGrid, Stack, Table, Text, Title, UnstyledButton } from '@mantine/core';
import { IconPlus } from '@tabler/icons-react';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import {
  CHANNELS,
  type ConsentChannel,
  type ConsentEntry,
  type ConsentState,
  type Purpose,
} from '../../../../src/modules/consent/consent.schemas.ts';
import { type StatementInput, useConsentSettings, useProfileConsents, useRecordConsent } from '../../api/consent.ts';
import { ConfirmModal } from '../../components/ConfirmModal.tsx';
import { LoadingBlock } from '../../components/ListStates.tsx';
import { notifySuccess, ProblemAlert } from '../../components/ProblemAlert.tsx';
import { useCan } from '../../components/RequirePermission.tsx';
import { consentChannelLabel, purposeLabel, sourceLabel } from '../../lib/consent.ts';
import { useIsPhone } from '../../lib/useIsPhone.ts';
import { useWorkspaceClock } from '../../lib/useWorkspaceClock.ts';
import { ProofMenu } from './ConsentProof.tsx';
import { RecordConsentModal } from './RecordConsentModal.tsx';

type CellStatus = ConsentState['status'] | 'none';
const STATUS_COLOR: Record<CellStatus, string> = { granted: 'green', revoked: 'red', pending: 'yellow', none: 'gray' };
const ACTION_COLOR: Record<ConsentEntry['action'], string> = { grant: 'green', revoke: 'red', pending: 'yellow' };

/** `erased`: the person was erased; what they decided stays on record, but nothing new is recorded for them. */
export function ConsentPanel({ profileId, erased = false }: { profileId: string; erased?: boolean }) {
  const { t } = useTranslation();
  const consents = useProfileConsents(profileId);
  const settings = useConsentSettings();
  const canWrite = useCan('profiles:write') && !erased;
  const canProve = useCan('profiles:read_pii');
  const [recording, setRecording] = useState(false);

  return (
    <Paper withBorder radius="md" p={{ base: 'md', sm: 'lg' }} data-testid="profile-consent">
      <Group justify="space-between" align="center" mb="sm" gap="sm">
        <Title order={4}>{t('consent.title')}</Title>
        <Group gap="xs">
          {canProve && consents.data && (
            <ProofMenu profileId={profileId} current={consents.data.current} history={consents.data.history} />
          )}
          {canWrite && settings.data && (
            <Button
              size="xs"
              variant="light"
              leftSection={<IconPlus size={14} />}
              onClick={() => setRecording(true)}
              data-testid="consent-record"
            >
              {t('consent.record')}
            </Button>
          )}
        </Group>
      </Group>
      {consents.isPending || settings.isPending ? (
        <LoadingBlock />
      ) : consents.isError ? (
        <ProblemAlert error={consents.error} />
      ) : settings.isError ? (
        <ProblemAlert error={settings.error} />
      ) : (
        <Stack gap="lg">
          <ConsentGrid
            profileId={profileId}
            current={consents.data.current}
            purposes={settings.data.purposes}
            canWrite={canWrite}
          />
          <ConsentHistory history={consents.data.history} purposes={settings.data.purposes} />
        </Stack>
      )}
      {recording && settings.data && (
        <RecordConsentModal
          profileId={profileId}
          purposes={settings.data.purposes}
          wordings={settings.data.wordings}
          onClose={() => setRecording(false)}
        />
      )}
    </Paper>
  );
}

/** Channels shown as columns: every contact channel, and `any` only when something was recorded on it. */
function gridChannels(current: ConsentState[], purposes: Purpose[]): string[] {
  const shown: string[] = CHANNELS.filter((channel) => channel !== 'any');
  const extra = current.map((state) => state.channel).filter((channel) => !shown.includes(channel));
  if (purposes.some((purpose) => purpose.kind === 'processing')) extra.push('any');
  return [...shown, ...new Set(extra)];
}

function ConsentGrid({
  profileId,
  current,
  purposes,
  canWrite,
}: {
  profileId: string;
  current: ConsentState[];
  purposes: Purpose[];
  canWrite: boolean;
}) {
  const { t, i18n } = useTranslation();
  const isPhone = useIsPhone();
  const [revoking, setRevoking] = useState<ConsentState | null>(null);
  const channels = gridChannels(current, purposes);
  // Purposes no longer configured keep their rows while something is recorded for them.
  const purposeKeys = [
    ...purposes.map((p) => p.key),
    ...new Set(current.map((s) => s.purpose).filter((key) => !purposes.some((p) => p.key === key))),
  ];
  const stateOf = (channel: string, purpose: string) =>
    current.find((state) => state.channel === channel && state.purpose === purpose);
  const cell = (channel: string, purpose: string) => (
    <ConsentCell
      channel={channel}
      purpose={purpose}
      state={stateOf(channel, purpose)}
      onRevoke={canWrite ? setRevoking : undefined}
    />
  );

  return (
    <>
      {isPhone ? (
        // On a phone each purpose is a block of its own: the channels with a recorded state, then the rest in a line.
        <Stack gap="md" data-testid="consent-grid">
          {purposeKeys.map((purpose) => {
            const recorded = channels.filter((channel) => stateOf(channel, purpose));
            const rest = channels.filter((channel) => !stateOf(channel, purpose));
            return (
              <Stack key={purpose} gap={6}>
                <Text size="sm" fw={600}>
                  {purposeLabel(purpose, purposes, i18n.resolvedLanguage)}
                </Text>
                {recorded.length > 0 && (
                  <SimpleGrid cols={2} spacing="xs" verticalSpacing="xs">
                    {recorded.map((channel) => (
                      <Stack key={channel} gap={2} style={{ minWidth: 0 }}>
                        <Text size="xs" c="dimmed">
                          {consentChannelLabel(channel, t)}
                        </Text>
                        {cell(channel, purpose)}
                      </Stack>
                    ))}
                  </SimpleGrid>
                )}
                {rest.length > 0 && (
                  <Group gap={6} wrap="wrap">
                    <Badge size="sm" variant="light" color={STATUS_COLOR.none} tt="none" fw={600}>
                      {t('consent.status.none')}
                    </Badge>
                    <Text size="xs" c="dimmed">
                      {rest.map((channel) => consentChannelLabel(channel, t)).join(', ')}
                    </Text>
                  </Group>
                )}
              </Stack>
            );
          })}
        </Stack>
      ) : (
        <Table.ScrollContainer minWidth={760}>
          <Table verticalSpacing="xs" data-testid="consent-grid" layout="fixed">
            <Table.Thead>
              <Table.Tr>
                <Table.Th w={180}>{t('consent.purpose')}</Table.Th>
                {channels.map((channel) => (
                  <Table.Th key={channel}>{consentChannelLabel(channel, t)}</Table.Th>
                ))}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {purposeKeys.map((purpose) => (
                <Table.Tr key={purpose}>
                  <Table.Td>
                    <Text size="sm" fw={500} style={{ wordBreak: 'break-word' }}>
                      {purposeLabel(purpose, purposes, i18n.resolvedLanguage)}
                    </Text>
                  </Table.Td>
                  {channels.map((channel) => (
                    <Table.Td key={channel} style={{ verticalAlign: 'top' }}>
                      {cell(channel, purpose)}
                    </Table.Td>
                  ))}
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {revoking && (
        <RevokeModal profileId={profileId} state={revoking} purposes={purposes} onClose={() => setRevoking(null)} />
      )}
    </>
  );
}

function ConsentCell({
  channel,
  purpose,
  state,
  onRevoke,
}: {
  channel: string;
  purpose: string;
  state: ConsentState | undefined;
  onRevoke?: (state: ConsentState) => void;
}) {
  const { t } = useTranslation();
  const { format } = useWorkspaceClock();
  const status: CellStatus = state?.status ?? 'none';
  return (
    <Stack
      gap={2}
      align="flex-start"
      data-testid="consent-cell"
      data-channel={channel}
      data-purpose={purpose}
      data-status={status}
      title={state ? t('consent.since', { date: format(state.since) }) : undefined}
      style={{ minWidth: 0, maxWidth: '100%' }}
    >
      <Badge size="sm" variant="light" color={STATUS_COLOR[status]} tt="none" fw={600}>
        {t(`consent.status.${status}`)}
      </Badge>
      {state?.address && (
        <Text size="xs" c="dimmed" style={{ wordBreak: 'break-all' }}>
          {state.address}
        </Text>
      )}
      {state?.status === 'granted' && onRevoke && (
        <UnstyledButton onClick={() => onRevoke(state)} data-testid="consent-revoke">
          <Text size="xs" c="red">
            {t('consent.revoke')}
          </Text>
        </UnstyledButton>
      )}
    </Stack>
  );
}

function RevokeModal({
  profileId,
  state,
  purposes,
  onClose,
}: {
  profileId: string;
  state: ConsentState;
  purposes: Purpose[];
  onClose: () => void;
}) {
  const { t, i18n } = useTranslation();
  const mutation = useRecordConsent(profileId);
  const statement: StatementInput = {
    channel: state.channel as ConsentChannel,
    purpose: state.purpose,
    action: 'revoke',
    address: state.address ?? undefined,
    source: 'staff',
  };
  return (
    <ConfirmModal
      opened
      title={t('consent.revokeTitle')}
      message={t('consent.revokeMessage', {
        purpose: purposeLabel(state.purpose, purposes, i18n.resolvedLanguage),
        channel: consentChannelLabel(state.channel, t),
        address: state.address ?? '—',
      })}
      confirmLabel={t('consent.revoke')}
      onConfirm={() =>
        mutation.mutate([statement], {
          onSuccess: () => {
            notifySuccess(t('consent.revoked'));
            onClose();
          },
        })
      }
      onClose={onClose}
      pending={mutation.isPending}
      error={mutation.error}
    />
  );
}

/** Entries recorded well after they happened (imports of historical consents) show both times. */
function recordedLater(entry: ConsentEntry): boolean {
  return Math.abs(Date.parse(entry.recordedAt) - Date.parse(entry.occurredAt)) > 60_000;
}

function ConsentHistory({ history, purposes }: { history: ConsentEntry[]; purposes: Purpose[] }) {
  const { t, i18n } = useTranslation();
  const { format, timeZone } = useWorkspaceClock();
  const isPhone = useIsPhone();
  return (
    <Stack gap="xs">
      <Group justify="space-between" gap="xs">
        <Text size="sm" fw={600}>
          {t('consent.history')}
        </Text>
        <Text size="xs" c="dimmed">
          {t('customers.timeline.timeZoneNote', { timeZone })}
        </Text>
      </Group>
      {history.length === 0 ? (
        <Text size="sm" c="dimmed" ta="center" py="md" data-testid="consent-history-empty">
          {t('consent.noHistory')}
        </Text>
      ) : isPhone ? (
        <Stack gap="xs" data-testid="consent-history">
          {history.map((entry) => (
            <Paper
              key={entry.id}
              withBorder
              radius="sm"
              p="xs"
              data-testid="consent-history-row"
              data-action={entry.action}
              data-channel={entry.channel}
              data-purpose={entry.purpose}
            >
              <Group justify="space-between" gap="xs" wrap="nowrap" align="flex-start">
                <Group gap={6} style={{ minWidth: 0 }}>
                  <Badge size="sm" variant="light" color={ACTION_COLOR[entry.action]} tt="none" fw={600}>
                    {t(`consent.entryActions.${entry.action}`)}
                  </Badge>
                  <Text size="sm" fw={500}>
                    {consentChannelLabel(entry.channel, t)}
                  </Text>
                </Group>
                <Text size="xs" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
                  {format(entry.occurredAt)}
                </Text>
              </Group>
              <Text size="sm" mt={4}>
                {purposeLabel(entry.purpose, purposes, i18n.resolvedLanguage)}
              </Text>
              <Text size="xs" c="dimmed" style={{ wordBreak: 'break-word' }}>
                {[
                  entry.address,
                  sourceLabel(entry.source, t),
                  entry.wordingVersion && `${t('consent.wordingVersion')} ${entry.wordingVersion}`,
                  entry.ip,
                  entry.operator,
                ]
                  .filter(Boolean)
                  .join(' · ')}
              </Text>
            </Paper>
          ))}
        </Stack>
      ) : (
        <Table.ScrollContainer minWidth={860}>
          <Table verticalSpacing={6} fz="sm" data-testid="consent-history">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t('consent.at')}</Table.Th>
                <Table.Th>{t('consent.action')}</Table.Th>
                <Table.Th>{t('consent.channel')}</Table.Th>
                <Table.Th>{t('consent.purpose')}</Table.Th>
                <Table.Th>{t('consent.source')}</Table.Th>
                <Table.Th>{t('consent.wordingVersion')}</Table.Th>
                <Table.Th>{t('consent.proof')}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {history.map((entry) => (
                <Table.Tr
                  key={entry.id}
                  data-testid="consent-history-row"
                  data-action={entry.action}
                  data-channel={entry.channel}
                  data-purpose={entry.purpose}
                >
                  <Table.Td style={{ whiteSpace: 'nowrap' }}>
                    <Text size="sm">{format(entry.occurredAt)}</Text>
                    {recordedLater(entry) && (
                      <Text size="xs" c="dimmed">
                        {t('consent.recordedAt', { date: format(entry.recordedAt) })}
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <Badge size="sm" variant="light" color={ACTION_COLOR[entry.action]} tt="none" fw={600}>
                      {t(`consent.entryActions.${entry.action}`)}
                    </Badge>
                    {entry.expiresAt && entry.action === 'pending' && (
                      <Text size="xs" c="dimmed">
                        {t('consent.expires', { date: format(entry.expiresAt) })}
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">{consentChannelLabel(entry.channel, t)}</Text>
                    {entry.address && (
                      <Text size="xs" c="dimmed" style={{ wordBreak: 'break-all' }}>
                        {entry.address}
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>{purposeLabel(entry.purpose, purposes, i18n.resolvedLanguage)}</Table.Td>
                  <Table.Td>{sourceLabel(entry.source, t)}</Table.Td>
                  <Table.Td>{entry.wordingVersion ?? '—'}</Table.Td>
                  <Table.Td>
                    <Text size="xs">{entry.ip ?? '—'}</Text>
                    {entry.operator && (
                      <Text size="xs" c="dimmed" style={{ wordBreak: 'break-word' }}>
                        {entry.operator}
                      </Text>
                    )}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
    </Stack>
  );
}
