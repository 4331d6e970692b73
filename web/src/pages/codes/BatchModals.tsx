import {
  Alert,
  Button,
  Code,
  FileInput,
  Group,
  List,
  Modal,
  NumberInput,
  Paper,
  Progress,
  SegmentedControl,
  SimpleGrid,
  Stack,
  Text,
  TextInput,
} from '@mantine/core';
import { IconAlertTriangle, IconCheck, IconDownload, IconFileImport, IconUpload } from '@tabler/icons-react';
import { type FormEvent, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { Batch, DownloadFormat, ImportResult } from '../../../../src/modules/codes/codes.schemas.ts';
import {
  type PromotionDetail,
  useCreateBatch,
  useDownloadBatch,
  useExportBatch,
  useImportBatch,
} from '../../api/codes.ts';
import { notifySuccess, ProblemAlert } from '../../components/ProblemAlert.tsx';
import { estimateBatch } from '../../lib/codes.ts';
import { useThousandSeparator } from '../../lib/money.ts';

/** "1 in 10,311", or "none" when no live code could be guessed. */
export function OddsText({ oneIn }: { oneIn: number | null }) {
  const { t, i18n } = useTranslation();
  const number = new Intl.NumberFormat(i18n.resolvedLanguage === 'ru' ? 'ru-RU' : 'en-GB');
  return <>{oneIn === null ? t('codes.batches.oddsNone') : t('codes.batches.oneIn', { n: number.format(oneIn) })}</>;
}

/** Shown once a batch exists: the clear list is there to be downloaded once, and nowhere else. */
export function OnceWarning() {
  const { t } = useTranslation();
  return (
    <Alert color="orange" variant="light" icon={<IconAlertTriangle size={18} />} title={t('codes.batches.onceTitle')}>
      <Text size="sm">{t('codes.batches.onceText')}</Text>
    </Alert>
  );
}

/** XXXX-XXXX-XXX: the shape of a code of `length` characters, grouped in fours as they are printed. */
function codeShape(length: number) {
  return 'X'.repeat(length).replace(/(.{4})(?=.)/g, '$1-');
}

function useNumber() {
  const { i18n } = useTranslation();
  return new Intl.NumberFormat(i18n.resolvedLanguage === 'ru' ? 'ru-RU' : 'en-GB', { maximumSignificantDigits: 21 });
}

/** Creating a batch, then its one download. The length and odds are estimated as typed and confirmed by the API. */
export function GenerateBatchModal({ detail, onClose }: { detail: PromotionDetail; onClose: () => void }) {
  const { t } = useTranslation();
  const number = useNumber();
  const create = useCreateBatch(detail.promotion.id);
  const separator = useThousandSeparator();
  const download = useDownloadBatch();
  const [count, setCount] = useState<number | string>(10_000);
  const [label, setLabel] = useState('');
  const [minLength, setMinLength] = useState<number | string>('');
  const [format, setFormat] = useState<DownloadFormat>('csv');
  const [downloaded, setDownloaded] = useState(false);
  const created = create.data?.batch;
  const validCount = typeof count === 'number' && count >= 1 && count <= 50_000_000;
  const estimate = validCount
    ? estimateBatch(
        count,
        detail.exposure.attackBudget,
        detail.batches,
        minLength === '' ? undefined : Number(minLength),
      )
    : null;

  function submit(event: FormEvent) {
    event.preventDefault();
    if (!validCount) return;
    create.mutate({
      count: Number(count),
      label: label.trim() || undefined,
      minLength: minLength === '' ? undefined : Number(minLength),
    });
  }

  const startDownload = () =>
    created &&
    download.mutate(
      { batch: created, format },
      {
        onSuccess: () => {
          setDownloaded(true);
          notifySuccess(t('codes.batches.downloaded'));
        },
      },
    );

  return (
    <Modal
      opened
      onClose={create.isPending || download.isPending ? () => {} : onClose}
      title={t('codes.batches.generateTitle')}
      size="lg"
      centered
    >
      {!created ? (
        <form onSubmit={submit} noValidate data-testid="batch-form">
          <Stack gap="md">
            {create.error ? <ProblemAlert error={create.error} /> : null}
            <SimpleGrid cols={{ base: 1, xs: 2 }} spacing="sm">
              <NumberInput
                label={t('codes.batches.count')}
                value={count}
                onChange={setCount}
                min={1}
                max={50_000_000}
                allowDecimal={false}
                thousandSeparator={separator}
                error={count !== '' && !validCount ? t('codes.batches.countInvalid') : undefined}
                data-testid="batch-count"
              />
              <TextInput
                label={t('codes.batches.label')}
                placeholder={t('codes.batches.labelPlaceholder')}
                value={label}
                onChange={(event) => setLabel(event.currentTarget.value)}
                maxLength={200}
                data-testid="batch-label"
              />
            </SimpleGrid>
            <NumberInput
              label={t('codes.batches.minLength')}
              description={t('codes.batches.minLengthHint')}
              inputWrapperOrder={['label', 'input', 'description', 'error']}
              placeholder={t('codes.batches.automatic')}
              value={minLength}
              onChange={setMinLength}
              min={8}
              max={30}
              allowDecimal={false}
              maw={320}
            />
            {estimate && (
              <Paper
                withBorder
                radius="md"
                p="sm"
                bg="gray.0"
                data-testid="batch-estimate"
                data-length={estimate.length}
              >
                <Text size="sm" fw={600}>
                  {t('codes.batches.estimateTitle')}
                </Text>
                <Text size="sm">
                  {t('codes.batches.estimateLength', { n: estimate.length })}{' '}
                  <Code fz="xs">{codeShape(estimate.length)}</Code>
                </Text>
                <Text size="sm">
                  {t('codes.batches.estimateOdds')} <OddsText oneIn={estimate.oneIn} />
                </Text>
                <Text size="xs" c="dimmed" mt={4}>
                  {t('codes.batches.estimateHint', { budget: number.format(detail.exposure.attackBudget) })}
                </Text>
              </Paper>
            )}
            <Group justify="flex-end">
              <Button variant="default" onClick={onClose}>
                {t('common.cancel')}
              </Button>
              <Button type="submit" loading={create.isPending} disabled={!validCount} data-testid="batch-submit">
                {t('codes.batches.create')}
              </Button>
            </Group>
          </Stack>
        </form>
      ) : (
        <Stack gap="md" data-testid="batch-created">
          <CreatedFigures batch={created} />
          {downloaded ? (
            <Alert color="teal" variant="light" icon={<IconCheck size={18} />} data-testid="batch-downloaded">
              {t('codes.batches.downloadedText')}
            </Alert>
          ) : (
            <>
              <OnceWarning />
              {download.error ? <ProblemAlert error={download.error} /> : null}
              <Group gap="sm" align="flex-end" wrap="wrap">
                <SegmentedControl
                  value={format}
                  onChange={(value) => setFormat(value as DownloadFormat)}
                  data={[
                    { value: 'csv', label: 'CSV' },
                    { value: 'txt', label: 'TXT' },
                    { value: 'pdf', label: t('codes.batches.pdf') },
                  ]}
                />
                <Button
                  leftSection={<IconDownload size={16} />}
                  loading={download.isPending}
                  onClick={startDownload}
                  data-testid="batch-created-download"
                >
                  {t('codes.batches.downloadNow')}
                </Button>
              </Group>
              <Text size="xs" c="dimmed">
                {t('codes.batches.downloadLater')}
              </Text>
            </>
          )}
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose} disabled={download.isPending} data-testid="batch-close">
              {t('common.close')}
            </Button>
          </Group>
        </Stack>
      )}
    </Modal>
  );
}

