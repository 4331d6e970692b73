import {
  ActionIcon,
  Alert,
  Box,
  Button,
  Group,
  NumberInput,
  Paper,
  SimpleGrid,
  Stack,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { IconCheck, IconPlus, IconReceipt, IconTrash } from '@tabler/icons-react';
import { type FormEvent, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { Programme, PurchaseCreate, TransactionResult } from '../../../../src/modules/loyalty/loyalty.schemas.ts';
import { newIdempotencyKey, useRegisterPurchase } from '../../api/loyalty.ts';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { formatMinor, formatPoints, parseMajor } from '../../lib/money.ts';
import { useIsPhone } from '../../lib/useIsPhone.ts';
import { useWorkspaceClock } from '../../lib/useWorkspaceClock.ts';
import { useLanguage, walletName } from './MemberParts.tsx';

interface DraftLine {
  id: number;
  sku: string;
  category: string;
  quantity: number | string;
  price: string;
}

let lineIds = 0;
const emptyLine = (): DraftLine => ({ id: ++lineIds, sku: '', category: '', quantity: 1, price: '' });

/** A receipt typed at the till: lines (SKU, category, quantity, unit price), sent once with an idempotency key. */
export function PurchaseForm({ programme, card }: { programme: Programme; card: string }) {
  const { t } = useTranslation();
  const language = useLanguage();
  const phone = useIsPhone();
  const mutation = useRegisterPurchase(programme.key);
  const [lines, setLines] = useState<DraftLine[]>(() => [emptyLine()]);
  const [receipt, setReceipt] = useState('');
  const [branch, setBranch] = useState('');
  const [key, setKey] = useState(() => newIdempotencyKey('purchase'));
  const [tried, setTried] = useState(false);
  const [result, setResult] = useState<TransactionResult | null>(null);

  // Any change makes it a different receipt, with its own key; resubmitting the same one reuses the key.
  const touch = () => {
    setKey(newIdempotencyKey('purchase'));
    setResult(null);
  };
  const setLine = (id: number, patch: Partial<DraftLine>) => {
    setLines((current) => current.map((line) => (line.id === id ? { ...line, ...patch } : line)));
    touch();
  };
  const priced = lines.map((line) => ({ line, price: parseMajor(line.price, programme.currency) }));
  const lineValid = (line: DraftLine, price: number | undefined) =>
    line.sku.trim() !== '' && typeof line.quantity === 'number' && line.quantity > 0 && price !== undefined;
  const valid = priced.every(({ line, price }) => lineValid(line, price));
  const total = priced.reduce(
    (sum, { line, price }) => sum + (price ?? 0) * (typeof line.quantity === 'number' ? line.quantity : 0),
    0,
  );

  function submit(event: FormEvent) {
    event.preventDefault();
    setTried(true);
    if (!valid) return;
    const body: PurchaseCreate = {
      customer: { card },
      currency: programme.currency,
      lines: priced.map(({ line, price }) => ({
        sku: line.sku.trim(),
        ...(line.category.trim() ? { category: line.category.trim() } : {}),
        quantity: Number(line.quantity),
        price: price ?? 0,
      })),
      pointsToSpend: 0,
      channel: 'pos',
      idempotencyKey: key,
      ...(receipt.trim() ? { externalId: receipt.trim() } : {}),
      ...(branch.trim() ? { branch: branch.trim() } : {}),
    };
    mutation.mutate(body, {
      onSuccess: (registered) => {
        setResult(registered);
        setLines([emptyLine()]);
        setReceipt('');
        setTried(false);
        setKey(newIdempotencyKey('purchase'));
      },
    });
  }

  return (
    <Paper withBorder radius="md" p={{ base: 'md', sm: 'lg' }}>
      <form onSubmit={submit} noValidate data-testid="purchase-form">
        <Stack gap="sm">
          <Group gap="xs">
            <IconReceipt size={20} />
            <Title order={4}>{t('loyalty.purchase.title')}</Title>
          </Group>
          {result && <PurchaseResult result={result} programme={programme} />}
          {mutation.error ? <ProblemAlert error={mutation.error} /> : null}
          <Stack gap={phone ? 'md' : 6}>
            {lines.map((line, index) => {
              const price = parseMajor(line.price, programme.currency);
              const amount = price !== undefined && typeof line.quantity === 'number' ? price * line.quantity : null;
              const showLabels = phone || index === 0;
              return (
                <Box
                  key={line.id}
                  data-testid="purchase-line"
                  style={
                    phone ? { borderBottom: '1px solid var(--mantine-color-gray-2)', paddingBottom: 12 } : undefined
                  }
                >
                  <Group gap="xs" align="flex-end" wrap={phone ? 'wrap' : 'nowrap'}>
                    <TextInput
                      label={showLabels ? t('loyalty.purchase.sku') : undefined}
                      aria-label={t('loyalty.purchase.sku')}
                      value={line.sku}
                      onChange={(event) => setLine(line.id, { sku: event.currentTarget.value })}
                      error={tried && line.sku.trim() === ''}
                      style={{ flex: phone ? '1 1 45%' : '2 1 0', minWidth: 0 }}
                      data-testid="purchase-sku"
                    />
                    <TextInput
                      label={showLabels ? t('loyalty.purchase.category') : undefined}
                      aria-label={t('loyalty.purchase.category')}
                      value={line.category}
                      onChange={(event) => setLine(line.id, { category: event.currentTarget.value })}
                      style={{ flex: phone ? '1 1 45%' : '2 1 0', minWidth: 0 }}
                      data-testid="purchase-category"
                    />
                    <NumberInput
                      label={showLabels ? t('loyalty.purchase.quantity') : undefined}
                      aria-label={t('loyalty.purchase.quantity')}
                      value={line.quantity}
                      onChange={(quantity) => setLine(line.id, { quantity })}
                      min={0}
                      decimalScale={3}
                      hideControls
                      error={tried && !(typeof line.quantity === 'number' && line.quantity > 0)}
                      style={{ flex: phone ? '1 1 25%' : '0 0 80px' }}
                      data-testid="purchase-quantity"
                    />
                    <TextInput
                      label={showLabels ? t('loyalty.purchase.price', { currency: programme.currency }) : undefined}
                      aria-label={t('loyalty.purchase.price', { currency: programme.currency })}
                      value={line.price}
                      onChange={(event) => setLine(line.id, { price: event.currentTarget.value })}
                      inputMode="decimal"
                      placeholder="0.00"
                      error={tried && price === undefined}
                      style={{ flex: phone ? '1 1 30%' : '0 0 120px' }}
                      data-testid="purchase-price"
                    />
                    <Text
                      size="sm"
                      ta="right"
                      style={{ flex: phone ? '1 1 20%' : '0 0 110px', alignSelf: 'center', whiteSpace: 'nowrap' }}
                      mt={showLabels && !phone ? 22 : 0}
                    >
                      {amount === null ? '—' : formatMinor(amount, programme.currency, language)}
                    </Text>
                    <ActionIcon
                      variant="subtle"
                      color="gray"
                      size="lg"
                      onClick={() => {
                        setLines((current) => current.filter((candidate) => candidate.id !== line.id));
                        touch();
                      }}
                      disabled={lines.length === 1}
                      aria-label={t('loyalty.purchase.removeLine')}
                    >
                      <IconTrash size={16} />
                    </ActionIcon>
                  </Group>
                </Box>
              );
            })}
          </Stack>
          <Group justify="space-between" wrap="wrap" gap="sm">
            <Button
              variant="subtle"
              size="xs"
              leftSection={<IconPlus size={14} />}
              onClick={() => {
                setLines((current) => [...current, emptyLine()]);
                touch();
              }}
              data-testid="purchase-add-line"
            >
              {t('loyalty.purchase.addLine')}
            </Button>
            <Text fw={600} data-testid="purchase-total">
              {t('loyalty.purchase.total', { amount: formatMinor(total, programme.currency, language) })}
            </Text>
          </Group>
          <SimpleGrid cols={{ base: 1, xs: 2 }} spacing="sm">
            <TextInput
              label={t('loyalty.purchase.receipt')}
              description={t('loyalty.optional')}
              inputWrapperOrder={['label', 'input', 'description', 'error']}
              value={receipt}
              onChange={(event) => {
                setReceipt(event.currentTarget.value);
                touch();
              }}
              maxLength={100}
            />
            <TextInput
              label={t('loyalty.purchase.branch')}
              description={t('loyalty.optional')}
              inputWrapperOrder={['label', 'input', 'description', 'error']}
              value={branch}
              onChange={(event) => {
                setBranch(event.currentTarget.value);
                touch();
              }}
              maxLength={60}
            />
          </SimpleGrid>
          <Group justify="flex-end">
            <Button type="submit" loading={mutation.isPending} data-testid="purchase-submit">
              {t('loyalty.purchase.submit')}
            </Button>
          </Group>
        </Stack>
      </form>
    </Paper>
  );
}

/** What the purchase earned, per wallet, and when pending points become spendable. */
function PurchaseResult({ result, programme }: { result: TransactionResult; programme: Programme }) {
  const { t } = useTranslation();
  const language = useLanguage();
  const { format } = useWorkspaceClock();
  const earned = new Map<string, number>();
  for (const e of result.earned) earned.set(e.wallet, (earned.get(e.wallet) ?? 0) + e.points);
  const total = [...earned.values()].reduce((sum, n) => sum + n, 0);
  return (
    <Alert
      color={total > 0 ? 'teal' : 'gray'}
      variant="light"
      icon={<IconCheck size={18} />}
      title={t('loyalty.purchase.registered')}
      data-testid="purchase-result"
      data-earned={total}
    >
      {total === 0 ? (
        <Text size="sm">{t('loyalty.purchase.nothingEarned')}</Text>
      ) : (
        [...earned].map(([wallet, points]) => {
          const pendingDays = programme.settings.wallets.find((w) => w.key === wallet)?.pendingDays ?? 0;
          const from = new Date(Date.now() + pendingDays * 86_400_000).toISOString();
          return (
            <Text key={wallet} size="sm" data-testid="purchase-earned" data-wallet={wallet}>
              <Text span fw={700} c="teal.8">
                {t('loyalty.purchase.earned', {
                  n: formatPoints(points, language, true),
                  wallet: walletName(programme, wallet),
                })}
              </Text>{' '}
              {pendingDays > 0
                ? t('loyalty.purchase.pendingUntil', { date: format(from) })
                : t('loyalty.purchase.spendableNow')}
            </Text>
          );
        })
      )}
    </Alert>
  );
}
