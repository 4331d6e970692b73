import {
  Alert,
  Anchor,
  Autocomplete,
  Box,
  Button,
  FileInput,
  Group,
  Paper,
  Progress,
  SegmentedControl,
  SimpleGrid,
  Stack,
  Text,
  Title,
} from '@mantine/core';
import { IconAlertTriangle, IconArrowLeft, IconCircleCheck, IconFileUpload } from '@tabler/icons-react';
import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { type ImportKind, MAX_UPLOAD_BYTES } from '../../../../src/modules/events/events.uploads.schemas.ts';
import { useImport, useUploadImport } from '../../api/imports.ts';
import { PageHeader } from '../../components/PageHeader.tsx';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { RequirePermission, useCan } from '../../components/RequirePermission.tsx';
import { formatBytes, importCounts } from '../../lib/format.ts';
import { formatOfFile, guessField, mappable, readHeader, SUGGESTED_FIELDS } from '../../lib/importColumns.ts';
import { useSession } from '../../session/SessionContext.tsx';
import { ImportHistory } from './ImportHistory.tsx';
import { RejectsButton } from './RejectsButton.tsx';

export function ImportPage() {
  const { t } = useTranslation();
  return (
    <Stack gap="lg">
      <Box>
        <Anchor component={Link} to="/customers" size="sm" c="dimmed">
          <Group gap={4} component="span">
            <IconArrowLeft size={14} />
            {t('customers.backToList')}
          </Group>
        </Anchor>
      </Box>
      <Box>
        <PageHeader title={t('imports.title')} description={t('imports.description')} />
        <RequirePermission permission="profiles:read">
          <Stack gap="xl">
            <UploadPanel />
            <ImportHistory />
          </Stack>
        </RequirePermission>
      </Box>
    </Stack>
  );
}

/** Either the form, the upload's progress, or the processing of the uploaded file: one import at a time. */
function UploadPanel() {
  const { t } = useTranslation();
  const canWrite = useCan('profiles:write');
  const [importId, setImportId] = useState<string | null>(null);
  const { membership } = useSession();
  // Switching workspace starts over: the import belongs to the other workspace.
  const workspaceId = membership.workspace.id;
  const [shownFor, setShownFor] = useState(workspaceId);
  if (shownFor !== workspaceId) {
    setShownFor(workspaceId);
    setImportId(null);
  }
  if (!canWrite) {
    return (
      <Alert variant="light" color="gray" data-testid="import-read-only">
        {t('imports.readOnly')}
      </Alert>
    );
  }
  return (
    <Paper withBorder radius="md" p={{ base: 'md', sm: 'lg' }} data-testid="import-panel">
      {importId ? (
        <Processing id={importId} onAnother={() => setImportId(null)} />
      ) : (
        <UploadForm onUploaded={setImportId} />
      )}
    </Paper>
  );
}

function UploadForm({ onUploaded }: { onUploaded: (id: string) => void }) {
  const { t, i18n } = useTranslation();
  const language = i18n.resolvedLanguage ?? 'en';
  const [kind, setKind] = useState<ImportKind>('profiles');
  const [file, setFile] = useState<File | null>(null);
  const [headers, setHeaders] = useState<string[]>([]);
  const [mapping, setMapping] = useState<Record<string, string>>({});
  const [progress, setProgress] = useState<{ sent: number; total: number } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const abort = useRef<AbortController | null>(null);
  const uploadImport = useUploadImport();
  const format = file ? formatOfFile(file.name) : 'csv';
  const tooLarge = file !== null && file.size > MAX_UPLOAD_BYTES;

  useEffect(() => {
    let current = true;
    setHeaders([]);
    if (!file || formatOfFile(file.name) !== 'csv') return;
    void readHeader(file).then((names) => {
      if (current) setHeaders(names);
    });
    return () => {
      current = false;
    };
  }, [file]);

  // Suggested fields follow the kind: "Event" means something only in a file of events.
  useEffect(() => {
    setMapping(Object.fromEntries(headers.filter(mappable).map((header) => [header, guessField(header, kind)])));
  }, [headers, kind]);

  useEffect(() => () => abort.current?.abort(), []);

  const start = async () => {
    if (!file || tooLarge) return;
    setError(null);
    setProgress({ sent: 0, total: file.size });
    abort.current = new AbortController();
    try {
      const created = await uploadImport(
        { file, kind, format, mapping: format === 'csv' ? mapping : {} },
        (sent, total) => setProgress({ sent, total }),
        abort.current.signal,
      );
      onUploaded(created.id);
    } catch (caught) {
      setProgress(null);
      if ((caught as { code?: string }).code === 'UPLOAD_CANCELLED') return;
      setError(caught);
    }
  };

  if (progress) {
    const percent = progress.total ? Math.floor((progress.sent / progress.total) * 100) : 0;
    return (
      <Stack gap="sm" data-testid="import-uploading">
        <Title order={4}>{file?.name}</Title>
        <Text size="sm">
          {t('imports.uploading', {
            percent,
            sent: formatBytes(progress.sent, language),
            total: formatBytes(progress.total, language),
          })}
        </Text>
        <Progress
          value={percent}
          size="lg"
          radius="xl"
          data-testid="import-upload-progress"
          aria-label={t('imports.uploadProgress')}
        />
        <Group>
          <Button variant="default" onClick={() => abort.current?.abort()} data-testid="import-cancel">
            {t('imports.cancel')}
          </Button>
        </Group>
      </Stack>
    );
  }

  const mappableHeaders = headers.filter(mappable);
  return (
    <Stack gap="md" data-testid="import-form">
      <Stack gap={6}>
        <Text size="sm" fw={500}>
          {t('imports.kind')}
        </Text>
        <SegmentedControl
          value={kind}
          onChange={(value) => setKind(value as ImportKind)}
          data={[
            { value: 'profiles', label: t('imports.kinds.profiles') },
            { value: 'events', label: t('imports.kinds.events') },
          ]}
          maw={420}
          data-testid="import-kind"
        />
        <Text size="xs" c="dimmed" maw={640}>
          {kind === 'profiles' ? t('imports.kindProfilesHint') : t('imports.kindEventsHint')}
        </Text>
      </Stack>

      <FileInput
        label={t('imports.file')}
        placeholder={t('imports.filePlaceholder')}
        description={t('imports.fileHint')}
        value={file}
        onChange={setFile}
        accept=".csv,.txt,.ndjson,.jsonl,.json,text/csv,application/x-ndjson"
        leftSection={<IconFileUpload size={16} />}
        clearable
        maw={560}
        error={tooLarge ? t('imports.tooLarge') : undefined}
        data-testid="import-file"
        inputWrapperOrder={['label', 'input', 'description', 'error']}
      />
      {file && !tooLarge && (
        <Text size="sm" c="dimmed" data-testid="import-file-summary">
          {t('imports.fileSummary', {
            format: format === 'csv' ? 'CSV' : 'NDJSON',
            size: formatBytes(file.size, language),
          })}
        </Text>
      )}

      {format === 'csv' && mappableHeaders.length > 0 && (
        <Stack gap="xs" data-testid="import-mapping">
          <Text size="sm" fw={500}>
            {t('imports.mapping')}
          </Text>
          <Text size="xs" c="dimmed" maw={720}>
            {t('imports.mappingHint', {
              rest: kind === 'profiles' ? t('imports.mappingRestProfiles') : t('imports.mappingRestEvents'),
            })}
          </Text>
          <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="xs" verticalSpacing="xs" maw={760}>
            {mappableHeaders.map((header) => (
              <Autocomplete
                key={header}
                label={header}
                placeholder={t('imports.asIs')}
                data={SUGGESTED_FIELDS[kind]}
                value={mapping[header] ?? ''}
                onChange={(value) => setMapping((previous) => ({ ...previous, [header]: value }))}
                maxLength={100}
                data-testid="import-mapping-field"
              />
            ))}
          </SimpleGrid>
        </Stack>
      )}

      {error !== null && <ProblemAlert error={error} />}
      <Group>
        <Button
          onClick={() => void start()}
          disabled={!file || tooLarge}
          leftSection={<IconFileUpload size={16} />}
          data-testid="import-submit"
        >
          {t('imports.submit')}
        </Button>
      </Group>
    </Stack>
  );
}

