import { Anchor, Badge, Button, Group, Paper, ScrollArea, SegmentedControl, Stack, Table, Text } from '@mantine/core';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import type { Referral } from '../../../../src/modules/loyalty/loyalty.referrals.schemas.ts';
import type { Programme } from '../../../../src/modules/loyalty/loyalty.schemas.ts';
import { useReferrals, useReviewReferral } from '../../api/loyalty.ts';
import { EmptyTableRow, LoadingBlock } from '../../components/ListStates.tsx';
import { notifySuccess, ProblemAlert } from '../../components/ProblemAlert.tsx';
import { useCan } from '../../components/RequirePermission.tsx';
import { useIsPhone } from '../../lib/useIsPhone.ts';
import { useWorkspaceClock } from '../../lib/useWorkspaceClock.ts';
import { ReferralSettingsCard } from './ReferralSettings.tsx';

export const REFERRAL_STATUS_COLOR: Record<Referral['status'], string> = {
  pending: 'blue',
  held: 'orange',
  rejected: 'red',
  completed: 'green',
  revoked: 'gray',
};

/** A referral's status, with the reason when it was refused or held. */
export function ReferralStatusBadge({ referral }: { referral: Referral }) {
  const { t } = useTranslation();
  return (
    <Stack gap={2}>
      <Badge variant="light" color={REFERRAL_STATUS_COLOR[referral.status]} data-testid="referral-status">
        {t(`loyalty.referrals.statuses.${referral.status}`)}
      </Badge>
      {referral.reason && (
        <Text size="xs" c="dimmed">
          {t(`loyalty.referrals.reasons.${referral.reason}`, { defaultValue: referral.reason })}
        </Text>
      )}
    </Stack>
  );
}

/** A person in a referral: their name, or the end of their profile id when they have none. */
export function PersonLink({ id, name, to }: { id: string; name?: string | null; to: string }) {
  return (
    <Anchor component={Link} to={to} size="sm" ff={name ? undefined : 'monospace'} data-testid="referral-person">
      {name ?? id.slice(-8)}
    </Anchor>
  );
}

const FILTERS = ['all', 'held', 'pending', 'completed', 'revoked', 'rejected'] as const;

