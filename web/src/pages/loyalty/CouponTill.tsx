import { Alert, Button, Group, Paper, Stack, Text, TextInput, Title } from '@mantine/core';
import { IconArrowBackUp, IconCheck, IconTicket, IconX } from '@tabler/icons-react';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { CouponUse, CouponValidity } from '../../../../src/modules/loyalty/loyalty.rewards.schemas.ts';
import type { Programme } from '../../../../src/modules/loyalty/loyalty.schemas.ts';
import { newIdempotencyKey, useRedeemCoupon, useReverseCouponUse, useValidateCoupon } from '../../api/loyalty.ts';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { useCan } from '../../components/RequirePermission.tsx';
import { formatMinor, parseMajor } from '../../lib/money.ts';
import { useLanguage } from './MemberParts.tsx';

/**
 * The till's coupon box: check a code against the basket, take it (exactly once: a retried click reuses its
 * idempotency key), and give it back when the sale is cancelled. Unknown, used and expired codes look the same.
 */
export function CouponTill({ programme }: { programme: Programme }) {
  const { t } = useTranslation();
  const language = useLanguage();
  const canOperate = useCan('loyalty:operate');
  const validate = useValidateCoupon();
  const redeem = useRedeemCoupon();
  const reverse = useReverseCouponUse();
  const [code, setCode] = useState('');
  const [basket, setBasket] = useState('');
  const [key, setKey] = useState(() => newIdempotencyKey('coupon'));
  const [used, setUsed] = useState<CouponUse | null>(null);
  if (!canOperate) return null;
  const basketMinor = parseMajor(basket, programme.currency);
  const ready = code.trim().length > 0 && basketMinor !== undefined;
  const body = () => ({ code: code.trim(), basketMinor: basketMinor ?? 0, currency: programme.currency });
  const money = (minor: number) => formatMinor(minor, programme.currency, language);

  return (
    <Paper withBorder radius="md" p={{ base: 'md', sm: 'lg' }} data-testid="coupon-till">
      <Stack gap="sm">
        <Group gap="xs">
          <IconTicket size={20} />
          <Title order={4}>{t('loyaltyRewards.coupon.title')}</Title>
        </Group>
        <Group gap="sm" align="flex-end" wrap="wrap">
          <TextInput
            label={t('loyaltyRewards.coupon.code')}
            value={code}
            onChange={(e) => {
              setCode(e.currentTarget.value);
              setKey(newIdempotencyKey('coupon'));
              validate.reset();
              redeem.reset();
            }}
            autoComplete="off"
            style={{ flex: '1 1 220px', maxWidth: 300 }}
            styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)', letterSpacing: 1 } }}
            data-testid="coupon-code"
          />
          <TextInput
            label={t('loyaltyRewards.coupon.basket', { currency: programme.currency })}
            value={basket}
            onChange={(e) => {
              setBasket(e.currentTarget.value);
              setKey(newIdempotencyKey('coupon'));
            }}
            inputMode="decimal"
            w={160}
            data-testid="coupon-basket"
          />
          <Button
            variant="default"
            disabled={!ready}
            loading={validate.isPending}
            onClick={() => validate.mutate(body())}
            data-testid="coupon-validate"
          >
            {t('loyaltyRewards.coupon.validate')}
          </Button>
          <Button
            disabled={!ready}
            loading={redeem.isPending}
            onClick={() =>
              redeem.mutate(
                { ...body(), idempotencyKey: key },
                {
                  onSuccess: (use) => {
                    setUsed(use);
                    validate.reset();
                  },
                },
              )
            }
            data-testid="coupon-redeem"
          >
            {t('loyaltyRewards.coupon.redeem')}
          </Button>
        </Group>
        {validate.data ? <Validity result={validate.data} money={money} /> : null}
        {validate.error ? <ProblemAlert error={validate.error} /> : null}
        {redeem.error ? <ProblemAlert error={redeem.error} /> : null}
        {reverse.error ? <ProblemAlert error={reverse.error} /> : null}
        {used ? (
          <Alert
            color={used.reversedAt ? 'gray' : 'green'}
            variant="light"
            icon={<IconCheck size={18} />}
            data-testid="coupon-used"
            title={
              used.reversedAt
                ? t('loyaltyRewards.coupon.reversed')
                : t('loyaltyRewards.coupon.taken', { amount: money(used.valueMinor) })
            }
          >
            <Group justify="space-between" gap="sm">
              <Text size="sm" ff="monospace">
                ••••{used.last4}
              </Text>
              {used.reversedAt ? null : (
                <Button
                  size="xs"
                  variant="subtle"
                  color="red"
                  leftSection={<IconArrowBackUp size={14} />}
                  loading={reverse.isPending}
                  onClick={() => reverse.mutate(used.useId, { onSuccess: setUsed })}
                  data-testid="coupon-reverse"
                >
                  {t('loyaltyRewards.coupon.reverse')}
                </Button>
              )}
            </Group>
          </Alert>
        ) : null}
      </Stack>
    </Paper>
  );
}

function Validity({ result, money }: { result: CouponValidity; money: (minor: number) => string }) {
  const { t } = useTranslation();
  if (result.valid)
    return (
      <Alert color="green" variant="light" icon={<IconCheck size={18} />} data-testid="coupon-valid">
        {t('loyaltyRewards.coupon.valid', { amount: money(result.valueMinor ?? 0) })}
      </Alert>
    );
  return (
    <Alert color="red" variant="light" icon={<IconX size={18} />} data-testid="coupon-invalid">
      {result.reason === 'BASKET_TOO_SMALL'
        ? t('loyaltyRewards.coupon.basketTooSmall', { amount: money(result.minBasketMinor ?? 0) })
        : result.reason === 'CURRENCY_MISMATCH'
          ? t('loyaltyRewards.coupon.otherCurrency')
          : t('loyaltyRewards.coupon.notValid')}
    </Alert>
  );
}
