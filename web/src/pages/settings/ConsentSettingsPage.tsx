import {
  ActionIcon,
  Badge,
  Button,
  Code,
  Group,
  Modal,
  NumberInput,
  Paper,
  Select,
  SimpleGrid,
  Spoiler,
  Stack,
  Table,
  TagsInput,
  Text,
  Textarea,
  TextInput,
  Title,
} from '@mantine/core';
import { IconPencil, IconPlus, IconTrash } from '@tabler/icons-react';
import { type FormEvent, type ReactNode, useState } from 'react';
import { useTranslation } from 'react-i18next';
import {
  ConsentSettings,
  type Purpose,
  PurposeKey,
  PurposeKind,
  Wording,
} from '../../../../src/modules/consent/consent.schemas.ts';
import {
  type ConsentSettingsWithWordings,
  useAddWording,
  useConsentSettings,
  useSaveConsentSettings,
} from '../../api/consent.ts';
import { LoadingBlock } from '../../components/ListStates.tsx';
import { PageHeader } from '../../components/PageHeader.tsx';
import { notifySuccess, ProblemAlert } from '../../components/ProblemAlert.tsx';
import { RequirePermission } from '../../components/RequirePermission.tsx';
import { purposeLabel } from '../../lib/consent.ts';
import { useWorkspaceClock } from '../../lib/useWorkspaceClock.ts';
import { ConsentOutbox } from '../consent/ConsentOutbox.tsx';

export function ConsentSettingsPage() {
  const { t } = useTranslation();
  return (
    <>
      <PageHeader title={t('consentSettings.title')} description={t('consentSettings.description')} />
      <RequirePermission permission="workspace:manage">
        <ConsentSettingsView />
      </RequirePermission>
    </>
  );
}

function ConsentSettingsView() {
  const settings = useConsentSettings();
  if (settings.isPending) return <LoadingBlock />;
  if (settings.isError) return <ProblemAlert error={settings.error} />;
  const { wordings, ...editable } = settings.data;
  return (
    <Stack gap="lg" maw={960}>
      {/* Keyed so that a save (or a workspace switch) starts the form again from the server's values. */}
      <SettingsForm key={JSON.stringify(editable)} settings={editable} />
      <Wordings settings={settings.data} />
      <ConsentOutbox />
    </Stack>
  );
}

function Card({
  title,
  hint,
  actions,
  children,
  testId,
}: {
  title: string;
  hint?: string;
  actions?: ReactNode;
  children: ReactNode;
  testId?: string;
}) {
  return (
    <Paper withBorder radius="md" p={{ base: 'md', sm: 'lg' }} data-testid={testId}>
      <Group justify="space-between" align="flex-start" gap="sm" mb="md">
        <Stack gap={2} style={{ flex: '1 1 240px', minWidth: 0 }}>
          <Title order={4}>{title}</Title>
          {hint && (
            <Text size="sm" c="dimmed">
              {hint}
            </Text>
          )}
        </Stack>
        {actions}
      </Group>
      {children}
    </Paper>
  );
}

