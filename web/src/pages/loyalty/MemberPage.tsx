import { Alert, Anchor, Badge, Box, Group, Paper, Stack, Text, Title } from '@mantine/core';
import { IconArrowLeft, IconAward, IconInfoCircle, IconUser } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router';
import type { Member, Programme } from '../../../../src/modules/loyalty/loyalty.schemas.ts';
import { useMember } from '../../api/loyalty.ts';
import { useProfile } from '../../api/profiles.ts';
import { LoadingBlock } from '../../components/ListStates.tsx';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { useCan } from '../../components/RequirePermission.tsx';
import { profileTitle } from '../../lib/customers.tsx';
import { useWorkspaceClock } from '../../lib/useWorkspaceClock.ts';
import { AdjustPointsButton, CardsTable, IssueCardButton } from './CardActions.tsx';
import { RewardsPanel } from './CatalogueRedeem.tsx';
import { useProgramme } from './LoyaltyLayout.tsx';
import { MemberClubs } from './MemberClubs.tsx';
import { BalanceCards, LedgerTable, LotsTable, Section } from './MemberParts.tsx';
import { ReferralPanel } from './ReferralPanel.tsx';

/** /loyalty/members/:profileId — a customer's membership: balances, lots, cards and the whole ledger. */
export function MemberPage() {
  const { t } = useTranslation();
  const { profileId = '' } = useParams();
  const programme = useProgramme();
  const member = useMember(programme.key, profileId);
  return (
    <Stack gap="lg">
      <Box>
        <Anchor component={Link} to={`/customers/${profileId}`} size="sm" c="dimmed">
          <Group gap={4} component="span">
            <IconArrowLeft size={14} />
            {t('loyalty.member.backToProfile')}
          </Group>
        </Anchor>
      </Box>
      {member.isPending ? (
        <LoadingBlock />
      ) : member.isError ? (
        <ProblemAlert error={member.error} />
      ) : member.data === null ? (
        <NotAMember programme={programme} profileId={profileId} />
      ) : (
        <MemberView programme={programme} member={member.data} />
      )}
    </Stack>
  );
}

/** The customer's name when the role may read profiles; the card view works without it. */
export function useCustomerName(profileId: string, enabled = true) {
  const { t } = useTranslation();
  const canRead = useCan('profiles:read');
  const profile = useProfile(profileId, canRead && enabled);
  if (!canRead || !profile.data) return null;
  return profileTitle(profile.data) ?? t('customers.unnamed');
}

function NotAMember({ programme, profileId }: { programme: Programme; profileId: string }) {
  const { t } = useTranslation();
  return (
    <Paper withBorder radius="md" p="lg" data-testid="member-none">
      <Stack gap="sm" align="flex-start">
        <Text size="sm">{t('loyalty.member.notMember', { programme: programme.name })}</Text>
        <IssueCardButton programme={programme} profileId={profileId} />
      </Stack>
    </Paper>
  );
}

function MemberView({ programme, member }: { programme: Programme; member: Member }) {
  const { t } = useTranslation();
  const { format } = useWorkspaceClock();
  const name = useCustomerName(member.profileId);
  const blocked = member.cards.filter((card) => card.status === 'blocked');
  return (
    <>
      <Paper withBorder radius="md" p={{ base: 'md', sm: 'lg' }} data-testid="member-header">
        <Group justify="space-between" align="flex-start" gap="sm">
          <Stack gap={4} style={{ flex: '1 1 260px', minWidth: 0 }}>
            <Group gap="sm" wrap="wrap">
              <Title order={2} style={{ wordBreak: 'break-word' }} data-testid="member-name">
                {name ?? t('loyalty.member.title')}
              </Title>
              <TierBadge tier={member.tier} />
            </Group>
            <Text size="sm" c="dimmed">
              {t('loyalty.member.since', { programme: programme.name, date: format(member.joinedAt) })}
            </Text>
            <Anchor component={Link} to={`/customers/${member.profileId}`} size="sm">
              <Group gap={4} component="span">
                <IconUser size={14} />
                {t('loyalty.member.openProfile')}
              </Group>
            </Anchor>
          </Stack>
          <Group gap="xs">
            <IssueCardButton programme={programme} profileId={member.profileId} />
            <AdjustPointsButton programme={programme} profileId={member.profileId} />
          </Group>
        </Group>
      </Paper>
      {blocked.length > 0 && (
        <Alert color="red" variant="light" icon={<IconInfoCircle size={18} />}>
          {t('loyalty.member.blockedCards')}
        </Alert>
      )}
      <BalanceCards balances={member.balances} programme={programme} />
      <RewardsPanel programme={programme} member={member} />
      <MemberClubs programme={programme} profileId={member.profileId} />
      <Section title={t('loyalty.cards.title')} testId="member-cards">
        <CardsTable cards={member.cards} />
      </Section>
      <ReferralPanel programme={programme} profileId={member.profileId} />
      <Section title={t('loyalty.lots.title')} testId="member-lots">
        <Text size="sm" c="dimmed" mb="sm">
          {t('loyalty.lots.hint')}
        </Text>
        <LotsTable member={member} programme={programme} />
      </Section>
      <Section title={t('loyalty.ledger.title')} testId="member-ledger">
        <LedgerTable programme={programme} profileId={member.profileId} />
      </Section>
    </>
  );
}

/** The member's tier, or plainly that they have none. */
export function TierBadge({ tier }: { tier: string | null }) {
  const { t } = useTranslation();
  return (
    <Badge
      variant={tier ? 'filled' : 'light'}
      color={tier ? 'grape' : 'gray'}
      leftSection={<IconAward size={12} />}
      data-testid="member-tier"
      data-tier={tier ?? ''}
    >
      {tier ? t('loyalty.member.tier', { tier }) : t('loyalty.member.noTier')}
    </Badge>
  );
}
