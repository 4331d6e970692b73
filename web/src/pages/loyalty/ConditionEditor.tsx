import {
  ActionIcon,
  Box,
  Button,
  Group,
  MultiSelect,
  NumberInput,
  SegmentedControl,
  Select,
  Stack,
  TagsInput,
  Text,
  TextInput,
} from '@mantine/core';
import { IconPlus, IconSquarePlus, IconTrash } from '@tabler/icons-react';
import i18next from 'i18next';
import { useTranslation } from 'react-i18next';
import type { ConditionNode, RuleField } from '../../api/loyalty.ts';
import { instantOfZonedLocal, zonedLocalOfInstant } from '../../lib/format.ts';
import { useIsPhone } from '../../lib/useIsPhone.ts';

/**
 * A small editor of the shared condition tree: groups (all / any / none of) holding conditions, each a field of
 * the catalogue the API describes, one of that field's operators and a value typed for it. No free-text
 * expressions: what can be written is what the catalogue allows.
 */

export type GroupMode = 'all' | 'any' | 'none';
export type EditLeaf = { kind: 'leaf'; id: number; field: string; op: string; value: unknown };
export type EditGroup = { kind: 'group'; id: number; mode: GroupMode; children: EditNode[] };
export type EditNode = EditLeaf | EditGroup;

const MAX_DEPTH = 3;
let nodeIds = 0;
const nextId = () => ++nodeIds;

export function emptyGroup(mode: GroupMode = 'all'): EditGroup {
  return { kind: 'group', id: nextId(), mode, children: [] };
}

/** The API's tree as the editor holds it; `{not: {any: […]}}` is shown as a "none of" group. */
export function toEditTree(node: ConditionNode | null | undefined): EditGroup {
  if (!node) return emptyGroup();
  const converted = convert(node);
  return converted.kind === 'group' ? converted : { ...emptyGroup(), children: [converted] };
}

function convert(node: ConditionNode): EditNode {
  if ('all' in node) return { kind: 'group', id: nextId(), mode: 'all', children: node.all.map(convert) };
  if ('any' in node) return { kind: 'group', id: nextId(), mode: 'any', children: node.any.map(convert) };
  if ('not' in node) {
    const inner = node.not;
    const children = 'any' in inner ? inner.any.map(convert) : [convert(inner)];
    return { kind: 'group', id: nextId(), mode: 'none', children };
  }
  return { kind: 'leaf', id: nextId(), field: node.field, op: node.op, value: node.value };
}

/** The editor's tree as the API takes it: empty groups dropped; undefined when nothing is left (no condition). */
export function fromEditTree(group: EditGroup): ConditionNode | undefined {
  const children = group.children
    .map((child) =>
      child.kind === 'group'
        ? fromEditTree(child)
        : ({
            field: child.field,
            op: child.op,
            ...(child.value === undefined ? {} : { value: child.value }),
          } as ConditionNode),
    )
    .filter((child): child is ConditionNode => child !== undefined);
  if (children.length === 0) return undefined;
  if (group.mode === 'none') return { not: { any: children } };
  return group.mode === 'all' ? { all: children } : { any: children };
}

const NO_VALUE = new Set(['exists', 'missing', 'is_true', 'is_false']);
const LISTS = new Set(['in', 'not_in', 'has_any', 'has_all', 'has_none']);
const DAYS = new Set(['within_last', 'before_last']);

/** Whether a condition has the value its field and operator need (the API checks the same). */
export function leafComplete(leaf: EditLeaf, field: RuleField | undefined): boolean {
  if (!field?.operators.includes(leaf.op)) return false;
  const v = leaf.value;
  if (NO_VALUE.has(leaf.op)) return v === undefined;
  if (LISTS.has(leaf.op)) return Array.isArray(v) && v.length > 0 && v.every((x) => x !== '' && x !== null);
  if (leaf.op === 'between')
    return Array.isArray(v) && v.length === 2 && v.every((x) => x !== '' && x !== null && x !== undefined);
  if (DAYS.has(leaf.op)) return typeof v === 'number' && Number.isInteger(v) && v >= 1;
  if (field.type === 'number') return typeof v === 'number' && Number.isFinite(v);
  return typeof v === 'string' && v.trim() !== '';
}

export function treeComplete(group: EditGroup, fields: RuleField[]): boolean {
  return group.children.every((child) =>
    child.kind === 'group'
      ? treeComplete(child, fields)
      : leafComplete(
          child,
          fields.find((f) => f.name === child.field),
        ),
  );
}

