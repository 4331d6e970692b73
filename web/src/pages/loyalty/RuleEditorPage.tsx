import {
  ActionIcon,
  Anchor,
  Autocomplete,
  Box,
  Button,
  Group,
  Input,
  NumberInput,
  Paper,
  SegmentedControl,
  Select,
  SimpleGrid,
  Stack,
  Switch,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { IconArrowLeft, IconPlus, IconTrash } from '@tabler/icons-react';
import { type FormEvent, type ReactNode, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useParams } from 'react-router';
import type { Cap, Formula, Programme } from '../../../../src/modules/loyalty/loyalty.schemas.ts';
import { type Rule, type RuleField, type RuleInput, useRuleFields, useRules } from '../../api/loyalty.ts';
import { LoadingBlock } from '../../components/ListStates.tsx';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { useCan } from '../../components/RequirePermission.tsx';
import { describeTimeZone, instantOfZonedLocal, zonedLocalOfInstant } from '../../lib/format.ts';
import { minorDigits, minorToMajor, parseMajor } from '../../lib/money.ts';
import { ConditionEditor, type EditGroup, fromEditTree, toEditTree, treeComplete } from './ConditionEditor.tsx';
import { useProgramme } from './LoyaltyLayout.tsx';
import { walletName } from './MemberParts.tsx';
import { SaveRuleModal, SimulationPanel } from './RuleSimulation.tsx';

type FormulaKind = Formula['kind'];
type CapDraft = { id: number; period: Cap['period']; maxPoints: number | string; maxTimes: number | string };

interface Draft {
  name: string;
  status: Rule['status'];
  trigger: Rule['trigger'];
  eventName: string;
  scope: Rule['scope'];
  tree: EditGroup;
  wallet: string;
  priority: number | string;
  stopAfter: boolean;
  formulaKind: FormulaKind;
  points: number | string;
  per: string;
  perItem: boolean;
  factor: number | string;
  caps: CapDraft[];
  startsAt: string;
  endsAt: string;
}

let capIds = 0;

function draftOf(rule: Rule | undefined, programme: Programme): Draft {
  const f = rule?.formula;
  return {
    name: rule?.name ?? '',
    status: rule?.status ?? 'active',
    trigger: rule?.trigger ?? 'purchase',
    eventName: rule?.eventName ?? '',
    scope: rule?.scope ?? 'transaction',
    tree: toEditTree(rule?.condition),
    wallet: rule?.wallet ?? programme.settings.wallets[0]?.key ?? 'points',
    priority: rule?.priority ?? 100,
    stopAfter: rule?.stopAfter ?? false,
    formulaKind: f?.kind ?? 'per_unit',
    points: f && (f.kind === 'per_unit' || f.kind === 'fixed') ? f.points : 1,
    per: minorToMajor(f?.kind === 'per_unit' ? f.per : 10 ** minorDigits(programme.currency), programme.currency),
    perItem: f?.kind === 'fixed' ? f.perItem : false,
    factor: f && (f.kind === 'multiplier' || f.kind === 'from_event') ? f.factor : 2,
    caps: (rule?.caps ?? []).map((c) => ({
      id: ++capIds,
      period: c.period,
      maxPoints: c.maxPoints ?? '',
      maxTimes: c.maxTimes ?? '',
    })),
    startsAt: rule?.startsAt ? zonedLocalOfInstant(rule.startsAt, programme.timeZone) : '',
    endsAt: rule?.endsAt ? zonedLocalOfInstant(rule.endsAt, programme.timeZone) : '',
  };
}

/** Fields that mean something for the rule's trigger and scope (line fields need a line; event fields an event). */
export function fieldsFor(fields: RuleField[], trigger: Rule['trigger'], scope: Rule['scope']): RuleField[] {
  if (trigger === 'event')
    return fields.filter(
      (f) => f.name.startsWith('event.') || ['channel', 'branch', 'tier', 'weekday', 'hour'].includes(f.name),
    );
  return fields.filter((f) => !f.name.startsWith('event.') && (scope === 'line' || !f.name.startsWith('line.')));
}

/** The draft as the API takes it, or the name of the first thing that is missing. */
function toInput(draft: Draft, programme: Programme): { input?: RuleInput; problem?: string } {
  let formula: Formula;
  switch (draft.formulaKind) {
    case 'per_unit': {
      const per = parseMajor(draft.per, programme.currency);
      if (!per || per < 1 || typeof draft.points !== 'number' || draft.points < 1) return { problem: 'formula' };
      formula = { kind: 'per_unit', points: draft.points, per };
      break;
    }
    case 'fixed':
      if (typeof draft.points !== 'number' || draft.points < 1) return { problem: 'formula' };
      formula = { kind: 'fixed', points: draft.points, perItem: draft.perItem };
      break;
    default:
      if (typeof draft.factor !== 'number') return { problem: 'formula' };
      formula = { kind: draft.formulaKind, factor: draft.factor } as Formula;
  }
  const caps: Cap[] = draft.caps
    .filter((c) => c.maxPoints !== '' || c.maxTimes !== '')
    .map((c) => ({
      period: c.period,
      ...(c.maxPoints !== '' ? { maxPoints: Number(c.maxPoints) } : {}),
      ...(c.maxTimes !== '' ? { maxTimes: Number(c.maxTimes) } : {}),
    }));
  if (!draft.name.trim()) return { problem: 'name' };
  if (draft.trigger === 'event' && !draft.eventName.trim()) return { problem: 'eventName' };
  const startsAt = draft.startsAt ? instantOfZonedLocal(draft.startsAt, programme.timeZone) : undefined;
  const endsAt = draft.endsAt ? instantOfZonedLocal(draft.endsAt, programme.timeZone) : undefined;
  if (startsAt && endsAt && startsAt >= endsAt) return { problem: 'endsAt' };
  const condition = fromEditTree(draft.tree);
  return {
    input: {
      name: draft.name.trim(),
      status: draft.status,
      trigger: draft.trigger,
      ...(draft.trigger === 'event' ? { eventName: draft.eventName.trim() } : {}),
      scope: draft.trigger === 'event' ? 'transaction' : draft.scope,
      ...(condition ? { condition } : {}),
      formula,
      wallet: draft.wallet,
      priority: typeof draft.priority === 'number' ? draft.priority : 100,
      stopAfter: draft.stopAfter,
      caps,
      ...(startsAt ? { startsAt } : {}),
      ...(endsAt ? { endsAt } : {}),
    },
  };
}

/** /loyalty/rules/new and /loyalty/rules/:ruleId — an earn rule, its condition and its simulation before saving. */
export function RuleEditorPage() {
  const { t } = useTranslation();
  const { ruleId } = useParams();
  const programme = useProgramme();
  const rules = useRules(programme.key);
  const fields = useRuleFields();
  const rule = rules.data?.items.find((r) => r.id === ruleId);
  return (
    <Stack gap="lg" maw={960}>
      <Box>
        <Anchor component={Link} to="/loyalty/rules" size="sm" c="dimmed">
          <Group gap={4} component="span">
            <IconArrowLeft size={14} />
            {t('loyalty.rules.backToList')}
          </Group>
        </Anchor>
      </Box>
      {rules.isPending || fields.isPending ? (
        <LoadingBlock />
      ) : rules.isError || fields.isError ? (
        <ProblemAlert error={rules.error ?? fields.error} />
      ) : ruleId && !rule ? (
        <ProblemAlert error={new Error(t('loyalty.rules.notFound'))} />
      ) : (
        <RuleForm key={rule?.id ?? 'new'} rule={rule} programme={programme} fields={fields.data.fields} />
      )}
    </Stack>
  );
}

function Section({ title, hint, children }: { title: string; hint?: string; children: ReactNode }) {
  return (
    <Paper withBorder radius="md" p={{ base: 'md', sm: 'lg' }}>
      <Stack gap="sm">
        <Stack gap={2}>
          <Title order={4}>{title}</Title>
          {hint && (
            <Text size="sm" c="dimmed">
              {hint}
            </Text>
          )}
        </Stack>
        {children}
      </Stack>
    </Paper>
  );
}

function RuleForm({ rule, programme, fields }: { rule?: Rule; programme: Programme; fields: RuleField[] }) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const canManage = useCan('loyalty:manage');
  const readOnly = !canManage;
  const [draft, setDraft] = useState<Draft>(() => draftOf(rule, programme));
  const [tried, setTried] = useState(false);
  const [saving, setSaving] = useState<RuleInput | null>(null);
  const set = (patch: Partial<Draft>) => setDraft((current) => ({ ...current, ...patch }));
  const available = fieldsFor(fields, draft.trigger, draft.scope);
  const built = toInput(draft, programme);
  const complete = Boolean(built.input) && treeComplete(draft.tree, fields);
  const eventNames = fields.find((f) => f.name === 'event.name')?.values ?? [];
  const formulaKinds: FormulaKind[] =
    draft.trigger === 'event' ? ['fixed', 'multiplier', 'from_event'] : ['per_unit', 'fixed', 'multiplier'];

  function submit(event: FormEvent) {
    event.preventDefault();
    setTried(true);
    if (complete && built.input) setSaving(built.input);
  }

  return (
    <form onSubmit={submit} noValidate data-testid="rule-form">
      <Stack gap="lg">
        <Title order={2}>{rule ? rule.name : t('loyalty.rules.new')}</Title>
        {readOnly && (
          <Text size="sm" c="dimmed">
            {t('loyalty.rules.readOnly')}
          </Text>
        )}
        <Section title={t('loyalty.rules.about')}>
          <TextInput
            label={t('loyalty.rules.name')}
            placeholder={t('loyalty.rules.namePlaceholder')}
            value={draft.name}
            onChange={(event) => set({ name: event.currentTarget.value })}
            error={tried && built.problem === 'name' ? t('validation.required') : undefined}
            disabled={readOnly}
            data-testid="rule-name"
          />
          <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm">
            <Stack gap={4}>
              <Input.Label>{t('loyalty.rules.status')}</Input.Label>
              <SegmentedControl
                value={draft.status}
                onChange={(status) => set({ status: status as Rule['status'] })}
                data={(['active', 'draft', 'archived'] as const).map((s) => ({
                  value: s,
                  label: t(`loyalty.rules.statuses.${s}`),
                }))}
                disabled={readOnly}
                data-testid="rule-status"
              />
            </Stack>
            <NumberInput
              label={t('loyalty.rules.priority')}
              description={t('loyalty.rules.priorityHint')}
              inputWrapperOrder={['label', 'input', 'description', 'error']}
              value={draft.priority}
              onChange={(priority) => set({ priority })}
              min={0}
              max={1_000_000}
              allowDecimal={false}
              disabled={readOnly}
            />
          </SimpleGrid>
          <Switch
            label={t('loyalty.rules.stopAfter')}
            description={t('loyalty.rules.stopAfterHint')}
            checked={draft.stopAfter}
            onChange={(event) => set({ stopAfter: event.currentTarget.checked })}
            disabled={readOnly}
          />
        </Section>

        <Section title={t('loyalty.rules.when')} hint={t('loyalty.rules.whenHint')}>
          <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm">
            <Stack gap={4}>
              <Input.Label>{t('loyalty.rules.trigger')}</Input.Label>
              <SegmentedControl
                value={draft.trigger}
                onChange={(trigger) =>
                  set({
                    trigger: trigger as Rule['trigger'],
                    formulaKind: trigger === 'event' ? 'from_event' : 'per_unit',
                    scope: 'transaction',
                  })
                }
                data={[
                  { value: 'purchase', label: t('loyalty.rules.triggers.purchase') },
                  { value: 'event', label: t('loyalty.rules.triggers.event') },
                ]}
                disabled={readOnly}
                data-testid="rule-trigger"
              />
            </Stack>
            {draft.trigger === 'purchase' ? (
              <Stack gap={4}>
                <Input.Label>{t('loyalty.rules.scope')}</Input.Label>
                <SegmentedControl
                  value={draft.scope}
                  onChange={(scope) => set({ scope: scope as Rule['scope'] })}
                  data={[
                    { value: 'transaction', label: t('loyalty.rules.scopes.transaction') },
                    { value: 'line', label: t('loyalty.rules.scopes.line') },
                  ]}
                  disabled={readOnly}
                  data-testid="rule-scope"
                />
              </Stack>
            ) : (
              <Autocomplete
                label={t('loyalty.rules.eventName')}
                data={eventNames}
                value={draft.eventName}
                onChange={(eventName) => set({ eventName })}
                error={tried && built.problem === 'eventName' ? t('validation.required') : undefined}
                disabled={readOnly}
                data-testid="rule-event-name"
              />
            )}
          </SimpleGrid>
          <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm">
            <TextInput
              type="datetime-local"
              label={t('loyalty.rules.startsAt')}
              description={t('loyalty.rules.optionalDate')}
              inputWrapperOrder={['label', 'input', 'description', 'error']}
              value={draft.startsAt}
              onChange={(event) => set({ startsAt: event.currentTarget.value })}
              disabled={readOnly}
            />
            <TextInput
              type="datetime-local"
              label={t('loyalty.rules.endsAt')}
              description={describeTimeZone(programme.timeZone)}
              inputWrapperOrder={['label', 'input', 'description', 'error']}
              value={draft.endsAt}
              onChange={(event) => set({ endsAt: event.currentTarget.value })}
              error={tried && built.problem === 'endsAt' ? t('loyalty.rules.endAfterStart') : undefined}
              disabled={readOnly}
            />
          </SimpleGrid>
        </Section>

        <Section title={t('loyalty.rules.condition')} hint={t('loyalty.rules.conditionHint')}>
          <ConditionEditor
            tree={draft.tree}
            onChange={(tree) => set({ tree })}
            fields={available}
            timeZone={programme.timeZone}
            readOnly={readOnly}
            showErrors={tried}
          />
        </Section>

        <Section title={t('loyalty.rules.points')}>
          <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm">
            <Select
              label={t('loyalty.rules.formula')}
              data={formulaKinds.map((kind) => ({ value: kind, label: t(`loyalty.rules.formulas.${kind}`) }))}
              value={formulaKinds.includes(draft.formulaKind) ? draft.formulaKind : null}
              onChange={(kind) => kind && set({ formulaKind: kind as FormulaKind })}
              allowDeselect={false}
              disabled={readOnly}
              comboboxProps={{ withinPortal: true }}
              data-testid="rule-formula"
            />
            {programme.settings.wallets.length > 1 && (
              <Select
                label={t('loyalty.wallet')}
                data={programme.settings.wallets.map((w) => ({ value: w.key, label: walletName(programme, w.key) }))}
                value={draft.wallet}
                onChange={(wallet) => wallet && set({ wallet })}
                allowDeselect={false}
                disabled={readOnly}
                comboboxProps={{ withinPortal: true }}
              />
            )}
          </SimpleGrid>
          <FormulaInputs
            draft={draft}
            set={set}
            programme={programme}
            readOnly={readOnly}
            invalid={tried && built.problem === 'formula'}
          />
          <Caps draft={draft} set={set} readOnly={readOnly} />
        </Section>

        {canManage && <SimulationPanel programme={programme} input={complete ? (built.input ?? null) : null} />}

        {canManage && (
          <Group justify="flex-end">
            <Button variant="default" component={Link} to="/loyalty/rules">
              {t('common.cancel')}
            </Button>
            <Button type="submit" data-testid="rule-save">
              {t('loyalty.rules.simulateAndSave')}
            </Button>
          </Group>
        )}
      </Stack>
      {saving && (
        <SaveRuleModal
          programme={programme}
          ruleId={rule?.id ?? null}
          input={saving}
          onClose={() => setSaving(null)}
          onSaved={() => void navigate('/loyalty/rules')}
        />
      )}
    </form>
  );
}