/** /loyalty?view=referrals: who came with whose invite code, and the review of held ones. */
export function ReferralsPage({ programme }: { programme: Programme }) {
  const { t } = useTranslation();
  const phone = useIsPhone();
  const { format } = useWorkspaceClock();
  const canManage = useCan('loyalty:manage');
  const [filter, setFilter] = useState<(typeof FILTERS)[number]>('all');
  const referrals = useReferrals(programme.key, filter === 'all' ? {} : { status: filter });
  const review = useReviewReferral(programme.key);
  const member = (profileId: string) => `/loyalty/members/${profileId}?programme=${encodeURIComponent(programme.key)}`;
  const decide = (id: string, decision: 'approve' | 'reject') =>
    review.mutate(
      { id, decision },
      {
        onSuccess: () =>
          notifySuccess(t(decision === 'approve' ? 'loyalty.referrals.approved' : 'loyalty.referrals.rejected')),
      },
    );
  const columns = phone ? 3 : 6;
  return (
    <Stack gap="md" data-testid="referrals-page">
      <Text size="sm" c="dimmed" maw={760}>
        {t('loyalty.referrals.description')}
      </Text>
      {/* On a phone the filter scrolls sideways rather than being cut off. */}
      <ScrollArea type="never" style={{ alignSelf: 'stretch' }}>
        <SegmentedControl
          value={filter}
          onChange={(value) => setFilter(value as (typeof FILTERS)[number])}
          data={FILTERS.map((f) => ({
            value: f,
            label: f === 'all' ? t('loyalty.referrals.all') : t(`loyalty.referrals.statuses.${f}`),
          }))}
          data-testid="referrals-filter"
        />
      </ScrollArea>
      {review.error ? <ProblemAlert error={review.error} /> : null}
      {referrals.isPending ? (
        <LoadingBlock />
      ) : referrals.isError ? (
        <ProblemAlert error={referrals.error} />
      ) : (
        <Paper withBorder radius="md">
          <Table.ScrollContainer minWidth={phone ? 0 : 860}>
            <Table data-testid="referrals-table">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t('loyalty.referrals.created')}</Table.Th>
                  {!phone && <Table.Th>{t('loyalty.referrals.code')}</Table.Th>}
                  <Table.Th>
                    {t('loyalty.referrals.referrer')} → {t('loyalty.referrals.invitee')}
                  </Table.Th>
                  {!phone && <Table.Th>{t('loyalty.referrals.source')}</Table.Th>}
                  <Table.Th>{t('loyalty.referrals.status')}</Table.Th>
                  {!phone && <Table.Th>{t('loyalty.referrals.actions')}</Table.Th>}
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {referrals.items.length === 0 && (
                  <EmptyTableRow columns={columns} message={t('loyalty.referrals.empty')} />
                )}
                {referrals.items.map((r) => (
                  <Table.Tr key={r.id} data-testid="referral-row" data-status={r.status}>
                    <Table.Td>
                      <Text size="sm">{format(r.createdAt)}</Text>
                    </Table.Td>
                    {!phone && (
                      <Table.Td>
                        <Text size="sm" ff="monospace">
                          {r.code}
                        </Text>
                      </Table.Td>
                    )}
                    <Table.Td>
                      <Group gap={6} wrap="wrap">
                        <PersonLink id={r.referrerProfileId} name={r.referrerName} to={member(r.referrerProfileId)} />
                        <Text size="sm">→</Text>
                        <PersonLink id={r.inviteeProfileId} name={r.inviteeName} to={member(r.inviteeProfileId)} />
                      </Group>
                    </Table.Td>
                    {!phone && (
                      <Table.Td>
                        <Text size="sm">{t(`loyalty.referrals.sources.${r.source}`, { defaultValue: r.source })}</Text>
                      </Table.Td>
                    )}
                    <Table.Td>
                      <ReferralStatusBadge referral={r} />
                      {phone && r.status === 'held' && canManage && (
                        <ReviewButtons pending={review.isPending} onDecide={(d) => decide(r.id, d)} />
                      )}
                    </Table.Td>
                    {!phone && (
                      <Table.Td>
                        {r.status === 'held' && canManage ? (
                          <ReviewButtons pending={review.isPending} onDecide={(d) => decide(r.id, d)} />
                        ) : (
                          <Text size="xs" c="dimmed">
                            {r.decidedBy ? `${r.decidedBy} · ${format(r.decidedAt)}` : ''}
                          </Text>
                        )}
                      </Table.Td>
                    )}
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        </Paper>
      )}
      {referrals.hasNextPage && (
        <Button variant="default" onClick={() => void referrals.fetchNextPage()} loading={referrals.isFetchingNextPage}>
          {t('loyalty.referrals.loadMore')}
        </Button>
      )}
      <ReferralSettingsCard
        key={`${programme.key}:${JSON.stringify(programme.settings.referrals ?? {})}`}
        programme={programme}
      />
    </Stack>
  );
}

function ReviewButtons({ pending, onDecide }: { pending: boolean; onDecide: (d: 'approve' | 'reject') => void }) {
  const { t } = useTranslation();
  return (
    <Group gap={6} mt={4}>
      <Button
        size="xs"
        color="green"
        disabled={pending}
        onClick={() => onDecide('approve')}
        data-testid="referral-approve"
      >
        {t('loyalty.referrals.approve')}
      </Button>
      <Button
        size="xs"
        variant="default"
        disabled={pending}
        onClick={() => onDecide('reject')}
        data-testid="referral-reject"
      >
        {t('loyalty.referrals.reject')}
      </Button>
    </Group>
  );
}
