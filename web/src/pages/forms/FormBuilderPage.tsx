import {
  ActionIcon,
  Alert,
  Anchor,
  Button,
  Checkbox,
  Grid,
  Group,
  Paper,
  SegmentedControl,
  Select,
  Stack,
  Switch,
  Text,
  Textarea,
  TextInput,
  Title,
  Tooltip,
} from '@mantine/core';
import { IconArrowDown, IconArrowLeft, IconArrowUp, IconPlus, IconTrash } from '@tabler/icons-react';
import { useEffect, useState } from 'react';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router';
import {
  type ConsentCheckbox,
  FIELD_TYPES,
  FORM_CONSENT_CHANNELS,
  FormDefinition,
  type FormField,
  type FormKind,
  SOURCE_PARAMS,
} from '../../../../src/modules/forms/forms.schemas.ts';
import { useConsentSettings } from '../../api/consent.ts';
import { useCreateForm, useForm, useUpdateForm } from '../../api/forms.ts';
import { LoadingBlock } from '../../components/ListStates.tsx';
import { PageHeader } from '../../components/PageHeader.tsx';
import { notifySuccess, ProblemAlert } from '../../components/ProblemAlert.tsx';
import { RequirePermission } from '../../components/RequirePermission.tsx';
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

const IDENTITY_OF: Partial<Record<FormField['type'], 'email' | 'phone' | 'user_id'>> = {
  email: 'email',
  phone: 'phone',
  text: 'user_id',
  hidden: 'user_id',
};

