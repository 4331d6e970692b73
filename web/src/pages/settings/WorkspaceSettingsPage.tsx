import { Alert, Button, Group, Paper, Select, SimpleGrid, Stack, Text, TextInput } from '@mantine/core';
import { IconInfoCircle } from '@tabler/icons-react';
import { type FormEvent, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { type Locale, type Workspace, WorkspaceUpdate } from '../../../../src/modules/org/org.schemas.ts';
import { useUpdateWorkspace, useWorkspace } from '../../api/org.ts';
import { CurrencyInput, TimeZoneInput } from '../../components/ChoiceInputs.tsx';
import { LoadingBlock } from '../../components/ListStates.tsx';
import { PageHeader } from '../../components/PageHeader.tsx';
import { fieldErrorsOf, notifySuccess, ProblemAlert } from '../../components/ProblemAlert.tsx';
import { RequirePermission, useCan } from '../../components/RequirePermission.tsx';
import { describeTimeZone, isValidTimeZone } from '../../lib/format.ts';
import { useWorkspaceClock } from '../../lib/useWorkspaceClock.ts';

export function WorkspaceSettingsPage() {
  const { t } = useTranslation();
  return (
    <>
      <PageHeader title={t('workspaceSettings.title')} description={t('workspaceSettings.description')} />
      <RequirePermission permission="workspace:read">
        <WorkspaceSettings />
      </RequirePermission>
    </>
  );
}

function WorkspaceSettings() {
  const workspace = useWorkspace();
  if (workspace.isPending) return <LoadingBlock />;
  if (workspace.isError) return <ProblemAlert error={workspace.error} />;
  // Keyed so that switching workspace (or a saved change) starts the form from the server's values.
  return <WorkspaceForm key={JSON.stringify(workspace.data)} workspace={workspace.data} />;
}

function WorkspaceForm({ workspace }: { workspace: Workspace }) {
  const { t } = useTranslation();
  const canManage = useCan('workspace:manage');
  const { format } = useWorkspaceClock();
  const mutation = useUpdateWorkspace();
  const [name, setName] = useState(workspace.name);
  const [timeZone, setTimeZone] = useState(workspace.timeZone);
  const [locale, setLocale] = useState<Locale>(workspace.locale);
  const [currency, setCurrency] = useState(workspace.currency);

  const serverErrors = fieldErrorsOf(mutation.error);
  const errors = {
    name: !name.trim() ? t('validation.required') : serverErrors.name,
    timeZone: !isValidTimeZone(timeZone) ? t('validation.timeZone') : serverErrors.timeZone,
    currency: !/^[A-Z]{3}$/.test(currency) ? t('validation.currency') : serverErrors.currency,
  };
  const changes: WorkspaceUpdate = {};
  if (name.trim() !== workspace.name) changes.name = name.trim();
  if (timeZone !== workspace.timeZone) changes.timeZone = timeZone;
  if (locale !== workspace.locale) changes.locale = locale;
  if (currency !== workspace.currency) changes.currency = currency;
  const dirty = Object.keys(changes).length > 0;
  const valid = WorkspaceUpdate.safeParse(changes).success;

  function submit(event: FormEvent) {
    event.preventDefault();
    if (!dirty || !valid) return;
    mutation.mutate(changes, { onSuccess: () => notifySuccess(t('workspaceSettings.saved')) });
  }

  return (
    <Paper withBorder radius="md" p={{ base: 'md', sm: 'xl' }} maw={760}>
      <form onSubmit={submit} noValidate>
        <Stack gap="md">
          {!canManage && (
            <Alert variant="light" color="gray" icon={<IconInfoCircle size={18} />}>
              {t('workspaceSettings.readOnly')}
            </Alert>
          )}
          {mutation.error && Object.keys(serverErrors).length === 0 ? <ProblemAlert error={mutation.error} /> : null}
          <TextInput
            label={t('workspaceForm.name')}
            value={name}
            onChange={(event) => setName(event.currentTarget.value)}
            error={errors.name}
            disabled={!canManage}
            data-testid="workspace-settings-name"
          />
          <SimpleGrid cols={{ base: 1, sm: 2 }}>
            <TimeZoneInput
              label={t('workspaceForm.timeZone')}
              description={isValidTimeZone(timeZone) ? describeTimeZone(timeZone) : t('workspaceSettings.timeZoneHint')}
              value={timeZone}
              onChange={setTimeZone}
              error={errors.timeZone}
              disabled={!canManage}
              data-testid="workspace-settings-time-zone"
            />
            <Select
              label={t('workspaceForm.locale')}
              description={t('workspaceSettings.localeHint')}
              data={[
                { value: 'en', label: t('locales.en') },
                { value: 'ru', label: t('locales.ru') },
              ]}
              value={locale}
              onChange={(value) => setLocale(value === 'ru' ? 'ru' : 'en')}
              allowDeselect={false}
              disabled={!canManage}
              data-testid="workspace-settings-locale"
            />
            <CurrencyInput
              label={t('workspaceForm.currency')}
              description={t('workspaceSettings.currencyHint')}
              value={currency}
              onChange={setCurrency}
              error={errors.currency}
              disabled={!canManage}
              data-testid="workspace-settings-currency"
            />
            <TextInput
              label={t('workspaceForm.slug')}
              description={t('workspaceSettings.slugHint')}
              value={workspace.slug}
              readOnly
              disabled
            />
          </SimpleGrid>
          <Group justify="space-between" mt="sm" wrap="wrap">
            <Text size="xs" c="dimmed">
              {t('workspaceSettings.createdAt', { date: format(workspace.createdAt) })}
            </Text>
            {canManage && (
              <Button
                type="submit"
                disabled={!dirty || !valid}
                loading={mutation.isPending}
                data-testid="workspace-settings-save"
              >
                {t('common.saveChanges')}
              </Button>
            )}
          </Group>
        </Stack>
      </form>
    </Paper>
  );
}