/** A value that fits a newly chosen operator: kept when its shape still fits, otherwise reset. */
function valueFor(field: RuleField, op: string, previous: unknown): unknown {
  if (NO_VALUE.has(op)) return undefined;
  if (LISTS.has(op)) return Array.isArray(previous) ? previous : [];
  if (op === 'between') return Array.isArray(previous) && previous.length === 2 ? previous : [null, null];
  if (DAYS.has(op)) return typeof previous === 'number' ? previous : 30;
  if (field.type === 'number') return typeof previous === 'number' ? previous : undefined;
  return typeof previous === 'string' ? previous : '';
}

function replaceNode(group: EditGroup, id: number, next: EditNode | null): EditGroup {
  return {
    ...group,
    children: group.children
      .map((child) => (child.id === id ? next : child.kind === 'group' ? replaceNode(child, id, next) : child))
      .filter((child): child is EditNode => child !== null),
  };
}

export function ConditionEditor({
  tree,
  onChange,
  fields,
  timeZone,
  readOnly,
  showErrors,
}: {
  tree: EditGroup;
  onChange: (tree: EditGroup) => void;
  fields: RuleField[];
  timeZone: string;
  readOnly?: boolean;
  showErrors: boolean;
}) {
  const update = (id: number, next: EditNode | null) =>
    onChange(id === tree.id && next?.kind === 'group' ? next : replaceNode(tree, id, next));
  return (
    <Box data-testid="condition-editor">
      <GroupEditor
        group={tree}
        depth={1}
        fields={fields}
        timeZone={timeZone}
        update={update}
        readOnly={readOnly}
        showErrors={showErrors}
      />
    </Box>
  );
}

interface NodeProps {
  fields: RuleField[];
  timeZone: string;
  update: (id: number, next: EditNode | null) => void;
  readOnly?: boolean;
  showErrors: boolean;
}

function GroupEditor({ group, depth, ...props }: NodeProps & { group: EditGroup; depth: number }) {
  const { t } = useTranslation();
  const { fields, update, readOnly } = props;
  const addLeaf = () => {
    const field = fields[0];
    if (!field) return;
    const op = field.operators[0] ?? 'eq';
    const leaf: EditLeaf = { kind: 'leaf', id: nextId(), field: field.name, op, value: valueFor(field, op, undefined) };
    update(group.id, { ...group, children: [...group.children, leaf] });
  };
  const addGroup = () => update(group.id, { ...group, children: [...group.children, emptyGroup('any')] });
  return (
    <Stack
      gap="xs"
      data-testid="condition-group"
      data-mode={group.mode}
      pl={depth > 1 ? 'sm' : 0}
      style={depth > 1 ? { borderLeft: '3px solid var(--mantine-color-indigo-2)' } : undefined}
    >
      <Group gap="xs" wrap="wrap">
        <SegmentedControl
          size="xs"
          value={group.mode}
          onChange={(mode) => update(group.id, { ...group, mode: mode as GroupMode })}
          data={(['all', 'any', 'none'] as const).map((mode) => ({
            value: mode,
            label: t(`loyalty.condition.modes.${mode}`),
          }))}
          disabled={readOnly}
          data-testid="condition-mode"
        />
        <Text size="sm" c="dimmed">
          {t('loyalty.condition.ofThese')}
        </Text>
        {depth > 1 && !readOnly && (
          <ActionIcon
            variant="subtle"
            color="gray"
            onClick={() => update(group.id, null)}
            aria-label={t('loyalty.condition.removeGroup')}
          >
            <IconTrash size={14} />
          </ActionIcon>
        )}
      </Group>
      {group.children.length === 0 && (
        <Text size="sm" c="dimmed" fs="italic">
          {depth === 1 ? t('loyalty.condition.emptyRoot') : t('loyalty.condition.emptyGroup')}
        </Text>
      )}
      {group.children.map((child) =>
        child.kind === 'group' ? (
          <GroupEditor key={child.id} group={child} depth={depth + 1} {...props} />
        ) : (
          <LeafEditor key={child.id} leaf={child} {...props} />
        ),
      )}
      {!readOnly && (
        <Group gap="xs">
          <Button
            variant="subtle"
            size="xs"
            leftSection={<IconPlus size={14} />}
            onClick={addLeaf}
            data-testid="condition-add"
          >
            {t('loyalty.condition.add')}
          </Button>
          {depth < MAX_DEPTH && (
            <Button
              variant="subtle"
              size="xs"
              color="gray"
              leftSection={<IconSquarePlus size={14} />}
              onClick={addGroup}
              data-testid="condition-add-group"
            >
              {t('loyalty.condition.addGroup')}
            </Button>
          )}
        </Group>
      )}
    </Stack>
  );
}

