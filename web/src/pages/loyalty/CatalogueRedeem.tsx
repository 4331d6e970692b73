import {
  Alert,
  Badge,
  Button,
  Code,
  Group,
  SegmentedControl,
  Select,
  Stack,
  Table,
  Text,
  TextInput,
} from '@mantine/core';
import { IconGift, IconShieldCheck, IconTicket } from '@tabler/icons-react';
import { type FormEvent, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { Redemption, RedemptionRow } from '../../../../src/modules/loyalty/loyalty.rewards.schemas.ts';
import type { Member, Programme } from '../../../../src/modules/loyalty/loyalty.schemas.ts';
import {
  newIdempotencyKey,
  useCancelRedemption,
  useRedeemReward,
  useRedemptions,
  useRewards,
  useSendVerification,
} from '../../api/loyalty.ts';
import { EmptyTableRow } from '../../components/ListStates.tsx';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { useCan } from '../../components/RequirePermission.tsx';
import { formatMinor, formatPoints } from '../../lib/money.ts';
import { useWorkspaceClock } from '../../lib/useWorkspaceClock.ts';
import { rewardName } from './CataloguePage.tsx';
import { Section, useLanguage } from './MemberParts.tsx';

/**
 * The member card's rewards: redeem one with the same proof a till asks for when points are spent (a one-time code
 * sent to the customer's phone, or their card's QR token), and the rewards redeemed so far. A coupon's code is
 * shown once, here, right after the redemption (it also went to the customer's phone).
 */
export function RewardsPanel({ programme, member }: { programme: Programme; member: Member }) {
  const { t } = useTranslation();
  const canOperate = useCan('loyalty:operate');
  return (
    <Section title={t('loyaltyRewards.redeem.title')} testId="member-rewards">
      <Stack gap="md">
        {canOperate ? <RedeemForm programme={programme} member={member} /> : null}
        <RedemptionsTable programme={programme} profileId={member.profileId} canOperate={canOperate} />
      </Stack>
    </Section>
  );
}

function RedeemForm({ programme, member }: { programme: Programme; member: Member }) {
  const { t } = useTranslation();
  const language = useLanguage();
  const rewards = useRewards(programme.key);
  const send = useSendVerification(programme.key);
  const redeem = useRedeemReward(programme.key);
  const [rewardId, setRewardId] = useState<string | null>(null);
  const [method, setMethod] = useState<'code' | 'qr'>('code');
  const [code, setCode] = useState('');
  const [qr, setQr] = useState('');
  const [key, setKey] = useState(() => newIdempotencyKey('redeem'));
  const [done, setDone] = useState<Redemption | null>(null);
  const available = (rewards.data?.items ?? []).filter((r) => r.status === 'active');
  const chosen = available.find((r) => r.id === rewardId);
  const proofReady = method === 'code' ? Boolean(send.data) && /^\d{6}$/.test(code) : qr.trim().length >= 16;

  function submit(event: FormEvent) {
    event.preventDefault();
    if (!chosen || !proofReady) return;
    redeem.mutate(
      {
        rewardId: chosen.id,
        body: {
          customer: { profileId: member.profileId },
          verification: method === 'code' ? { id: send.data?.verificationId ?? '', code } : { qr: qr.trim() },
          idempotencyKey: key,
          channel: 'pos',
        },
      },
      {
        onSuccess: (result) => {
          setDone(result);
          setKey(newIdempotencyKey('redeem'));
          setCode('');
          setQr('');
          send.reset();
        },
      },
    );
  }

  return (
    <form onSubmit={submit} noValidate data-testid="redeem-form">
      <Stack gap="sm">
        {done ? <RedeemedAlert programme={programme} redemption={done} onClose={() => setDone(null)} /> : null}
        <Group align="flex-end" gap="sm" wrap="wrap">
          <Select
            label={t('loyaltyRewards.redeem.reward')}
            placeholder={t('loyaltyRewards.redeem.choose')}
            data={available.map((r) => ({
              value: r.id,
              label: `${rewardName(r, language)} — ${formatPoints(r.cost, language)}${r.stock === null ? '' : ` (${t('loyaltyRewards.redeem.left', { n: r.stock })})`}`,
              disabled: r.stock === 0,
            }))}
            value={rewardId}
            onChange={(v) => {
              setRewardId(v);
              setKey(newIdempotencyKey('redeem'));
            }}
            style={{ flex: '1 1 320px' }}
            comboboxProps={{ withinPortal: true }}
            data-testid="redeem-reward"
          />
          <SegmentedControl
            value={method}
            onChange={(v) => setMethod(v as 'code' | 'qr')}
            data={[
              { value: 'code', label: t('loyaltyRewards.redeem.byCode') },
              { value: 'qr', label: t('loyaltyRewards.redeem.byQr') },
            ]}
          />
        </Group>
        {method === 'code' ? (
          <Group align="flex-end" gap="sm" wrap="wrap">
            <Button
              variant="light"
              leftSection={<IconShieldCheck size={16} />}
              onClick={() => send.mutate({ profileId: member.profileId })}
              loading={send.isPending}
              data-testid="redeem-send-code"
            >
              {send.data ? t('loyaltyRewards.redeem.sendAgain') : t('loyaltyRewards.redeem.sendCode')}
            </Button>
            {send.data ? (
              <TextInput
                label={t('loyaltyRewards.redeem.codeSent', { phone: send.data.sentTo })}
                value={code}
                onChange={(e) => setCode(e.currentTarget.value.replace(/\D/g, '').slice(0, 6))}
                inputMode="numeric"
                autoComplete="one-time-code"
                w={220}
                data-testid="redeem-code"
              />
            ) : null}
          </Group>
        ) : (
          <TextInput
            label={t('loyaltyRewards.redeem.qr')}
            description={t('loyaltyRewards.redeem.qrHint')}
            value={qr}
            onChange={(e) => setQr(e.currentTarget.value)}
            autoComplete="off"
            maw={420}
            data-testid="redeem-qr"
          />
        )}
        {send.error ? <ProblemAlert error={send.error} /> : null}
        {redeem.error ? <ProblemAlert error={redeem.error} /> : null}
        <Group>
          <Button
            type="submit"
            leftSection={<IconGift size={16} />}
            disabled={!chosen || !proofReady}
            loading={redeem.isPending}
            data-testid="redeem-submit"
          >
            {chosen
              ? t('loyaltyRewards.redeem.submitFor', { points: formatPoints(chosen.cost, language) })
              : t('loyaltyRewards.redeem.submit')}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

function RedeemedAlert({
  programme,
  redemption,
  onClose,
}: {
  programme: Programme;
  redemption: Redemption;
  onClose: () => void;
}) {
  const { t } = useTranslation();
  const language = useLanguage();
  const coupon = redemption.coupon;
  return (
    <Alert
      color="green"
      variant="light"
      icon={<IconTicket size={18} />}
      title={t('loyaltyRewards.redeem.done', { points: formatPoints(redemption.points, language) })}
      withCloseButton
      onClose={onClose}
      data-testid="redeem-done"
    >
      {coupon?.code ? (
        <Stack gap={4}>
          <Text size="sm">
            {t('loyaltyRewards.redeem.couponIssued', {
              amount: formatMinor(coupon.valueMinor, coupon.currency || programme.currency, language),
            })}
          </Text>
          <Code fz="xl" fw={700} data-testid="redeem-coupon-code">
            {coupon.code}
          </Code>
          <Text size="xs" c="dimmed">
            {coupon.sentToPhone ? t('loyaltyRewards.redeem.onceSent') : t('loyaltyRewards.redeem.once')}
          </Text>
        </Stack>
      ) : (
        <Text size="sm">{t('loyaltyRewards.redeem.handOver')}</Text>
      )}
    </Alert>
  );
}

function RedemptionsTable({
  programme,
  profileId,
  canOperate,
}: {
  programme: Programme;
  profileId: string;
  canOperate: boolean;
}) {
  const { t } = useTranslation();
  const language = useLanguage();
  const { format } = useWorkspaceClock();
  const list = useRedemptions(programme.key, profileId);
  const [cancelling, setCancelling] = useState<RedemptionRow | null>(null);
  if (list.isError) return <ProblemAlert error={list.error} />;
  return (
    <Stack gap="xs">
      <Table.ScrollContainer minWidth={620}>
        <Table verticalSpacing="xs" data-testid="redemptions">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t('loyaltyRewards.redeem.when')}</Table.Th>
              <Table.Th>{t('loyaltyRewards.redeem.reward')}</Table.Th>
              <Table.Th ta="right">{t('loyaltyRewards.catalogue.cost')}</Table.Th>
              <Table.Th>{t('loyaltyRewards.redeem.coupon')}</Table.Th>
              <Table.Th>{t('loyaltyRewards.redeem.status')}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {(list.data?.items.length ?? 0) === 0 ? (
              <EmptyTableRow columns={5} message={t('loyaltyRewards.redeem.none')} />
            ) : (
              list.data?.items.map((r) => (
                <Table.Tr key={r.id} data-testid={`redemption-${r.id}`}>
                  <Table.Td>{format(r.redeemedAt)}</Table.Td>
                  <Table.Td>{r.rewardName}</Table.Td>
                  <Table.Td ta="right">{formatPoints(r.points, language)}</Table.Td>
                  <Table.Td>
                    {r.couponLast4 ? (
                      <Badge variant="outline" ff="monospace">
                        ••••{r.couponLast4}
                      </Badge>
                    ) : (
                      '—'
                    )}
                  </Table.Td>
                  <Table.Td>
                    {r.cancelledAt ? (
                      <Badge color="gray" variant="light" title={r.cancelReason ?? undefined}>
                        {t('loyaltyRewards.redeem.cancelledOn', { date: format(r.cancelledAt) })}
                      </Badge>
                    ) : r.couponUsed ? (
                      <Badge color="teal" variant="light">
                        {t('loyaltyRewards.redeem.couponUsed')}
                      </Badge>
                    ) : canOperate ? (
                      <Button
                        size="compact-xs"
                        variant="subtle"
                        color="red"
                        onClick={() => setCancelling(r)}
                        data-testid="redemption-cancel"
                      >
                        {t('loyaltyRewards.redeem.cancel')}
                      </Button>
                    ) : null}
                  </Table.Td>
                </Table.Tr>
              ))
            )}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      {cancelling ? (
        <CancelRedemption
          programme={programme}
          redemption={cancelling}
          onDone={() => setCancelling(null)}
          key={cancelling.id}
        />
      ) : null}
    </Stack>
  );
}

/** Asks for a reason and cancels: the points go back, the stock returns, the coupon becomes void. */
function CancelRedemption({
  programme,
  redemption,
  onDone,
}: {
  programme: Programme;
  redemption: RedemptionRow;
  onDone: () => void;
}) {
  const { t } = useTranslation();
  const language = useLanguage();
  const cancel = useCancelRedemption(programme.key);
  const [reason, setReason] = useState('');
  const [key] = useState(() => newIdempotencyKey('cancel-redemption'));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    cancel.mutate(
      {
        redemptionId: redemption.id,
        body: { idempotencyKey: key, channel: 'pos', ...(reason.trim() ? { reason: reason.trim() } : {}) },
      },
      { onSuccess: onDone },
    );
  };
  return (
    <Alert
      color="red"
      variant="light"
      title={t('loyaltyRewards.redeem.cancelTitle', { reward: redemption.rewardName })}
    >
      <form onSubmit={submit} data-testid="redemption-cancel-form">
        <Stack gap="xs">
          <Text size="sm">
            {t('loyaltyRewards.redeem.cancelExplain', { points: formatPoints(redemption.points, language) })}
          </Text>
          <TextInput
            label={t('loyaltyRewards.redeem.cancelReason')}
            value={reason}
            onChange={(e) => setReason(e.currentTarget.value)}
            maxLength={200}
          />
          {cancel.error ? <ProblemAlert error={cancel.error} /> : null}
          <Group gap="xs">
            <Button type="submit" color="red" size="xs" loading={cancel.isPending}>
              {t('loyaltyRewards.redeem.cancelConfirm')}
            </Button>
            <Button variant="default" size="xs" onClick={onDone}>
              {t('loyaltyRewards.redeem.cancelKeep')}
            </Button>
          </Group>
        </Stack>
      </form>
    </Alert>
  );
}
