import { Button, Group, Modal, Select, Stack, TextInput } from '@mantine/core';
import { type FormEvent, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { type Membership, WorkspaceCreate } from '../../../src/modules/org/org.schemas.ts';
import { useCreateWorkspace } from '../api/org.ts';
import { browserTimeZone, CurrencyInput, TimeZoneInput } from '../components/ChoiceInputs.tsx';
import { fieldErrorsOf, ProblemAlert } from '../components/ProblemAlert.tsx';
import { isValidTimeZone } from '../lib/format.ts';

export function CreateWorkspaceModal({
  opened,
  onClose,
  onCreated,
}: {
  opened: boolean;
  onClose: () => void;
  onCreated: (membership: Membership) => void;
}) {
  const { t, i18n } = useTranslation();
  const russian = i18n.resolvedLanguage === 'ru';
  const [name, setName] = useState('');
  const [slug, setSlug] = useState('');
  const [timeZone, setTimeZone] = useState(browserTimeZone);
  const [locale, setLocale] = useState<'en' | 'ru'>(russian ? 'ru' : 'en');
  const [currency, setCurrency] = useState(russian ? 'RUB' : 'EUR');
  const [touched, setTouched] = useState(false);
  const mutation = useCreateWorkspace();

  const serverErrors = fieldErrorsOf(mutation.error);
  const errors = {
    name: touched && !WorkspaceCreate.shape.name.safeParse(name).success ? t('validation.required') : serverErrors.name,
    slug:
      touched && slug && !WorkspaceCreate.shape.slug.safeParse(slug).success
        ? t('workspaceForm.slugInvalid')
        : serverErrors.slug,
    timeZone: touched && !isValidTimeZone(timeZone) ? t('validation.timeZone') : serverErrors.timeZone,
    currency: touched && !/^[A-Z]{3}$/.test(currency) ? t('validation.currency') : serverErrors.currency,
  };

  function close() {
    mutation.reset();
    setTouched(false);
    setName('');
    setSlug('');
    onClose();
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    setTouched(true);
    const input = { name: name.trim(), slug: slug.trim() || undefined, timeZone, locale, currency };
    if (!WorkspaceCreate.safeParse(input).success) return;
    mutation.mutate(input, {
      onSuccess: (membership) => {
        onCreated(membership);
        close();
      },
    });
  }

  return (
    <Modal opened={opened} onClose={close} title={t('workspaceForm.createTitle')} centered>
      <form onSubmit={submit} noValidate>
        <Stack gap="sm">
          {mutation.error && Object.keys(serverErrors).length === 0 ? <ProblemAlert error={mutation.error} /> : null}
          <TextInput
            label={t('workspaceForm.name')}
            placeholder={t('workspaceForm.namePlaceholder')}
            value={name}
            onChange={(event) => setName(event.currentTarget.value)}
            error={errors.name}
            required
            data-autofocus
            data-testid="workspace-name"
          />
          <TextInput
            label={t('workspaceForm.slug')}
            description={t('workspaceForm.slugHint')}
            value={slug}
            onChange={(event) => setSlug(event.currentTarget.value.toLowerCase())}
            error={errors.slug}
          />
          <TimeZoneInput
            label={t('workspaceForm.timeZone')}
            value={timeZone}
            onChange={setTimeZone}
            error={errors.timeZone}
          />
          <Select
            label={t('workspaceForm.locale')}
            data={[
              { value: 'en', label: t('locales.en') },
              { value: 'ru', label: t('locales.ru') },
            ]}
            value={locale}
            onChange={(value) => setLocale(value === 'ru' ? 'ru' : 'en')}
            allowDeselect={false}
          />
          <CurrencyInput
            label={t('workspaceForm.currency')}
            value={currency}
            onChange={setCurrency}
            error={errors.currency}
          />
          <Group justify="flex-end" mt="sm">
            <Button variant="default" onClick={close}>
              {t('common.cancel')}
            </Button>
            <Button type="submit" loading={mutation.isPending} data-testid="workspace-submit">
              {t('common.create')}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
