import {
  Anchor,
  Badge,
  Button,
  Code,
  CopyButton,
  Group,
  Paper,
  Progress,
  Stack,
  Table,
  Tabs,
  Text,
  Title,
} from '@mantine/core';
import { IconArrowLeft, IconCopy, IconDownload, IconExternalLink, IconPencil } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router';
import type { Form, FormDefinition, Submission } from '../../../../src/modules/forms/forms.schemas.ts';
import { downloadSubmissions, useForm, useFormResults, useFormStatus, useSubmissions } from '../../api/forms.ts';
import { EmptyTableRow, LoadingBlock, LoadMore } from '../../components/ListStates.tsx';
import { PageHeader } from '../../components/PageHeader.tsx';
import { notifyProblem, notifySuccess, ProblemAlert } from '../../components/ProblemAlert.tsx';
import { RequirePermission, useCan } from '../../components/RequirePermission.tsx';
import { STATUS_COLOR } from './FormsPage.tsx';
import { type FormsT, useFormsText } from './useFormsText.ts';

export function FormPage() {
  const { id } = useParams();
  return (
    <RequirePermission permission="forms:read">
      <FormDetail id={id as string} />
    </RequirePermission>
  );
}

function FormDetail({ id }: { id: string }) {
  const { t } = useFormsText();
  const { t: tc } = useTranslation();
  const form = useForm(id);
  const status = useFormStatus(id);
  const canManage = useCan('forms:manage');
  if (form.isPending) return <LoadingBlock />;
  if (form.isError) return <ProblemAlert error={form.error} />;
  const f = form.data;
  const change = (action: 'publish' | 'close') =>
    status.mutate(action, {
      onSuccess: () => notifySuccess(action === 'publish' ? t('published') : t('closedNotice')),
      onError: (error) => notifyProblem(error, tc),
    });
  return (
    <>
      <Anchor component={Link} to="/forms" size="sm" mb="xs" display="inline-flex">
        <IconArrowLeft size={14} style={{ marginRight: 4 }} />
        {t('backToList')}
      </Anchor>
      <PageHeader
        title={f.name}
        description={`${t(`kind.${f.kind}`)} · ${f.key} · ${t('columns.version')} ${f.version}`}
        actions={
          canManage && (
            <>
              <Button
                component={Link}
                to={`/forms/${f.id}/edit`}
                variant="default"
                leftSection={<IconPencil size={16} />}
                data-testid="form-edit"
              >
                {t('edit')}
              </Button>
              {f.status === 'live' ? (
                <Button
                  color="orange"
                  variant="light"
                  onClick={() => change('close')}
                  loading={status.isPending}
                  data-testid="form-close"
                >
                  {t('close')}
                </Button>
              ) : (
                <Button onClick={() => change('publish')} loading={status.isPending} data-testid="form-publish">
                  {f.status === 'closed' ? t('reopen') : t('publish')}
                </Button>
              )}
            </>
          )
        }
      />
      <Group mb="md">
        <Badge
          variant="light"
          size="lg"
          color={STATUS_COLOR[f.status]}
          data-testid="form-status"
          data-status={f.status}
        >
          {t(`status.${f.status}`)}
        </Badge>
        <Text size="sm" c="dimmed">
          {t('detail.total', { count: f.submissions })}
        </Text>
      </Group>
      <Share form={f} t={t} />
      <Tabs defaultValue="submissions" mt="lg" keepMounted={false}>
        <Tabs.List>
          <Tabs.Tab value="submissions" data-testid="tab-submissions">
            {t('detail.submissions')}
          </Tabs.Tab>
          <Tabs.Tab value="results" data-testid="tab-results">
            {t('detail.results')}
          </Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="submissions" pt="md">
          <Submissions form={f} t={t} />
        </Tabs.Panel>
        <Tabs.Panel value="results" pt="md">
          <Results form={f} t={t} />
        </Tabs.Panel>
      </Tabs>
    </>
  );
}

