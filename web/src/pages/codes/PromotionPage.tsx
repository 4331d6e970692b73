import { Anchor, Badge, Box, Button, Group, Stack, Tabs, Text, Title } from '@mantine/core';
import {
  IconActivityHeartbeat,
  IconArrowLeft,
  IconPackages,
  IconPencil,
  IconPlayerPause,
  IconPlayerPlay,
  IconShieldSearch,
} from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { Link, useParams, useSearchParams } from 'react-router';
import type { Promotion } from '../../../../src/modules/codes/codes.schemas.ts';
import { usePromotion, useUpdatePromotion } from '../../api/codes.ts';
import { LoadingBlock } from '../../components/ListStates.tsx';
import { notifyProblem, notifySuccess, ProblemAlert } from '../../components/ProblemAlert.tsx';
import { RequirePermission, useCan } from '../../components/RequirePermission.tsx';
import { PHASE_COLOR, promotionPhase } from '../../lib/codes.ts';
import { AttemptsView } from './AttemptsView.tsx';
import { BatchesPanel } from './BatchesPanel.tsx';
import { LiveDashboard } from './LiveDashboard.tsx';
import { PromotionFacts } from './PromotionFacts.tsx';

const TABS = ['batches', 'live', 'attempts'] as const;
type Tab = (typeof TABS)[number];

/** One promotion: what it offers, its batches of codes, live registrations and the attempts behind them. */
export function PromotionPage() {
  const { t } = useTranslation();
  const { id = '' } = useParams();
  return (
    <Stack gap="lg">
      <Box>
        <Anchor component={Link} to="/promo-codes" size="sm" c="dimmed">
          <Group gap={4} component="span">
            <IconArrowLeft size={14} />
            {t('codes.backToList')}
          </Group>
        </Anchor>
      </Box>
      <RequirePermission permission="codes:read">
        <PromotionView id={id} />
      </RequirePermission>
    </Stack>
  );
}

function PromotionView({ id }: { id: string }) {
  const { t } = useTranslation();
  const [params, setParams] = useSearchParams();
  const tab: Tab = (TABS as readonly string[]).includes(params.get('tab') ?? '')
    ? (params.get('tab') as Tab)
    : 'batches';
  const detail = usePromotion(id, { live: tab === 'live' });
  if (detail.isPending) return <LoadingBlock />;
  if (detail.isError) return <ProblemAlert error={detail.error} />;
  const { promotion } = detail.data;
  return (
    <>
      <PromotionHeader promotion={promotion} />
      <PromotionFacts promotion={promotion} />
      <Tabs
        value={tab}
        onChange={(next) => setParams(next && next !== 'batches' ? { tab: next } : {}, { replace: true })}
        keepMounted={false}
      >
        <Tabs.List mb="md">
          <Tabs.Tab value="batches" leftSection={<IconPackages size={16} />} data-testid="promotion-tab-batches">
            {t('codes.batches.title')}
          </Tabs.Tab>
          <Tabs.Tab value="live" leftSection={<IconActivityHeartbeat size={16} />} data-testid="promotion-tab-live">
            {t('codes.live.title')}
          </Tabs.Tab>
          <Tabs.Tab value="attempts" leftSection={<IconShieldSearch size={16} />} data-testid="promotion-tab-attempts">
            {t('codes.fraud.attempts')}
          </Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="batches">
          <BatchesPanel detail={detail.data} />
        </Tabs.Panel>
        <Tabs.Panel value="live">
          <LiveDashboard promotionId={promotion.id} />
        </Tabs.Panel>
        <Tabs.Panel value="attempts">
          <AttemptsView promotionId={promotion.id} />
        </Tabs.Panel>
      </Tabs>
    </>
  );
}

function PromotionHeader({ promotion }: { promotion: Promotion }) {
  const { t } = useTranslation();
  const canManage = useCan('codes:manage');
  const update = useUpdatePromotion(promotion.id);
  const phase = promotionPhase(promotion);
  const paused = promotion.status === 'paused';
  const toggle = () =>
    update.mutate(
      { status: paused ? 'active' : 'paused' },
      {
        onSuccess: () => notifySuccess(paused ? t('codes.resumed') : t('codes.paused')),
        onError: (error) => notifyProblem(error, t),
      },
    );
  return (
    <Group justify="space-between" align="flex-start" gap="sm">
      <Stack gap={4} style={{ flex: '1 1 280px', minWidth: 0 }}>
        <Group gap="sm" wrap="wrap">
          <Title order={2} style={{ wordBreak: 'break-word' }} data-testid="promotion-title">
            {promotion.name}
          </Title>
          <Badge variant="light" color={PHASE_COLOR[phase]} data-testid="promotion-phase" data-phase={phase}>
            {t(`codes.phase.${phase}`)}
          </Badge>
        </Group>
        <Text size="sm" c="dimmed" ff="monospace">
          {promotion.key}
        </Text>
      </Stack>
      {canManage && (
        <Group gap="xs">
          <Button
            variant="default"
            size="xs"
            leftSection={paused ? <IconPlayerPlay size={14} /> : <IconPlayerPause size={14} />}
            loading={update.isPending}
            onClick={toggle}
            data-testid="promotion-pause"
          >
            {paused ? t('codes.resume') : t('codes.pause')}
          </Button>
          <Button
            component={Link}
            to={`/promo-codes/${promotion.id}/edit`}
            variant="default"
            size="xs"
            leftSection={<IconPencil size={14} />}
            data-testid="promotion-edit"
          >
            {t('common.edit')}
          </Button>
        </Group>
      )}
    </Group>
  );
}