function fieldLabel(field: RuleField) {
  return i18next.resolvedLanguage === 'ru' ? field.label.ru : field.label.en;
}

function valueLabel(value: string) {
  const key = `loyalty.condition.values.${value}`;
  return i18next.exists(key) ? i18next.t(key as never) : value;
}

function LeafEditor({ leaf, fields, timeZone, update, readOnly, showErrors }: NodeProps & { leaf: EditLeaf }) {
  const { t } = useTranslation();
  const phone = useIsPhone();
  const field = fields.find((f) => f.name === leaf.field);
  const set = (patch: Partial<EditLeaf>) => update(leaf.id, { ...leaf, ...patch });
  const invalid = showErrors && !leafComplete(leaf, field);
  const fieldSelect = (
    <Select
      aria-label={t('loyalty.condition.field')}
      data={fields.map((f) => ({ value: f.name, label: fieldLabel(f) }))}
      value={leaf.field}
      onChange={(name) => {
        const next = fields.find((f) => f.name === name);
        if (!next) return;
        const op =
          next.operators.includes(leaf.op) && next.type === field?.type ? leaf.op : (next.operators[0] ?? 'eq');
        set({ field: next.name, op, value: valueFor(next, op, next.type === field?.type ? leaf.value : undefined) });
      }}
      searchable
      allowDeselect={false}
      disabled={readOnly}
      comboboxProps={{ withinPortal: true }}
      style={{ flex: phone ? '1 1 0' : '1 1 34%', minWidth: 0 }}
      data-testid="condition-field"
    />
  );
  const opSelect = (
    <Select
      aria-label={t('loyalty.condition.operator')}
      data={(field?.operators ?? []).map((op) => ({
        value: op,
        label: t(`loyalty.condition.ops.${op}` as never) as string,
      }))}
      value={leaf.op}
      onChange={(op) => op && field && set({ op, value: valueFor(field, op, leaf.value) })}
      allowDeselect={false}
      disabled={readOnly}
      comboboxProps={{ withinPortal: true }}
      style={{ flex: phone ? '1 1 120px' : '0 1 24%', minWidth: 0 }}
      data-testid="condition-op"
    />
  );
  const valueInput = (
    <Box style={{ flex: phone ? '2 1 160px' : '1 1 36%', minWidth: 0 }}>
      {field && (
        <ValueInput
          field={field}
          leaf={leaf}
          timeZone={timeZone}
          onChange={(value) => set({ value })}
          readOnly={readOnly}
          invalid={invalid}
        />
      )}
    </Box>
  );
  const remove = readOnly ? null : (
    <ActionIcon
      variant="subtle"
      color="gray"
      size="lg"
      onClick={() => update(leaf.id, null)}
      aria-label={t('loyalty.condition.remove')}
      data-testid="condition-remove"
    >
      <IconTrash size={16} />
    </ActionIcon>
  );
  const hooks = { 'data-testid': 'condition-leaf', 'data-field': leaf.field, 'data-op': leaf.op };
  // On a phone: the field and its remove button on one row, the operator and value below.
  if (phone)
    return (
      <Stack gap={6} pb={6} style={{ borderBottom: '1px dashed var(--mantine-color-gray-3)' }} {...hooks}>
        <Group gap="xs" wrap="nowrap">
          {fieldSelect}
          {remove}
        </Group>
        <Group gap="xs" align="flex-start" wrap="wrap">
          {opSelect}
          {valueInput}
        </Group>
      </Stack>
    );
  return (
    <Group gap="xs" align="flex-start" wrap="nowrap" {...hooks}>
      {fieldSelect}
      {opSelect}
      {valueInput}
      {remove}
    </Group>
  );
}

