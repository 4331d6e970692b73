import {
  ActionIcon,
  Button,
  Checkbox,
  Group,
  Paper,
  SegmentedControl,
  Select,
  Stack,
  Text,
  TextInput,
  Tooltip,
} from '@mantine/core';
import { IconArrowDown, IconArrowUp, IconPlus, IconTrash } from '@tabler/icons-react';
import { FIELD_TYPES, type FormField } from '../../../../src/modules/forms/forms.schemas.ts';
import type { FormsT } from './useFormsText.ts';

/** One field of the builder: type, key, labels, where the answer goes, options or scale, required. */
const IDENTITY_OF: Partial<Record<FormField['type'], 'email' | 'phone' | 'user_id'>> = {
  email: 'email',
  phone: 'phone',
  text: 'user_id',
  hidden: 'user_id',
};

export function FieldEditor({
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
