import {
  Badge,
  Button,
  Group,
  Modal,
  NumberInput,
  Paper,
  SegmentedControl,
  SimpleGrid,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { IconPlus } from '@tabler/icons-react';
import { type FormEvent, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { CardRangeCreate, type Programme } from '../../../../src/modules/loyalty/loyalty.schemas.ts';
import { useCardRanges, useCreateCardRange } from '../../api/loyalty.ts';
import { EmptyTableRow, LoadingBlock } from '../../components/ListStates.tsx';
import { notifySuccess, ProblemAlert } from '../../components/ProblemAlert.tsx';
import { useCan } from '../../components/RequirePermission.tsx';
import { useThousandSeparator } from '../../lib/money.ts';
import { useIsPhone } from '../../lib/useIsPhone.ts';
import { useLanguage } from './MemberParts.tsx';

/** The number ranges cards are issued from: virtual ones numbered in turn, physical ones activated when handed out. */
export function CardRanges({ programme }: { programme: Programme }) {
  const { t } = useTranslation();
  const ranges = useCardRanges(programme.key);
  const canManage = useCan('loyalty:manage');
  const phone = useIsPhone();
  const language = useLanguage();
  const number = new Intl.NumberFormat(language);
  const [adding, setAdding] = useState(false);
  return (
    <Paper withBorder radius="md" p={{ base: 'md', sm: 'lg' }} data-testid="card-ranges">
      <Group justify="space-between" mb="sm" gap="xs">
        <Stack gap={2} style={{ flex: '1 1 280px' }}>
          <Title order={4}>{t('loyalty.ranges.title')}</Title>
          <Text size="sm" c="dimmed">
            {t('loyalty.ranges.hint')}
          </Text>
        </Stack>
        {canManage && (
          <Button
            size="xs"
            variant="light"
            leftSection={<IconPlus size={14} />}
            onClick={() => setAdding(true)}
            data-testid="range-add"
          >
            {t('loyalty.ranges.add')}
          </Button>
        )}
      </Group>
      {ranges.isPending ? (
        <LoadingBlock />
      ) : ranges.isError ? (
        <ProblemAlert error={ranges.error} />
      ) : (
        <Table verticalSpacing="xs" data-testid="range-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t('loyalty.ranges.kind')}</Table.Th>
              <Table.Th>{t('loyalty.ranges.numbers')}</Table.Th>
              {!phone && <Table.Th ta="right">{t('loyalty.ranges.used')}</Table.Th>}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {ranges.data.items.length === 0 && <EmptyTableRow columns={3} message={t('loyalty.ranges.empty')} />}
            {ranges.data.items.map((range) => {
              const size = range.lastSerial - range.firstSerial + 1;
              const used = range.kind === 'virtual' ? range.nextSerial - range.firstSerial : null;
              return (
                <Table.Tr key={range.id} data-testid="range-row">
                  <Table.Td>
                    <Badge variant="light" color={range.kind === 'virtual' ? 'indigo' : 'grape'}>
                      {t(`loyalty.cards.kinds.${range.kind}`)}
                    </Badge>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm" ff="monospace" style={{ wordBreak: 'break-all' }}>
                      {range.prefix}… · {t('loyalty.ranges.digits', { n: range.length })}
                    </Text>
                    <Text size="xs" c="dimmed">
                      {t('loyalty.ranges.serials', {
                        first: number.format(range.firstSerial),
                        last: number.format(range.lastSerial),
                      })}
                    </Text>
                  </Table.Td>
                  {!phone && (
                    <Table.Td ta="right">
                      <Text size="sm">
                        {used === null
                          ? '—'
                          : t('loyalty.ranges.usedOf', { used: number.format(used), size: number.format(size) })}
                      </Text>
                    </Table.Td>
                  )}
                </Table.Tr>
              );
            })}
          </Table.Tbody>
        </Table>
      )}
      {adding && <AddRangeModal programme={programme} onClose={() => setAdding(false)} />}
    </Paper>
  );
}

function AddRangeModal({ programme, onClose }: { programme: Programme; onClose: () => void }) {
  const { t } = useTranslation();
  const create = useCreateCardRange(programme.key);
  const separator = useThousandSeparator();
  const [kind, setKind] = useState<'virtual' | 'physical'>('virtual');
  const [prefix, setPrefix] = useState('');
  const [length, setLength] = useState<number | string>(16);
  const [firstSerial, setFirstSerial] = useState<number | string>(1);
  const [lastSerial, setLastSerial] = useState<number | string>(999_999);
  const parsed = CardRangeCreate.safeParse({ kind, prefix, length, firstSerial, lastSerial });
  const [tried, setTried] = useState(false);
  function submit(event: FormEvent) {
    event.preventDefault();
    setTried(true);
    if (!parsed.success) return;
    create.mutate(parsed.data, {
      onSuccess: () => {
        notifySuccess(t('loyalty.ranges.added'));
        onClose();
      },
    });
  }
  return (
    <Modal opened onClose={create.isPending ? () => {} : onClose} title={t('loyalty.ranges.addTitle')} centered>
      <form onSubmit={submit} noValidate data-testid="range-form">
        <Stack gap="md">
          {create.error ? <ProblemAlert error={create.error} /> : null}
          <SegmentedControl
            value={kind}
            onChange={(value) => setKind(value as 'virtual' | 'physical')}
            data={[
              { value: 'virtual', label: t('loyalty.cards.kinds.virtual') },
              { value: 'physical', label: t('loyalty.cards.kinds.physical') },
            ]}
            fullWidth
          />
          <SimpleGrid cols={2} spacing="sm">
            <TextInput
              label={t('loyalty.ranges.prefix')}
              value={prefix}
              onChange={(event) => setPrefix(event.currentTarget.value.replace(/\D/g, '').slice(0, 12))}
              inputMode="numeric"
              error={tried && !/^\d{1,12}$/.test(prefix) ? t('validation.required') : undefined}
              data-testid="range-prefix"
            />
            <NumberInput
              label={t('loyalty.ranges.length')}
              value={length}
              onChange={setLength}
              min={8}
              max={19}
              allowDecimal={false}
            />
            <NumberInput
              label={t('loyalty.ranges.first')}
              value={firstSerial}
              onChange={setFirstSerial}
              min={0}
              allowDecimal={false}
              thousandSeparator={separator}
            />
            <NumberInput
              label={t('loyalty.ranges.last')}
              value={lastSerial}
              onChange={setLastSerial}
              min={0}
              allowDecimal={false}
              thousandSeparator={separator}
            />
          </SimpleGrid>
          <Text size="xs" c={tried && !parsed.success ? 'red' : 'dimmed'}>
            {tried && !parsed.success ? t('loyalty.ranges.invalid') : t('loyalty.ranges.formHint')}
          </Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose} disabled={create.isPending}>
              {t('common.cancel')}
            </Button>
            <Button type="submit" loading={create.isPending} data-testid="range-submit">
              {t('loyalty.ranges.add')}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
