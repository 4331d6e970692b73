import { Alert, Button, Group, List, Menu, Modal, Select, SimpleGrid, Stack, Text, TextInput } from '@mantine/core';
import { IconAlertTriangle, IconChevronDown, IconDownload, IconHistory, IconTrash } from '@tabler/icons-react';
import { type FormEvent, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { ERASURE_REASONS, ErasureRequest, type Profile } from '../../../../src/modules/profiles/profiles.schemas.ts';
import { type ExportFormat, useEraseProfile, useExportProfile } from '../../api/profiles.ts';
import { notifyProblem, notifySuccess, ProblemAlert } from '../../components/ProblemAlert.tsx';
import { useCan } from '../../components/RequirePermission.tsx';
import { profileTitle } from '../../lib/customers.tsx';
import { useWorkspaceClock } from '../../lib/useWorkspaceClock.ts';

type ErasureReason = (typeof ERASURE_REASONS)[number];

/**
 * The data-subject rights on a profile: export (profiles:export), erasure (profiles:erase), and the audit trail of
 * the person (audit:read). Each is shown only to roles that hold its permission; nothing is shown to the others.
 */
export function ProfileActions({ profile }: { profile: Profile }) {
  const { t } = useTranslation();
  const canExport = useCan('profiles:export');
  const canErase = useCan('profiles:erase');
  const canAudit = useCan('audit:read');
  const [erasing, setErasing] = useState(false);
  const erased = profile.erasedAt !== null;
  if (!canExport && !canAudit && !(canErase && !erased)) return null;
  return (
    <Group gap="xs" wrap="wrap" data-testid="profile-actions">
      {canExport && <ExportMenu profileId={profile.id} />}
      {canAudit && (
        <Button
          component={Link}
          to={`/settings/audit?targetId=${encodeURIComponent(profile.id)}`}
          size="xs"
          variant="default"
          leftSection={<IconHistory size={14} />}
          data-testid="profile-audit"
        >
          {t('privacy.auditTrail')}
        </Button>
      )}
      {canErase && !erased && (
        <Button
          size="xs"
          variant="light"
          color="red"
          leftSection={<IconTrash size={14} />}
          onClick={() => setErasing(true)}
          data-testid="profile-erase"
        >
          {t('privacy.erase')}
        </Button>
      )}
      {erasing && (
        <EraseModal
          profileId={profile.id}
          name={profileTitle(profile) ?? t('customers.unnamed')}
          onClose={() => setErasing(false)}
        />
      )}
    </Group>
  );
}

function ExportMenu({ profileId }: { profileId: string }) {
  const { t } = useTranslation();
  const mutation = useExportProfile(profileId);
  const start = (format: ExportFormat) =>
    mutation.mutate(format, {
      onSuccess: () => notifySuccess(t('privacy.exported')),
      onError: (error) => notifyProblem(error, t),
    });
  return (
    <Menu position="bottom-end" withinPortal shadow="md">
      <Menu.Target>
        <Button
          size="xs"
          variant="default"
          leftSection={<IconDownload size={14} />}
          rightSection={<IconChevronDown size={14} />}
          loading={mutation.isPending}
          data-testid="profile-export"
        >
          {t('privacy.export')}
        </Button>
      </Menu.Target>
      <Menu.Dropdown>
        <Menu.Label>{t('privacy.exportHint')}</Menu.Label>
        <Menu.Item onClick={() => start('json')} data-testid="profile-export-json">
          <Text size="sm">{t('privacy.exportJson')}</Text>
          <Text size="xs" c="dimmed">
            {t('privacy.exportJsonHint')}
          </Text>
        </Menu.Item>
        <Menu.Item onClick={() => start('csv')} data-testid="profile-export-csv">
          <Text size="sm">{t('privacy.exportCsv')}</Text>
          <Text size="xs" c="dimmed">
            {t('privacy.exportCsvHint')}
          </Text>
        </Menu.Item>
      </Menu.Dropdown>
    </Menu>
  );
}

const TICKET = ErasureRequest.shape.ticket;

function EraseModal({ profileId, name, onClose }: { profileId: string; name: string; onClose: () => void }) {
  const { t } = useTranslation();
  const mutation = useEraseProfile(profileId);
  const [reason, setReason] = useState<ErasureReason | null>(null);
  const [ticket, setTicket] = useState('');
  const [typed, setTyped] = useState('');
  const word = t('privacy.confirmWord');
  const ticketValid = ticket.trim() === '' || TICKET.safeParse(ticket.trim()).success;
  const wordTyped = typed.trim().toLocaleUpperCase() === word.toLocaleUpperCase();
  const ready = reason !== null && ticketValid && wordTyped;

  function submit(event: FormEvent) {
    event.preventDefault();
    if (!ready || !reason) return;
    mutation.mutate(
      { reason, ticket: ticket.trim() || undefined },
      {
        onSuccess: () => {
          notifySuccess(t('privacy.erased'));
          onClose();
        },
      },
    );
  }

  return (
    <Modal opened onClose={mutation.isPending ? () => {} : onClose} title={t('privacy.eraseTitle')} centered size="lg">
      <form onSubmit={submit} noValidate data-testid="erase-form">
        <Stack gap="md">
          <Text size="sm">
            {t('privacy.customer')}: <b>{name}</b>{' '}
            <Text span size="xs" c="dimmed" ff="monospace">
              {profileId}
            </Text>
          </Text>
          <Alert color="red" variant="light" icon={<IconAlertTriangle size={18} />} title={t('privacy.irreversible')}>
            <List size="sm" spacing={2}>
              <List.Item>{t('privacy.eraseProfile')}</List.Item>
              <List.Item>{t('privacy.eraseIdentifiers')}</List.Item>
              <List.Item>{t('privacy.eraseEvents')}</List.Item>
              <List.Item>{t('privacy.eraseConsents')}</List.Item>
            </List>
          </Alert>
          {mutation.error ? <ProblemAlert error={mutation.error} /> : null}
          <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm">
            <Select
              label={t('privacy.reason')}
              placeholder={t('privacy.reasonPlaceholder')}
              data={ERASURE_REASONS.map((value) => ({ value, label: t(`privacy.reasons.${value}`) }))}
              value={reason}
              onChange={(value) => setReason(value as ErasureReason | null)}
              required
              allowDeselect={false}
              comboboxProps={{ withinPortal: true }}
              data-testid="erase-reason"
            />
            <TextInput
              label={t('privacy.ticket')}
              description={t('privacy.ticketHint')}
              inputWrapperOrder={['label', 'input', 'description', 'error']}
              placeholder="REQ-2026/0142"
              value={ticket}
              onChange={(event) => setTicket(event.currentTarget.value)}
              error={ticketValid ? undefined : t('privacy.ticketInvalid')}
              maxLength={40}
              data-testid="erase-ticket"
            />
          </SimpleGrid>
          <TextInput
            label={t('privacy.confirmLabel', { word })}
            value={typed}
            onChange={(event) => setTyped(event.currentTarget.value)}
            autoComplete="off"
            data-testid="erase-confirm-word"
          />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose} disabled={mutation.isPending}>
              {t('common.cancel')}
            </Button>
            <Button
              type="submit"
              color="red"
              leftSection={<IconTrash size={16} />}
              loading={mutation.isPending}
              disabled={!ready}
              data-testid="erase-submit"
            >
              {t('privacy.eraseSubmit')}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

/** What a tombstone is, on the profile of a person who was erased. */
export function ErasedNotice({ erasedAt }: { erasedAt: string }) {
  const { t } = useTranslation();
  const { format } = useWorkspaceClock();
  return (
    <Alert color="gray" variant="light" icon={<IconTrash size={18} />} data-testid="profile-erased">
      <Text size="sm" fw={600}>
        {t('privacy.erasedOn', { date: format(erasedAt) })}
      </Text>
      <Text size="sm">{t('privacy.tombstone')}</Text>
    </Alert>
  );
}