/** The server's figures for a new batch: what the estimate said, now fixed. */
function CreatedFigures({ batch }: { batch: Batch }) {
  const { t } = useTranslation();
  const number = useNumber();
  const expected = batch.expectedGuessable ?? 0;
  return (
    <Paper withBorder radius="md" p="md">
      <Stack gap={6}>
        <Text size="sm" fw={600}>
          {t('codes.batches.createdTitle', { size: number.format(batch.size) })}
        </Text>
        <Text size="sm" data-testid="batch-created-length" data-length={batch.length ?? ''}>
          {t('codes.batches.createdLength', { n: batch.length ?? 0 })}{' '}
          {batch.example && <Code fz="xs">{batch.example}</Code>}
        </Text>
        <Text size="sm" data-testid="batch-created-odds" data-one-in={batch.oneIn ?? ''}>
          {t('codes.batches.estimateOdds')}{' '}
          <b>
            <OddsText oneIn={batch.oneIn} />
          </b>
        </Text>
        <Text size="xs" c="dimmed">
          {t('codes.batches.createdHint', {
            budget: number.format(batch.attackBudget ?? 0),
            expected: expected.toPrecision(2),
          })}
        </Text>
      </Stack>
    </Paper>
  );
}

/** A file of codes printed elsewhere, uploaded with progress; the server keeps only their hashes. */
export function ImportBatchModal({ promotionId, onClose }: { promotionId: string; onClose: () => void }) {
  const { t } = useTranslation();
  const number = useNumber();
  const mutation = useImportBatch(promotionId);
  const [file, setFile] = useState<File | null>(null);
  const [label, setLabel] = useState('');
  const [progress, setProgress] = useState(0);
  const abort = useRef<AbortController | null>(null);
  const result: ImportResult | undefined = mutation.data;

  function submit(event: FormEvent) {
    event.preventDefault();
    if (!file) return;
    abort.current = new AbortController();
    setProgress(0);
    mutation.mutate({
      file,
      label: label || file.name.replace(/\.[^.]+$/, ''),
      onProgress: (sent, total) => setProgress(total ? (sent / total) * 100 : 0),
      signal: abort.current.signal,
    });
  }

  return (
    <Modal
      opened
      onClose={() => {
        abort.current?.abort();
        onClose();
      }}
      title={t('codes.batches.importTitle')}
      size="lg"
      centered
    >
      {result ? (
        <Stack gap="md" data-testid="batch-import-result">
          <Alert color={result.rejected > 0 ? 'yellow' : 'teal'} variant="light" icon={<IconCheck size={18} />}>
            <Text size="sm" fw={600}>
              {t('codes.batches.importDone', { imported: number.format(result.imported) })}
            </Text>
            <List size="sm" mt={4}>
              <List.Item>{t('codes.batches.importLines', { n: number.format(result.lines) })}</List.Item>
              <List.Item>{t('codes.batches.importRejected', { n: number.format(result.rejected) })}</List.Item>
              <List.Item>{t('codes.batches.importDuplicates', { n: number.format(result.duplicates) })}</List.Item>
            </List>
          </Alert>
          <Group justify="flex-end">
            <Button onClick={onClose} data-testid="batch-import-close">
              {t('common.done')}
            </Button>
          </Group>
        </Stack>
      ) : (
        <form onSubmit={submit} noValidate data-testid="batch-import-form">
          <Stack gap="md">
            <Text size="sm" c="dimmed">
              {t('codes.batches.importHint')}
            </Text>
            {mutation.error ? <ProblemAlert error={mutation.error} /> : null}
            <FileInput
              label={t('codes.batches.importFile')}
              placeholder={t('codes.batches.importFilePlaceholder')}
              value={file}
              onChange={setFile}
              accept=".csv,.txt,text/csv,text/plain"
              leftSection={<IconFileImport size={16} />}
              clearable
              data-testid="batch-import-file"
            />
            <TextInput
              label={t('codes.batches.label')}
              placeholder={file ? file.name.replace(/\.[^.]+$/, '') : t('codes.batches.labelPlaceholder')}
              value={label}
              onChange={(event) => setLabel(event.currentTarget.value)}
              maxLength={200}
            />
            {mutation.isPending && <Progress value={progress} animated={progress >= 100} />}
            <Group justify="flex-end">
              <Button variant="default" onClick={onClose}>
                {t('common.cancel')}
              </Button>
              <Button
                type="submit"
                leftSection={<IconUpload size={16} />}
                loading={mutation.isPending}
                disabled={!file}
                data-testid="batch-import-submit"
              >
                {t('codes.batches.importSubmit')}
              </Button>
            </Group>
          </Stack>
        </form>
      )}
    </Modal>
  );
}

