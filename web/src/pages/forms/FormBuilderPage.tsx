import {
  Alert,
  Anchor,
  Button,
  Checkbox,
  Grid,
  Group,
  Paper,
  SegmentedControl,
  Stack,
  Switch,
  Text,
  Textarea,
  TextInput,
  Title,
} from '@mantine/core';
import { IconArrowLeft, IconPlus } from '@tabler/icons-react';
import { useEffect, useState } from 'react';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router';
import {
  type ConsentCheckbox,
  FormDefinition,
  type FormField,
  type FormKind,
  SOURCE_PARAMS,
} from '../../../../src/modules/forms/forms.schemas.ts';
import { useCreateForm, useForm, useUpdateForm } from '../../api/forms.ts';
import { LoadingBlock } from '../../components/ListStates.tsx';
import { PageHeader } from '../../components/PageHeader.tsx';
import { notifySuccess, ProblemAlert } from '../../components/ProblemAlert.tsx';
import { RequirePermission } from '../../components/RequirePermission.tsx';
import { ConsentsEditor } from './ConsentsEditor.tsx';
import { FieldEditor } from './FieldEditor.tsx';
import { FormPreview } from './FormPreview.tsx';
import { type FormsT, useFormsText } from './useFormsText.ts';

export type Draft = FormDefinition;

function blankDraft(kind: FormKind): Draft {
  return {
    name: '',
    kind,
    texts: {
      title: { en: '', ru: '' },
      intro: { en: '', ru: '' },
      submitLabel: { en: '', ru: '' },
      thankYou: { en: '', ru: '' },
    },
    fields:
      kind === 'form'
        ? [
            {
              key: 'email',
              type: 'email',
              label: { en: 'E-mail', ru: 'E-mail' },
              required: true,
              maps: { to: 'identity', identity: 'email' },
            },
          ]
        : [
            {
              key: 'rating',
              type: 'rating',
              scale: 5,
              label: { en: '', ru: '' },
              required: true,
              maps: { to: 'event' },
            },
          ],
    consents: [],
    capture: [...SOURCE_PARAMS],
    doubleOptIn: false,
  };
}

/** A key not yet used in the form, from a stem. */
function freeKey(stem: string, used: Set<string>) {
  const base = stem.replace(/[^a-z0-9_]/g, '_').replace(/^[^a-z]+/, '') || 'field';
  if (!used.has(base)) return base;
  for (let i = 2; ; i++) if (!used.has(`${base}_${i}`)) return `${base}_${i}`;
}

function move<T>(list: T[], from: number, to: number) {
  const next = [...list];
  const [item] = next.splice(from, 1);
  next.splice(to, 0, item as T);
  return next;
}

export function FormBuilderPage() {
  const { id } = useParams();
  const form = useForm(id);
  if (id && form.isPending) return <LoadingBlock />;
  if (id && form.isError) return <ProblemAlert error={form.error} />;
  return (
    <RequirePermission permission="forms:manage">
      <Builder existing={form.data} />
    </RequirePermission>
  );
}

