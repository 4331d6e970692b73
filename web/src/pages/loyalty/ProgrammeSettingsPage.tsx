import { Button, Checkbox, Group, NumberInput, Paper, SimpleGrid, Stack, Text, TextInput, Title } from '@mantine/core';
import { IconPlus } from '@tabler/icons-react';
import { type FormEvent, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { type Programme, WalletKey, type WalletSettings } from '../../../../src/modules/loyalty/loyalty.schemas.ts';
import { useUpdateProgramme } from '../../api/loyalty.ts';
import { TimeZoneInput } from '../../components/ChoiceInputs.tsx';
import { notifySuccess, ProblemAlert } from '../../components/ProblemAlert.tsx';
import { useCan } from '../../components/RequirePermission.tsx';
import { isValidTimeZone } from '../../lib/format.ts';
import { formatMinor, minorToMajor, parseMajor } from '../../lib/money.ts';
import { CardRanges } from './CardRanges.tsx';
import { useProgramme } from './LoyaltyLayout.tsx';
import { useLanguage } from './MemberParts.tsx';

interface WalletDraft {
  key: string;
  name: string;
  pendingDays: number | string;
  lifetimeDays: number | string;
  neverExpires: boolean;
  value: string;
  existing: boolean;
}

const walletDraft = (w: WalletSettings, currency: string): WalletDraft => ({
  key: w.key,
  name: w.name,
  pendingDays: w.pendingDays,
  lifetimeDays: w.lifetimeDays ?? 365,
  neverExpires: w.lifetimeDays === null,
  value: minorToMajor(w.valueMinor, currency),
  existing: true,
});

/** /loyalty/settings: the programme's wallets (return window, lifetime, point value), payment limits, card ranges. */
export function ProgrammeSettingsPage() {
  const programme = useProgramme();
  return (
    <Stack gap="lg" maw={1000}>
      <SettingsForm key={programme.key} programme={programme} />
      <CardRanges programme={programme} />
    </Stack>
  );
}

function SettingsForm({ programme }: { programme: Programme }) {
  const { t } = useTranslation();
  const language = useLanguage();
  const canManage = useCan('loyalty:manage');
  const readOnly = !canManage;
  const update = useUpdateProgramme(programme.key);
  const [name, setName] = useState(programme.name);
  const [timeZone, setTimeZone] = useState(programme.timeZone);
  const [maxPaymentPercent, setMaxPaymentPercent] = useState<number | string>(programme.settings.maxPaymentPercent);
  const [otpMinutes, setOtpMinutes] = useState<number | string>(Math.round(programme.settings.otpTtlSeconds / 60));
  const [wallets, setWallets] = useState<WalletDraft[]>(() =>
    programme.settings.wallets.map((w) => walletDraft(w, programme.currency)),
  );
  const [tried, setTried] = useState(false);
  const setWallet = (index: number, patch: Partial<WalletDraft>) =>
    setWallets((current) => current.map((w, i) => (i === index ? { ...w, ...patch } : w)));
  const walletProblems = wallets.map((w, index) => ({
    key: !WalletKey.safeParse(w.key).success || wallets.findIndex((o) => o.key === w.key) !== index,
    name: !w.name.trim(),
    value: parseMajor(w.value, programme.currency) === undefined,
  }));
  const valid =
    name.trim() !== '' &&
    isValidTimeZone(timeZone) &&
    walletProblems.every((p) => !p.key && !p.name && !p.value) &&
    typeof otpMinutes === 'number' &&
    otpMinutes >= 1 &&
    otpMinutes <= 60;

  function submit(event: FormEvent) {
    event.preventDefault();
    setTried(true);
    if (!valid) return;
    update.mutate(
      {
        name: name.trim(),
        timeZone,
        settings: {
          // Settings kept elsewhere (tiers, referrals, the approval threshold) stay as they are.
          ...programme.settings,
          wallets: wallets.map((w) => ({
            key: w.key,
            name: w.name.trim(),
            pendingDays: Number(w.pendingDays) || 0,
            lifetimeDays: w.neverExpires ? null : Number(w.lifetimeDays) || 365,
            valueMinor: parseMajor(w.value, programme.currency) ?? 0,
          })),
          maxPaymentPercent: Number(maxPaymentPercent),
          otpTtlSeconds: Number(otpMinutes) * 60,
        },
      },
      { onSuccess: () => notifySuccess(t('loyalty.settings.saved')) },
    );
  }

  return (
    <form onSubmit={submit} noValidate data-testid="programme-settings">
      <Stack gap="lg">
        {readOnly && (
          <Text size="sm" c="dimmed">
            {t('loyalty.settings.readOnly')}
          </Text>
        )}
        {update.error ? <ProblemAlert error={update.error} /> : null}
        <Paper withBorder radius="md" p={{ base: 'md', sm: 'lg' }}>
          <Stack gap="sm">
            <Title order={4}>{t('loyalty.settings.programme')}</Title>
            <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm">
              <TextInput
                label={t('loyalty.create.name')}
                value={name}
                onChange={(event) => setName(event.currentTarget.value)}
                error={tried && !name.trim() ? t('validation.required') : undefined}
                disabled={readOnly}
              />
              <TimeZoneInput
                label={t('workspaceForm.timeZone')}
                description={t('loyalty.settings.timeZoneHint')}
                inputWrapperOrder={['label', 'input', 'description', 'error']}
                value={timeZone}
                onChange={setTimeZone}
                error={tried && !isValidTimeZone(timeZone) ? t('validation.timeZone') : undefined}
                disabled={readOnly}
              />
              <NumberInput
                label={t('loyalty.settings.maxPayment')}
                description={t('loyalty.settings.maxPaymentHint')}
                inputWrapperOrder={['label', 'input', 'description', 'error']}
                value={maxPaymentPercent}
                onChange={setMaxPaymentPercent}
                min={0}
                max={100}
                suffix=" %"
                allowDecimal={false}
                disabled={readOnly}
              />
              <NumberInput
                label={t('loyalty.settings.otp')}
                description={t('loyalty.settings.otpHint')}
                inputWrapperOrder={['label', 'input', 'description', 'error']}
                value={otpMinutes}
                onChange={setOtpMinutes}
                min={1}
                max={60}
                allowDecimal={false}
                disabled={readOnly}
              />
            </SimpleGrid>
            <Text size="xs" c="dimmed">
              {t('loyalty.settings.currency', { currency: programme.currency, key: programme.key })}
            </Text>
          </Stack>
        </Paper>

        <Paper withBorder radius="md" p={{ base: 'md', sm: 'lg' }}>
          <Stack gap="md">
            <Stack gap={2}>
              <Title order={4}>{t('loyalty.settings.wallets')}</Title>
              <Text size="sm" c="dimmed">
                {t('loyalty.settings.walletsHint')}
              </Text>
            </Stack>
            {wallets.map((wallet, index) => {
              const problems = walletProblems[index];
              const valueMinor = parseMajor(wallet.value, programme.currency);
              return (
                <Paper
                  key={wallet.existing ? wallet.key : `new-${index}`}
                  withBorder
                  radius="md"
                  p="md"
                  bg="gray.0"
                  data-testid="wallet"
                >
                  <SimpleGrid cols={{ base: 1, sm: 2, md: 3 }} spacing="sm">
                    <TextInput
                      label={t('loyalty.settings.walletName')}
                      value={wallet.name}
                      onChange={(event) => setWallet(index, { name: event.currentTarget.value })}
                      error={tried && problems?.name ? t('validation.required') : undefined}
                      disabled={readOnly}
                      data-testid="wallet-name"
                    />
                    <TextInput
                      label={t('loyalty.settings.walletKey')}
                      description={
                        wallet.existing ? t('loyalty.settings.walletKeyFixed') : t('loyalty.settings.walletKeyHint')
                      }
                      inputWrapperOrder={['label', 'input', 'description', 'error']}
                      value={wallet.key}
                      onChange={(event) => setWallet(index, { key: event.currentTarget.value.toLowerCase() })}
                      error={tried && problems?.key ? t('loyalty.settings.walletKeyInvalid') : undefined}
                      disabled={readOnly || wallet.existing}
                      styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
                    />
                    <TextInput
                      label={t('loyalty.settings.pointValue', { currency: programme.currency })}
                      description={
                        valueMinor
                          ? t('loyalty.settings.pointValueHint', {
                              value: formatMinor(valueMinor, programme.currency, language),
                            })
                          : t('loyalty.settings.pointValueZero')
                      }
                      inputWrapperOrder={['label', 'input', 'description', 'error']}
                      value={wallet.value}
                      onChange={(event) => setWallet(index, { value: event.currentTarget.value })}
                      inputMode="decimal"
                      error={tried && problems?.value ? t('loyalty.settings.amountInvalid') : undefined}
                      disabled={readOnly}
                      data-testid="wallet-value"
                    />
                    <NumberInput
                      label={t('loyalty.settings.pendingDays')}
                      description={t('loyalty.settings.pendingDaysHint')}
                      inputWrapperOrder={['label', 'input', 'description', 'error']}
                      value={wallet.pendingDays}
                      onChange={(pendingDays) => setWallet(index, { pendingDays })}
                      min={0}
                      max={365}
                      allowDecimal={false}
                      disabled={readOnly}
                      data-testid="wallet-pending"
                    />
                    <Stack gap={6}>
                      <NumberInput
                        label={t('loyalty.settings.lifetimeDays')}
                        description={t('loyalty.settings.lifetimeDaysHint')}
                        inputWrapperOrder={['label', 'input', 'description', 'error']}
                        value={wallet.neverExpires ? '' : wallet.lifetimeDays}
                        onChange={(lifetimeDays) => setWallet(index, { lifetimeDays })}
                        min={1}
                        max={3650}
                        allowDecimal={false}
                        disabled={readOnly || wallet.neverExpires}
                        data-testid="wallet-lifetime"
                      />
                      <Checkbox
                        label={t('loyalty.settings.neverExpire')}
                        checked={wallet.neverExpires}
                        onChange={(event) => setWallet(index, { neverExpires: event.currentTarget.checked })}
                        disabled={readOnly}
                      />
                    </Stack>
                  </SimpleGrid>
                </Paper>
              );
            })}
            {!readOnly && wallets.length < 5 && (
              <Group>
                <Button
                  variant="subtle"
                  size="xs"
                  leftSection={<IconPlus size={14} />}
                  onClick={() =>
                    setWallets((current) => [
                      ...current,
                      {
                        key: '',
                        name: '',
                        pendingDays: 0,
                        lifetimeDays: 365,
                        neverExpires: false,
                        value: '0',
                        existing: false,
                      },
                    ])
                  }
                >
                  {t('loyalty.settings.addWallet')}
                </Button>
              </Group>
            )}
          </Stack>
        </Paper>
        {!readOnly && (
          <Group justify="flex-end">
            <Button type="submit" loading={update.isPending} data-testid="programme-save">
              {t('common.saveChanges')}
            </Button>
          </Group>
        )}
      </Stack>
    </form>
  );
}
