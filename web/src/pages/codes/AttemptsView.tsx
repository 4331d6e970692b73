import {
  Anchor,
  Badge,
  Button,
  Group,
  Paper,
  Select,
  SimpleGrid,
  Stack,
  Table,
  Text,
  TextInput,
  UnstyledButton,
} from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { IconFilterOff, IconUser } from '@tabler/icons-react';
import type { TFunction } from 'i18next';
import i18next from 'i18next';
import { useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useSearchParams } from 'react-router';
import { type Attempt, AttemptOutcome } from '../../../../src/modules/codes/codes.schemas.ts';
import { type AttemptFilters, useAttempts, usePromotions } from '../../api/codes.ts';
import { EmptyTableRow, LoadingBlock, LoadMore } from '../../components/ListStates.tsx';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { useCan } from '../../components/RequirePermission.tsx';
import { attemptReasonLabel } from '../../lib/codes.ts';
import { identityKindLabel } from '../../lib/customers.tsx';
import { useIsPhone } from '../../lib/useIsPhone.ts';
import { useWorkspaceClock } from '../../lib/useWorkspaceClock.ts';

export const OUTCOME_COLOR: Record<AttemptOutcome, string> = {
  accepted: 'teal',
  refused: 'red',
  typo: 'yellow',
  limited: 'gray',
};

export function codeChannelLabel(channel: string, t: TFunction): string {
  const key = `codes.channels.${channel}`;
  return i18next.exists(key) ? (t(key as never) as string) : channel;
}

/** Hashes are long and meaningless to people: the first eight characters tell them apart on screen. */
export function shortHash(hash: string): string {
  return hash.slice(0, 8);
}

/** The filters live in the address (a filtered view can be sent to a colleague); `promotion` is fixed on its page. */
export function useAttemptFilters(fixedPromotionId?: string) {
  const [params, setParams] = useSearchParams();
  const outcome = params.get('outcome');
  const filters: AttemptFilters = {
    promotionId: fixedPromotionId ?? params.get('promotion') ?? undefined,
    outcome: AttemptOutcome.safeParse(outcome).success ? (outcome as AttemptOutcome) : undefined,
    net: params.get('net') ?? undefined,
    identifierHash: params.get('identifier') ?? undefined,
    deviceHash: params.get('device') ?? undefined,
  };
  const setFilter = (name: 'promotion' | 'outcome' | 'net' | 'identifier' | 'device', value: string | null) =>
    setParams(
      (current) => {
        const next = new URLSearchParams(current);
        if (value) next.set(name, value);
        else next.delete(name);
        return next;
      },
      { replace: true },
    );
  const reset = () =>
    setParams(
      (current) => {
        const next = new URLSearchParams(current);
        for (const name of ['promotion', 'outcome', 'net', 'identifier', 'device']) next.delete(name);
        return next;
      },
      { replace: true },
    );
  return { filters, setFilter, reset };
}

