import { Button, Checkbox, Chip, Group, NativeSelect, Stack, Text, Textarea, TextInput, Title } from '@mantine/core';
import type { FormDefinition, LocalText } from '../../../../src/modules/forms/forms.schemas.ts';
import { useFormsText } from './useFormsText.ts';

const local = (text: LocalText | undefined, lang: 'en' | 'ru') =>
  text ? (lang === 'ru' && text.ru.trim() ? text.ru : text.en) : '';

/** How the hosted page will look, roughly: the same fields, labels and consent boxes, in either language. */
export function FormPreview({ definition, lang }: { definition: FormDefinition; lang: 'en' | 'ru' }) {
  const { t } = useFormsText();
  const required = (on: boolean) => (on ? ' *' : '');
  return (
    <Stack gap="sm" data-testid="form-preview" lang={lang}>
      <Title order={4}>{local(definition.texts.title, lang) || '—'}</Title>
      {local(definition.texts.intro, lang) && (
        <Text size="sm" c="dimmed" style={{ whiteSpace: 'pre-line' }}>
          {local(definition.texts.intro, lang)}
        </Text>
      )}
      {definition.fields.map((f, i) => {
        const label = `${local(f.label, lang) || f.key}${required(f.required)}`;
        const key = `${f.key}-${i}`;
        switch (f.type) {
          case 'hidden':
            return (
              <Text key={key} size="xs" c="dimmed" ff="monospace">
                ?{f.key}=…
              </Text>
            );
          case 'textarea':
            return <Textarea key={key} label={label} readOnly />;
          case 'select':
            return (
              <NativeSelect
                key={key}
                label={label}
                data={['—', ...(f.options ?? []).map((o) => local(o.label, lang) || o.value)]}
              />
            );
          case 'multiselect':
          case 'rating':
            return (
              <Stack key={key} gap={4}>
                <Text size="sm" fw={500}>
                  {label}
                </Text>
                <Group gap={6}>
                  {(f.type === 'rating'
                    ? Array.from({ length: f.scale ?? 5 }, (_, n) => String(n + 1))
                    : (f.options ?? []).map((o) => local(o.label, lang) || o.value)
                  ).map((o) => (
                    <Chip key={o} size="xs" checked={false} readOnly>
                      {o}
                    </Chip>
                  ))}
                </Group>
              </Stack>
            );
          case 'checkbox':
            return <Checkbox key={key} label={label} readOnly />;
          default:
            return <TextInput key={key} label={label} readOnly type={f.type === 'date' ? 'date' : 'text'} />;
        }
      })}
      {definition.consents.map((c) => (
        <Checkbox
          key={c.key}
          readOnly
          label={`${local(c.label, lang) || `${c.purpose} · ${c.wordingVersion}`}${required(c.required)}`}
        />
      ))}
      <Button fullWidth>
        {local(definition.texts.submitLabel, lang) || t(lang === 'ru' ? 'pageSubmit.ru' : 'pageSubmit.en')}
      </Button>
    </Stack>
  );
}
