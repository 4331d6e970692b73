import {
  ActionIcon,
  Alert,
  Badge,
  Button,
  CopyButton,
  Group,
  Menu,
  Modal,
  Paper,
  Select,
  SimpleGrid,
  Stack,
  Table,
  Text,
  TextInput,
  Tooltip,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconCheck, IconCopy, IconDots, IconPlus, IconQrcode, IconTrash } from '@tabler/icons-react';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { Placement, PlacementCreate, PlacementMedium } from '../../../../src/modules/codes/codes.schemas.ts';
import {
  useCreatePlacement,
  useDeletePlacement,
  useDownloadQr,
  usePlacements,
  usePromotions,
  useUpdatePlacement,
} from '../../api/codes.ts';
import { EmptyTableRow, LoadingBlock, LoadMore } from '../../components/ListStates.tsx';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { useCan } from '../../components/RequirePermission.tsx';
import { formatMinor, minorToMajor, parseMajor } from '../../lib/money.ts';
import { useIsPhone } from '../../lib/useIsPhone.ts';
import { useSession } from '../../session/SessionContext.tsx';

export const MEDIA: PlacementMedium[] = ['tv', 'radio', 'print', 'outdoor', 'online', 'btl', 'other'];

/** Placements: where the campaign runs, each with its keyword, tracking address, QR code and cost. */
export function PlacementsView() {
  const { t, i18n } = useTranslation();
  const canManage = useCan('codes:manage');
  const phone = useIsPhone();
  const [medium, setMedium] = useState<PlacementMedium | undefined>();
  const [editing, setEditing] = useState<Placement | 'new' | null>(null);
  const placements = usePlacements(medium);
  const language = i18n.resolvedLanguage === 'ru' ? 'ru-RU' : 'en-GB';

  return (
    <Stack gap="md" data-testid="placements-view">
      <Group justify="space-between" align="flex-end" gap="sm">
        <Text size="sm" c="dimmed" maw={760}>
          {t('codes.placements.description')}
        </Text>
        <Group gap="sm">
          <Select
            aria-label={t('codes.placements.medium')}
            placeholder={t('codes.placements.medium')}
            clearable
            w={180}
            value={medium ?? null}
            onChange={(value) => setMedium((value as PlacementMedium) || undefined)}
            data={MEDIA.map((m) => ({ value: m, label: t(`codes.media.${m}`) }))}
          />
          {canManage && (
            <Button
              leftSection={<IconPlus size={16} />}
              onClick={() => setEditing('new')}
              data-testid="placement-create"
            >
              {t('codes.placements.add')}
            </Button>
          )}
        </Group>
      </Group>
      {placements.isPending ? (
        <LoadingBlock />
      ) : placements.isError ? (
        <ProblemAlert error={placements.error} />
      ) : (
        <Paper withBorder radius="md">
          <Table.ScrollContainer minWidth={phone ? 0 : 860}>
            <Table data-testid="placement-table" verticalSpacing="sm">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t('codes.placements.name')}</Table.Th>
                  <Table.Th>{t('codes.placements.keyword')}</Table.Th>
                  {!phone && <Table.Th>{t('codes.placements.trackingUrl')}</Table.Th>}
                  {!phone && <Table.Th ta="right">{t('codes.placements.cost')}</Table.Th>}
                  <Table.Th w={48} />
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {placements.items.length === 0 && (
                  <EmptyTableRow columns={phone ? 3 : 5} message={t('codes.placements.empty')} />
                )}
                {placements.items.map((p) => (
                  <PlacementRow
                    key={p.id}
                    placement={p}
                    phone={phone}
                    language={language}
                    canManage={canManage}
                    onEdit={() => setEditing(p)}
                  />
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        </Paper>
      )}
      <LoadMore
        hasMore={Boolean(placements.hasNextPage)}
        loading={placements.isFetchingNextPage}
        onLoad={() => void placements.fetchNextPage()}
      />
      {editing && <PlacementModal placement={editing === 'new' ? null : editing} onClose={() => setEditing(null)} />}
    </Stack>
  );
}

function PlacementRow({
  placement,
  phone,
  language,
  canManage,
  onEdit,
}: {
  placement: Placement;
  phone: boolean;
  language: string;
  canManage: boolean;
  onEdit: () => void;
}) {
  const { t } = useTranslation();
  const qr = useDownloadQr();
  const remove = useDeletePlacement();
  const details = Object.entries(placement.details)
    .map(([, value]) => value)
    .join(' · ');
  return (
    <Table.Tr data-testid="placement-row" data-keyword={placement.keyword}>
      <Table.Td>
        <Stack gap={2}>
          <Group gap={6} wrap="nowrap">
            <Badge variant="light" size="sm">
              {t(`codes.media.${placement.medium}`)}
            </Badge>
            {canManage ? (
              <Text
                size="sm"
                fw={600}
                c="blue"
                style={{ cursor: 'pointer', wordBreak: 'break-word' }}
                onClick={onEdit}
                data-testid="placement-edit"
              >
                {placement.name}
              </Text>
            ) : (
              <Text size="sm" fw={600}>
                {placement.name}
              </Text>
            )}
          </Group>
          {details && (
            <Text size="xs" c="dimmed" lineClamp={1}>
              {details}
            </Text>
          )}
          {(remove.error || qr.error) && <ProblemAlert error={(remove.error ?? qr.error) as never} />}
        </Stack>
      </Table.Td>
      <Table.Td>
        <Text ff="monospace" fw={700} size="sm" data-testid="placement-keyword">
          {placement.keyword}
        </Text>
      </Table.Td>
      {!phone && (
        <Table.Td>
          <Group gap={4} wrap="nowrap">
            <Text size="xs" ff="monospace" c="dimmed" style={{ wordBreak: 'break-all' }} data-testid="placement-url">
              {placement.trackingUrl}
            </Text>
            <CopyButton value={placement.trackingUrl}>
              {({ copied, copy }) => (
                <Tooltip label={copied ? t('codes.placements.copied') : t('codes.placements.copy')} withArrow>
                  <ActionIcon
                    variant="subtle"
                    color={copied ? 'teal' : 'gray'}
                    onClick={copy}
                    aria-label={t('codes.placements.copy')}
                  >
                    {copied ? <IconCheck size={14} /> : <IconCopy size={14} />}
                  </ActionIcon>
                </Tooltip>
              )}
            </CopyButton>
          </Group>
        </Table.Td>
      )}
      {!phone && (
        <Table.Td ta="right" style={{ whiteSpace: 'nowrap' }}>
          <Text size="sm">{formatMinor(placement.costMinor, placement.currency, language)}</Text>
        </Table.Td>
      )}
      <Table.Td>
        <Menu position="bottom-end" withinPortal>
          <Menu.Target>
            <ActionIcon variant="subtle" color="gray" aria-label={t('common.edit')}>
              <IconDots size={16} />
            </ActionIcon>
          </Menu.Target>
          <Menu.Dropdown>
            <Menu.Item
              leftSection={<IconQrcode size={14} />}
              onClick={() => qr.mutate({ placement, format: 'svg' })}
              data-testid="placement-qr-svg"
            >
              {t('codes.placements.qrSvg')}
            </Menu.Item>
            <Menu.Item leftSection={<IconQrcode size={14} />} onClick={() => qr.mutate({ placement, format: 'png' })}>
              {t('codes.placements.qrPng')}
            </Menu.Item>
            {canManage && (
              <Menu.Item
                color="red"
                leftSection={<IconTrash size={14} />}
                onClick={() =>
                  remove.mutate(placement.id, {
                    onSuccess: () => notifications.show({ message: t('codes.placements.deleted'), color: 'teal' }),
                  })
                }
              >
                {t('codes.placements.delete')}
              </Menu.Item>
            )}
          </Menu.Dropdown>
        </Menu>
      </Table.Td>
    </Table.Tr>
  );
}

/** `2026-03-01T12:00:00.000Z` → the local `2026-03-01T15:00` a datetime-local input shows, and back. */
function toLocalInput(iso: string | null) {
  if (!iso) return '';
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
const fromLocalInput = (value: string) => (value ? new Date(value).toISOString() : null);

function PlacementModal({ placement, onClose }: { placement: Placement | null; onClose: () => void }) {
  const { t } = useTranslation();
  const { membership } = useSession();
  const promotions = usePromotions();
  const create = useCreatePlacement();
  const update = useUpdatePlacement(placement?.id ?? '');
  const mutation = placement ? update : create;
  const workspaceCurrency = (membership.workspace as { currency?: string }).currency ?? 'EUR';
  const [name, setName] = useState(placement?.name ?? '');
  const [medium, setMedium] = useState<PlacementMedium>(placement?.medium ?? 'tv');
  const [keyword, setKeyword] = useState(placement?.keyword ?? '');
  const [promotionId, setPromotionId] = useState<string | null>(placement?.promotionId ?? null);
  const [landingUrl, setLandingUrl] = useState(placement?.landingUrl ?? '');
  const [currency, setCurrency] = useState(placement?.currency ?? workspaceCurrency);
  const [cost, setCost] = useState(placement ? minorToMajor(placement.costMinor, placement.currency) : '');
  const [startsAt, setStartsAt] = useState(toLocalInput(placement?.startsAt ?? null));
  const [endsAt, setEndsAt] = useState(toLocalInput(placement?.endsAt ?? null));
  // Rows of details with ids of their own, so that inputs keep their state when rows are added.
  const [details, setDetails] = useState<{ id: number; key: string; value: string }[]>(() => {
    const given = Object.entries(placement?.details ?? {});
    const rows: [string, string][] =
      given.length > 0
        ? given
        : [
            ['channel', ''],
            ['slot', ''],
          ];
    return rows.map(([key, value], id) => ({ id, key, value }));
  });
  const setDetail = (id: number, change: Partial<{ key: string; value: string }>) =>
    setDetails(details.map((d) => (d.id === id ? { ...d, ...change } : d)));
  const costMinor = cost.trim() === '' ? 0 : parseMajor(cost, currency);
  const keywordOk = /^[A-Za-z0-9]{2,20}$/.test(keyword.trim());
  const valid = name.trim() !== '' && keywordOk && costMinor !== undefined && /^[A-Z]{3}$/.test(currency);

  const submit = () => {
    const body: PlacementCreate = {
      name: name.trim(),
      medium,
      keyword: keyword.trim(),
      details: Object.fromEntries(
        details
          .filter((d) => /^[a-zA-Z][a-zA-Z0-9_]{0,39}$/.test(d.key.trim()) && d.value.trim())
          .map((d) => [d.key.trim(), d.value.trim()]),
      ),
      promotionId: promotionId || null,
      landingUrl: landingUrl.trim() || null,
      costMinor: costMinor ?? 0,
      currency,
      startsAt: fromLocalInput(startsAt),
      endsAt: fromLocalInput(endsAt),
    };
    mutation.mutate(body, {
      onSuccess: () => {
        notifications.show({ message: t('codes.placements.saved'), color: 'teal' });
        onClose();
      },
    });
  };

  return (
    <Modal
      opened
      onClose={onClose}
      title={placement ? t('codes.placements.edit') : t('codes.placements.add')}
      size="lg"
      data-testid="placement-modal"
    >
      <form
        onSubmit={(event) => {
          event.preventDefault();
          if (valid) submit();
        }}
      >
        <Stack gap="sm">
          {mutation.error && <ProblemAlert error={mutation.error} />}
          <TextInput
            label={t('codes.placements.name')}
            placeholder={t('codes.placements.namePlaceholder')}
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            required
            maxLength={200}
            data-testid="placement-name"
          />
          <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm">
            <Select
              label={t('codes.placements.medium')}
              value={medium}
              onChange={(value) => value && setMedium(value as PlacementMedium)}
              data={MEDIA.map((m) => ({ value: m, label: t(`codes.media.${m}`) }))}
              allowDeselect={false}
              data-testid="placement-medium"
            />
            <TextInput
              label={t('codes.placements.keyword')}
              description={t('codes.placements.keywordHint')}
              value={keyword}
              onChange={(e) => setKeyword(e.currentTarget.value.toUpperCase())}
              error={keyword && !keywordOk ? t('codes.placements.keywordHint') : undefined}
              required
              maxLength={20}
              styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
              data-testid="placement-keyword-input"
            />
          </SimpleGrid>
          <Stack gap={4}>
            <Text size="sm" fw={500}>
              {t('codes.placements.details')}
            </Text>
            <Text size="xs" c="dimmed">
              {t('codes.placements.detailsHint')}
            </Text>
            {details.map((d) => (
              <Group key={d.id} gap="xs" wrap="nowrap">
                <TextInput
                  aria-label={t('codes.placements.detailKey')}
                  placeholder={t('codes.placements.detailKey')}
                  value={d.key}
                  w={160}
                  maxLength={40}
                  onChange={(e) => setDetail(d.id, { key: e.currentTarget.value })}
                />
                <TextInput
                  aria-label={t('codes.placements.detailValue')}
                  placeholder={t('codes.placements.detailValue')}
                  value={d.value}
                  style={{ flex: 1 }}
                  maxLength={500}
                  onChange={(e) => setDetail(d.id, { value: e.currentTarget.value })}
                />
              </Group>
            ))}
            {details.length < 20 && (
              <Group>
                <Button
                  variant="subtle"
                  size="compact-sm"
                  onClick={() =>
                    setDetails([...details, { id: Math.max(0, ...details.map((d) => d.id)) + 1, key: '', value: '' }])
                  }
                >
                  {t('codes.placements.addDetail')}
                </Button>
              </Group>
            )}
          </Stack>
          <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm">
            <Select
              label={t('codes.placements.promotion')}
              placeholder={t('codes.placements.noPromotion')}
              clearable
              value={promotionId}
              onChange={setPromotionId}
              data={(promotions.data?.items ?? []).map((p) => ({ value: p.id, label: p.name }))}
              data-testid="placement-promotion"
            />
            <TextInput
              label={t('codes.placements.landingUrl')}
              description={t('codes.placements.landingHint')}
              value={landingUrl}
              onChange={(e) => setLandingUrl(e.currentTarget.value)}
              type="url"
              maxLength={2000}
            />
          </SimpleGrid>
          <SimpleGrid cols={{ base: 2 }} spacing="sm">
            <TextInput
              label={t('codes.placements.cost')}
              value={cost}
              onChange={(e) => setCost(e.currentTarget.value)}
              inputMode="decimal"
              error={costMinor === undefined ? t('codes.placements.cost') : undefined}
              data-testid="placement-cost"
            />
            <TextInput
              label={t('codes.placements.currency')}
              value={currency}
              onChange={(e) => setCurrency(e.currentTarget.value.toUpperCase().slice(0, 3))}
              maxLength={3}
              styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
            />
          </SimpleGrid>
          <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm">
            <TextInput
              type="datetime-local"
              label={t('codes.placements.startsAt')}
              value={startsAt}
              onChange={(e) => setStartsAt(e.currentTarget.value)}
            />
            <TextInput
              type="datetime-local"
              label={t('codes.placements.endsAt')}
              value={endsAt}
              onChange={(e) => setEndsAt(e.currentTarget.value)}
            />
          </SimpleGrid>
          <Alert variant="light" color="gray" p="xs">
            <Text size="xs">{t('codes.placements.windowHint')}</Text>
          </Alert>
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose} disabled={mutation.isPending}>
              {t('common.cancel')}
            </Button>
            <Button type="submit" disabled={!valid} loading={mutation.isPending} data-testid="placement-save">
              {t('common.saveChanges')}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
