import { Alert, Anchor, Badge, Button, Group, Paper, Stack, Text, TextInput, Title } from '@mantine/core';
import { IconAlertTriangle, IconArrowRight, IconCreditCard, IconSearch } from '@tabler/icons-react';
import { type FormEvent, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useSearchParams } from 'react-router';
import type { Programme } from '../../../../src/modules/loyalty/loyalty.schemas.ts';
import { type CardLookup, useCardLookup } from '../../api/loyalty.ts';
import { LoadingBlock } from '../../components/ListStates.tsx';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { useCan } from '../../components/RequirePermission.tsx';
import { replacementNumber } from './CardActions.tsx';
import { CouponTill } from './CouponTill.tsx';
import { useProgramme } from './LoyaltyLayout.tsx';
import { TierBadge, useCustomerName } from './MemberPage.tsx';
import { BalanceCards, CARD_STATUS_COLOR, formatCardNumber } from './MemberParts.tsx';
import { PurchaseForm } from './PurchaseForm.tsx';

const digitsOf = (text: string) => text.replace(/[\s-]/g, '');

/** The operator's screen: find a customer by card number, see the balance and tier, register a purchase. */
export function TillPage() {
  const { t } = useTranslation();
  const programme = useProgramme();
  const [params, setParams] = useSearchParams();
  const card = params.get('card');
  const [text, setText] = useState(card ? formatCardNumber(card) : '');
  const lookup = useCardLookup(card);
  const valid = /^\d{8,19}$/.test(digitsOf(text));
  useEffect(() => {
    if (card) setText(formatCardNumber(card));
  }, [card]);

  function submit(event: FormEvent) {
    event.preventDefault();
    if (!valid) return;
    const number = digitsOf(text);
    if (number === card) void lookup.refetch();
    else setParams({ card: number });
  }

  return (
    <Stack gap="lg">
      <Paper withBorder radius="md" p={{ base: 'md', sm: 'lg' }}>
        <form onSubmit={submit} noValidate data-testid="till-lookup">
          <Stack gap="xs">
            <Title order={4}>{t('loyalty.till.lookupTitle')}</Title>
            <Group gap="sm" align="flex-start" wrap="wrap">
              <TextInput
                value={text}
                onChange={(event) => setText(event.currentTarget.value)}
                placeholder={t('loyalty.till.cardPlaceholder')}
                aria-label={t('loyalty.till.cardNumber')}
                leftSection={<IconCreditCard size={18} />}
                inputMode="numeric"
                autoComplete="off"
                size="md"
                error={text && !valid ? t('loyalty.till.cardInvalid') : undefined}
                style={{ flex: '1 1 260px', maxWidth: 420 }}
                styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)', letterSpacing: 1 } }}
                data-testid="till-card"
              />
              <Button
                type="submit"
                size="md"
                leftSection={<IconSearch size={18} />}
                disabled={!valid}
                loading={lookup.isFetching}
                data-testid="till-find"
              >
                {t('loyalty.till.find')}
              </Button>
            </Group>
            <Text size="xs" c="dimmed">
              {t('loyalty.till.lookupHint')}
            </Text>
          </Stack>
        </form>
      </Paper>
      {card &&
        (lookup.isPending ? (
          <LoadingBlock />
        ) : lookup.isError ? (
          <ProblemAlert error={lookup.error} />
        ) : (
          <Customer programme={programme} found={lookup.data} />
        ))}
      <CouponTill programme={programme} />
    </Stack>
  );
}

function Customer({ programme, found }: { programme: Programme; found: CardLookup }) {
  const { t } = useTranslation();
  const canOperate = useCan('loyalty:operate');
  const { card, member } = found;
  const name = useCustomerName(member.profileId);
  const otherProgramme = card.programme !== programme.key;
  const replacement = replacementNumber(card, member.cards);
  return (
    <Stack gap="md" data-testid="till-customer" data-profile-id={member.profileId}>
      <Paper withBorder radius="md" p={{ base: 'md', sm: 'lg' }}>
        <Group justify="space-between" align="flex-start" gap="sm">
          <Stack gap={4} style={{ flex: '1 1 260px', minWidth: 0 }}>
            <Group gap="sm" wrap="wrap">
              <Title order={3} style={{ wordBreak: 'break-word' }} data-testid="till-customer-name">
                {name ?? t('loyalty.member.title')}
              </Title>
              <TierBadge tier={member.tier} />
            </Group>
            <Group gap="xs" wrap="wrap">
              <Text size="sm" ff="monospace" data-testid="till-card-number">
                {formatCardNumber(card.number)}
              </Text>
              <Badge variant="light" color={CARD_STATUS_COLOR[card.status]} data-testid="till-card-status">
                {t(`loyalty.cards.statuses.${card.status}`)}
              </Badge>
            </Group>
          </Stack>
          <Button
            component={Link}
            to={`/loyalty/members/${member.profileId}?programme=${card.programme}`}
            variant="default"
            size="xs"
            rightSection={<IconArrowRight size={14} />}
            data-testid="till-member-link"
          >
            {t('loyalty.till.memberCard')}
          </Button>
        </Group>
      </Paper>
      {card.status === 'blocked' && (
        <Alert
          color="red"
          variant="light"
          icon={<IconAlertTriangle size={18} />}
          title={t('loyalty.till.blockedTitle')}
        >
          {t('loyalty.till.blockedText')} {card.statusReason ? `(${card.statusReason})` : ''}
        </Alert>
      )}
      {card.status === 'replaced' && (
        <Alert color="yellow" variant="light" icon={<IconAlertTriangle size={18} />} data-testid="till-replaced">
          {replacement ? (
            <>
              {t('loyalty.till.replacedText')}{' '}
              <Anchor component={Link} to={`/loyalty?card=${replacement}`} ff="monospace">
                {formatCardNumber(replacement)}
              </Anchor>
            </>
          ) : (
            t('loyalty.till.replacedNoSuccessor')
          )}
        </Alert>
      )}
      {otherProgramme ? (
        <Alert color="yellow" variant="light">
          {t('loyalty.till.otherProgramme', { programme: card.programme })}
        </Alert>
      ) : (
        <>
          <div data-testid="till-balances">
            <BalanceCards balances={member.balances} programme={programme} />
          </div>
          {canOperate && card.status === 'active' && <PurchaseForm programme={programme} card={card.number} />}
        </>
      )}
    </Stack>
  );
}