function FieldEditor({
  t,
  index,
  count,
  field,
  onChange,
  onMove,
  onRemove,
}: {
  t: FormsT;
  index: number;
  count: number;
  field: FormField;
  onChange: (patch: Partial<FormField>) => void;
  onMove: (to: number) => void;
  onRemove: () => void;
}) {
  const choice = field.type === 'select' || field.type === 'multiselect';
  const identity = IDENTITY_OF[field.type];
  return (
    <Paper withBorder radius="sm" p="sm" bg="var(--mantine-color-gray-0)" data-testid="field-editor" data-index={index}>
      <Group justify="space-between" mb="xs">
        <Text fw={600} size="sm">
          {t('builder.field', { n: index + 1 })}
        </Text>
        <Group gap={4}>
          <Tooltip label={t('builder.moveUp')}>
            <ActionIcon
              variant="subtle"
              disabled={index === 0}
              onClick={() => onMove(index - 1)}
              aria-label={t('builder.moveUp')}
            >
              <IconArrowUp size={16} />
            </ActionIcon>
          </Tooltip>
          <Tooltip label={t('builder.moveDown')}>
            <ActionIcon
              variant="subtle"
              disabled={index === count - 1}
              onClick={() => onMove(index + 1)}
              aria-label={t('builder.moveDown')}
            >
              <IconArrowDown size={16} />
            </ActionIcon>
          </Tooltip>
          <Tooltip label={t('builder.remove')}>
            <ActionIcon
              variant="subtle"
              color="red"
              disabled={count === 1}
              onClick={onRemove}
              aria-label={t('builder.remove')}
            >
              <IconTrash size={16} />
            </ActionIcon>
          </Tooltip>
        </Group>
      </Group>
      <Stack gap="xs">
        <Group grow gap="sm" align="flex-start">
          <Select
            label={t('builder.type')}
            value={field.type}
            allowDeselect={false}
            data={FIELD_TYPES.map((type) => ({ value: type, label: t(`types.${type}`) }))}
            onChange={(v) => {
              const type = v as FormField['type'];
              const options =
                type === 'select' || type === 'multiselect'
                  ? (field.options?.length ?? 0) >= 2
                    ? field.options
                    : [
                        { value: 'a', label: { en: '', ru: '' } },
                        { value: 'b', label: { en: '', ru: '' } },
                      ]
                  : undefined;
              const maps =
                field.maps.to === 'identity' && IDENTITY_OF[type] !== field.maps.identity
                  ? type === 'email' || type === 'phone'
                    ? { to: 'identity' as const, identity: type }
                    : { to: 'event' as const }
                  : type === 'email' || type === 'phone'
                    ? { to: 'identity' as const, identity: type }
                    : field.maps;
              onChange({ type, options, scale: type === 'rating' ? (field.scale ?? 5) : undefined, maps });
            }}
            data-testid="field-type"
          />
          <TextInput
            label={t('builder.fieldKey')}
            value={field.key}
            onChange={(e) => onChange({ key: e.currentTarget.value })}
            data-testid="field-key"
          />
        </Group>
        <Group grow gap="sm" align="flex-start">
          <TextInput
            label={t('builder.labelEn')}
            value={field.label.en}
            onChange={(e) => onChange({ label: { ...field.label, en: e.currentTarget.value } })}
            data-testid="field-label-en"
          />
          <TextInput
            label={t('builder.labelRu')}
            value={field.label.ru}
            onChange={(e) => onChange({ label: { ...field.label, ru: e.currentTarget.value } })}
            data-testid="field-label-ru"
          />
        </Group>
        <Group grow gap="sm" align="flex-end">
          <Select
            label={t('builder.maps')}
            value={field.maps.to}
            allowDeselect={false}
            data={[
              { value: 'event', label: t('builder.mapsEvent') },
              { value: 'trait', label: t('builder.mapsTrait') },
              ...(identity ? [{ value: 'identity', label: t('builder.mapsIdentity') }] : []),
            ]}
            onChange={(v) =>
              onChange({
                maps:
                  v === 'trait'
                    ? { to: 'trait', trait: field.key }
                    : v === 'identity' && identity
                      ? { to: 'identity', identity }
                      : { to: 'event' },
              })
            }
            data-testid="field-maps"
          />
          {field.maps.to === 'trait' ? (
            <TextInput
              label={t('builder.traitName')}
              description={t('builder.traitHint')}
              value={field.maps.trait}
              onChange={(e) => onChange({ maps: { to: 'trait', trait: e.currentTarget.value } })}
              data-testid="field-trait"
            />
          ) : field.maps.to === 'identity' ? (
            <TextInput label={t('builder.identity')} value={t(`identities.${field.maps.identity}`)} readOnly />
          ) : (
            <div />
          )}
        </Group>
        {field.type === 'rating' && (
          <SegmentedControl
            value={String(field.scale ?? 5)}
            onChange={(v) => onChange({ scale: Number(v) as 5 | 10 })}
            data={[
              { value: '5', label: '1–5' },
              { value: '10', label: '1–10' },
            ]}
            aria-label={t('builder.scale')}
          />
        )}
        {choice && (
          <Stack gap={6}>
            <Text size="sm" fw={500}>
              {t('builder.options')}
            </Text>
            {(field.options ?? []).map((option, j) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: options are edited in place
              <Group key={j} gap="xs" wrap="nowrap" align="flex-end">
                <TextInput
                  aria-label={t('builder.optionValue')}
                  placeholder={t('builder.optionValue')}
                  w={110}
                  value={option.value}
                  onChange={(e) =>
                    onChange({
                      options: field.options?.map((o, k) => (k === j ? { ...o, value: e.currentTarget.value } : o)),
                    })
                  }
                />
                <TextInput
                  aria-label={t('builder.labelEn')}
                  placeholder={t('builder.labelEn')}
                  style={{ flex: 1 }}
                  value={option.label.en}
                  onChange={(e) =>
                    onChange({
                      options: field.options?.map((o, k) =>
                        k === j ? { ...o, label: { ...o.label, en: e.currentTarget.value } } : o,
                      ),
                    })
                  }
                />
                <TextInput
                  aria-label={t('builder.labelRu')}
                  placeholder={t('builder.labelRu')}
                  style={{ flex: 1 }}
                  value={option.label.ru}
                  onChange={(e) =>
                    onChange({
                      options: field.options?.map((o, k) =>
                        k === j ? { ...o, label: { ...o.label, ru: e.currentTarget.value } } : o,
                      ),
                    })
                  }
                />
                <ActionIcon
                  variant="subtle"
                  color="red"
                  aria-label={t('builder.remove')}
                  onClick={() => onChange({ options: field.options?.filter((_, k) => k !== j) })}
                >
                  <IconTrash size={16} />
                </ActionIcon>
              </Group>
            ))}
            <Group>
              <Button
                size="xs"
                variant="subtle"
                leftSection={<IconPlus size={14} />}
                onClick={() =>
                  onChange({
                    options: [
                      ...(field.options ?? []),
                      { value: `option_${(field.options?.length ?? 0) + 1}`, label: { en: '', ru: '' } },
                    ],
                  })
                }
              >
                {t('builder.addOption')}
              </Button>
            </Group>
          </Stack>
        )}
        {field.type !== 'hidden' && (
          <Checkbox
            label={t('builder.required')}
            checked={field.required}
            onChange={(e) => onChange({ required: e.currentTarget.checked })}
            data-testid="field-required"
          />
        )}
      </Stack>
    </Paper>
  );
}