function Copy({ value, t, testId }: { value: string; t: FormsT; testId?: string }) {
  return (
    <CopyButton value={value} timeout={2000}>
      {({ copied, copy }) => (
        <Button
          size="xs"
          variant="light"
          color={copied ? 'teal' : undefined}
          leftSection={<IconCopy size={14} />}
          onClick={copy}
          data-testid={testId}
        >
          {copied ? t('detail.copied') : t('detail.copy')}
        </Button>
      )}
    </CopyButton>
  );
}

function Share({ form, t }: { form: Form; t: FormsT }) {
  if (form.status !== 'live')
    return (
      <Paper withBorder radius="md" p="md">
        <Text size="sm" c="dimmed">
          {t('detail.notLive')}
        </Text>
      </Paper>
    );
  const snippet = `<div id="rapport-form-${form.key}"></div>\n<script src="${form.embedUrl}" data-write-key="${form.writeKey ?? 'wk_…'}" data-target="#rapport-form-${form.key}" async></script>`;
  return (
    <Stack gap="md">
      <Paper withBorder radius="md" p="md">
        <Text fw={600} mb={4}>
          {t('detail.hostedLink')}
        </Text>
        <Text size="sm" c="dimmed" mb="xs">
          {t('detail.hostedHint')}
        </Text>
        <Group gap="xs" wrap="nowrap" align="center">
          <Code style={{ flex: 1, minWidth: 0, overflowWrap: 'anywhere' }} data-testid="hosted-url">
            {form.hostedUrl}
          </Code>
          <Copy value={form.hostedUrl} t={t} />
          <Button
            size="xs"
            variant="default"
            component="a"
            href={form.hostedUrl}
            target="_blank"
            rel="noopener"
            leftSection={<IconExternalLink size={14} />}
          >
            {t('detail.open')}
          </Button>
        </Group>
      </Paper>
      <Paper withBorder radius="md" p="md">
        <Group justify="space-between" mb={4}>
          <Text fw={600}>{t('detail.snippet')}</Text>
          <Copy value={snippet} t={t} testId="snippet-copy" />
        </Group>
        <Text size="sm" c="dimmed" mb="xs">
          {form.writeKey ? t('detail.snippetHint') : t('detail.snippetNoKey')}
        </Text>
        <Code block data-testid="snippet">
          {snippet}
        </Code>
      </Paper>
    </Stack>
  );
}

function answerText(value: unknown) {
  if (Array.isArray(value)) return value.join(', ');
  if (value === true) return '✓';
  if (value === false) return '✗';
  return String(value ?? '');
}