function FormulaInputs({
  draft,
  set,
  programme,
  readOnly,
  invalid,
}: {
  draft: Draft;
  set: (patch: Partial<Draft>) => void;
  programme: Programme;
  readOnly: boolean;
  invalid: boolean;
}) {
  const { t } = useTranslation();
  const error = invalid ? t('loyalty.rules.formulaInvalid') : undefined;
  if (draft.formulaKind === 'per_unit')
    return (
      <Group gap="xs" align="flex-end" wrap="wrap">
        <NumberInput
          label={t('loyalty.rules.pointsLabel')}
          value={draft.points}
          onChange={(points) => set({ points })}
          min={1}
          allowDecimal={false}
          disabled={readOnly}
          error={error}
          w={140}
          data-testid="rule-points"
        />
        <Text size="sm" pb={8}>
          {t('loyalty.rules.forEvery')}
        </Text>
        <TextInput
          label={t('loyalty.rules.amount', { currency: programme.currency })}
          value={draft.per}
          onChange={(event) => set({ per: event.currentTarget.value })}
          inputMode="decimal"
          disabled={readOnly}
          w={160}
          data-testid="rule-per"
        />
        <Text size="sm" c="dimmed" pb={8}>
          {t('loyalty.rules.paidInMoney')}
        </Text>
      </Group>
    );
  if (draft.formulaKind === 'fixed')
    return (
      <Group gap="md" align="flex-end" wrap="wrap">
        <NumberInput
          label={t('loyalty.rules.pointsLabel')}
          value={draft.points}
          onChange={(points) => set({ points })}
          min={1}
          allowDecimal={false}
          disabled={readOnly}
          error={error}
          w={140}
          data-testid="rule-points"
        />
        {draft.scope === 'line' && draft.trigger === 'purchase' && (
          <Switch
            label={t('loyalty.rules.perItem')}
            checked={draft.perItem}
            onChange={(event) => set({ perItem: event.currentTarget.checked })}
            disabled={readOnly}
            pb={8}
          />
        )}
      </Group>
    );
  return (
    <NumberInput
      label={draft.formulaKind === 'multiplier' ? t('loyalty.rules.factor') : t('loyalty.rules.eventFactor')}
      description={
        draft.formulaKind === 'multiplier' ? t('loyalty.rules.factorHint') : t('loyalty.rules.eventFactorHint')
      }
      inputWrapperOrder={['label', 'input', 'description', 'error']}
      value={draft.factor}
      onChange={(factor) => set({ factor })}
      min={draft.formulaKind === 'multiplier' ? 1 : 0}
      max={100}
      decimalScale={2}
      disabled={readOnly}
      error={error}
      maw={360}
      data-testid="rule-factor"
    />
  );
}