function ValueInput({
  field,
  leaf,
  timeZone,
  onChange,
  readOnly,
  invalid,
}: {
  field: RuleField;
  leaf: EditLeaf;
  timeZone: string;
  onChange: (value: unknown) => void;
  readOnly?: boolean;
  invalid: boolean;
}) {
  const { t } = useTranslation();
  const { op, value } = leaf;
  const error = invalid ? t('loyalty.condition.valueRequired') : undefined;
  const common = {
    disabled: readOnly,
    error,
    'aria-label': t('loyalty.condition.value'),
    'data-testid': 'condition-value',
  };
  if (NO_VALUE.has(op)) return null;
  if (DAYS.has(op))
    return (
      <NumberInput
        {...common}
        value={typeof value === 'number' ? value : ''}
        onChange={(days) => onChange(typeof days === 'number' ? days : undefined)}
        min={1}
        max={36_500}
        allowDecimal={false}
        rightSection={
          <Text size="xs" c="dimmed" pr={8}>
            {t('loyalty.condition.days')}
          </Text>
        }
        rightSectionWidth={56}
      />
    );
  if (LISTS.has(op)) {
    const list = Array.isArray(value) ? value.map(String) : [];
    // A closed list of values (days of the week) is picked by name; anything else is typed.
    if (field.values && field.type === 'string')
      return (
        <MultiSelect
          {...common}
          value={list}
          data={[...new Set([...field.values, ...list])].map((v) => ({ value: v, label: valueLabel(v) }))}
          onChange={onChange}
          comboboxProps={{ withinPortal: true }}
          clearable
        />
      );
    return (
      <TagsInput
        {...common}
        value={list}
        data={(field.values ?? []).map((v) => ({ value: v, label: valueLabel(v) }))}
        onChange={(items) =>
          onChange(field.type === 'number' ? items.map(Number).filter((n) => Number.isFinite(n)) : items)
        }
        placeholder={t('loyalty.condition.listPlaceholder')}
        comboboxProps={{ withinPortal: true }}
        clearable
      />
    );
  }
  if (op === 'between') {
    const [a, b] = Array.isArray(value) ? value : [null, null];
    if (field.type === 'time')
      return (
        <Group gap={4} wrap="nowrap">
          <TimeInput {...common} value={a} timeZone={timeZone} onChange={(x) => onChange([x, b])} />
          <TimeInput {...common} value={b} timeZone={timeZone} onChange={(x) => onChange([a, x])} />
        </Group>
      );
    return (
      <Group gap={4} wrap="nowrap">
        <NumberInput
          {...common}
          value={typeof a === 'number' ? a : ''}
          onChange={(x) => onChange([typeof x === 'number' ? x : null, b])}
          hideControls
        />
        <Text size="sm" c="dimmed">
          –
        </Text>
        <NumberInput
          {...common}
          value={typeof b === 'number' ? b : ''}
          onChange={(x) => onChange([a, typeof x === 'number' ? x : null])}
          hideControls
        />
      </Group>
    );
  }
  if (field.type === 'number')
    return (
      <NumberInput
        {...common}
        value={typeof value === 'number' ? value : ''}
        onChange={(x) => onChange(typeof x === 'number' ? x : undefined)}
        hideControls
      />
    );
  if (field.type === 'time') return <TimeInput {...common} value={value} timeZone={timeZone} onChange={onChange} />;
  if (field.values && (op === 'eq' || op === 'ne'))
    return (
      <Select
        {...common}
        data={[...new Set([...(field.values ?? []), ...(typeof value === 'string' && value ? [value] : [])])].map(
          (v) => ({
            value: v,
            label: valueLabel(v),
          }),
        )}
        value={typeof value === 'string' && value ? value : null}
        onChange={(v) => onChange(v ?? '')}
        allowDeselect={false}
        comboboxProps={{ withinPortal: true }}
      />
    );
  return (
    <TextInput
      {...common}
      value={typeof value === 'string' ? value : ''}
      onChange={(event) => onChange(event.currentTarget.value)}
    />
  );
}

/** An instant typed as the programme's wall-clock time. */
function TimeInput({
  value,
  timeZone,
  onChange,
  ...rest
}: {
  value: unknown;
  timeZone: string;
  onChange: (value: string | null) => void;
  disabled?: boolean;
  error?: string;
}) {
  return (
    <TextInput
      {...rest}
      type="datetime-local"
      value={typeof value === 'string' && value ? zonedLocalOfInstant(value, timeZone) : ''}
      onChange={(event) => onChange(instantOfZonedLocal(event.currentTarget.value, timeZone) ?? null)}
      style={{ flex: 1, minWidth: 0 }}
    />
  );
}
