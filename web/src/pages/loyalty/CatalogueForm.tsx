import { Button, Group, Modal, NumberInput, Select, SimpleGrid, Stack, Textarea, TextInput } from '@mantine/core';
import { type FormEvent, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { Club, Reward, RewardKind } from '../../../../src/modules/loyalty/loyalty.rewards.schemas.ts';
import type { Programme } from '../../../../src/modules/loyalty/loyalty.schemas.ts';
import { useSaveReward } from '../../api/loyalty.ts';
import { fieldErrorsOf, notifySuccess, ProblemAlert } from '../../components/ProblemAlert.tsx';
import { minorToMajor, parseMajor } from '../../lib/money.ts';

const KINDS: RewardKind[] = ['product', 'discount', 'prize', 'donation', 'coupon'];
const issuesCoupon = (kind: RewardKind) => kind === 'discount' || kind === 'coupon';
const numberOrNull = (v: string | number) => (v === '' || v === null ? null : Number(v));

/** Adds a reward or edits one: names in both languages, cost, stock (empty = unlimited), restrictions. */
export function RewardFormModal({
  programme,
  reward,
  clubs,
  onClose,
}: {
  programme: Programme;
  reward: Reward | null;
  clubs: Club[];
  onClose: () => void;
}) {
  const { t } = useTranslation();
  const save = useSaveReward(programme.key, reward?.id ?? null);
  const [kind, setKind] = useState<RewardKind>(reward?.kind ?? 'product');
  const [nameEn, setNameEn] = useState(reward?.nameEn ?? '');
  const [nameRu, setNameRu] = useState(reward?.nameRu ?? '');
  const [descriptionEn, setDescriptionEn] = useState(reward?.descriptionEn ?? '');
  const [descriptionRu, setDescriptionRu] = useState(reward?.descriptionRu ?? '');
  const [cost, setCost] = useState<string | number>(reward?.cost ?? 100);
  const [stock, setStock] = useState<string | number>(reward?.stock ?? '');
  const [limit, setLimit] = useState<string | number>(reward?.perMemberLimit ?? '');
  const [tier, setTier] = useState<string | null>(reward?.tier ?? null);
  const [clubId, setClubId] = useState<string | null>(reward?.clubId ?? null);
  const [imageUrl, setImageUrl] = useState(reward?.imageUrl ?? '');
  const [value, setValue] = useState(
    reward?.couponValueMinor ? minorToMajor(reward.couponValueMinor, programme.currency) : '',
  );
  const [validDays, setValidDays] = useState<string | number>(reward?.couponValidDays ?? 30);
  const [status, setStatus] = useState<Reward['status']>(reward?.status ?? 'active');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const serverErrors = fieldErrorsOf(save.error);
  const levels = programme.settings.tiers?.levels ?? [];

  function submit(event: FormEvent) {
    event.preventDefault();
    const found: Record<string, string> = {};
    if (!nameEn.trim()) found.nameEn = t('validation.required');
    if (!(Number(cost) >= 1)) found.cost = t('loyaltyRewards.form.costInvalid');
    if (imageUrl && !imageUrl.startsWith('https://')) found.imageUrl = t('loyaltyRewards.form.httpsOnly');
    const minor = value ? parseMajor(value, programme.currency) : undefined;
    if (issuesCoupon(kind) && !minor) found.couponValueMinor = t('loyaltyRewards.form.valueRequired');
    setErrors(found);
    if (Object.keys(found).length > 0) return;
    const body = {
      nameEn: nameEn.trim(),
      nameRu: nameRu.trim() || null,
      descriptionEn: descriptionEn.trim() || null,
      descriptionRu: descriptionRu.trim() || null,
      cost: Number(cost),
      stock: numberOrNull(stock),
      perMemberLimit: numberOrNull(limit),
      tier,
      clubId,
      imageUrl: imageUrl.trim() || null,
      couponValueMinor: issuesCoupon(kind) ? (minor ?? null) : null,
      couponValidDays: issuesCoupon(kind) ? numberOrNull(validDays) : null,
      status,
    };
    save.mutate(reward ? body : { ...body, kind, couponMinBasketMinor: 0 }, {
      onSuccess: () => {
        notifySuccess(t(reward ? 'loyaltyRewards.form.saved' : 'loyaltyRewards.form.created'));
        onClose();
      },
    });
  }

  return (
    <Modal
      opened
      onClose={onClose}
      size="lg"
      title={reward ? t('loyaltyRewards.form.editTitle') : t('loyaltyRewards.form.addTitle')}
    >
      <form onSubmit={submit} noValidate data-testid="reward-form">
        <Stack gap="sm">
          {save.error ? <ProblemAlert error={save.error} /> : null}
          <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm">
            <Select
              label={t('loyaltyRewards.catalogue.kind')}
              data={KINDS.map((k) => ({ value: k, label: t(`loyaltyRewards.kinds.${k}`) }))}
              value={kind}
              onChange={(v) => v && setKind(v as RewardKind)}
              disabled={Boolean(reward)}
              allowDeselect={false}
              data-testid="reward-kind"
            />
            <Select
              label={t('loyaltyRewards.catalogue.status')}
              data={(['active', 'draft', 'archived'] as const).map((s) => ({
                value: s,
                label: t(`loyaltyRewards.statuses.${s}`),
              }))}
              value={status}
              onChange={(v) => v && setStatus(v as Reward['status'])}
              allowDeselect={false}
            />
            <TextInput
              label={t('loyaltyRewards.form.nameEn')}
              value={nameEn}
              onChange={(e) => setNameEn(e.currentTarget.value)}
              error={errors.nameEn ?? serverErrors.nameEn}
              data-testid="reward-name-en"
            />
            <TextInput
              label={t('loyaltyRewards.form.nameRu')}
              value={nameRu}
              onChange={(e) => setNameRu(e.currentTarget.value)}
              error={serverErrors.nameRu}
              data-testid="reward-name-ru"
            />
            <Textarea
              label={t('loyaltyRewards.form.descriptionEn')}
              value={descriptionEn}
              onChange={(e) => setDescriptionEn(e.currentTarget.value)}
              autosize
              minRows={2}
            />
            <Textarea
              label={t('loyaltyRewards.form.descriptionRu')}
              value={descriptionRu}
              onChange={(e) => setDescriptionRu(e.currentTarget.value)}
              autosize
              minRows={2}
            />
            <NumberInput
              label={t('loyaltyRewards.form.cost')}
              min={1}
              allowDecimal={false}
              value={cost}
              onChange={setCost}
              error={errors.cost ?? serverErrors.cost}
              data-testid="reward-cost"
            />
            <NumberInput
              label={t('loyaltyRewards.form.stock')}
              description={t('loyaltyRewards.form.stockHint')}
              min={0}
              allowDecimal={false}
              value={stock}
              onChange={setStock}
              error={serverErrors.stock}
              data-testid="reward-stock-input"
            />
            <NumberInput
              label={t('loyaltyRewards.form.limit')}
              description={t('loyaltyRewards.form.limitHint')}
              min={1}
              allowDecimal={false}
              value={limit}
              onChange={setLimit}
              error={serverErrors.perMemberLimit}
            />
            <TextInput
              label={t('loyaltyRewards.form.imageUrl')}
              placeholder="https://"
              value={imageUrl}
              onChange={(e) => setImageUrl(e.currentTarget.value)}
              error={errors.imageUrl ?? serverErrors.imageUrl}
            />
            <Select
              label={t('loyaltyRewards.form.tier')}
              placeholder={t('loyaltyRewards.form.anyone')}
              data={levels.map((l) => ({ value: l.key, label: l.name }))}
              value={tier}
              onChange={setTier}
              clearable
              disabled={levels.length === 0}
            />
            <Select
              label={t('loyaltyRewards.form.club')}
              placeholder={t('loyaltyRewards.form.anyone')}
              data={clubs.map((c) => ({ value: c.id, label: c.nameEn }))}
              value={clubId}
              onChange={setClubId}
              clearable
              disabled={clubs.length === 0}
            />
            {issuesCoupon(kind) ? (
              <>
                <TextInput
                  label={t('loyaltyRewards.form.couponValue', { currency: programme.currency })}
                  value={value}
                  onChange={(e) => setValue(e.currentTarget.value)}
                  inputMode="decimal"
                  error={errors.couponValueMinor ?? serverErrors.couponValueMinor}
                  data-testid="reward-coupon-value"
                />
                <NumberInput
                  label={t('loyaltyRewards.form.validDays')}
                  min={1}
                  allowDecimal={false}
                  value={validDays}
                  onChange={setValidDays}
                />
              </>
            ) : null}
          </SimpleGrid>
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              {t('common.cancel')}
            </Button>
            <Button type="submit" loading={save.isPending} data-testid="reward-save">
              {t('loyaltyRewards.form.save')}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