const PERIODS: Cap['period'][] = ['day', 'week', 'month', 'year', 'ever'];

function Caps({ draft, set, readOnly }: { draft: Draft; set: (patch: Partial<Draft>) => void; readOnly: boolean }) {
  const { t } = useTranslation();
  const update = (id: number, patch: Partial<CapDraft>) =>
    set({ caps: draft.caps.map((c) => (c.id === id ? { ...c, ...patch } : c)) });
  return (
    <Stack gap="xs" mt="xs">
      <Input.Label>{t('loyalty.rules.caps')}</Input.Label>
      {draft.caps.length === 0 && (
        <Text size="sm" c="dimmed">
          {t('loyalty.rules.noCaps')}
        </Text>
      )}
      {draft.caps.map((cap) => (
        <Group key={cap.id} gap="xs" align="flex-end" wrap="wrap" data-testid="rule-cap">
          <Select
            label={t('loyalty.rules.capPeriod')}
            data={PERIODS.map((p) => ({ value: p, label: t(`loyalty.rules.periods.${p}`) }))}
            value={cap.period}
            onChange={(period) => period && update(cap.id, { period: period as Cap['period'] })}
            allowDeselect={false}
            disabled={readOnly}
            comboboxProps={{ withinPortal: true }}
            w={160}
          />
          <NumberInput
            label={t('loyalty.rules.capPoints')}
            value={cap.maxPoints}
            onChange={(maxPoints) => update(cap.id, { maxPoints })}
            min={0}
            allowDecimal={false}
            disabled={readOnly}
            w={150}
          />
          <NumberInput
            label={t('loyalty.rules.capTimes')}
            value={cap.maxTimes}
            onChange={(maxTimes) => update(cap.id, { maxTimes })}
            min={0}
            allowDecimal={false}
            disabled={readOnly}
            w={150}
          />
          {!readOnly && (
            <ActionIcon
              variant="subtle"
              color="gray"
              size="lg"
              onClick={() => set({ caps: draft.caps.filter((c) => c.id !== cap.id) })}
              aria-label={t('loyalty.rules.removeCap')}
            >
              <IconTrash size={16} />
            </ActionIcon>
          )}
        </Group>
      ))}
      {!readOnly && draft.caps.length < 5 && (
        <Box>
          <Button
            variant="subtle"
            size="xs"
            leftSection={<IconPlus size={14} />}
            onClick={() => set({ caps: [...draft.caps, { id: ++capIds, period: 'day', maxPoints: '', maxTimes: 1 }] })}
          >
            {t('loyalty.rules.addCap')}
          </Button>
        </Box>
      )}
    </Stack>
  );
}