/** The attempts behind the registrations, newest first, with filters by outcome, network, person and device. */
export function AttemptsView({ promotionId }: { promotionId?: string }) {
  const { t } = useTranslation();
  const { filters, setFilter, reset } = useAttemptFilters(promotionId);
  const attempts = useAttempts(filters, { poll: true });
  const promotions = usePromotions();
  const phone = useIsPhone();
  const names = new Map((promotions.data?.items ?? []).map((p) => [p.id, p.name]));
  const filtered = Boolean(
    (!promotionId && filters.promotionId) ||
      filters.outcome ||
      filters.net ||
      filters.identifierHash ||
      filters.deviceHash,
  );
  const showPromotion = !promotionId && !phone;

  return (
    <Stack gap="md">
      <Paper withBorder radius="md" p="sm" data-testid="attempt-filters">
        <SimpleGrid cols={{ base: 2, md: promotionId ? 4 : 5 }} spacing="sm">
          {!promotionId && (
            <Select
              label={t('codes.promotion')}
              placeholder={t('codes.fraud.anyPromotion')}
              data={(promotions.data?.items ?? []).map((p) => ({ value: p.id, label: p.name }))}
              value={filters.promotionId ?? null}
              onChange={(value) => setFilter('promotion', value)}
              clearable
              searchable
              comboboxProps={{ withinPortal: true }}
              data-testid="attempt-filter-promotion"
            />
          )}
          <Select
            label={t('codes.fraud.outcome')}
            placeholder={t('codes.fraud.anyOutcome')}
            data={AttemptOutcome.options.map((value) => ({ value, label: t(`codes.outcomes.${value}`) }))}
            value={filters.outcome ?? null}
            onChange={(value) => setFilter('outcome', value)}
            clearable
            comboboxProps={{ withinPortal: true }}
            data-testid="attempt-filter-outcome"
          />
          <FilterText
            label={t('codes.fraud.net')}
            placeholder="203.0.113.0/24"
            value={filters.net}
            onChange={(v) => setFilter('net', v)}
            testId="attempt-filter-net"
          />
          <FilterText
            label={t('codes.fraud.person')}
            placeholder={t('codes.fraud.hashPlaceholder')}
            value={filters.identifierHash}
            onChange={(v) => setFilter('identifier', v)}
            testId="attempt-filter-identifier"
          />
          <FilterText
            label={t('codes.fraud.device')}
            placeholder={t('codes.fraud.hashPlaceholder')}
            value={filters.deviceHash}
            onChange={(v) => setFilter('device', v)}
            testId="attempt-filter-device"
          />
        </SimpleGrid>
        {filtered && (
          <Group justify="flex-end" mt="xs">
            <Button
              variant="subtle"
              size="xs"
              leftSection={<IconFilterOff size={14} />}
              onClick={reset}
              data-testid="attempt-filter-reset"
            >
              {t('codes.fraud.resetFilters')}
            </Button>
          </Group>
        )}
      </Paper>

      {attempts.isPending ? (
        <LoadingBlock />
      ) : attempts.isError ? (
        <ProblemAlert error={attempts.error} />
      ) : (
        <Paper withBorder radius="md">
          <Table.ScrollContainer minWidth={phone ? 0 : 900}>
            <Table
              data-testid="attempt-table"
              data-stale={attempts.isPlaceholderData || undefined}
              verticalSpacing="xs"
            >
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t('codes.fraud.attempt')}</Table.Th>
                  {showPromotion && <Table.Th>{t('codes.promotion')}</Table.Th>}
                  <Table.Th>{t('codes.fraud.person')}</Table.Th>
                  {!phone && <Table.Th>{t('codes.fraud.network')}</Table.Th>}
                  {!phone && <Table.Th>{t('codes.fraud.device')}</Table.Th>}
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {attempts.items.length === 0 && (
                  <EmptyTableRow
                    columns={phone ? 2 : showPromotion ? 5 : 4}
                    message={filtered ? t('codes.fraud.noMatch') : t('codes.fraud.empty')}
                  />
                )}
                {attempts.items.map((attempt) => (
                  <AttemptRow
                    key={attempt.id}
                    attempt={attempt}
                    phone={phone}
                    promotionName={
                      showPromotion ? (attempt.promotionId ? (names.get(attempt.promotionId) ?? '—') : '—') : null
                    }
                    onFilter={setFilter}
                  />
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        </Paper>
      )}
      <LoadMore
        hasMore={attempts.hasNextPage}
        loading={attempts.isFetchingNextPage}
        onLoad={() => void attempts.fetchNextPage()}
      />
    </Stack>
  );
}

/** A text filter applied after a pause in typing, so the table does not reload at every keystroke. */
function FilterText({
  label,
  placeholder,
  value,
  onChange,
  testId,
}: {
  label: string;
  placeholder: string;
  value: string | undefined;
  onChange: (value: string | null) => void;
  testId: string;
}) {
  const [text, setText] = useState(value ?? '');
  const [debounced] = useDebouncedValue(text, 400);
  useEffect(() => setText(value ?? ''), [value]);
  // Only a settled change of the text writes the address; the latest value and handler are read when it does.
  const latest = useRef({ value, onChange });
  latest.current = { value, onChange };
  useEffect(() => {
    const { value: applied, onChange: apply } = latest.current;
    if (debounced.trim() !== (applied ?? '')) apply(debounced.trim() || null);
  }, [debounced]);
  return (
    <TextInput
      label={label}
      placeholder={placeholder}
      value={text}
      onChange={(event) => setText(event.currentTarget.value)}
      styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
      data-testid={testId}
    />
  );
}

function FilterLink({ value, title, onClick }: { value: string; title?: string; onClick: () => void }) {
  const { t } = useTranslation();
  return (
    <UnstyledButton onClick={onClick} title={title ?? t('codes.fraud.filterBy')} data-testid="attempt-filter-link">
      <Text size="xs" ff="monospace" c="indigo" style={{ whiteSpace: 'nowrap' }}>
        {value}
      </Text>
    </UnstyledButton>
  );
}

function AttemptRow({
  attempt,
  phone,
  promotionName,
  onFilter,
}: {
  attempt: Attempt;
  phone: boolean;
  promotionName: string | null;
  onFilter: (name: 'net' | 'identifier' | 'device', value: string) => void;
}) {
  const { t } = useTranslation();
  const { format } = useWorkspaceClock();
  const canSeeProfiles = useCan('profiles:read');
  const reason = attemptReasonLabel(attempt.reason, t);
  const person = attempt.identifierHash ? (
    <Stack gap={0}>
      <Text size="xs" c="dimmed">
        {attempt.identifierKind ? identityKindLabel(attempt.identifierKind, t) : ''}
      </Text>
      <FilterLink
        value={shortHash(attempt.identifierHash)}
        title={attempt.identifierHash}
        onClick={() => onFilter('identifier', attempt.identifierHash as string)}
      />
    </Stack>
  ) : (
    <Text size="xs" c="dimmed">
      —
    </Text>
  );
  return (
    <Table.Tr data-testid="attempt-row" data-outcome={attempt.outcome}>
      <Table.Td>
        <Stack gap={2} align="flex-start">
          <Group gap={6} wrap="wrap">
            <Badge variant="light" color={OUTCOME_COLOR[attempt.outcome]}>
              {t(`codes.outcomes.${attempt.outcome}`)}
            </Badge>
            {reason && (
              <Text size="xs" c="dimmed">
                {reason}
              </Text>
            )}
          </Group>
          <Text size="xs">
            <span style={{ whiteSpace: 'nowrap' }}>{format(attempt.at)}</span>{' '}
            <Text span size="xs" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
              · {codeChannelLabel(attempt.channel, t)}
            </Text>
          </Text>
          {phone && attempt.net && (
            <FilterLink value={attempt.net} onClick={() => onFilter('net', attempt.net as string)} />
          )}
        </Stack>
      </Table.Td>
      {promotionName !== null && (
        <Table.Td>
          <Text size="sm" style={{ wordBreak: 'break-word' }}>
            {promotionName}
          </Text>
        </Table.Td>
      )}
      <Table.Td>
        <Stack gap={4}>
          {person}
          {attempt.profileId && canSeeProfiles && (
            <Anchor component={Link} to={`/customers/${attempt.profileId}`} size="xs" data-testid="attempt-profile">
              <Group gap={2} component="span" wrap="nowrap">
                <IconUser size={12} />
                {t('codes.fraud.openCustomer')}
              </Group>
            </Anchor>
          )}
        </Stack>
      </Table.Td>
      {!phone && (
        <Table.Td>
          <Stack gap={0}>
            {attempt.ip && (
              <Text size="xs" ff="monospace">
                {attempt.ip}
              </Text>
            )}
            {attempt.net ? (
              <FilterLink value={attempt.net} onClick={() => onFilter('net', attempt.net as string)} />
            ) : (
              !attempt.ip && (
                <Text size="xs" c="dimmed">
                  —
                </Text>
              )
            )}
          </Stack>
        </Table.Td>
      )}
      {!phone && (
        <Table.Td>
          {attempt.deviceHash ? (
            <FilterLink
              value={shortHash(attempt.deviceHash)}
              title={attempt.deviceHash}
              onClick={() => onFilter('device', attempt.deviceHash as string)}
            />
          ) : (
            <Text size="xs" c="dimmed">
              —
            </Text>
          )}
        </Table.Td>
      )}
    </Table.Tr>
  );
}