/** The owner's second copy of a batch: said plainly that it is audited and what the file is worth. */
export function ExportAgainModal({ batch, onClose }: { batch: Batch; onClose: () => void }) {
  const { t } = useTranslation();
  const mutation = useExportBatch();
  const [format, setFormat] = useState<DownloadFormat>('csv');
  return (
    <Modal opened onClose={mutation.isPending ? () => {} : onClose} title={t('codes.batches.exportTitle')} centered>
      <Stack gap="md" data-testid="batch-export-modal">
        <Alert
          color="red"
          variant="light"
          icon={<IconAlertTriangle size={18} />}
          title={t('codes.batches.exportWarnTitle')}
        >
          <Text size="sm">{t('codes.batches.exportWarn', { label: batch.label ?? t('codes.batches.untitled') })}</Text>
        </Alert>
        {mutation.error ? <ProblemAlert error={mutation.error} /> : null}
        <SegmentedControl
          value={format}
          onChange={(value) => setFormat(value as DownloadFormat)}
          data={[
            { value: 'csv', label: 'CSV' },
            { value: 'txt', label: 'TXT' },
            { value: 'pdf', label: t('codes.batches.pdf') },
          ]}
          w="fit-content"
        />
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose} disabled={mutation.isPending}>
            {t('common.cancel')}
          </Button>
          <Button
            color="red"
            leftSection={<IconDownload size={16} />}
            loading={mutation.isPending}
            onClick={() =>
              mutation.mutate(
                { batch, format },
                {
                  onSuccess: () => {
                    notifySuccess(t('codes.batches.exported'));
                    onClose();
                  },
                },
              )
            }
            data-testid="batch-export-confirm"
          >
            {t('codes.batches.exportConfirm')}
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
