import { Badge, Button, Code, Group, Menu, Paper, Progress, Stack, Table, Text, Tooltip } from '@mantine/core';
import {
  IconAlertTriangle,
  IconBan,
  IconDots,
  IconDownload,
  IconFileImport,
  IconPlus,
  IconShieldCheck,
} from '@tabler/icons-react';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { Batch } from '../../../../src/modules/codes/codes.schemas.ts';
import { type PromotionDetail, useDownloadBatch, useRevokeBatch } from '../../api/codes.ts';
import { ConfirmModal } from '../../components/ConfirmModal.tsx';
import { EmptyTableRow } from '../../components/ListStates.tsx';
import { notifyProblem, notifySuccess } from '../../components/ProblemAlert.tsx';
import { useCan } from '../../components/RequirePermission.tsx';
import { useIsPhone } from '../../lib/useIsPhone.ts';
import { useWorkspaceClock } from '../../lib/useWorkspaceClock.ts';
import { ExportAgainModal, GenerateBatchModal, ImportBatchModal, OddsText } from './BatchModals.tsx';

const STATUS_COLOR: Record<Batch['status'], string> = {
  pending: 'yellow',
  generating: 'blue',
  active: 'green',
  failed: 'red',
  revoked: 'gray',
};

export function BatchesPanel({ detail }: { detail: PromotionDetail }) {
  const { t, i18n } = useTranslation();
  const canManage = useCan('codes:manage');
  const phone = useIsPhone();
  const number = new Intl.NumberFormat(i18n.resolvedLanguage === 'ru' ? 'ru-RU' : 'en-GB');
  const [modal, setModal] = useState<'generate' | 'import' | null>(null);
  const [exporting, setExporting] = useState<Batch | null>(null);
  const [revoking, setRevoking] = useState<Batch | null>(null);
  const revoke = useRevokeBatch();
  const { exposure, batches } = detail;

  return (
    <Stack gap="md">
      <Group justify="space-between" align="flex-end" gap="sm">
        <Group gap="xs" wrap="nowrap" align="flex-start" style={{ flex: '1 1 320px', minWidth: 0 }}>
          <IconShieldCheck size={18} color="var(--mantine-color-teal-6)" style={{ flexShrink: 0, marginTop: 2 }} />
          <Text size="sm" data-testid="promotion-exposure">
            {t('codes.batches.exposure', { budget: number.format(exposure.attackBudget) })}{' '}
            <b>
              <OddsText oneIn={exposure.oneIn} />
            </b>
          </Text>
        </Group>
        {canManage && (
          <Group gap="xs">
            <Button
              variant="default"
              leftSection={<IconFileImport size={16} />}
              onClick={() => setModal('import')}
              data-testid="batch-import"
            >
              {t('codes.batches.import')}
            </Button>
            <Button
              leftSection={<IconPlus size={16} />}
              onClick={() => setModal('generate')}
              data-testid="batch-generate"
            >
              {t('codes.batches.generate')}
            </Button>
          </Group>
        )}
      </Group>

      <Paper withBorder radius="md">
        <Table.ScrollContainer minWidth={phone ? 0 : 860}>
          <Table data-testid="batch-table" verticalSpacing="sm">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t('codes.batches.batch')}</Table.Th>
                {!phone && <Table.Th ta="right">{t('codes.batches.codes')}</Table.Th>}
                {!phone && <Table.Th>{t('codes.batches.length')}</Table.Th>}
                {!phone && <Table.Th>{t('codes.batches.odds')}</Table.Th>}
                <Table.Th>{t('codes.status')}</Table.Th>
                <Table.Th w={phone ? 44 : 200} />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {batches.length === 0 && (
                <EmptyTableRow
                  columns={phone ? 3 : 6}
                  message={canManage ? t('codes.batches.emptyManage') : t('codes.batches.empty')}
                />
              )}
              {batches.map((batch) => (
                <BatchRow
                  key={batch.id}
                  batch={batch}
                  phone={phone}
                  onExport={() => setExporting(batch)}
                  onRevoke={() => setRevoking(batch)}
                />
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      </Paper>

      {modal === 'generate' && <GenerateBatchModal detail={detail} onClose={() => setModal(null)} />}
      {modal === 'import' && <ImportBatchModal promotionId={detail.promotion.id} onClose={() => setModal(null)} />}
      {exporting && <ExportAgainModal batch={exporting} onClose={() => setExporting(null)} />}
      <ConfirmModal
        opened={revoking !== null}
        title={t('codes.batches.revokeTitle')}
        message={t('codes.batches.revokeMessage', { label: revoking?.label ?? t('codes.batches.untitled') })}
        confirmLabel={t('codes.batches.revoke')}
        pending={revoke.isPending}
        error={revoke.error}
        onClose={() => {
          setRevoking(null);
          revoke.reset();
        }}
        onConfirm={() =>
          revoking &&
          revoke.mutate(revoking.id, {
            onSuccess: () => {
              notifySuccess(t('codes.batches.revoked'));
              setRevoking(null);
            },
          })
        }
      />
    </Stack>
  );
}

function BatchRow({
  batch,
  phone,
  onExport,
  onRevoke,
}: {
  batch: Batch;
  phone: boolean;
  onExport: () => void;
  onRevoke: () => void;
}) {
  const { t, i18n } = useTranslation();
  const { format } = useWorkspaceClock();
  const number = new Intl.NumberFormat(i18n.resolvedLanguage === 'ru' ? 'ru-RU' : 'en-GB');
  const canManage = useCan('codes:manage');
  const canExport = useCan('codes:export');
  const download = useDownloadBatch();
  const generated = batch.source === 'generated';
  const downloadable = canManage && generated && batch.status === 'pending';
  const exportable = canExport && generated && (batch.status === 'active' || batch.status === 'revoked');
  const revocable = canManage && (batch.status === 'active' || batch.status === 'pending');
  const startDownload = () =>
    download.mutate(
      { batch, format: 'csv' },
      {
        onSuccess: () => notifySuccess(t('codes.batches.downloaded')),
        onError: (error) => notifyProblem(error, t),
      },
    );
  const counts =
    batch.status === 'generating' || (batch.status !== 'pending' && batch.loaded !== batch.size)
      ? t('codes.batches.loadedOf', { loaded: number.format(batch.loaded), size: number.format(batch.size) })
      : number.format(batch.size);

  return (
    <Table.Tr data-testid="batch-row" data-status={batch.status} data-source={batch.source}>
      <Table.Td>
        <Stack gap={2} style={{ minWidth: 0 }}>
          <Text size="sm" fw={600} style={{ wordBreak: 'break-word' }}>
            {batch.label ?? t('codes.batches.untitled')}
          </Text>
          <Text size="xs" c="dimmed">
            {t(`codes.batches.source.${batch.source}`)} · {format(batch.createdAt)}
          </Text>
          {phone && (
            <Text size="xs" c="dimmed">
              {counts}
              {batch.length ? ` · ${t('codes.batches.lengthValue', { n: batch.length })}` : ''}
              {generated ? (
                <>
                  {' · '}
                  <OddsText oneIn={batch.oneIn} />
                </>
              ) : null}
            </Text>
          )}
          {batch.status === 'generating' && (
            <Progress value={batch.size ? (batch.loaded / batch.size) * 100 : 0} size="xs" animated mt={4} />
          )}
        </Stack>
      </Table.Td>
      {!phone && (
        <Table.Td ta="right">
          <Text size="sm" style={{ whiteSpace: 'nowrap' }}>
            {counts}
          </Text>
        </Table.Td>
      )}
      {!phone && (
        <Table.Td>
          {batch.length ? (
            <Stack gap={0}>
              <Text size="sm">{t('codes.batches.lengthValue', { n: batch.length })}</Text>
              {batch.example && (
                <Tooltip label={t('codes.batches.exampleHint')} withArrow>
                  <Code fz="xs" style={{ whiteSpace: 'nowrap', width: 'fit-content' }}>
                    {batch.example}
                  </Code>
                </Tooltip>
              )}
            </Stack>
          ) : (
            <Text size="sm" c="dimmed">
              —
            </Text>
          )}
        </Table.Td>
      )}
      {!phone && (
        <Table.Td>
          <Text size="sm" style={{ whiteSpace: 'nowrap' }}>
            {generated ? <OddsText oneIn={batch.oneIn} /> : '—'}
          </Text>
        </Table.Td>
      )}
      <Table.Td>
        <Stack gap={2} align="flex-start">
          <Badge variant="light" color={STATUS_COLOR[batch.status]}>
            {t(`codes.batches.status.${batch.status}`)}
          </Badge>
          {batch.exports > 1 && (
            <Text size="xs" c="dimmed">
              {t('codes.batches.exportCount', { n: batch.exports })}
            </Text>
          )}
        </Stack>
      </Table.Td>
      <Table.Td>
        <Group gap={4} justify="flex-end" wrap="nowrap">
          {downloadable && !phone && (
            <Button
              size="xs"
              leftSection={<IconDownload size={14} />}
              loading={download.isPending}
              onClick={startDownload}
              data-testid="batch-download"
            >
              {t('codes.batches.download')}
            </Button>
          )}
          {(downloadable || exportable || revocable) && (
            <Menu position="bottom-end" withinPortal shadow="md">
              <Menu.Target>
                <Button
                  size="xs"
                  variant="subtle"
                  color="gray"
                  px={6}
                  aria-label={t('codes.batches.actions')}
                  data-testid="batch-menu"
                >
                  <IconDots size={16} />
                </Button>
              </Menu.Target>
              <Menu.Dropdown>
                {downloadable && phone && (
                  <Menu.Item
                    leftSection={<IconDownload size={14} />}
                    onClick={startDownload}
                    data-testid="batch-download"
                  >
                    {t('codes.batches.download')}
                  </Menu.Item>
                )}
                {exportable && (
                  <Menu.Item
                    leftSection={<IconAlertTriangle size={14} />}
                    onClick={onExport}
                    data-testid="batch-export"
                  >
                    {t('codes.batches.exportAgain')}
                  </Menu.Item>
                )}
                {revocable && (
                  <Menu.Item
                    color="red"
                    leftSection={<IconBan size={14} />}
                    onClick={onRevoke}
                    data-testid="batch-revoke"
                  >
                    {t('codes.batches.revoke')}
                  </Menu.Item>
                )}
              </Menu.Dropdown>
            </Menu>
          )}
        </Group>
      </Table.Td>
    </Table.Tr>
  );
}
