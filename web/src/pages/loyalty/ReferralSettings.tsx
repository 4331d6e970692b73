import { Button, Group, NumberInput, Paper, SimpleGrid, Stack, Text, TextInput, Title } from '@mantine/core';
import { type FormEvent, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { ReferralSettings as ReferralSettingsSchema } from '../../../../src/modules/loyalty/loyalty.referrals.schemas.ts';
import type { Programme } from '../../../../src/modules/loyalty/loyalty.schemas.ts';
import { useUpdateProgramme } from '../../api/loyalty.ts';
import { fieldErrorsOf, notifySuccess, ProblemAlert } from '../../components/ProblemAlert.tsx';
import { useCan } from '../../components/RequirePermission.tsx';
import { minorToMajor, parseMajor } from '../../lib/money.ts';

/** The programme's referral settings (`settings.referrals`), on the Referrals screen. */
export function ReferralSettingsCard({ programme }: { programme: Programme }) {
  const { t } = useTranslation();
  const canManage = useCan('loyalty:manage');
  const update = useUpdateProgramme(programme.key);
  const current = ReferralSettingsSchema.parse(programme.settings.referrals ?? {});
  const [minPurchase, setMinPurchase] = useState(minorToMajor(current.minPurchaseMinor, programme.currency));
  const [maxPerDay, setMaxPerDay] = useState<number | string>(current.maxPerDay);
  const [referrerPoints, setReferrerPoints] = useState<number | string>(current.referrerPoints);
  const [inviteePoints, setInviteePoints] = useState<number | string>(current.inviteePoints);
  const [landingUrl, setLandingUrl] = useState(current.landingUrl ?? '');
  const [tried, setTried] = useState(false);
  const serverErrors = fieldErrorsOf(update.error);
  const minPurchaseMinor = parseMajor(minPurchase, programme.currency);
  const landingValid = landingUrl.trim() === '' || /^https?:\/\/[^\s]+$/i.test(landingUrl.trim());
  const valid = minPurchaseMinor !== undefined && typeof maxPerDay === 'number' && maxPerDay >= 1 && landingValid;

  function submit(event: FormEvent) {
    event.preventDefault();
    setTried(true);
    if (!valid) return;
    update.mutate(
      {
        settings: {
          ...programme.settings,
          referrals: {
            minPurchaseMinor: minPurchaseMinor ?? 0,
            maxPerDay: Number(maxPerDay),
            referrerPoints: Number(referrerPoints) || 0,
            inviteePoints: Number(inviteePoints) || 0,
            ...(landingUrl.trim() ? { landingUrl: landingUrl.trim() } : {}),
          },
        },
      },
      { onSuccess: () => notifySuccess(t('loyalty.referrals.settings.saved')) },
    );
  }

  return (
    <Paper withBorder radius="md" p={{ base: 'md', sm: 'lg' }} data-testid="referral-settings">
      <form onSubmit={submit} noValidate>
        <Stack gap="sm">
          <Title order={4}>{t('loyalty.referrals.settings.title')}</Title>
          <Text size="sm" c="dimmed">
            {t('loyalty.referrals.settings.hint')}
          </Text>
          {update.error ? <ProblemAlert error={update.error} /> : null}
          <SimpleGrid cols={{ base: 1, sm: 3 }} spacing="sm">
            <TextInput
              label={t('loyalty.referrals.settings.minPurchase')}
              rightSection={
                <Text size="xs" c="dimmed">
                  {programme.currency}
                </Text>
              }
              rightSectionWidth={48}
              value={minPurchase}
              onChange={(event) => setMinPurchase(event.currentTarget.value)}
              error={
                tried && minPurchaseMinor === undefined ? t('loyalty.referrals.settings.invalidAmount') : undefined
              }
              readOnly={!canManage}
              data-testid="referral-min-purchase"
            />
            <NumberInput
              label={t('loyalty.referrals.settings.referrerPoints')}
              value={referrerPoints}
              onChange={setReferrerPoints}
              min={0}
              max={1_000_000}
              allowDecimal={false}
              allowNegative={false}
              readOnly={!canManage}
              data-testid="referral-referrer-points"
            />
            <NumberInput
              label={t('loyalty.referrals.settings.inviteePoints')}
              value={inviteePoints}
              onChange={setInviteePoints}
              min={0}
              max={1_000_000}
              allowDecimal={false}
              allowNegative={false}
              readOnly={!canManage}
              data-testid="referral-invitee-points"
            />
            <NumberInput
              label={t('loyalty.referrals.settings.maxPerDay')}
              description={t('loyalty.referrals.settings.maxPerDayHint')}
              value={maxPerDay}
              onChange={setMaxPerDay}
              min={1}
              max={10_000}
              allowDecimal={false}
              allowNegative={false}
              readOnly={!canManage}
              data-testid="referral-max-per-day"
            />
          </SimpleGrid>
          <TextInput
            label={t('loyalty.referrals.settings.landingUrl')}
            description={t('loyalty.referrals.settings.landingUrlHint')}
            placeholder="https://"
            value={landingUrl}
            onChange={(event) => setLandingUrl(event.currentTarget.value)}
            error={
              (tried && !landingValid ? t('loyalty.referrals.settings.invalidUrl') : undefined) ??
              serverErrors['settings.referrals.landingUrl']
            }
            readOnly={!canManage}
            data-testid="referral-landing-url"
          />
          <Text size="xs" c="dimmed">
            {t('loyalty.referrals.settings.rewardsHint')}
          </Text>
          {canManage && (
            <Group>
              <Button type="submit" loading={update.isPending} data-testid="referral-settings-save">
                {t('loyalty.referrals.settings.save')}
              </Button>
            </Group>
          )}
        </Stack>
      </form>
    </Paper>
  );
}

/** The programme's approval threshold for manual adjustments, on the Approvals screen. */
export function ApprovalThresholdCard({ programme }: { programme: Programme }) {
  const { t } = useTranslation();
  const update = useUpdateProgramme(programme.key);
  const [threshold, setThreshold] = useState<number | string>(programme.settings.adjustmentApprovalThreshold ?? '');
  function submit(event: FormEvent) {
    event.preventDefault();
    const { adjustmentApprovalThreshold: _old, ...rest } = programme.settings;
    update.mutate(
      {
        settings: {
          ...rest,
          ...(typeof threshold === 'number' && threshold >= 1 ? { adjustmentApprovalThreshold: threshold } : {}),
        },
      },
      { onSuccess: () => notifySuccess(t('loyalty.referrals.settings.saved')) },
    );
  }
  return (
    <Paper withBorder radius="md" p={{ base: 'md', sm: 'lg' }} data-testid="approval-threshold">
      <form onSubmit={submit} noValidate>
        <Stack gap="sm">
          {update.error ? <ProblemAlert error={update.error} /> : null}
          <Group align="flex-end" gap="sm">
            <NumberInput
              label={t('loyalty.approvals.threshold')}
              description={t('loyalty.approvals.thresholdHint', { programme: programme.name })}
              placeholder={t('loyalty.approvals.noThreshold')}
              value={threshold}
              onChange={setThreshold}
              min={1}
              max={1_000_000_000}
              allowDecimal={false}
              allowNegative={false}
              style={{ flex: '1 1 320px', maxWidth: 560 }}
              data-testid="approval-threshold-input"
            />
            <Button type="submit" variant="default" loading={update.isPending} data-testid="approval-threshold-save">
              {t('loyalty.referrals.settings.save')}
            </Button>
          </Group>
        </Stack>
      </form>
    </Paper>
  );
}
