import { Anchor, Badge, Button, Group, Paper, Stack, Table, Text } from '@mantine/core';
import { IconPlus } from '@tabler/icons-react';
import type { TFunction } from 'i18next';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate } from 'react-router';
import type { Formula, Programme } from '../../../../src/modules/loyalty/loyalty.schemas.ts';
import { type ConditionNode, type Rule, useRules } from '../../api/loyalty.ts';
import { EmptyTableRow, LoadingBlock } from '../../components/ListStates.tsx';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { useCan } from '../../components/RequirePermission.tsx';
import { formatMinor } from '../../lib/money.ts';
import { useIsPhone } from '../../lib/useIsPhone.ts';
import { useProgramme } from './LoyaltyLayout.tsx';
import { useLanguage, walletName } from './MemberParts.tsx';

export const RULE_STATUS_COLOR: Record<Rule['status'], string> = { active: 'green', draft: 'yellow', archived: 'gray' };

/** "1 point per €1.00", "× 2", "10 points per item": a formula in words. */
export function formulaSummary(formula: Formula, programme: Programme, t: TFunction, language: string): string {
  const number = new Intl.NumberFormat(language);
  switch (formula.kind) {
    case 'per_unit':
      return t('loyalty.rules.summary.perUnit', {
        points: number.format(formula.points),
        amount: formatMinor(formula.per, programme.currency, language),
      });
    case 'fixed':
      return formula.perItem
        ? t('loyalty.rules.summary.fixedPerItem', { points: number.format(formula.points) })
        : t('loyalty.rules.summary.fixed', { points: number.format(formula.points) });
    case 'multiplier':
      return t('loyalty.rules.summary.multiplier', { factor: number.format(formula.factor) });
    default:
      return t('loyalty.rules.summary.fromEvent', { factor: number.format(formula.factor) });
  }
}

function countConditions(node: ConditionNode | null): number {
  if (!node) return 0;
  if ('all' in node) return node.all.reduce((sum, child) => sum + countConditions(child), 0);
  if ('any' in node) return node.any.reduce((sum, child) => sum + countConditions(child), 0);
  if ('not' in node) return countConditions(node.not);
  return 1;
}

/** /loyalty/rules: the earn rules in the order they are evaluated. */
export function RulesPage() {
  const { t } = useTranslation();
  const programme = useProgramme();
  const rules = useRules(programme.key);
  const canManage = useCan('loyalty:manage');
  const phone = useIsPhone();
  const language = useLanguage();
  const navigate = useNavigate();
  const items = [...(rules.data?.items ?? [])].sort(
    (a, b) => Number(a.status === 'archived') - Number(b.status === 'archived') || a.priority - b.priority,
  );
  return (
    <Stack gap="md">
      <Group justify="space-between" align="flex-end" gap="sm">
        <Text size="sm" c="dimmed" maw={720} style={{ flex: '1 1 320px' }}>
          {t('loyalty.rules.description')}
        </Text>
        {canManage && (
          <Button
            component={Link}
            to="/loyalty/rules/new"
            leftSection={<IconPlus size={16} />}
            data-testid="rule-create"
          >
            {t('loyalty.rules.new')}
          </Button>
        )}
      </Group>
      {rules.isPending ? (
        <LoadingBlock />
      ) : rules.isError ? (
        <ProblemAlert error={rules.error} />
      ) : (
        <Paper withBorder radius="md">
          <Table.ScrollContainer minWidth={phone ? 0 : 820}>
            <Table highlightOnHover data-testid="rule-table">
              <Table.Thead>
                <Table.Tr>
                  {!phone && <Table.Th w={70}>{t('loyalty.rules.priority')}</Table.Th>}
                  <Table.Th>{t('loyalty.rules.name')}</Table.Th>
                  {!phone && <Table.Th>{t('loyalty.rules.appliesTo')}</Table.Th>}
                  <Table.Th>{t('loyalty.rules.gives')}</Table.Th>
                  {!phone && <Table.Th>{t('loyalty.rules.status')}</Table.Th>}
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {items.length === 0 && (
                  <EmptyTableRow
                    columns={phone ? 2 : 5}
                    message={canManage ? t('loyalty.rules.emptyManage') : t('loyalty.rules.empty')}
                  />
                )}
                {items.map((rule) => {
                  const to = `/loyalty/rules/${rule.id}`;
                  const conditions = countConditions(rule.condition);
                  const applies = [
                    rule.trigger === 'event'
                      ? t('loyalty.rules.eventNamed', { name: rule.eventName ?? '' })
                      : t(`loyalty.rules.scopes.${rule.scope}`),
                    conditions > 0 ? t('loyalty.rules.conditions', { n: conditions }) : t('loyalty.rules.always'),
                  ].join(' · ');
                  return (
                    <Table.Tr
                      key={rule.id}
                      data-testid="rule-row"
                      data-status={rule.status}
                      style={{ cursor: 'pointer', opacity: rule.status === 'archived' ? 0.6 : 1 }}
                      onClick={(event) => {
                        if ((event.target as HTMLElement).closest('a')) return;
                        void navigate(to);
                      }}
                    >
                      {!phone && <Table.Td>{rule.priority}</Table.Td>}
                      <Table.Td>
                        <Anchor component={Link} to={to} size="sm" fw={600} style={{ wordBreak: 'break-word' }}>
                          {rule.name}
                        </Anchor>
                        {rule.stopAfter && (
                          <Text size="xs" c="dimmed">
                            {t('loyalty.rules.stopsOthers')}
                          </Text>
                        )}
                        {phone && (
                          <Text size="xs" c="dimmed">
                            {applies}
                          </Text>
                        )}
                      </Table.Td>
                      {!phone && (
                        <Table.Td>
                          <Text size="sm">{applies}</Text>
                        </Table.Td>
                      )}
                      <Table.Td>
                        <Text size="sm">{formulaSummary(rule.formula, programme, t, language)}</Text>
                        {programme.settings.wallets.length > 1 && (
                          <Text size="xs" c="dimmed">
                            {walletName(programme, rule.wallet)}
                          </Text>
                        )}
                        {phone && rule.status !== 'active' && (
                          <Badge variant="light" color={RULE_STATUS_COLOR[rule.status]} mt={2}>
                            {t(`loyalty.rules.statuses.${rule.status}`)}
                          </Badge>
                        )}
                      </Table.Td>
                      {!phone && (
                        <Table.Td>
                          <Badge variant="light" color={RULE_STATUS_COLOR[rule.status]}>
                            {t(`loyalty.rules.statuses.${rule.status}`)}
                          </Badge>
                        </Table.Td>
                      )}
                    </Table.Tr>
                  );
                })}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        </Paper>
      )}
    </Stack>
  );
}
