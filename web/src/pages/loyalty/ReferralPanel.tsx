import { Button, CopyButton, Group, Stack, Table, Text, TextInput } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import type { Programme } from '../../../../src/modules/loyalty/loyalty.schemas.ts';
import { useCreateInviteCode, useInviteCode, useReferrals } from '../../api/loyalty.ts';
import { LoadingBlock } from '../../components/ListStates.tsx';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { useCan } from '../../components/RequirePermission.tsx';
import { useWorkspaceClock } from '../../lib/useWorkspaceClock.ts';
import { Section } from './MemberParts.tsx';
import { PersonLink, ReferralStatusBadge } from './ReferralsPage.tsx';

/** The member card's referral section: their invite code and link, and the referrals they are part of. */
export function ReferralPanel({ programme, profileId }: { programme: Programme; profileId: string }) {
  const { t } = useTranslation();
  const { format } = useWorkspaceClock();
  const invite = useInviteCode(programme.key, profileId);
  const create = useCreateInviteCode(programme.key, profileId);
  const referrals = useReferrals(programme.key, { profileId });
  const canOperate = useCan('loyalty:operate');
  const link = invite.data ? `${window.location.origin}${invite.data.link}` : '';
  const member = (id: string) => `/loyalty/members/${id}?programme=${encodeURIComponent(programme.key)}`;
  return (
    <Section title={t('loyalty.referrals.member.title')} testId="member-referrals">
      <Stack gap="sm">
        <Text size="sm" c="dimmed">
          {t('loyalty.referrals.member.hint')}
        </Text>
        {invite.isPending ? (
          <LoadingBlock />
        ) : invite.isError ? (
          <ProblemAlert error={invite.error} />
        ) : invite.data ? (
          <Group gap="sm" align="flex-end" wrap="wrap">
            <Text fw={700} ff="monospace" size="xl" data-testid="invite-code">
              {invite.data.code}
            </Text>
            <TextInput
              label={t('loyalty.referrals.member.link')}
              value={link}
              readOnly
              style={{ flex: '1 1 320px' }}
              styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
              data-testid="invite-link"
            />
            <CopyButton value={link}>
              {({ copied, copy }) => (
                <Button variant="default" onClick={copy}>
                  {copied ? t('loyalty.referrals.member.copied') : t('loyalty.referrals.member.copy')}
                </Button>
              )}
            </CopyButton>
          </Group>
        ) : (
          <Group gap="sm">
            <Text size="sm">{t('loyalty.referrals.member.none')}</Text>
            {canOperate && (
              <Button size="xs" onClick={() => create.mutate()} loading={create.isPending} data-testid="invite-create">
                {t('loyalty.referrals.member.create')}
              </Button>
            )}
          </Group>
        )}
        {create.error ? <ProblemAlert error={create.error} /> : null}
        <Text fw={600} size="sm" mt="xs">
          {t('loyalty.referrals.member.theirs')}
        </Text>
        {referrals.isPending ? (
          <LoadingBlock />
        ) : referrals.isError ? (
          <ProblemAlert error={referrals.error} />
        ) : referrals.items.length === 0 ? (
          <Text size="sm" c="dimmed">
            {t('loyalty.referrals.member.noneMade')}
          </Text>
        ) : (
          <Table.ScrollContainer minWidth={0}>
            <Table data-testid="member-referral-table">
              <Table.Tbody>
                {referrals.items.map((r) => {
                  const asReferrer = r.referrerProfileId === profileId;
                  const other = asReferrer ? r.inviteeProfileId : r.referrerProfileId;
                  const otherName = asReferrer ? r.inviteeName : r.referrerName;
                  return (
                    <Table.Tr key={r.id} data-testid="member-referral-row" data-status={r.status}>
                      <Table.Td>
                        <Text size="sm">{format(r.createdAt)}</Text>
                      </Table.Td>
                      <Table.Td>
                        <Text size="sm" span>
                          {asReferrer
                            ? t('loyalty.referrals.roles.referrer')
                            : t('loyalty.referrals.roles.invitee')}{' '}
                        </Text>
                        <PersonLink id={other} name={otherName} to={member(other)} />
                      </Table.Td>
                      <Table.Td>
                        <ReferralStatusBadge referral={r} />
                      </Table.Td>
                    </Table.Tr>
                  );
                })}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      </Stack>
    </Section>
  );
}