function SettingsForm({ settings }: { settings: ConsentSettings }) {
  const { t } = useTranslation();
  const mutation = useSaveConsentSettings();
  const [purposes, setPurposes] = useState<Purpose[]>(settings.purposes);
  const [stopKeywords, setStopKeywords] = useState<string[]>(settings.stopKeywords);
  const [pendingHours, setPendingHours] = useState<number | string>(settings.pendingHours);
  // null: closed; 'new': adding; otherwise the index of the purpose being edited.
  const [editing, setEditing] = useState<number | 'new' | null>(null);

  const next = { purposes, stopKeywords, pendingHours: Number(pendingHours) };
  const valid = ConsentSettings.safeParse(next).success;
  const hoursError = ConsentSettings.shape.pendingHours.safeParse(Number(pendingHours)).success
    ? undefined
    : t('consentSettings.invalidHours');
  const dirty = JSON.stringify(next) !== JSON.stringify(settings);

  function submit(event: FormEvent) {
    event.preventDefault();
    if (!dirty || !valid) return;
    mutation.mutate(next, { onSuccess: () => notifySuccess(t('consentSettings.saved')) });
  }

  return (
    <form onSubmit={submit} noValidate>
      <Stack gap="lg">
        <Card
          title={t('consentSettings.purposes')}
          hint={t('consentSettings.purposesHint')}
          testId="consent-purposes"
          actions={
            <Button
              size="xs"
              variant="light"
              leftSection={<IconPlus size={14} />}
              onClick={() => setEditing('new')}
              data-testid="consent-purpose-add"
            >
              {t('consentSettings.addPurpose')}
            </Button>
          }
        >
          <Table verticalSpacing="xs" data-testid="consent-purpose-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t('consent.purpose')}</Table.Th>
                <Table.Th w={150} visibleFrom="xs">
                  {t('consentSettings.kind')}
                </Table.Th>
                <Table.Th w={80} />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {purposes.map((purpose, index) => (
                <Table.Tr key={purpose.key} data-testid="consent-purpose-row" data-key={purpose.key}>
                  <Table.Td>
                    <Stack gap={0} style={{ minWidth: 0 }}>
                      <Text size="sm" fw={500} style={{ wordBreak: 'break-word' }}>
                        {purpose.nameEn}
                      </Text>
                      <Text size="sm" style={{ wordBreak: 'break-word' }}>
                        {purpose.nameRu}
                      </Text>
                      <Group gap={6} mt={2}>
                        <Code fz="xs">{purpose.key}</Code>
                        <Badge size="xs" variant="light" color="gray" tt="none" hiddenFrom="xs">
                          {t(`consent.kinds.${purpose.kind}`)}
                        </Badge>
                      </Group>
                    </Stack>
                  </Table.Td>
                  <Table.Td visibleFrom="xs">
                    <Badge size="sm" variant="light" color="gray" tt="none">
                      {t(`consent.kinds.${purpose.kind}`)}
                    </Badge>
                  </Table.Td>
                  <Table.Td>
                    <Group gap={4} justify="flex-end" wrap="nowrap">
                      <ActionIcon
                        variant="subtle"
                        color="gray"
                        aria-label={t('consentSettings.editPurpose')}
                        onClick={() => setEditing(index)}
                        data-testid="consent-purpose-edit"
                      >
                        <IconPencil size={16} />
                      </ActionIcon>
                      <ActionIcon
                        variant="subtle"
                        color="red"
                        aria-label={t('consentSettings.removePurpose')}
                        disabled={purposes.length <= 1}
                        onClick={() => setPurposes((current) => current.filter((_, i) => i !== index))}
                        data-testid="consent-purpose-remove"
                      >
                        <IconTrash size={16} />
                      </ActionIcon>
                    </Group>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Card>

        <Card title={t('consentSettings.optOutCard')} testId="consent-keywords-card">
          <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="md">
            <TagsInput
              label={t('consentSettings.stopKeywords')}
              description={t('consentSettings.stopKeywordsHint')}
              value={stopKeywords}
              onChange={(values) => setStopKeywords([...new Set(values.map((v) => v.trim()).filter(Boolean))])}
              maxTags={50}
              clearable
              data-testid="consent-keywords"
            />
            <NumberInput
              label={t('consentSettings.pendingHours')}
              description={t('consentSettings.pendingHoursHint')}
              value={pendingHours}
              onChange={setPendingHours}
              min={1}
              max={24 * 30}
              allowDecimal={false}
              error={hoursError}
              data-testid="consent-pending-hours"
            />
          </SimpleGrid>
        </Card>

        {mutation.error ? <ProblemAlert error={mutation.error} /> : null}
        <Group justify="flex-end" gap="sm">
          {dirty && (
            <Text size="sm" c="dimmed">
              {t('consentSettings.unsaved')}
            </Text>
          )}
          <Button
            type="submit"
            disabled={!dirty || !valid}
            loading={mutation.isPending}
            data-testid="consent-settings-save"
          >
            {t('common.saveChanges')}
          </Button>
        </Group>
      </Stack>
      {editing !== null && (
        <PurposeModal
          purpose={editing === 'new' ? null : (purposes[editing] ?? null)}
          takenKeys={purposes.filter((_, i) => i !== editing).map((p) => p.key)}
          onSave={(purpose) => {
            setPurposes((current) =>
              editing === 'new' ? [...current, purpose] : current.map((p, i) => (i === editing ? purpose : p)),
            );
            setEditing(null);
          }}
          onClose={() => setEditing(null)}
        />
      )}
    </form>
  );
}

/** Edits one purpose in the form's state; nothing is sent until the settings are saved. */
function PurposeModal({
  purpose,
  takenKeys,
  onSave,
  onClose,
}: {
  purpose: Purpose | null;
  takenKeys: string[];
  onSave: (purpose: Purpose) => void;
  onClose: () => void;
}) {
  const { t } = useTranslation();
  const [key, setKey] = useState(purpose?.key ?? '');
  const [kind, setKind] = useState<Purpose['kind']>(purpose?.kind ?? 'marketing');
  const [nameEn, setNameEn] = useState(purpose?.nameEn ?? '');
  const [nameRu, setNameRu] = useState(purpose?.nameRu ?? '');
  const [touched, setTouched] = useState(false);
  const keyError = !PurposeKey.safeParse(key).success
    ? t('consentSettings.invalidKey')
    : takenKeys.includes(key)
      ? t('consentSettings.duplicateKey')
      : undefined;
  const errors = {
    key: keyError,
    nameEn: nameEn.trim() ? undefined : t('validation.required'),
    nameRu: nameRu.trim() ? undefined : t('validation.required'),
  };
  const valid = !errors.key && !errors.nameEn && !errors.nameRu;

  function submit(event: FormEvent) {
    event.preventDefault();
    event.stopPropagation();
    setTouched(true);
    if (valid) onSave({ key, kind, nameEn: nameEn.trim(), nameRu: nameRu.trim() });
  }

  return (
    <Modal
      opened
      onClose={onClose}
      title={purpose ? t('consentSettings.editPurpose') : t('consentSettings.addPurpose')}
      centered
    >
      {/* A form of its own inside the settings form's tree: stopPropagation keeps its submit from saving them. */}
      <form onSubmit={submit} noValidate data-testid="consent-purpose-form">
        <Stack gap="md">
          <SimpleGrid cols={{ base: 1, xs: 2 }} spacing="sm">
            <TextInput
              label={t('consentSettings.key')}
              description={purpose ? undefined : t('consentSettings.keyHint')}
              value={key}
              onChange={(event) => setKey(event.currentTarget.value.trim())}
              disabled={Boolean(purpose)}
              error={touched && errors.key}
              ff="monospace"
              data-testid="consent-purpose-key"
            />
            <Select
              label={t('consentSettings.kind')}
              data={PurposeKind.options.map((value) => ({ value, label: t(`consent.kinds.${value}`) }))}
              value={kind}
              onChange={(value) => value && setKind(value as Purpose['kind'])}
              allowDeselect={false}
              comboboxProps={{ withinPortal: true }}
              data-testid="consent-purpose-kind"
            />
          </SimpleGrid>
          <TextInput
            label={t('consentSettings.nameEn')}
            value={nameEn}
            onChange={(event) => setNameEn(event.currentTarget.value)}
            error={touched && errors.nameEn}
            maxLength={200}
            data-testid="consent-purpose-name-en"
          />
          <TextInput
            label={t('consentSettings.nameRu')}
            value={nameRu}
            onChange={(event) => setNameRu(event.currentTarget.value)}
            error={touched && errors.nameRu}
            maxLength={200}
            data-testid="consent-purpose-name-ru"
          />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              {t('common.cancel')}
            </Button>
            <Button type="submit" data-testid="consent-purpose-submit">
              {t('common.done')}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

function Wordings({ settings }: { settings: ConsentSettingsWithWordings }) {
  const { t, i18n } = useTranslation();
  const { format } = useWorkspaceClock();
  const [adding, setAdding] = useState(false);
  const wordings = [...settings.wordings].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  return (
    <Card
      title={t('consentSettings.wordings')}
      hint={t('consentSettings.wordingsHint')}
      testId="consent-wordings"
      actions={
        <Button
          size="xs"
          variant="light"
          leftSection={<IconPlus size={14} />}
          onClick={() => setAdding(true)}
          data-testid="consent-wording-add"
        >
          {t('consentSettings.addWording')}
        </Button>
      }
    >
      {wordings.length === 0 ? (
        <Text size="sm" c="dimmed" ta="center" py="md">
          {t('consentSettings.noWordings')}
        </Text>
      ) : (
        <Stack gap="sm">
          {wordings.map((wording) => (
            <Paper
              key={`${wording.purpose}/${wording.version}/${wording.locale}`}
              withBorder
              radius="sm"
              p="sm"
              data-testid="consent-wording-row"
            >
              <Group justify="space-between" gap="xs" mb={4}>
                <Group gap={6}>
                  <Text size="sm" fw={600}>
                    {purposeLabel(wording.purpose, settings.purposes, i18n.resolvedLanguage)}
                  </Text>
                  <Badge size="sm" variant="light" tt="none">
                    {wording.version}
                  </Badge>
                  <Badge size="sm" variant="outline" color="gray">
                    {wording.locale}
                  </Badge>
                </Group>
                <Text size="xs" c="dimmed">
                  {format(wording.createdAt)}
                </Text>
              </Group>
              <Spoiler maxHeight={44} showLabel="…" hideLabel="↑" fz="sm">
                <Text size="sm" style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-word' }}>
                  {wording.text}
                </Text>
              </Spoiler>
            </Paper>
          ))}
        </Stack>
      )}
      {adding && <WordingModal purposes={settings.purposes} onClose={() => setAdding(false)} />}
    </Card>
  );
}

function WordingModal({ purposes, onClose }: { purposes: Purpose[]; onClose: () => void }) {
  const { t, i18n } = useTranslation();
  const mutation = useAddWording();
  const [purpose, setPurpose] = useState(purposes[0]?.key ?? '');
  const [version, setVersion] = useState('');
  const [locale, setLocale] = useState<'en' | 'ru'>(i18n.resolvedLanguage === 'ru' ? 'ru' : 'en');
  const [text, setText] = useState('');
  const wording = { purpose, version: version.trim(), locale, text: text.trim() };
  const valid = Wording.safeParse(wording).success;

  function submit(event: FormEvent) {
    event.preventDefault();
    if (!valid) return;
    mutation.mutate(wording, {
      onSuccess: () => {
        notifySuccess(t('consentSettings.wordingAdded'));
        onClose();
      },
    });
  }

  return (
    <Modal opened onClose={onClose} title={t('consentSettings.addWordingTitle')} centered size="lg">
      <form onSubmit={submit} noValidate data-testid="consent-wording-form">
        <Stack gap="md">
          {mutation.error ? <ProblemAlert error={mutation.error} /> : null}
          <SimpleGrid cols={{ base: 1, xs: 3 }} spacing="sm">
            <Select
              label={t('consent.purpose')}
              data={purposes.map((p) => ({
                value: p.key,
                label: purposeLabel(p.key, purposes, i18n.resolvedLanguage),
              }))}
              value={purpose}
              onChange={(value) => value && setPurpose(value)}
              allowDeselect={false}
              comboboxProps={{ withinPortal: true }}
              data-testid="consent-wording-purpose"
            />
            <TextInput
              label={t('consentSettings.version')}
              placeholder={t('consent.wordingPlaceholder')}
              value={version}
              onChange={(event) => setVersion(event.currentTarget.value)}
              maxLength={100}
              data-testid="consent-wording-version"
            />
            <Select
              label={t('consentSettings.locale')}
              data={[
                { value: 'en', label: t('locales.en') },
                { value: 'ru', label: t('locales.ru') },
              ]}
              value={locale}
              onChange={(value) => setLocale(value === 'ru' ? 'ru' : 'en')}
              allowDeselect={false}
              comboboxProps={{ withinPortal: true }}
              data-testid="consent-wording-locale"
            />
          </SimpleGrid>
          <Textarea
            label={t('consentSettings.text')}
            value={text}
            onChange={(event) => setText(event.currentTarget.value)}
            autosize
            minRows={4}
            maxRows={12}
            maxLength={10_000}
            data-testid="consent-wording-text"
          />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              {t('common.cancel')}
            </Button>
            <Button type="submit" disabled={!valid} loading={mutation.isPending} data-testid="consent-wording-submit">
              {t('consentSettings.addWording')}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
