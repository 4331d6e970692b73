import {
  Alert,
  Anchor,
  Badge,
  Button,
  Group,
  Menu,
  Modal,
  NumberInput,
  SegmentedControl,
  Select,
  Stack,
  Table,
  Text,
  Textarea,
  TextInput,
} from '@mantine/core';
import { IconBan, IconDots, IconLockOpen, IconPlus, IconReplace } from '@tabler/icons-react';
import { type FormEvent, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import type { Card, Programme } from '../../../../src/modules/loyalty/loyalty.schemas.ts';
import { newIdempotencyKey, useAdjustPoints, useCardAction, useIssueCard } from '../../api/loyalty.ts';
import { EmptyTableRow } from '../../components/ListStates.tsx';
import { notifyProblem, notifySuccess, ProblemAlert } from '../../components/ProblemAlert.tsx';
import { useCan } from '../../components/RequirePermission.tsx';
import { formatPoints, useThousandSeparator } from '../../lib/money.ts';
import { useIsPhone } from '../../lib/useIsPhone.ts';
import { useWorkspaceClock } from '../../lib/useWorkspaceClock.ts';
import { CARD_STATUS_COLOR, formatCardNumber, useLanguage, walletName } from './MemberParts.tsx';

/** A member's cards with what the till may do to them: block (lost), unblock, replace (new number, same balance). */
export function CardsTable({ cards }: { cards: Card[] }) {
  const { t } = useTranslation();
  const { format } = useWorkspaceClock();
  const phone = useIsPhone();
  const canOperate = useCan('loyalty:operate');
  const [acting, setActing] = useState<{ card: Card; action: 'block' | 'replace' } | null>(null);
  const unblock = useCardAction();
  return (
    <>
      <Table verticalSpacing="xs" data-testid="card-table">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t('loyalty.cards.number')}</Table.Th>
            {!phone && <Table.Th>{t('loyalty.cards.issued')}</Table.Th>}
            {!phone && <Table.Th>{t('loyalty.cards.status')}</Table.Th>}
            {canOperate && <Table.Th w={44} />}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {cards.length === 0 && <EmptyTableRow columns={4} message={t('loyalty.cards.empty')} />}
          {cards.map((card) => (
            <Table.Tr key={card.id} data-testid="card-row" data-number={card.number} data-status={card.status}>
              <Table.Td>
                <Anchor
                  component={Link}
                  to={`/loyalty?card=${card.number}`}
                  size="sm"
                  ff="monospace"
                  style={{ whiteSpace: 'nowrap' }}
                >
                  {formatCardNumber(card.number)}
                </Anchor>
                <Text size="xs" c="dimmed">
                  {t(`loyalty.cards.kinds.${card.kind}`)}
                  {phone ? ` · ${format(card.issuedAt)}` : ''}
                </Text>
                {phone && <CardStatus card={card} cards={cards} />}
              </Table.Td>
              {!phone && (
                <Table.Td>
                  <Text size="sm" style={{ whiteSpace: 'nowrap' }}>
                    {format(card.issuedAt)}
                  </Text>
                </Table.Td>
              )}
              {!phone && (
                <Table.Td>
                  <CardStatus card={card} cards={cards} />
                </Table.Td>
              )}
              {canOperate && (
                <Table.Td>
                  {card.status !== 'replaced' && (
                    <Menu position="bottom-end" withinPortal shadow="md">
                      <Menu.Target>
                        <Button
                          size="xs"
                          variant="subtle"
                          color="gray"
                          px={6}
                          aria-label={t('loyalty.cards.actions')}
                          data-testid="card-menu"
                        >
                          <IconDots size={16} />
                        </Button>
                      </Menu.Target>
                      <Menu.Dropdown>
                        {card.status === 'active' ? (
                          <Menu.Item
                            color="red"
                            leftSection={<IconBan size={14} />}
                            onClick={() => setActing({ card, action: 'block' })}
                            data-testid="card-block"
                          >
                            {t('loyalty.cards.block')}
                          </Menu.Item>
                        ) : (
                          <Menu.Item
                            leftSection={<IconLockOpen size={14} />}
                            onClick={() =>
                              unblock.mutate(
                                { action: 'unblock', number: card.number },
                                {
                                  onSuccess: () => notifySuccess(t('loyalty.cards.unblocked')),
                                  onError: (error) => notifyProblem(error, t),
                                },
                              )
                            }
                            data-testid="card-unblock"
                          >
                            {t('loyalty.cards.unblock')}
                          </Menu.Item>
                        )}
                        <Menu.Item
                          leftSection={<IconReplace size={14} />}
                          onClick={() => setActing({ card, action: 'replace' })}
                          data-testid="card-replace"
                        >
                          {t('loyalty.cards.replace')}
                        </Menu.Item>
                      </Menu.Dropdown>
                    </Menu>
                  )}
                </Table.Td>
              )}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {acting && <CardActionModal card={acting.card} action={acting.action} onClose={() => setActing(null)} />}
    </>
  );
}

function CardActionModal({ card, action, onClose }: { card: Card; action: 'block' | 'replace'; onClose: () => void }) {
  const { t } = useTranslation();
  const mutation = useCardAction();
  const [reason, setReason] = useState('');
  const [newNumber, setNewNumber] = useState('');
  const valid = reason.trim().length >= 3;
  function submit(event: FormEvent) {
    event.preventDefault();
    if (!valid) return;
    mutation.mutate(
      action === 'block'
        ? { action, number: card.number, reason: reason.trim() }
        : {
            action,
            number: card.number,
            reason: reason.trim(),
            newNumber: newNumber.replace(/[\s-]/g, '') || undefined,
          },
      {
        onSuccess: (result) => {
          notifySuccess(
            action === 'block'
              ? t('loyalty.cards.blocked')
              : t('loyalty.cards.replaced', { number: formatCardNumber(result.number) }),
          );
          onClose();
        },
      },
    );
  }
  return (
    <Modal
      opened
      onClose={mutation.isPending ? () => {} : onClose}
      title={action === 'block' ? t('loyalty.cards.blockTitle') : t('loyalty.cards.replaceTitle')}
      centered
    >
      <form onSubmit={submit} noValidate data-testid="card-action-form">
        <Stack gap="md">
          <Text size="sm">
            {action === 'block' ? t('loyalty.cards.blockText') : t('loyalty.cards.replaceText')}{' '}
            <Text span ff="monospace" fw={600}>
              {formatCardNumber(card.number)}
            </Text>
          </Text>
          {mutation.error ? <ProblemAlert error={mutation.error} /> : null}
          <TextInput
            label={t('loyalty.cards.reason')}
            placeholder={t('loyalty.cards.reasonPlaceholder')}
            value={reason}
            onChange={(event) => setReason(event.currentTarget.value)}
            maxLength={200}
            required
            data-testid="card-action-reason"
          />
          {action === 'replace' && (
            <TextInput
              label={t('loyalty.cards.newNumber')}
              description={t('loyalty.cards.newNumberHint')}
              inputWrapperOrder={['label', 'input', 'description', 'error']}
              value={newNumber}
              onChange={(event) => setNewNumber(event.currentTarget.value)}
              inputMode="numeric"
              styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
              data-testid="card-action-number"
            />
          )}
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose} disabled={mutation.isPending}>
              {t('common.cancel')}
            </Button>
            <Button
              type="submit"
              color={action === 'block' ? 'red' : undefined}
              loading={mutation.isPending}
              disabled={!valid}
              data-testid="card-action-submit"
            >
              {action === 'block' ? t('loyalty.cards.block') : t('loyalty.cards.replace')}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

/** Issues a card to a person: the next virtual number, or a pre-printed physical card's number. */
export function IssueCardButton({ programme, profileId }: { programme: Programme; profileId: string }) {
  const { t } = useTranslation();
  const [open, setOpen] = useState(false);
  if (!useCan('loyalty:operate')) return null;
  return (
    <>
      <Button
        size="xs"
        variant="light"
        leftSection={<IconPlus size={14} />}
        onClick={() => setOpen(true)}
        data-testid="card-issue"
      >
        {t('loyalty.cards.issue')}
      </Button>
      {open && <IssueCardModal programme={programme} profileId={profileId} onClose={() => setOpen(false)} />}
    </>
  );
}

function IssueCardModal({
  programme,
  profileId,
  onClose,
}: {
  programme: Programme;
  profileId: string;
  onClose: () => void;
}) {
  const { t } = useTranslation();
  const mutation = useIssueCard(programme.key);
  const [kind, setKind] = useState<'virtual' | 'physical'>('virtual');
  const [number, setNumber] = useState('');
  const [key] = useState(() => newIdempotencyKey('card'));
  function submit(event: FormEvent) {
    event.preventDefault();
    const digits = number.replace(/[\s-]/g, '');
    if (kind === 'physical' && !/^\d{8,19}$/.test(digits)) return;
    mutation.mutate(
      kind === 'physical'
        ? { kind, number: digits, profileId, idempotencyKey: `${key}-${digits}` }
        : { kind, profileId, idempotencyKey: key },
      {
        onSuccess: (card) => {
          notifySuccess(t('loyalty.cards.issuedNotice', { number: formatCardNumber(card.number) }));
          onClose();
        },
      },
    );
  }
  return (
    <Modal opened onClose={mutation.isPending ? () => {} : onClose} title={t('loyalty.cards.issueTitle')} centered>
      <form onSubmit={submit} noValidate data-testid="card-issue-form">
        <Stack gap="md">
          {mutation.error ? <ProblemAlert error={mutation.error} /> : null}
          <SegmentedControl
            value={kind}
            onChange={(value) => setKind(value as 'virtual' | 'physical')}
            data={[
              { value: 'virtual', label: t('loyalty.cards.kinds.virtual') },
              { value: 'physical', label: t('loyalty.cards.kinds.physical') },
            ]}
            fullWidth
          />
          <Text size="sm" c="dimmed">
            {kind === 'virtual' ? t('loyalty.cards.issueVirtualHint') : t('loyalty.cards.issuePhysicalHint')}
          </Text>
          {kind === 'physical' && (
            <TextInput
              label={t('loyalty.cards.number')}
              value={number}
              onChange={(event) => setNumber(event.currentTarget.value)}
              inputMode="numeric"
              styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
              data-testid="card-issue-number"
            />
          )}
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose} disabled={mutation.isPending}>
              {t('common.cancel')}
            </Button>
            <Button type="submit" loading={mutation.isPending} data-testid="card-issue-submit">
              {t('loyalty.cards.issueSubmit')}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

/** A manual credit or debit with its reason (loyalty:manage; the API audits it and writes the reason in the ledger). */
export function AdjustPointsButton({ programme, profileId }: { programme: Programme; profileId: string }) {
  const { t } = useTranslation();
  const [open, setOpen] = useState(false);
  if (!useCan('loyalty:manage')) return null;
  return (
    <>
      <Button size="xs" variant="default" onClick={() => setOpen(true)} data-testid="adjust-open">
        {t('loyalty.adjust.open')}
      </Button>
      {open && <AdjustModal programme={programme} profileId={profileId} onClose={() => setOpen(false)} />}
    </>
  );
}

function AdjustModal({
  programme,
  profileId,
  onClose,
}: {
  programme: Programme;
  profileId: string;
  onClose: () => void;
}) {
  const { t } = useTranslation();
  const language = useLanguage();
  const mutation = useAdjustPoints(programme.key);
  const separator = useThousandSeparator();
  const [direction, setDirection] = useState<'credit' | 'debit'>('credit');
  const [wallet, setWallet] = useState(programme.settings.wallets[0]?.key ?? 'points');
  const [points, setPoints] = useState<number | string>('');
  const [reason, setReason] = useState('');
  const [key, setKey] = useState(() => newIdempotencyKey('adjust'));
  const amount = typeof points === 'number' ? points : 0;
  const threshold = programme.settings.adjustmentApprovalThreshold;
  const valid = amount >= 1 && reason.trim().length >= 3;
  // A changed request is a new operation: it gets a new key (a retry of the same one keeps it).
  const change =
    <T,>(setter: (value: T) => void) =>
    (value: T) => {
      setter(value);
      setKey(newIdempotencyKey('adjust'));
    };
  function submit(event: FormEvent) {
    event.preventDefault();
    if (!valid) return;
    mutation.mutate(
      {
        customer: { profileId },
        wallet,
        points: direction === 'credit' ? amount : -amount,
        reason: reason.trim(),
        idempotencyKey: key,
      },
      {
        onSuccess: (answer) => {
          // Above the approval threshold the answer is a pending request, not a transaction.
          if ('status' in answer && answer.status === 'pending') notifySuccess(t('loyalty.approvals.requested'));
          else
            notifySuccess(
              t(direction === 'credit' ? 'loyalty.adjust.credited' : 'loyalty.adjust.debited', {
                n: formatPoints(amount, language),
              }),
            );
          onClose();
        },
      },
    );
  }
  return (
    <Modal opened onClose={mutation.isPending ? () => {} : onClose} title={t('loyalty.adjust.title')} centered>
      <form onSubmit={submit} noValidate data-testid="adjust-form">
        <Stack gap="md">
          <Text size="sm" c="dimmed">
            {t('loyalty.adjust.hint')}
          </Text>
          {mutation.error ? <ProblemAlert error={mutation.error} /> : null}
          <SegmentedControl
            value={direction}
            onChange={change((value: string) => setDirection(value as 'credit' | 'debit'))}
            data={[
              { value: 'credit', label: t('loyalty.adjust.credit') },
              { value: 'debit', label: t('loyalty.adjust.debit') },
            ]}
            fullWidth
            data-testid="adjust-direction"
          />
          <Group grow align="flex-start">
            <NumberInput
              label={t('loyalty.ledger.points')}
              value={points}
              onChange={change(setPoints)}
              min={1}
              max={1_000_000_000}
              allowDecimal={false}
              allowNegative={false}
              thousandSeparator={separator}
              data-testid="adjust-points"
            />
            {programme.settings.wallets.length > 1 && (
              <Select
                label={t('loyalty.wallet')}
                data={programme.settings.wallets.map((w) => ({ value: w.key, label: walletName(programme, w.key) }))}
                value={wallet}
                onChange={change((value: string | null) => value && setWallet(value))}
                allowDeselect={false}
                comboboxProps={{ withinPortal: true }}
              />
            )}
          </Group>
          <Textarea
            label={t('loyalty.adjust.reason')}
            description={t('loyalty.adjust.reasonHint')}
            inputWrapperOrder={['label', 'input', 'description', 'error']}
            value={reason}
            onChange={(event) => change(setReason)(event.currentTarget.value)}
            maxLength={300}
            autosize
            minRows={2}
            required
            data-testid="adjust-reason"
          />
          {threshold !== undefined && amount > threshold && (
            <Alert color="orange" variant="light" data-testid="adjust-needs-approval">
              {t('loyalty.approvals.willNeedApproval', { n: formatPoints(threshold, language) })}
            </Alert>
          )}
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose} disabled={mutation.isPending}>
              {t('common.cancel')}
            </Button>
            <Button
              type="submit"
              color={direction === 'debit' ? 'red' : undefined}
              loading={mutation.isPending}
              disabled={!valid}
              data-testid="adjust-submit"
            >
              {direction === 'credit' ? t('loyalty.adjust.submitCredit') : t('loyalty.adjust.submitDebit')}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

/** `replacedBy` is the id of the card that took over; people know it by its number. */
export function replacementNumber(card: Card, cards: Card[]): string | null {
  if (!card.replacedBy) return null;
  return cards.find((other) => other.id === card.replacedBy || other.number === card.replacedBy)?.number ?? null;
}

function CardStatus({ card, cards }: { card: Card; cards: Card[] }) {
  const { t } = useTranslation();
  const replacement = replacementNumber(card, cards);
  return (
    <>
      <Badge variant="light" color={CARD_STATUS_COLOR[card.status]}>
        {t(`loyalty.cards.statuses.${card.status}`)}
      </Badge>
      {card.statusReason && (
        <Text size="xs" c="dimmed" style={{ wordBreak: 'break-word' }}>
          {card.statusReason}
        </Text>
      )}
      {replacement && (
        <Text size="xs" c="dimmed">
          {t('loyalty.cards.replacedBy', { number: formatCardNumber(replacement) })}
        </Text>
      )}
    </>
  );
}
