import { Badge, Group, Paper, SimpleGrid, Table, Text, Title, Tooltip } from '@mantine/core';
import { IconClockHour4 } from '@tabler/icons-react';
import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import type { Balance, Card, LedgerEntry, Member, Programme } from '../../../../src/modules/loyalty/loyalty.schemas.ts';
import { useLedger, useRules } from '../../api/loyalty.ts';
import { EmptyTableRow, LoadingBlock, LoadMore } from '../../components/ListStates.tsx';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { formatMinor, formatPoints } from '../../lib/money.ts';
import { useIsPhone } from '../../lib/useIsPhone.ts';
import { useWorkspaceClock } from '../../lib/useWorkspaceClock.ts';

export function useLanguage() {
  const { i18n } = useTranslation();
  return i18n.resolvedLanguage === 'ru' ? 'ru-RU' : 'en-GB';
}

/** A wallet's name as the programme calls it; its key when the programme no longer lists it. */
export function walletName(programme: Programme, key: string): string {
  return programme.settings.wallets.find((w) => w.key === key)?.name ?? key;
}

export const CARD_STATUS_COLOR: Record<Card['status'], string> = { active: 'green', blocked: 'red', replaced: 'gray' };

export function Section({
  title,
  actions,
  children,
  testId,
}: {
  title: string;
  actions?: ReactNode;
  children: ReactNode;
  testId?: string;
}) {
  return (
    <Paper withBorder radius="md" p={{ base: 'md', sm: 'lg' }} data-testid={testId}>
      <Group justify="space-between" mb="sm" gap="xs">
        <Title order={4}>{title}</Title>
        {actions}
      </Group>
      {children}
    </Paper>
  );
}

/** Balances by wallet: what can be spent now, big; pending (still in the return window) and the total beside it. */
export function BalanceCards({ balances, programme }: { balances: Balance[]; programme: Programme }) {
  const { t } = useTranslation();
  const language = useLanguage();
  return (
    <SimpleGrid cols={{ base: 1, xs: Math.min(2, balances.length), md: Math.min(3, balances.length) }} spacing="sm">
      {balances.map((balance) => {
        const wallet = programme.settings.wallets.find((w) => w.key === balance.wallet);
        return (
          <Paper
            key={balance.wallet}
            withBorder
            radius="md"
            p="md"
            data-testid="balance-card"
            data-wallet={balance.wallet}
            data-available={balance.available}
            data-pending={balance.pending}
            data-total={balance.total}
          >
            <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
              {walletName(programme, balance.wallet)}
            </Text>
            <Group gap={6} align="baseline" wrap="wrap">
              <Text fz={32} fw={700} lh={1.2} data-testid="balance-available">
                {formatPoints(balance.available, language)}
              </Text>
              <Text size="sm" c="dimmed">
                {t('loyalty.balance.available')}
              </Text>
            </Group>
            {wallet && wallet.valueMinor > 0 && balance.available > 0 && (
              <Text size="xs" c="dimmed">
                ≈ {formatMinor(balance.available * wallet.valueMinor, programme.currency, language)}
              </Text>
            )}
            <Group gap="md" mt={6}>
              <Text size="sm" data-testid="balance-pending">
                <IconClockHour4 size={14} style={{ verticalAlign: -2, marginRight: 4 }} />
                {t('loyalty.balance.pending', { n: formatPoints(balance.pending, language) })}
              </Text>
              <Text size="sm" c="dimmed">
                {t('loyalty.balance.total', { n: formatPoints(balance.total, language) })}
              </Text>
            </Group>
            {balance.expired > 0 && (
              <Text size="xs" c="orange" mt={4}>
                {t('loyalty.balance.expired', { n: formatPoints(balance.expired, language) })}
              </Text>
            )}
          </Paper>
        );
      })}
    </SimpleGrid>
  );
}

