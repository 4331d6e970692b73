import {
  Anchor,
  Badge,
  Button,
  Group,
  Modal,
  Paper,
  SegmentedControl,
  Stack,
  Table,
  Text,
  Textarea,
} from '@mantine/core';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import type { AdjustmentRequest } from '../../../../src/modules/loyalty/loyalty.referrals.schemas.ts';
import type { Programme } from '../../../../src/modules/loyalty/loyalty.schemas.ts';
import { useAdjustmentRequests, useDecideAdjustment } from '../../api/loyalty.ts';
import { EmptyTableRow, LoadingBlock } from '../../components/ListStates.tsx';
import { notifySuccess, ProblemAlert } from '../../components/ProblemAlert.tsx';
import { useCan } from '../../components/RequirePermission.tsx';
import { formatPoints } from '../../lib/money.ts';
import { useIsPhone } from '../../lib/useIsPhone.ts';
import { useWorkspaceClock } from '../../lib/useWorkspaceClock.ts';
import { useLanguage } from './MemberParts.tsx';
import { ApprovalThresholdCard } from './ReferralSettings.tsx';

const STATUSES = ['pending', 'approved', 'rejected'] as const;
const STATUS_COLOR: Record<AdjustmentRequest['status'], string> = {
  pending: 'orange',
  approved: 'green',
  rejected: 'red',
};

