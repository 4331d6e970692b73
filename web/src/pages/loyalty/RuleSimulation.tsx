import {
  Alert,
  Button,
  Group,
  Modal,
  Paper,
  SegmentedControl,
  SimpleGrid,
  Stack,
  Table,
  Text,
  Title,
} from '@mantine/core';
import { IconAlertTriangle, IconFlask } from '@tabler/icons-react';
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { Programme } from '../../../../src/modules/loyalty/loyalty.schemas.ts';
import { type RuleInput, type SimulationResult, useSaveRule, useSimulateRule } from '../../api/loyalty.ts';
import { LoadingBlock } from '../../components/ListStates.tsx';
import { notifySuccess, ProblemAlert } from '../../components/ProblemAlert.tsx';
import { formatPoints } from '../../lib/money.ts';
import { useWorkspaceClock } from '../../lib/useWorkspaceClock.ts';
import { useLanguage } from './MemberParts.tsx';

const PERIOD_DAYS = [7, 30, 90] as const;

function periodOf(days: number) {
  const to = new Date();
  return { from: new Date(to.getTime() - days * 86_400_000).toISOString(), to: to.toISOString() };
}

/** What the rule would have given over the period, had it been the only rule. */
export function SimulationFigures({ result }: { result: SimulationResult }) {
  const { t } = useTranslation();
  const language = useLanguage();
  const { format } = useWorkspaceClock();
  return (
    <Stack gap="sm" data-testid="simulation-result" data-matched={result.matched} data-points={result.points}>
      <SimpleGrid cols={{ base: 1, xs: 3 }} spacing="sm">
        <Figure
          label={t('loyalty.simulation.matched')}
          value={formatPoints(result.matched, language)}
          hint={t('loyalty.simulation.ofScanned', { n: formatPoints(result.scanned, language) })}
        />
        <Figure label={t('loyalty.simulation.points')} value={formatPoints(result.points, language)} />
        <Figure label={t('loyalty.simulation.members')} value={formatPoints(result.members, language)} />
      </SimpleGrid>
      <Text size="xs" c="dimmed">
        {t('loyalty.simulation.period', { from: format(result.from), to: format(result.to) })}
      </Text>
      {result.scanned === 0 && (
        <Text size="sm" c="dimmed" data-testid="simulation-nothing">
          {t('loyalty.simulation.nothingToTry')}
        </Text>
      )}
      {result.truncated && (
        <Alert color="yellow" variant="light" icon={<IconAlertTriangle size={16} />}>
          {t('loyalty.simulation.truncated')}
        </Alert>
      )}
      {result.sample.length > 0 && (
        <Table verticalSpacing={4} withRowBorders={false}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>
                <Text size="xs" c="dimmed">
                  {t('loyalty.simulation.sample')}
                </Text>
              </Table.Th>
              <Table.Th ta="right">
                <Text size="xs" c="dimmed">
                  {t('loyalty.ledger.points')}
                </Text>
              </Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {result.sample.slice(0, 5).map((row) => (
              <Table.Tr key={row.transactionId}>
                <Table.Td>
                  <Text size="xs">{format(row.occurredAt)}</Text>
                </Table.Td>
                <Table.Td ta="right">
                  <Text size="xs" fw={600}>
                    {formatPoints(row.points, language, true)}
                  </Text>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Stack>
  );
}

function Figure({ label, value, hint }: { label: string; value: string; hint?: string }) {
  return (
    <Paper withBorder radius="md" p="sm">
      <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
        {label}
      </Text>
      <Text size="xl" fw={700}>
        {value}
      </Text>
      {hint && (
        <Text size="xs" c="dimmed">
          {hint}
        </Text>
      )}
    </Paper>
  );
}

/** Try the draft on past transactions without saving it. */
export function SimulationPanel({ programme, input }: { programme: Programme; input: RuleInput | null }) {
  const { t } = useTranslation();
  const [days, setDays] = useState<number>(30);
  const simulate = useSimulateRule(programme.key);
  return (
    <Paper withBorder radius="md" p={{ base: 'md', sm: 'lg' }} data-testid="simulation-panel">
      <Stack gap="sm">
        <Group justify="space-between" gap="sm">
          <Stack gap={2} style={{ flex: '1 1 280px' }}>
            <Title order={4}>{t('loyalty.simulation.title')}</Title>
            <Text size="sm" c="dimmed">
              {t('loyalty.simulation.hint')}
            </Text>
          </Stack>
          <Group gap="xs">
            <SegmentedControl
              size="xs"
              value={String(days)}
              onChange={(value) => setDays(Number(value))}
              data={PERIOD_DAYS.map((d) => ({ value: String(d), label: t('loyalty.simulation.days', { n: d }) }))}
            />
            <Button
              variant="light"
              leftSection={<IconFlask size={16} />}
              disabled={!input}
              loading={simulate.isPending}
              onClick={() => input && simulate.mutate({ rule: input, ...periodOf(days) })}
              data-testid="simulation-run"
            >
              {t('loyalty.simulation.run')}
            </Button>
          </Group>
        </Group>
        {!input && (
          <Text size="sm" c="dimmed">
            {t('loyalty.simulation.incomplete')}
          </Text>
        )}
        {simulate.error ? <ProblemAlert error={simulate.error} /> : null}
        {simulate.data && <SimulationFigures result={simulate.data} />}
      </Stack>
    </Paper>
  );
}

/** Saving a rule shows first what it would have given over the last 30 days; then it is saved on confirmation. */
export function SaveRuleModal({
  programme,
  ruleId,
  input,
  onClose,
  onSaved,
}: {
  programme: Programme;
  ruleId: string | null;
  input: RuleInput;
  onClose: () => void;
  onSaved: () => void;
}) {
  const { t } = useTranslation();
  const simulate = useSimulateRule(programme.key);
  const save = useSaveRule(programme.key, ruleId);
  const { mutate } = simulate;
  useEffect(() => mutate({ rule: input, ...periodOf(30) }), [mutate, input]);
  return (
    <Modal
      opened
      onClose={save.isPending ? () => {} : onClose}
      title={t('loyalty.simulation.beforeSaving')}
      size="lg"
      centered
    >
      <Stack gap="md" data-testid="rule-save-modal">
        <Text size="sm">{t('loyalty.simulation.beforeSavingText', { name: input.name })}</Text>
        {simulate.isPending ? (
          <LoadingBlock />
        ) : simulate.error ? (
          <ProblemAlert error={simulate.error} />
        ) : simulate.data ? (
          <SimulationFigures result={simulate.data} />
        ) : null}
        {input.status === 'active' && (
          <Text size="sm" c="dimmed">
            {t('loyalty.simulation.goesLive')}
          </Text>
        )}
        {save.error ? <ProblemAlert error={save.error} /> : null}
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose} disabled={save.isPending}>
            {t('loyalty.simulation.keepEditing')}
          </Button>
          <Button
            loading={save.isPending}
            disabled={simulate.isPending}
            onClick={() =>
              save.mutate(input, {
                onSuccess: () => {
                  notifySuccess(t('loyalty.rules.saved'));
                  onSaved();
                },
              })
            }
            data-testid="rule-save-confirm"
          >
            {t('loyalty.rules.save')}
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