function Builder({ existing }: { existing?: ReturnType<typeof useForm>['data'] }) {
  const { t, lang } = useFormsText();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const [key, setKey] = useState('');
  const [draft, setDraft] = useState<Draft>(() =>
    existing ? existing.definition : blankDraft(params.get('kind') === 'survey' ? 'survey' : 'form'),
  );
  const [issues, setIssues] = useState<string[]>([]);
  const [previewLang, setPreviewLang] = useState<'en' | 'ru'>(lang);
  const create = useCreateForm();
  const update = useUpdateForm(existing?.id ?? '');
  const mutation = existing ? update : create;
  useEffect(() => {
    if (existing) setDraft(existing.definition);
  }, [existing]);

  const set = (patch: Partial<Draft>) => setDraft((d) => ({ ...d, ...patch }));
  const setField = (i: number, patch: Partial<FormField>) =>
    setDraft((d) => ({ ...d, fields: d.fields.map((f, j) => (j === i ? ({ ...f, ...patch } as FormField) : f)) }));
  const setConsent = (i: number, patch: Partial<ConsentCheckbox>) =>
    setDraft((d) => ({ ...d, consents: d.consents.map((c, j) => (j === i ? { ...c, ...patch } : c)) }));
  const usedKeys = () => new Set([...draft.fields.map((f) => f.key), ...draft.consents.map((c) => c.key)]);

  const save = () => {
    const parsed = FormDefinition.safeParse(draft);
    if (!parsed.success) {
      setIssues(parsed.error.issues.map((i) => `${i.path.join('.') || '—'}: ${i.message}`));
      return;
    }
    setIssues([]);
    const onSuccess = (saved: { id: string; version: number }) => {
      notifySuccess(
        existing && saved.version !== existing.version ? t('savedVersion', { version: saved.version }) : t('saved'),
      );
      void navigate(`/forms/${saved.id}`);
    };
    if (existing) update.mutate(parsed.data, { onSuccess });
    else create.mutate({ key, definition: parsed.data }, { onSuccess });
  };

  const frozen = existing && existing.publishedVersion !== null && existing.version <= existing.publishedVersion;
  return (
    <>
      <Anchor
        component={Link}
        to={existing ? `/forms/${existing.id}` : '/forms'}
        size="sm"
        mb="xs"
        display="inline-flex"
      >
        <IconArrowLeft size={14} style={{ marginRight: 4 }} />
        {t('backToList')}
      </Anchor>
      <PageHeader
        title={existing ? t('builder.titleEdit', { name: existing.name }) : t('builder.titleNew')}
        actions={
          <Button onClick={save} loading={mutation.isPending} data-testid="form-save">
            {t('save')}
          </Button>
        }
      />
      {frozen && (
        <Alert color="blue" mb="md">
          {t('builder.liveWarning', { version: (existing?.version ?? 0) + 1 })}
        </Alert>
      )}
      {issues.length > 0 && (
        <Alert color="red" mb="md" title={t('builder.invalid')} data-testid="form-issues">
          <Stack gap={2}>
            {issues.map((issue) => (
              <Text size="sm" key={issue}>
                {issue}
              </Text>
            ))}
          </Stack>
        </Alert>
      )}
      {mutation.isError && <ProblemAlert error={mutation.error} />}
      <Grid gap="lg">
        <Grid.Col span={{ base: 12, lg: 7 }}>
          <Stack gap="lg">
            <Paper withBorder radius="md" p="md">
              <Title order={4} mb="sm">
                {t('builder.general')}
              </Title>
              <Stack gap="sm">
                {!existing && (
                  <TextInput
                    label={t('builder.key')}
                    description={t('builder.keyHint')}
                    value={key}
                    onChange={(e) => setKey(e.currentTarget.value.toLowerCase())}
                    required
                    data-testid="form-key"
                  />
                )}
                <TextInput
                  label={t('builder.name')}
                  value={draft.name}
                  onChange={(e) => set({ name: e.currentTarget.value })}
                  required
                  data-testid="form-name"
                />
                <SegmentedControl
                  value={draft.kind}
                  disabled={Boolean(existing?.publishedVersion)}
                  onChange={(v) => set({ kind: v as FormKind })}
                  data={(['form', 'survey'] as const).map((k) => ({ value: k, label: t(`kind.${k}`) }))}
                />
                <Bilingual
                  t={t}
                  label={t('builder.title')}
                  value={draft.texts.title}
                  onChange={(title) => set({ texts: { ...draft.texts, title } })}
                  testId="form-title"
                />
                <Bilingual
                  t={t}
                  multiline
                  label={t('builder.intro')}
                  value={draft.texts.intro}
                  onChange={(intro) => set({ texts: { ...draft.texts, intro } })}
                />
                <Bilingual
                  t={t}
                  label={t('builder.submitLabel')}
                  value={draft.texts.submitLabel}
                  onChange={(submitLabel) => set({ texts: { ...draft.texts, submitLabel } })}
                />
                <Bilingual
                  t={t}
                  multiline
                  label={t('builder.thankYou')}
                  value={draft.texts.thankYou}
                  onChange={(thankYou) => set({ texts: { ...draft.texts, thankYou } })}
                />
              </Stack>
            </Paper>

            <Paper withBorder radius="md" p="md">
              <Group justify="space-between" mb="sm">
                <Title order={4}>{t('builder.fields')}</Title>
                <Button
                  variant="light"
                  size="xs"
                  leftSection={<IconPlus size={14} />}
                  data-testid="field-add"
                  onClick={() =>
                    set({
                      fields: [
                        ...draft.fields,
                        {
                          key: freeKey('field', usedKeys()),
                          type: 'text',
                          label: { en: '', ru: '' },
                          required: false,
                          maps: { to: 'event' },
                        },
                      ],
                    })
                  }
                >
                  {t('builder.addField')}
                </Button>
              </Group>
              <Stack gap="md">
                {draft.fields.map((field, i) => (
                  <FieldEditor
                    // biome-ignore lint/suspicious/noArrayIndexKey: fields are edited in place, keys change while typing
                    key={i}
                    t={t}
                    index={i}
                    count={draft.fields.length}
                    field={field}
                    onChange={(patch) => setField(i, patch)}
                    onMove={(to) => set({ fields: move(draft.fields, i, to) })}
                    onRemove={() => set({ fields: draft.fields.filter((_, j) => j !== i) })}
                  />
                ))}
              </Stack>
            </Paper>

            <ConsentsEditor
              t={t}
              consents={draft.consents}
              onAdd={(c) => set({ consents: [...draft.consents, { ...c, key: freeKey(c.purpose, usedKeys()) }] })}
              onChange={setConsent}
              onRemove={(i) => set({ consents: draft.consents.filter((_, j) => j !== i) })}
            />

            <Paper withBorder radius="md" p="md">
              <Stack gap="sm">
                <Switch
                  label={t('builder.doubleOptIn')}
                  description={t('builder.doubleOptInHint')}
                  checked={draft.doubleOptIn}
                  onChange={(e) => set({ doubleOptIn: e.currentTarget.checked })}
                />
                <Checkbox.Group
                  label={t('builder.capture')}
                  description={t('builder.captureHint')}
                  value={draft.capture}
                  onChange={(v) => set({ capture: SOURCE_PARAMS.filter((p) => v.includes(p)) })}
                >
                  <Group gap="md" mt="xs">
                    {SOURCE_PARAMS.map((p) => (
                      <Checkbox key={p} value={p} label={p} />
                    ))}
                  </Group>
                </Checkbox.Group>
              </Stack>
            </Paper>
          </Stack>
        </Grid.Col>
        <Grid.Col span={{ base: 12, lg: 5 }}>
          <Paper withBorder radius="md" p="md" style={{ position: 'sticky', top: 16 }}>
            <Group justify="space-between" mb="sm">
              <Title order={4}>{t('builder.preview')}</Title>
              <SegmentedControl
                size="xs"
                value={previewLang}
                onChange={(v) => setPreviewLang(v as 'en' | 'ru')}
                data={[
                  { value: 'en', label: 'EN' },
                  { value: 'ru', label: 'RU' },
                ]}
              />
            </Group>
            <FormPreview definition={draft} lang={previewLang} />
          </Paper>
        </Grid.Col>
      </Grid>
    </>
  );
}

function Bilingual({
  t,
  label,
  value,
  onChange,
  multiline,
  testId,
}: {
  t: FormsT;
  label: string;
  value: { en: string; ru: string };
  onChange: (v: { en: string; ru: string }) => void;
  multiline?: boolean;
  testId?: string;
}) {
  const Input = multiline ? Textarea : TextInput;
  return (
    <Group grow align="flex-start" gap="sm">
      <Input
        label={`${label} · ${t('builder.english')}`}
        value={value.en}
        onChange={(e) => onChange({ ...value, en: e.currentTarget.value })}
        data-testid={testId ? `${testId}-en` : undefined}
        autosize={multiline ? true : undefined}
      />
      <Input
        label={`${label} · ${t('builder.russian')}`}
        value={value.ru}
        onChange={(e) => onChange({ ...value, ru: e.currentTarget.value })}
        data-testid={testId ? `${testId}-ru` : undefined}
        autosize={multiline ? true : undefined}
      />
    </Group>
  );
}