/** After the upload: the background import's progress, polled every second, then its outcome. */
function Processing({ id, onAnother }: { id: string; onAnother: () => void }) {
  const { t, i18n } = useTranslation();
  const language = i18n.resolvedLanguage ?? 'en';
  const found = useImport(id);
  const queryClient = useQueryClient();
  const { membership } = useSession();
  const item = found.data;
  const over = item?.status === 'done' || item?.status === 'failed';

  useEffect(() => {
    // New customers and events: lists and profiles read before are stale now.
    if (over) void queryClient.invalidateQueries({ queryKey: ['ws', membership.workspace.id] });
  }, [over, queryClient, membership.workspace.id]);

  if (found.isError) return <ProblemAlert error={found.error} />;
  if (!item) return <Progress value={0} size="lg" radius="xl" />;
  const percent = item.totalBytes ? Math.floor((item.bytesDone / item.totalBytes) * 100) : 0;
  const counts = t('imports.counts', importCounts(item, language));

  return (
    <Stack gap="sm" data-testid="import-result" data-status={item.status}>
      <Title order={4} style={{ wordBreak: 'break-word' }}>
        {item.fileName}
      </Title>
      {!over && (
        <>
          <Text size="sm">
            {item.status === 'running'
              ? t('imports.running', { rows: importCounts(item, language).rows })
              : t('imports.queued')}
          </Text>
          <Progress
            value={item.status === 'running' ? Math.max(percent, 2) : 100}
            size="lg"
            radius="xl"
            striped
            animated
            color={item.status === 'running' ? undefined : 'gray'}
            data-testid="import-processing-progress"
            aria-label={t('imports.processingProgress')}
          />
          {item.status === 'running' && (
            <Text size="xs" c="dimmed">
              {counts}
            </Text>
          )}
          {item.error && (
            <Text size="xs" c="orange" data-testid="import-retrying">
              {t('imports.retrying', { error: item.error })}
            </Text>
          )}
        </>
      )}
      {item.status === 'done' && (
        <Alert
          color="teal"
          variant="light"
          title={t('imports.doneTitle')}
          icon={<IconCircleCheck size={18} />}
          data-testid="import-done"
        >
          <Text size="sm" data-testid="import-counts">
            {counts}
          </Text>
        </Alert>
      )}
      {item.status === 'failed' && (
        <Alert color="red" variant="light" title={t('imports.failedTitle')} icon={<IconAlertTriangle size={18} />}>
          <Text size="sm">{item.error ?? t('errors.unexpected')}</Text>
          <Text size="xs" c="dimmed" mt={4}>
            {counts}
          </Text>
        </Alert>
      )}
      {over && (
        <Group gap="sm">
          {item.rejected > 0 && <RejectsButton item={item} />}
          <Button variant="default" onClick={onAnother} data-testid="import-another">
            {t('imports.another')}
          </Button>
          <Button component={Link} to="/customers" variant="subtle">
            {t('imports.viewCustomers')}
          </Button>
        </Group>
      )}
    </Stack>
  );
}
