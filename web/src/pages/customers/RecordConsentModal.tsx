import {
  Autocomplete,
  Button,
  Checkbox,
  Group,
  Modal,
  SegmentedControl,
  Select,
  SimpleGrid,
  Stack,
  TextInput,
} from '@mantine/core';
import { type FormEvent, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { CHANNELS, type ConsentChannel, type Purpose } from '../../../../src/modules/consent/consent.schemas.ts';
import { type StatementInput, useRecordConsent } from '../../api/consent.ts';
import { notifySuccess, ProblemAlert } from '../../components/ProblemAlert.tsx';
import { consentChannelLabel, purposeLabel, sourceLabel } from '../../lib/consent.ts';

/** Sources a member of staff can name when recording a consent by hand. */
const STAFF_SOURCES = ['staff', 'call_centre', 'pos'] as const;
type StaffSource = (typeof STAFF_SOURCES)[number];

/** Records a grant or a revocation by hand, optionally asking the customer to confirm (double opt-in). */
export function RecordConsentModal({
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