/** Open lots, oldest first (the order points are spent in), with when they become spendable and expire. */
export function LotsTable({ member, programme }: { member: Member; programme: Programme }) {
  const { t } = useTranslation();
  const { format } = useWorkspaceClock();
  const language = useLanguage();
  const phone = useIsPhone();
  const now = Date.now();
  const lots = member.lots.filter((lot) => lot.remaining > 0);
  return (
    <Table.ScrollContainer minWidth={phone ? 0 : 640}>
      <Table verticalSpacing="xs" data-testid="lot-table">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t('loyalty.lots.earned')}</Table.Th>
            {programme.settings.wallets.length > 1 && !phone && <Table.Th>{t('loyalty.wallet')}</Table.Th>}
            <Table.Th ta="right">{t('loyalty.lots.remaining')}</Table.Th>
            {!phone && <Table.Th>{t('loyalty.lots.spendable')}</Table.Th>}
            {!phone && <Table.Th>{t('loyalty.lots.expires')}</Table.Th>}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {lots.length === 0 && <EmptyTableRow columns={5} message={t('loyalty.lots.empty')} />}
          {lots.map((lot) => {
            const pending = Date.parse(lot.availableAt) > now;
            return (
              <Table.Tr key={lot.id} data-testid="lot-row" data-pending={pending || undefined}>
                <Table.Td>
                  <Text size="sm" style={{ whiteSpace: 'nowrap' }}>
                    {format(lot.earnedAt)}
                  </Text>
                  {phone && (
                    <Text size="xs" c={pending ? 'yellow.8' : 'teal.8'} fw={600}>
                      {pending ? t('loyalty.lots.from', { date: format(lot.availableAt) }) : t('loyalty.lots.now')}
                    </Text>
                  )}
                  {phone && lot.expiresAt && (
                    <Text size="xs" c="dimmed">
                      {t('loyalty.lots.expiresOn', { date: format(lot.expiresAt) })}
                    </Text>
                  )}
                </Table.Td>
                {programme.settings.wallets.length > 1 && !phone && (
                  <Table.Td>{walletName(programme, lot.wallet)}</Table.Td>
                )}
                <Table.Td ta="right">
                  <Text size="sm" fw={600} style={{ whiteSpace: 'nowrap' }}>
                    {formatPoints(lot.remaining, language)}
                  </Text>
                  {lot.remaining !== lot.amount && (
                    <Text size="xs" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
                      {t('loyalty.lots.ofAmount', { n: formatPoints(lot.amount, language) })}
                    </Text>
                  )}
                </Table.Td>
                {!phone && (
                  <Table.Td>
                    {pending ? (
                      <Badge variant="light" color="yellow">
                        {t('loyalty.lots.from', { date: format(lot.availableAt) })}
                      </Badge>
                    ) : (
                      <Badge variant="light" color="green">
                        {t('loyalty.lots.now')}
                      </Badge>
                    )}
                  </Table.Td>
                )}
                {!phone && (
                  <Table.Td>
                    <Text size="sm" style={{ whiteSpace: 'nowrap' }}>
                      {lot.expiresAt ? format(lot.expiresAt) : t('loyalty.lots.never')}
                    </Text>
                  </Table.Td>
                )}
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

const KIND_COLOR: Record<LedgerEntry['kind'], string> = {
  earn: 'teal',
  burn: 'indigo',
  expire: 'gray',
  adjust: 'grape',
  reverse: 'orange',
};

/** Every entry of the member's ledger, newest first, with why it was written. */
export function LedgerTable({ programme, profileId }: { programme: Programme; profileId: string }) {
  const { t } = useTranslation();
  const ledger = useLedger(programme.key, profileId);
  const rules = useRules(programme.key);
  const { format } = useWorkspaceClock();
  const language = useLanguage();
  const phone = useIsPhone();
  const ruleNames = new Map((rules.data?.items ?? []).map((rule) => [rule.id, rule.name]));
  const reasonOf = (entry: LedgerEntry) => {
    if (entry.reason) return entry.reason;
    if (entry.kind === 'earn' && entry.ruleId)
      return t('loyalty.ledger.byRule', { rule: ruleNames.get(entry.ruleId) ?? entry.ruleId.slice(-8) });
    return t(`loyalty.ledger.defaultReason.${entry.kind}`);
  };
  if (ledger.isPending) return <LoadingBlock />;
  if (ledger.isError) return <ProblemAlert error={ledger.error} />;
  return (
    <>
      <Table.ScrollContainer minWidth={phone ? 0 : 760}>
        <Table verticalSpacing="xs" data-testid="ledger-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t('loyalty.ledger.when')}</Table.Th>
              {!phone && <Table.Th>{t('loyalty.ledger.kind')}</Table.Th>}
              <Table.Th ta="right">{t('loyalty.ledger.points')}</Table.Th>
              {!phone && <Table.Th>{t('loyalty.ledger.reason')}</Table.Th>}
              {!phone && <Table.Th>{t('loyalty.ledger.by')}</Table.Th>}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {ledger.items.length === 0 && <EmptyTableRow columns={5} message={t('loyalty.ledger.empty')} />}
            {ledger.items.map((entry) => (
              <Table.Tr key={entry.id} data-testid="ledger-row" data-kind={entry.kind} data-amount={entry.amount}>
                <Table.Td>
                  <Text size="sm" style={{ whiteSpace: 'nowrap' }}>
                    {format(entry.occurredAt)}
                  </Text>
                  {phone && (
                    <Text size="xs" c="dimmed" style={{ wordBreak: 'break-word' }}>
                      {reasonOf(entry)}
                    </Text>
                  )}
                </Table.Td>
                {!phone && (
                  <Table.Td>
                    <Badge variant="light" color={KIND_COLOR[entry.kind]}>
                      {t(`loyalty.ledger.kinds.${entry.kind}`)}
                    </Badge>
                    {programme.settings.wallets.length > 1 && (
                      <Text size="xs" c="dimmed">
                        {walletName(programme, entry.wallet)}
                      </Text>
                    )}
                  </Table.Td>
                )}
                <Table.Td ta="right">
                  <Text size="sm" fw={600} c={entry.amount < 0 ? 'red' : 'teal'} style={{ whiteSpace: 'nowrap' }}>
                    {formatPoints(entry.amount, language, true)}
                  </Text>
                  {phone && (
                    <Text size="xs" c={KIND_COLOR[entry.kind]} style={{ whiteSpace: 'nowrap' }}>
                      {t(`loyalty.ledger.kinds.${entry.kind}`)}
                    </Text>
                  )}
                </Table.Td>
                {!phone && (
                  <Table.Td>
                    <Text size="sm" style={{ wordBreak: 'break-word' }}>
                      {reasonOf(entry)}
                    </Text>
                    {entry.transactionId && (
                      <Tooltip label={entry.transactionId} withArrow>
                        <Text size="xs" c="dimmed" ff="monospace" w="fit-content">
                          {t('loyalty.ledger.transaction', { id: entry.transactionId.slice(-8) })}
                        </Text>
                      </Tooltip>
                    )}
                  </Table.Td>
                )}
                {!phone && (
                  <Table.Td>
                    <Text size="xs" c="dimmed" style={{ wordBreak: 'break-word' }}>
                      {entry.recordedBy ?? '—'}
                    </Text>
                  </Table.Td>
                )}
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      <LoadMore
        hasMore={ledger.hasNextPage}
        loading={ledger.isFetchingNextPage}
        onLoad={() => void ledger.fetchNextPage()}
      />
    </>
  );
}

/** "7788 0000 0000 0011": card numbers read in groups of four. */
export function formatCardNumber(number: string): string {
  return number.replace(/(\d{4})(?=\d)/g, '$1 ');
}