function Submissions({ form, t }: { form: Form; t: FormsT }) {
  const { lang } = useFormsText();
  const { t: tc } = useTranslation();
  const submissions = useSubmissions(form.id);
  const definition = form.definition as FormDefinition;
  const labelOf = (key: string) => {
    const f = definition.fields.find((x) => x.key === key);
    return f ? (lang === 'ru' && f.label.ru ? f.label.ru : f.label.en) : key;
  };
  if (submissions.isPending) return <LoadingBlock />;
  if (submissions.isError) return <ProblemAlert error={submissions.error} />;
  const when = new Intl.DateTimeFormat(lang === 'ru' ? 'ru-RU' : 'en-GB', { dateStyle: 'short', timeStyle: 'short' });
  return (
    <Stack gap="sm">
      <Group justify="flex-end">
        <Button
          size="xs"
          variant="default"
          leftSection={<IconDownload size={14} />}
          onClick={() => downloadSubmissions(form).catch((error: unknown) => notifyProblem(error, tc))}
          data-testid="submissions-export"
        >
          {t('detail.export')}
        </Button>
      </Group>
      <Paper withBorder radius="md">
        <Table.ScrollContainer minWidth={560}>
          <Table data-testid="submissions-table" verticalSpacing="xs">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t('detail.when')}</Table.Th>
                <Table.Th>{t('detail.answers')}</Table.Th>
                <Table.Th>{t('detail.channel')}</Table.Th>
                <Table.Th>{t('detail.profile')}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {submissions.items.length === 0 && <EmptyTableRow columns={4} message={t('detail.noSubmissions')} />}
              {submissions.items.map((s: Submission) => (
                <Table.Tr key={s.id} data-testid="submission-row">
                  <Table.Td style={{ whiteSpace: 'nowrap' }}>
                    <Text size="sm">{when.format(new Date(s.createdAt))}</Text>
                    <Text size="xs" c="dimmed">
                      v{s.version}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    {s.erased ? (
                      <Text size="sm" c="dimmed" fs="italic">
                        {t('detail.erased')}
                      </Text>
                    ) : (
                      <Stack gap={0}>
                        {Object.entries(s.answers).map(([key, value]) => (
                          <Text size="sm" key={key}>
                            <Text span c="dimmed" size="sm">
                              {labelOf(key)}:
                            </Text>{' '}
                            {answerText(value)}
                          </Text>
                        ))}
                        {Object.keys(s.source).length > 0 && (
                          <Text size="xs" c="dimmed" ff="monospace">
                            {Object.entries(s.source)
                              .map(([k, v]) => `${k}=${v}`)
                              .join(' ')}
                          </Text>
                        )}
                      </Stack>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">{s.channel === 'page' ? t('detail.channelPage') : t('detail.channelApi')}</Text>
                  </Table.Td>
                  <Table.Td>
                    {s.profileId && (
                      <Anchor
                        component={Link}
                        to={`/customers/${s.profileId}`}
                        size="sm"
                        data-testid="submission-profile"
                      >
                        {s.profileId.slice(0, 8)}…
                      </Anchor>
                    )}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      </Paper>
      <LoadMore
        hasMore={Boolean(submissions.hasNextPage)}
        loading={submissions.isFetchingNextPage}
        onLoad={() => void submissions.fetchNextPage()}
      />
    </Stack>
  );
}

function Results({ form, t }: { form: Form; t: FormsT }) {
  const { lang } = useFormsText();
  const results = useFormResults(form.id);
  if (results.isPending) return <LoadingBlock />;
  if (results.isError) return <ProblemAlert error={results.error} />;
  const definition = form.definition as FormDefinition;
  if (results.data.total === 0)
    return (
      <Text size="sm" c="dimmed">
        {t('detail.noResults')}
      </Text>
    );
  const optionLabel = (key: string, value: string) => {
    const option = definition.fields.find((f) => f.key === key)?.options?.find((o) => o.value === value);
    return option ? (lang === 'ru' && option.label.ru ? option.label.ru : option.label.en) : value;
  };
  return (
    <Stack gap="md" data-testid="form-results">
      <Text size="sm">{t('detail.total', { count: results.data.total })}</Text>
      {results.data.questions.map((q) => (
        <Paper key={q.key} withBorder radius="md" p="md" data-testid="result-question" data-key={q.key}>
          <Group justify="space-between" mb="xs">
            <Title order={5}>{lang === 'ru' && q.label.ru ? q.label.ru : q.label.en}</Title>
            <Text size="xs" c="dimmed">
              {t('detail.answered', { count: q.answered })}
              {q.average !== undefined &&
                q.average !== null &&
                ` · ${t('detail.average', { value: q.average.toFixed(1) })}`}
            </Text>
          </Group>
          {q.counts && (
            <Stack gap={6}>
              {q.counts.map((c) => {
                const share = q.answered > 0 ? (100 * c.count) / q.answered : 0;
                return (
                  <div key={c.value}>
                    <Group justify="space-between" gap="xs">
                      <Text size="sm">
                        {q.type === 'checkbox' ? answerText(c.value === 'true') : optionLabel(q.key, c.value)}
                      </Text>
                      <Text size="sm" c="dimmed">
                        {c.count}
                      </Text>
                    </Group>
                    <Progress value={share} size="sm" aria-label={`${c.value}: ${c.count}`} />
                  </div>
                );
              })}
            </Stack>
          )}
        </Paper>
      ))}
    </Stack>
  );
}
