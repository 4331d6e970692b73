import {
  Anchor,
  Box,
  Button,
  Group,
  NumberInput,
  Paper,
  SegmentedControl,
  SimpleGrid,
  Stack,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { IconArrowLeft } from '@tabler/icons-react';
import { type FormEvent, type ReactNode, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useParams } from 'react-router';
import {
  LocalDateTime,
  type Promotion,
  PromotionCreate,
  PromotionKey,
  type Reward,
} from '../../../../src/modules/codes/codes.schemas.ts';
import { useCreatePromotion, usePromotion, useUpdatePromotion } from '../../api/codes.ts';
import { useMe } from '../../api/org.ts';
import { CurrencyInput, TimeZoneInput } from '../../components/ChoiceInputs.tsx';
import { LoadingBlock } from '../../components/ListStates.tsx';
import { fieldErrorsOf, notifySuccess, ProblemAlert } from '../../components/ProblemAlert.tsx';
import { RequirePermission } from '../../components/RequirePermission.tsx';
import { suggestKey } from '../../lib/codes.ts';
import { describeTimeZone, isValidTimeZone } from '../../lib/format.ts';
import { minorToMajor, parseMajor, useThousandSeparator } from '../../lib/money.ts';
import { useIsPhone } from '../../lib/useIsPhone.ts';

type RewardKind = Reward['kind'];
const REWARD_KINDS: RewardKind[] = ['points', 'draw_entry', 'coupon', 'registration_only'];

interface Draft {
  name: string;
  key: string;
  keyTouched: boolean;
  timeZone: string;
  startsAt: string;
  endsAt: string;
  rewardKind: RewardKind;
  points: number | string;
  draw: string;
  entries: number | string;
  offer: string;
  couponValue: string;
  couponCurrency: string;
  perPersonPerDay: number | string;
  perPersonTotal: number | string;
  budget: number | string;
  guessesPerMinute: number | string;
}

function draftOf(promotion: Promotion | undefined, timeZone: string, currency: string): Draft {
  const reward = promotion?.reward;
  return {
    name: promotion?.name ?? '',
    key: promotion?.key ?? '',
    keyTouched: Boolean(promotion),
    timeZone: promotion?.timeZone ?? timeZone,
    startsAt: promotion?.startsAt.slice(0, 16) ?? '',
    endsAt: promotion?.endsAt.slice(0, 16) ?? '',
    rewardKind: reward?.kind ?? 'points',
    points: reward?.kind === 'points' ? reward.points : 100,
    draw: reward?.kind === 'draw_entry' ? reward.draw : '',
    entries: reward?.kind === 'draw_entry' ? reward.entries : 1,
    offer: reward?.kind === 'coupon' ? reward.offer : '',
    couponValue:
      reward?.kind === 'coupon' && reward.valueMinor !== undefined
        ? minorToMajor(reward.valueMinor, reward.currency ?? currency)
        : '',
    couponCurrency: (reward?.kind === 'coupon' && reward.currency) || currency,
    perPersonPerDay: promotion ? (promotion.perPersonPerDay ?? '') : 3,
    perPersonTotal: promotion?.perPersonTotal ?? '',
    budget: promotion?.budget ?? '',
    guessesPerMinute: promotion?.guessesPerMinute ?? 300,
  };
}

const optionalInt = (value: number | string) => (value === '' ? null : Number(value));

/** The create/edit form of a promotion: /promo-codes/new and /promo-codes/:id/edit. */
export function PromotionFormPage() {
  const { id } = useParams();
  const { t } = useTranslation();
  return (
    <Stack gap="lg" maw={880}>
      <Box>
        <Anchor component={Link} to={id ? `/promo-codes/${id}` : '/promo-codes'} size="sm" c="dimmed">
          <Group gap={4} component="span">
            <IconArrowLeft size={14} />
            {id ? t('codes.backToPromotion') : t('codes.backToList')}
          </Group>
        </Anchor>
      </Box>
      <RequirePermission permission="codes:manage">
        {id ? <EditPromotion id={id} /> : <PromotionForm />}
      </RequirePermission>
    </Stack>
  );
}

function EditPromotion({ id }: { id: string }) {
  const detail = usePromotion(id);
  if (detail.isPending) return <LoadingBlock />;
  if (detail.isError) return <ProblemAlert error={detail.error} />;
  return <PromotionForm promotion={detail.data.promotion} />;
}

function Section({ title, hint, children }: { title: string; hint?: string; children: ReactNode }) {
  return (
    <Paper withBorder radius="md" p={{ base: 'md', sm: 'lg' }}>
      <Stack gap="sm">
        <Stack gap={2}>
          <Title order={4}>{title}</Title>
          {hint && (
            <Text size="sm" c="dimmed">
              {hint}
            </Text>
          )}
        </Stack>
        {children}
      </Stack>
    </Paper>
  );
}

function PromotionForm({ promotion }: { promotion?: Promotion }) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const me = useMe();
  const workspace = me.data?.workspace;
  const [draft, setDraft] = useState<Draft>(() =>
    draftOf(promotion, workspace?.timeZone ?? 'UTC', workspace?.currency ?? 'EUR'),
  );
  const [errors, setErrors] = useState<Record<string, string>>({});
  const create = useCreatePromotion();
  const update = useUpdatePromotion(promotion?.id ?? '');
  const mutation = promotion ? update : create;
  const separator = useThousandSeparator();
  const phone = useIsPhone();
  const serverErrors = fieldErrorsOf(mutation.error);
  const set = (patch: Partial<Draft>) => setDraft((current) => ({ ...current, ...patch }));
  const pageBase = `${window.location.origin}/p/${workspace?.slug ?? '…'}/`;

  function reward(): Reward | null {
    switch (draft.rewardKind) {
      case 'points':
        return { kind: 'points', points: Number(draft.points) };
      case 'draw_entry':
        return { kind: 'draw_entry', draw: draft.draw.trim(), entries: Number(draft.entries) };
      case 'coupon': {
        const currency = draft.couponCurrency.trim().toUpperCase();
        if (draft.couponValue.trim() === '') return { kind: 'coupon', offer: draft.offer.trim() };
        const valueMinor = parseMajor(draft.couponValue, currency);
        return valueMinor === undefined ? null : { kind: 'coupon', offer: draft.offer.trim(), valueMinor, currency };
      }
      default:
        return { kind: 'registration_only' };
    }
  }

  function validate(): Record<string, string> {
    const found: Record<string, string> = {};
    if (!draft.name.trim()) found.name = t('validation.required');
    if (!promotion && !PromotionKey.safeParse(draft.key).success) found.key = t('codes.form.keyInvalid');
    if (!isValidTimeZone(draft.timeZone)) found.timeZone = t('validation.timeZone');
    if (!LocalDateTime.safeParse(draft.startsAt).success) found.startsAt = t('validation.required');
    if (!LocalDateTime.safeParse(draft.endsAt).success) found.endsAt = t('validation.required');
    else if (draft.startsAt && draft.endsAt <= draft.startsAt) found.endsAt = t('codes.form.endAfterStart');
    const r = reward();
    if (draft.rewardKind === 'points' && !(Number(draft.points) >= 1)) found.points = t('codes.form.positive');
    if (draft.rewardKind === 'draw_entry' && !draft.draw.trim()) found.draw = t('validation.required');
    if (draft.rewardKind === 'draw_entry' && !(Number(draft.entries) >= 1)) found.entries = t('codes.form.positive');
    if (draft.rewardKind === 'coupon' && !draft.offer.trim()) found.offer = t('validation.required');
    if (draft.rewardKind === 'coupon' && r === null) found.couponValue = t('codes.form.amountInvalid');
    return found;
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    const found = validate();
    setErrors(found);
    const r = reward();
    if (Object.keys(found).length > 0 || !r) return;
    const common = {
      name: draft.name.trim(),
      timeZone: draft.timeZone,
      startsAt: draft.startsAt,
      endsAt: draft.endsAt,
      reward: r,
      perPersonPerDay: optionalInt(draft.perPersonPerDay),
      perPersonTotal: optionalInt(draft.perPersonTotal),
      budget: optionalInt(draft.budget),
      guessesPerMinute: Number(draft.guessesPerMinute) || 300,
    };
    if (promotion) {
      update.mutate(common, {
        onSuccess: () => {
          notifySuccess(t('codes.form.saved'));
          void navigate(`/promo-codes/${promotion.id}`);
        },
      });
      return;
    }
    const body = PromotionCreate.safeParse({ ...common, key: draft.key });
    if (!body.success) {
      setErrors({ form: body.error.issues[0]?.message ?? t('errors.unexpected') });
      return;
    }
    create.mutate(body.data, {
      onSuccess: (created) => {
        notifySuccess(t('codes.form.created'));
        void navigate(`/promo-codes/${created.id}`);
      },
    });
  }

  const error = (field: string) => errors[field] ?? serverErrors[field];
  return (
    <form onSubmit={submit} noValidate data-testid="promotion-form">
      <Stack gap="lg">
        <Title order={2}>{promotion ? t('codes.form.editTitle') : t('codes.form.createTitle')}</Title>
        {mutation.error ? <ProblemAlert error={mutation.error} /> : null}
        {errors.form && <ProblemAlert error={new Error(errors.form)} />}
        <Section title={t('codes.form.about')}>
          <TextInput
            label={t('codes.form.name')}
            placeholder={t('codes.form.namePlaceholder')}
            value={draft.name}
            onChange={(event) => {
              const name = event.currentTarget.value;
              set(draft.keyTouched ? { name } : { name, key: suggestKey(name) });
            }}
            error={error('name')}
            required
            data-testid="promotion-name"
          />
          <TextInput
            label={t('codes.form.key')}
            description={t('codes.form.keyHint', { address: `${pageBase}${draft.key || '…'}` })}
            inputWrapperOrder={['label', 'input', 'description', 'error']}
            value={draft.key}
            onChange={(event) => set({ key: event.currentTarget.value.toLowerCase(), keyTouched: true })}
            error={error('key')}
            disabled={Boolean(promotion)}
            required={!promotion}
            styles={{
              input: { fontFamily: 'var(--mantine-font-family-monospace)' },
              description: { overflowWrap: 'anywhere' },
            }}
            data-testid="promotion-key"
          />
        </Section>

        <Section title={t('codes.form.when')} hint={t('codes.form.whenHint')}>
          <TimeZoneInput
            label={t('codes.form.timeZone')}
            description={isValidTimeZone(draft.timeZone) ? describeTimeZone(draft.timeZone) : undefined}
            inputWrapperOrder={['label', 'input', 'description', 'error']}
            value={draft.timeZone}
            onChange={(timeZone) => set({ timeZone })}
            error={error('timeZone')}
            maw={420}
            data-testid="promotion-time-zone"
          />
          <SimpleGrid cols={{ base: 1, xs: 2 }} spacing="sm">
            <TextInput
              type="datetime-local"
              label={t('codes.form.startsAt')}
              value={draft.startsAt}
              onChange={(event) => set({ startsAt: event.currentTarget.value })}
              error={error('startsAt')}
              required
              data-testid="promotion-starts"
            />
            <TextInput
              type="datetime-local"
              label={t('codes.form.endsAt')}
              value={draft.endsAt}
              onChange={(event) => set({ endsAt: event.currentTarget.value })}
              error={error('endsAt')}
              required
              data-testid="promotion-ends"
            />
          </SimpleGrid>
        </Section>

        <Section title={t('codes.reward.title')} hint={t('codes.form.rewardHint')}>
          <SegmentedControl
            data={REWARD_KINDS.map((kind) => ({ value: kind, label: t(`codes.reward.kinds.${kind}`) }))}
            value={draft.rewardKind}
            onChange={(value) => set({ rewardKind: value as RewardKind })}
            orientation={phone ? 'vertical' : 'horizontal'}
            fullWidth
            styles={{ label: { whiteSpace: 'normal', lineHeight: 1.2 } }}
            data-testid="promotion-reward-kind"
          />
          {draft.rewardKind === 'points' && (
            <NumberInput
              label={t('codes.form.points')}
              description={t('codes.form.pointsHint')}
              inputWrapperOrder={['label', 'input', 'description', 'error']}
              value={draft.points}
              onChange={(points) => set({ points })}
              min={1}
              max={1_000_000}
              allowDecimal={false}
              error={error('points')}
              maw={240}
              data-testid="promotion-points"
            />
          )}
          {draft.rewardKind === 'draw_entry' && (
            <SimpleGrid cols={{ base: 1, xs: 2 }} spacing="sm">
              <TextInput
                label={t('codes.form.draw')}
                placeholder={t('codes.form.drawPlaceholder')}
                value={draft.draw}
                onChange={(event) => set({ draw: event.currentTarget.value })}
                error={error('draw')}
                maxLength={100}
              />
              <NumberInput
                label={t('codes.form.entries')}
                value={draft.entries}
                onChange={(entries) => set({ entries })}
                min={1}
                max={1000}
                allowDecimal={false}
                error={error('entries')}
              />
            </SimpleGrid>
          )}
          {draft.rewardKind === 'coupon' && (
            <SimpleGrid cols={{ base: 1, sm: 3 }} spacing="sm">
              <TextInput
                label={t('codes.form.offer')}
                placeholder={t('codes.form.offerPlaceholder')}
                value={draft.offer}
                onChange={(event) => set({ offer: event.currentTarget.value })}
                error={error('offer')}
                maxLength={100}
              />
              <TextInput
                label={t('codes.form.couponValue')}
                description={t('codes.form.optional')}
                inputWrapperOrder={['label', 'input', 'description', 'error']}
                placeholder="5.00"
                inputMode="decimal"
                value={draft.couponValue}
                onChange={(event) => set({ couponValue: event.currentTarget.value })}
                error={error('couponValue')}
              />
              <CurrencyInput
                label={t('workspaceForm.currency')}
                value={draft.couponCurrency}
                onChange={(couponCurrency) => set({ couponCurrency })}
              />
            </SimpleGrid>
          )}
          {draft.rewardKind === 'registration_only' && (
            <Text size="sm" c="dimmed">
              {t('codes.form.registrationOnlyHint')}
            </Text>
          )}
        </Section>

        <Section title={t('codes.limits')} hint={t('codes.form.limitsHint')}>
          <SimpleGrid cols={{ base: 1, sm: 3 }} spacing="sm">
            <LimitInput
              label={t('codes.form.perPersonPerDay')}
              value={draft.perPersonPerDay}
              onChange={(perPersonPerDay) => set({ perPersonPerDay })}
              max={10_000}
              testId="promotion-per-day"
            />
            <LimitInput
              label={t('codes.form.perPersonTotal')}
              value={draft.perPersonTotal}
              onChange={(perPersonTotal) => set({ perPersonTotal })}
              max={1_000_000}
              testId="promotion-per-promotion"
            />
            <LimitInput
              label={t('codes.form.budget')}
              hint={t('codes.form.budgetHint')}
              value={draft.budget}
              onChange={(budget) => set({ budget })}
              max={2_000_000_000}
              testId="promotion-budget"
            />
          </SimpleGrid>
          <NumberInput
            label={t('codes.form.guessesPerMinute')}
            description={t('codes.form.guessesPerMinuteHint')}
            inputWrapperOrder={['label', 'input', 'description', 'error']}
            value={draft.guessesPerMinute}
            onChange={(guessesPerMinute) => set({ guessesPerMinute })}
            min={1}
            max={100_000}
            allowDecimal={false}
            thousandSeparator={separator}
            maw={420}
          />
        </Section>

        <Group justify="flex-end">
          <Button variant="default" component={Link} to={promotion ? `/promo-codes/${promotion.id}` : '/promo-codes'}>
            {t('common.cancel')}
          </Button>
          <Button type="submit" loading={mutation.isPending} data-testid="promotion-submit">
            {promotion ? t('common.saveChanges') : t('codes.form.createSubmit')}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

function LimitInput({
  label,
  hint,
  value,
  onChange,
  max,
  testId,
}: {
  label: string;
  hint?: string;
  value: number | string;
  onChange: (value: number | string) => void;
  max: number;
  testId: string;
}) {
  const { t } = useTranslation();
  const separator = useThousandSeparator();
  return (
    <NumberInput
      label={label}
      description={hint ?? t('codes.form.emptyIsUnlimited')}
      inputWrapperOrder={['label', 'input', 'description', 'error']}
      placeholder={t('codes.unlimited')}
      value={value}
      onChange={onChange}
      min={1}
      max={max}
      allowDecimal={false}
      thousandSeparator={separator}
      data-testid={testId}
    />
  );
}
