import {
  Autocomplete,
  Badge,
  Button,
  Checkbox,
  Group,
  Modal,
  Paper,
  SegmentedControl,
  Select,
  SimpleGrid,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
  UnstyledButton,
} from '@mantine/core';
import { IconPlus } from '@tabler/icons-react';
import i18next, { type TFunction } from 'i18next';
import { type FormEvent, useState } from 'react';
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
import { useIsPhone } from '../../lib/useIsPhone.ts';
import { useWorkspaceClock } from '../../lib/useWorkspaceClock.ts';

/** Sources a member of staff can name when recording a consent by hand. */
const STAFF_SOURCES = ['staff', 'call_centre', 'pos'] as const;
type StaffSource = (typeof STAFF_SOURCES)[number];

type CellStatus = ConsentState['status'] | 'none';
const STATUS_COLOR: Record<CellStatus, string> = { granted: 'green', revoked: 'red', pending: 'yellow', none: 'gray' };
const ACTION_COLOR: Record<ConsentEntry['action'], string> = { grant: 'green', revoke: 'red', pending: 'yellow' };

export function consentChannelLabel(channel: string, t: TFunction): string {
  return (CHANNELS as readonly string[]).includes(channel)
    ? (t(`consent.channels.${channel as ConsentChannel}`) as string)
    : channel;
}

function sourceLabel(source: string, t: TFunction): string {
  const key = `consent.sources.${source}`;
  return i18next.exists(key) ? (t(key as never) as string) : source;
}

export function purposeLabel(key: string, purposes: Purpose[], language: string | undefined): string {
  const purpose = purposes.find((p) => p.key === key);
  if (!purpose) return key;
  return language === 'ru' ? purpose.nameRu : purpose.nameEn;
}

export function ConsentPanel({ profileId }: { profileId: string }) {
  const { t } = useTranslation();
  const consents = useProfileConsents(profileId);
  const settings = useConsentSettings();
  const canWrite = useCan('profiles:write');
  const [recording, setRecording] = useState(false);

  return (
    <Paper withBorder radius="md" p={{ base: 'md', sm: 'lg' }} data-testid="profile-consent">
      <Group justify="space-between" align="center" mb="sm" gap="sm">
        <Title order={4}>{t('consent.title')}</Title>
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

function RecordConsentModal({
  profileId,
  purposes,
  wordings,
  onClose,
}: {
  profileId: string;
  purposes: Purpose[];
  wordings: { purpose: string; version: string }[];
  onClose: () => void;
}) {
  const { t, i18n } = useTranslation();
  const mutation = useRecordConsent(profileId);
  const [channel, setChannel] = useState<ConsentChannel>('email');
  const [purpose, setPurpose] = useState(purposes[0]?.key ?? '');
  const [action, setAction] = useState<'grant' | 'revoke'>('grant');
  const [source, setSource] = useState<StaffSource>('staff');
  const [address, setAddress] = useState('');
  const [wordingVersion, setWordingVersion] = useState('');
  const [doubleOptIn, setDoubleOptIn] = useState(false);
  const versions = [...new Set(wordings.filter((w) => w.purpose === purpose).map((w) => w.version))];
  // A confirmation can only be asked for on a channel Rapport can send it to.
  const canConfirm = action === 'grant' && (channel === 'email' || channel === 'sms');

  function submit(event: FormEvent) {
    event.preventDefault();
    if (!purpose) return;
    const statement: StatementInput = {
      channel,
      purpose,
      action,
      source,
      address: address.trim() || undefined,
      wordingVersion: wordingVersion.trim() || undefined,
      doubleOptIn: canConfirm && doubleOptIn ? true : undefined,
    };
    mutation.mutate([statement], {
      onSuccess: () => {
        notifySuccess(statement.doubleOptIn ? t('consent.recordedPending') : t('consent.recorded'));
        onClose();
      },
    });
  }

  return (
    <Modal opened onClose={onClose} title={t('consent.recordTitle')} centered>
      <form onSubmit={submit} noValidate data-testid="consent-form">
        <Stack gap="md">
          {mutation.error ? <ProblemAlert error={mutation.error} /> : null}
          <SegmentedControl
            fullWidth
            value={action}
            onChange={(value) => setAction(value === 'revoke' ? 'revoke' : 'grant')}
            data={[
              { value: 'grant', label: t('consent.actions.grant') },
              { value: 'revoke', label: t('consent.actions.revoke') },
            ]}
            data-testid="consent-form-action"
          />
          <SimpleGrid cols={{ base: 1, xs: 2 }} spacing="sm">
            <Select
              label={t('consent.channel')}
              data={CHANNELS.map((value) => ({ value, label: consentChannelLabel(value, t) }))}
              value={channel}
              onChange={(value) => value && setChannel(value as ConsentChannel)}
              allowDeselect={false}
              comboboxProps={{ withinPortal: true }}
              data-testid="consent-form-channel"
            />
            <Select
              label={t('consent.purpose')}
              data={purposes.map((p) => ({
                value: p.key,
                label: purposeLabel(p.key, purposes, i18n.resolvedLanguage),
              }))}
              value={purpose}
              onChange={(value) => value && setPurpose(value)}
              allowDeselect={false}
              comboboxProps={{ withinPortal: true }}
              data-testid="consent-form-purpose"
            />
            <Select
              label={t('consent.source')}
              data={STAFF_SOURCES.map((value) => ({ value, label: sourceLabel(value, t) }))}
              value={source}
              onChange={(value) => value && setSource(value as StaffSource)}
              allowDeselect={false}
              comboboxProps={{ withinPortal: true }}
              data-testid="consent-form-source"
            />
            <Autocomplete
              label={t('consent.wordingVersion')}
              placeholder={t('consent.wordingPlaceholder')}
              data={versions}
              value={wordingVersion}
              onChange={setWordingVersion}
              comboboxProps={{ withinPortal: true }}
              data-testid="consent-form-wording"
            />
          </SimpleGrid>
          <TextInput
            label={t('consent.address')}
            description={t('consent.addressHint')}
            value={address}
            onChange={(event) => setAddress(event.currentTarget.value)}
            data-testid="consent-form-address"
          />
          <Checkbox
            label={t('consent.doubleOptIn')}
            description={t('consent.doubleOptInHint')}
            checked={canConfirm && doubleOptIn}
            disabled={!canConfirm}
            onChange={(event) => setDoubleOptIn(event.currentTarget.checked)}
            data-testid="consent-form-double-opt-in"
          />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              {t('common.cancel')}
            </Button>
            <Button type="submit" loading={mutation.isPending} disabled={!purpose} data-testid="consent-form-submit">
              {t('consent.recordSubmit')}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
