import {
  ActionIcon,
  Anchor,
  CopyButton,
  Group,
  Paper,
  Progress,
  SimpleGrid,
  Stack,
  Text,
  Tooltip,
} from '@mantine/core';
import { IconCheck, IconCopy, IconExternalLink } from '@tabler/icons-react';
import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import type { Promotion } from '../../../../src/modules/codes/codes.schemas.ts';
import { rewardSummary } from '../../lib/codes.ts';

/** A local date-time as the promotion states it (already in its zone): "1 Nov 2026, 00:00". */
export function formatLocal(local: string, language: string): string {
  const date = new Date(`${local.length === 16 ? `${local}:00` : local}Z`);
  if (Number.isNaN(date.getTime())) return local;
  return new Intl.DateTimeFormat(language, { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' }).format(date);
}

export function formatLocalWindow(promotion: Promotion, language: string): string {
  return `${formatLocal(promotion.startsAt, language)} – ${formatLocal(promotion.endsAt, language)}`;
}

function Fact({ label, children }: { label: string; children: ReactNode }) {
  return (
    <Stack gap={2} style={{ minWidth: 0 }}>
      <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
        {label}
      </Text>
      {children}
    </Stack>
  );
}

/** What a promotion promises and limits, and where people enter its codes. */
export function PromotionFacts({ promotion }: { promotion: Promotion }) {
  const { t, i18n } = useTranslation();
  const language = i18n.resolvedLanguage === 'ru' ? 'ru-RU' : 'en-GB';
  const number = new Intl.NumberFormat(language);
  const limit = (value: number | null) => (value === null ? t('codes.unlimited') : number.format(value));
  return (
    <Paper withBorder radius="md" p={{ base: 'md', sm: 'lg' }} data-testid="promotion-facts">
      <Stack gap="md">
        <SimpleGrid cols={{ base: 1, xs: 2, md: 4 }} spacing="md">
          <Fact label={t('codes.window')}>
            <Text size="sm">{formatLocal(promotion.startsAt, language)}</Text>
            <Text size="sm">– {formatLocal(promotion.endsAt, language)}</Text>
            <Text size="xs" c="dimmed">
              {promotion.timeZone}
            </Text>
          </Fact>
          <Fact label={t('codes.reward.title')}>
            <Text size="sm" style={{ wordBreak: 'break-word' }} data-testid="promotion-reward">
              {rewardSummary(promotion.reward, t, language)}
            </Text>
          </Fact>
          <Fact label={t('codes.limits')}>
            <Text size="sm">
              {t('codes.perDayShort')}: {limit(promotion.perPersonPerDay)}
            </Text>
            <Text size="sm">
              {t('codes.perPromotionShort')}: {limit(promotion.perPersonTotal)}
            </Text>
          </Fact>
          <Fact label={t('codes.budget')}>
            <BudgetMeter promotion={promotion} />
          </Fact>
        </SimpleGrid>
        <Fact label={t('codes.hostedPage')}>
          <Group gap={6} wrap="nowrap" style={{ minWidth: 0 }}>
            <Anchor
              href={promotion.pageUrl}
              target="_blank"
              rel="noopener noreferrer"
              size="sm"
              style={{ wordBreak: 'break-all', minWidth: 0 }}
              data-testid="promotion-page-link"
            >
              {promotion.pageUrl}
              <IconExternalLink size={12} style={{ marginLeft: 4, verticalAlign: 'middle' }} />
            </Anchor>
            <CopyButton value={promotion.pageUrl}>
              {({ copied, copy }) => (
                <Tooltip label={copied ? t('common.copied') : t('common.copy')} withArrow>
                  <ActionIcon
                    variant="subtle"
                    color={copied ? 'teal' : 'gray'}
                    onClick={copy}
                    aria-label={t('common.copy')}
                  >
                    {copied ? <IconCheck size={14} /> : <IconCopy size={14} />}
                  </ActionIcon>
                </Tooltip>
              )}
            </CopyButton>
          </Group>
          <Text size="xs" c="dimmed">
            {t('codes.hostedPageHint')}
          </Text>
        </Fact>
      </Stack>
    </Paper>
  );
}

/** Accepted codes against the prize fund; without a budget, just the count. */
export function BudgetMeter({ promotion }: { promotion: Promotion }) {
  const { t, i18n } = useTranslation();
  const number = new Intl.NumberFormat(i18n.resolvedLanguage === 'ru' ? 'ru-RU' : 'en-GB');
  if (promotion.budget === null)
    return (
      <Text size="sm">
        {number.format(promotion.budgetUsed)}{' '}
        <Text span size="xs" c="dimmed">
          {t('codes.noBudget')}
        </Text>
      </Text>
    );
  const share = promotion.budget > 0 ? Math.min(100, (promotion.budgetUsed / promotion.budget) * 100) : 0;
  return (
    <Stack gap={4}>
      <Text size="sm">
        {t('codes.budgetUsed', { used: number.format(promotion.budgetUsed), budget: number.format(promotion.budget) })}
      </Text>
      <Progress value={share} size="sm" color={share >= 90 ? 'red' : share >= 70 ? 'yellow' : 'indigo'} />
    </Stack>
  );
}