function ConsentsEditor({
  t,
  consents,
  onAdd,
  onChange,
  onRemove,
}: {
  t: FormsT;
  consents: ConsentCheckbox[];
  onAdd: (c: ConsentCheckbox) => void;
  onChange: (i: number, patch: Partial<ConsentCheckbox>) => void;
  onRemove: (i: number) => void;
}) {
  const settings = useConsentSettings();
  const wordings = settings.data?.wordings ?? [];
  // One choice per purpose and version; its English and Russian texts fill the box's label.
  const choices = [...new Map(wordings.map((w) => [`${w.purpose}@${w.version}`, w])).values()];
  const textOf = (purpose: string, version: string, locale: 'en' | 'ru') =>
    wordings.find((w) => w.purpose === purpose && w.version === version && w.locale === locale)?.text ?? '';
  const choose = (value: string | null): Omit<ConsentCheckbox, 'key'> | null => {
    const w = choices.find((c) => `${c.purpose}@${c.version}` === value);
    if (!w) return null;
    const en = textOf(w.purpose, w.version, 'en') || textOf(w.purpose, w.version, 'ru');
    return {
      channel: 'email',
      purpose: w.purpose,
      wordingVersion: w.version,
      label: { en, ru: textOf(w.purpose, w.version, 'ru') },
      required: w.purpose === 'processing',
    };
  };
  return (
    <Paper withBorder radius="md" p="md">
      <Group justify="space-between" mb={4}>
        <Title order={4}>{t('builder.consents')}</Title>
      </Group>
      <Text size="sm" c="dimmed" mb="sm">
        {t('builder.consentsHint')}
      </Text>
      {settings.isError && <ProblemAlert error={settings.error} />}
      <Stack gap="sm">
        {consents.map((c, i) => (
          <Paper
            key={c.key}
            withBorder
            radius="sm"
            p="sm"
            bg="var(--mantine-color-gray-0)"
            data-testid="consent-editor"
          >
            <Group grow gap="sm" align="flex-end">
              <Select
                label={t('builder.wording')}
                value={`${c.purpose}@${c.wordingVersion}`}
                allowDeselect={false}
                data={[
                  ...choices.map((w) => ({ value: `${w.purpose}@${w.version}`, label: `${w.purpose} · ${w.version}` })),
                  ...(choices.some((w) => w.purpose === c.purpose && w.version === c.wordingVersion)
                    ? []
                    : [{ value: `${c.purpose}@${c.wordingVersion}`, label: `${c.purpose} · ${c.wordingVersion}` }]),
                ]}
                onChange={(v) => {
                  const chosen = choose(v);
                  if (chosen) onChange(i, { ...chosen, channel: c.channel });
                }}
              />
              <Select
                label={t('builder.channel')}
                value={c.channel}
                allowDeselect={false}
                data={FORM_CONSENT_CHANNELS.map((ch) => ({ value: ch, label: t(`channels.${ch}`) }))}
                onChange={(v) => onChange(i, { channel: v as ConsentCheckbox['channel'] })}
                data-testid="consent-channel"
              />
              <ActionIcon
                variant="subtle"
                color="red"
                aria-label={t('builder.remove')}
                onClick={() => onRemove(i)}
                style={{ flex: 'none' }}
              >
                <IconTrash size={16} />
              </ActionIcon>
            </Group>
            <Text size="xs" c="dimmed" mt={6} lineClamp={2}>
              {c.label.en}
            </Text>
            <Checkbox
              mt={6}
              label={t('builder.required')}
              checked={c.required}
              onChange={(e) => onChange(i, { required: e.currentTarget.checked })}
            />
          </Paper>
        ))}
        {settings.isSuccess && choices.length === 0 && (
          <Text size="sm" c="dimmed">
            {t('builder.noWordings')}
          </Text>
        )}
        {choices.length > 0 && (
          <Select
            placeholder={t('builder.addConsent')}
            aria-label={t('builder.addConsent')}
            value={null}
            data={choices.map((w) => ({ value: `${w.purpose}@${w.version}`, label: `${w.purpose} · ${w.version}` }))}
            onChange={(v) => {
              const chosen = choose(v);
              if (chosen) onAdd({ ...chosen, key: '' });
            }}
            data-testid="consent-add"
          />
        )}
      </Stack>
    </Paper>
  );
}
