import { Anchor, Badge, Button, Group, Paper, Stack, Table, Tabs, Text, ThemeIcon, Title } from '@mantine/core';
import { IconPlus, IconShieldSearch, IconTicket } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useSearchParams } from 'react-router';
import type { Promotion } from '../../../../src/modules/codes/codes.schemas.ts';
import { usePromotions } from '../../api/codes.ts';
import { LoadingBlock } from '../../components/ListStates.tsx';
import { PageHeader } from '../../components/PageHeader.tsx';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { RequirePermission, useCan } from '../../components/RequirePermission.tsx';
import { PHASE_COLOR, promotionPhase, rewardSummary } from '../../lib/codes.ts';
import { useIsPhone } from '../../lib/useIsPhone.ts';
import { PlacementReportView } from './PlacementReportView.tsx';
import { PlacementsView } from './PlacementsView.tsx';
import { BudgetMeter, formatLocal, formatLocalWindow } from './PromotionFacts.tsx';

const VIEWS = ['promotions', 'placements', 'report'] as const;
type View = (typeof VIEWS)[number];

export function PromotionsPage() {
  const { t } = useTranslation();
  const canManage = useCan('codes:manage');
  const canRead = useCan('codes:read');
  // Placements and their report are views of this page (?view=…), so that links to them can be shared.
  const [params, setParams] = useSearchParams();
  const view: View = VIEWS.includes(params.get('view') as View) ? (params.get('view') as View) : 'promotions';
  return (
    <>
      <PageHeader
        title={t('nav.promoCodes')}
        description={t('codes.description')}
        actions={
          <>
            {canRead && (
              <Button
                component={Link}
                to="/promo-codes/attempts"
                variant="default"
                leftSection={<IconShieldSearch size={16} />}
                data-testid="codes-fraud-link"
              >
                {t('codes.fraud.title')}
              </Button>
            )}
            {canManage && (
              <Button
                component={Link}
                to="/promo-codes/new"
                leftSection={<IconPlus size={16} />}
                data-testid="promotion-create"
              >
                {t('codes.newPromotion')}
              </Button>
            )}
          </>
        }
      />
      <RequirePermission permission="codes:read">
        <Tabs
          value={view}
          onChange={(value) => setParams(value && value !== 'promotions' ? { view: value } : {})}
          keepMounted={false}
        >
          <Tabs.List mb="md">
            {VIEWS.map((v) => (
              <Tabs.Tab key={v} value={v} data-testid={`codes-view-${v}`}>
                {t(`codes.views.${v}`)}
              </Tabs.Tab>
            ))}
          </Tabs.List>
          <Tabs.Panel value="promotions">
            <PromotionList />
          </Tabs.Panel>
          <Tabs.Panel value="placements">
            <PlacementsView />
          </Tabs.Panel>
          <Tabs.Panel value="report">
            <PlacementReportView />
          </Tabs.Panel>
        </Tabs>
      </RequirePermission>
    </>
  );
}

function PromotionList() {
  const { t } = useTranslation();
  const promotions = usePromotions();
  const phone = useIsPhone();
  if (promotions.isPending) return <LoadingBlock />;
  if (promotions.isError) return <ProblemAlert error={promotions.error} />;
  if (promotions.data.items.length === 0) return <NoPromotions />;
  return (
    <Paper withBorder radius="md">
      <Table.ScrollContainer minWidth={phone ? 0 : 820}>
        <Table highlightOnHover data-testid="promotion-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t('codes.promotion')}</Table.Th>
              {!phone && <Table.Th>{t('codes.window')}</Table.Th>}
              {!phone && <Table.Th>{t('codes.reward.title')}</Table.Th>}
              <Table.Th>{t('codes.status')}</Table.Th>
              {!phone && <Table.Th w={180}>{t('codes.budget')}</Table.Th>}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {promotions.data.items.map((promotion) => (
              <PromotionRow key={promotion.id} promotion={promotion} phone={phone} />
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
    </Paper>
  );
}

function PromotionRow({ promotion, phone }: { promotion: Promotion; phone: boolean }) {
  const { t, i18n } = useTranslation();
  const navigate = useNavigate();
  const language = i18n.resolvedLanguage === 'ru' ? 'ru-RU' : 'en-GB';
  const phase = promotionPhase(promotion);
  const to = `/promo-codes/${promotion.id}`;
  const window = formatLocalWindow(promotion, language);
  const [starts, ends] = [formatLocal(promotion.startsAt, language), formatLocal(promotion.endsAt, language)];
  return (
    <Table.Tr
      data-testid="promotion-row"
      data-key={promotion.key}
      style={{ cursor: 'pointer' }}
      onClick={(event) => {
        if ((event.target as HTMLElement).closest('a')) return;
        void navigate(to);
      }}
    >
      <Table.Td>
        <Stack gap={0} style={{ minWidth: 0 }}>
          <Anchor component={Link} to={to} size="sm" fw={600} style={{ wordBreak: 'break-word' }}>
            {promotion.name}
          </Anchor>
          <Text size="xs" c="dimmed" ff="monospace">
            {promotion.key}
          </Text>
          {phone && (
            <Text size="xs" c="dimmed">
              {window}
            </Text>
          )}
        </Stack>
      </Table.Td>
      {!phone && (
        <Table.Td>
          <Text size="sm" style={{ whiteSpace: 'nowrap' }}>
            {starts} –
          </Text>
          <Text size="sm" style={{ whiteSpace: 'nowrap' }}>
            {ends}{' '}
            <Text span size="xs" c="dimmed">
              {promotion.timeZone}
            </Text>
          </Text>
        </Table.Td>
      )}
      {!phone && (
        <Table.Td>
          <Text size="sm">{rewardSummary(promotion.reward, t, language)}</Text>
        </Table.Td>
      )}
      <Table.Td>
        <Badge variant="light" color={PHASE_COLOR[phase]} data-testid="promotion-phase" data-phase={phase}>
          {t(`codes.phase.${phase}`)}
        </Badge>
      </Table.Td>
      {!phone && (
        <Table.Td>
          <BudgetMeter promotion={promotion} />
        </Table.Td>
      )}
    </Table.Tr>
  );
}

function NoPromotions() {
  const { t } = useTranslation();
  const canManage = useCan('codes:manage');
  return (
    <Paper withBorder radius="md" p={{ base: 'md', sm: 'xl' }} data-testid="promotions-empty">
      <Stack gap="sm" maw={640}>
        <Group gap="sm" wrap="nowrap">
          <ThemeIcon size={40} radius="xl" variant="light">
            <IconTicket size={22} stroke={1.6} />
          </ThemeIcon>
          <Title order={4}>{t('codes.emptyTitle')}</Title>
        </Group>
        <Text size="sm">{t('codes.emptyText')}</Text>
        <Text size="sm" c="dimmed">
          {canManage ? t('codes.emptyManage') : t('codes.emptyReadOnly')}
        </Text>
        {canManage && (
          <Group>
            <Button component={Link} to="/promo-codes/new" leftSection={<IconPlus size={16} />}>
              {t('codes.newPromotion')}
            </Button>
          </Group>
        )}
      </Stack>
    </Paper>
  );
}
