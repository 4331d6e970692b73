import { ActionIcon, Checkbox, Group, Paper, Select, Stack, Text, Title } from '@mantine/core';
import { IconTrash } from '@tabler/icons-react';
import { type ConsentCheckbox, FORM_CONSENT_CHANNELS } from '../../../../src/modules/forms/forms.schemas.ts';
import { useConsentSettings } from '../../api/consent.ts';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import type { FormsT } from './useFormsText.ts';

/** The form's consent boxes, each chosen from the workspace's consent wordings (purpose and version). */
export function ConsentsEditor({
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
            <Group gap="sm" align="flex-end" wrap="nowrap">
              <Select
                style={{ flex: 3, minWidth: 0 }}
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
                style={{ flex: 2, minWidth: 0 }}
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