/** /loyalty?view=approvals: large manual adjustments waiting for a second staff user. */
export function ApprovalsPage({ programme }: { programme: Programme }) {
  const { t } = useTranslation();
  const phone = useIsPhone();
  const language = useLanguage();
  const { format } = useWorkspaceClock();
  const canManage = useCan('loyalty:manage');
  const [status, setStatus] = useState<AdjustmentRequest['status']>('pending');
  const requests = useAdjustmentRequests(status);
  const decide = useDecideAdjustment();
  const [rejecting, setRejecting] = useState<AdjustmentRequest | null>(null);
  const items = requests.data?.items ?? [];
  const approve = (r: AdjustmentRequest) =>
    decide.mutate(
      { id: r.id, decision: 'approve' },
      { onSuccess: () => notifySuccess(t('loyalty.approvals.approved')) },
    );
  return (
    <Stack gap="md" data-testid="approvals-page">
      <Text size="sm" c="dimmed" maw={760}>
        {t('loyalty.approvals.description')}
      </Text>
      <SegmentedControl
        value={status}
        onChange={(value) => setStatus(value as AdjustmentRequest['status'])}
        data={STATUSES.map((s) => ({ value: s, label: t(`loyalty.approvals.statuses.${s}`) }))}
        style={{ alignSelf: 'flex-start' }}
        data-testid="approvals-filter"
      />
      {decide.error ? <ProblemAlert error={decide.error} /> : null}
      {requests.isPending ? (
        <LoadingBlock />
      ) : requests.isError ? (
        <ProblemAlert error={requests.error} />
      ) : (
        <Paper withBorder radius="md">
          <Table.ScrollContainer minWidth={phone ? 0 : 900}>
            <Table data-testid="approvals-table">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t('loyalty.approvals.requestedAt')}</Table.Th>
                  <Table.Th>{t('loyalty.approvals.customer')}</Table.Th>
                  <Table.Th ta="right">{t('loyalty.approvals.points')}</Table.Th>
                  {!phone && <Table.Th>{t('loyalty.approvals.reason')}</Table.Th>}
                  {!phone && <Table.Th>{t('loyalty.approvals.requestedBy')}</Table.Th>}
                  <Table.Th>{t('loyalty.approvals.decision')}</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {items.length === 0 && <EmptyTableRow columns={phone ? 4 : 6} message={t('loyalty.approvals.empty')} />}
                {items.map((r) => (
                  <Table.Tr key={r.id} data-testid="approval-row" data-status={r.status}>
                    <Table.Td>
                      <Text size="sm">{format(r.requestedAt)}</Text>
                    </Table.Td>
                    <Table.Td>
                      {r.profileId ? (
                        <Anchor
                          component={Link}
                          to={`/loyalty/members/${r.profileId}?programme=${encodeURIComponent(r.programme)}`}
                          size="sm"
                          ff="monospace"
                        >
                          {r.profileId.slice(-8)}
                        </Anchor>
                      ) : (
                        <Text size="sm">—</Text>
                      )}
                      <Text size="xs" c="dimmed">
                        {r.programme}
                      </Text>
                    </Table.Td>
                    <Table.Td ta="right">
                      <Text size="sm" fw={600} c={r.points < 0 ? 'red' : 'green'} data-testid="approval-points">
                        {r.points > 0 ? '+' : '−'}
                        {formatPoints(Math.abs(r.points), language)}
                      </Text>
                    </Table.Td>
                    {!phone && (
                      <Table.Td maw={280}>
                        <Text size="sm" style={{ wordBreak: 'break-word' }}>
                          {r.reason}
                        </Text>
                      </Table.Td>
                    )}
                    {!phone && (
                      <Table.Td>
                        <Text size="sm" ff="monospace">
                          {r.requestedBy}
                        </Text>
                      </Table.Td>
                    )}
                    <Table.Td>
                      {r.status === 'pending' && canManage ? (
                        <Group gap={6}>
                          <Button
                            size="xs"
                            color="green"
                            disabled={decide.isPending}
                            onClick={() => approve(r)}
                            data-testid="approval-approve"
                          >
                            {t('loyalty.approvals.approve')}
                          </Button>
                          <Button
                            size="xs"
                            variant="default"
                            disabled={decide.isPending}
                            onClick={() => setRejecting(r)}
                            data-testid="approval-reject"
                          >
                            {t('loyalty.approvals.reject')}
                          </Button>
                        </Group>
                      ) : (
                        <Stack gap={2}>
                          <Badge variant="light" color={STATUS_COLOR[r.status]}>
                            {t(`loyalty.approvals.statuses.${r.status}`)}
                          </Badge>
                          {r.decidedBy && (
                            <Text size="xs" c="dimmed">
                              {r.decidedBy} · {format(r.decidedAt)}
                            </Text>
                          )}
                          {r.decisionReason && (
                            <Text size="xs" c="dimmed">
                              {r.decisionReason}
                            </Text>
                          )}
                        </Stack>
                      )}
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        </Paper>
      )}
      <ApprovalThresholdCard
        key={`${programme.key}:${programme.settings.adjustmentApprovalThreshold ?? ''}`}
        programme={programme}
      />
      {rejecting && <RejectModal request={rejecting} onClose={() => setRejecting(null)} />}
    </Stack>
  );
}

function RejectModal({ request, onClose }: { request: AdjustmentRequest; onClose: () => void }) {
  const { t } = useTranslation();
  const decide = useDecideAdjustment();
  const [reason, setReason] = useState('');
  const valid = reason.trim().length >= 3;
  return (
    <Modal opened onClose={decide.isPending ? () => {} : onClose} title={t('loyalty.approvals.confirmReject')} centered>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          if (!valid) return;
          decide.mutate(
            { id: request.id, decision: 'reject', reason: reason.trim() },
            {
              onSuccess: () => {
                notifySuccess(t('loyalty.approvals.rejected'));
                onClose();
              },
            },
          );
        }}
        data-testid="approval-reject-form"
      >
        <Stack gap="md">
          {decide.error ? <ProblemAlert error={decide.error} /> : null}
          <Textarea
            label={t('loyalty.approvals.rejectReason')}
            value={reason}
            onChange={(event) => setReason(event.currentTarget.value)}
            maxLength={300}
            autosize
            minRows={2}
            data-autofocus
            data-testid="approval-reject-reason"
          />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose} disabled={decide.isPending}>
              {t('loyalty.approvals.cancel')}
            </Button>
            <Button
              type="submit"
              color="red"
              disabled={!valid}
              loading={decide.isPending}
              data-testid="approval-reject-submit"
            >
              {t('loyalty.approvals.confirmReject')}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
