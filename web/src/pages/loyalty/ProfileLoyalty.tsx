import { Anchor, Badge, Group, Paper, Stack, Text, Title } from '@mantine/core';
import { IconArrowRight } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import type { Programme } from '../../../../src/modules/loyalty/loyalty.schemas.ts';
import { useMember, useMemberships, useProgrammes } from '../../api/loyalty.ts';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { useCan } from '../../components/RequirePermission.tsx';
import { formatPoints } from '../../lib/money.ts';
import { IssueCardButton } from './CardActions.tsx';
import { TierBadge } from './MemberPage.tsx';
import { CARD_STATUS_COLOR, formatCardNumber, useLanguage, walletName } from './MemberParts.tsx';

/** The loyalty panel of a customer's profile: per programme, the balance and cards, and the way to the member card. */
export function ProfileLoyalty({ profileId, erased }: { profileId: string; erased: boolean }) {
  const { t } = useTranslation();
  const canRead = useCan('loyalty:read');
  const programmes = useProgrammes();
  // One lookup says which programmes the person belongs to; only those are read in full (cards).
  const memberships = useMemberships(profileId, canRead && !erased);
  if (!canRead || erased) return null;
  if (programmes.isError) return <ProblemAlert error={programmes.error} />;
  if (memberships.isError) return <ProblemAlert error={memberships.error} />;
  const items = programmes.data?.items ?? [];
  if (items.length === 0 || !memberships.data) return null;
  const joined = new Set(memberships.data.memberships.map((m) => m.programme));
  return (
    <Paper withBorder radius="md" p={{ base: 'md', sm: 'lg' }} data-testid="profile-loyalty">
      <Title order={4} mb="sm">
        {t('nav.loyalty')}
      </Title>
      <Stack gap="md">
        {items.map((programme) =>
          joined.has(programme.key) ? (
            <Membership key={programme.key} programme={programme} profileId={profileId} />
          ) : (
            <NotMember key={programme.key} programme={programme} profileId={profileId} />
          ),
        )}
      </Stack>
    </Paper>
  );
}

function NotMember({ programme, profileId }: { programme: Programme; profileId: string }) {
  const { t } = useTranslation();
  return (
    <Group justify="space-between" gap="sm" data-testid="profile-loyalty-none">
      <Text size="sm" c="dimmed">
        {t('loyalty.member.notMember', { programme: programme.name })}
      </Text>
      <IssueCardButton programme={programme} profileId={profileId} />
    </Group>
  );
}

function Membership({ programme, profileId }: { programme: Programme; profileId: string }) {
  const { t } = useTranslation();
  const language = useLanguage();
  const member = useMember(programme.key, profileId);
  if (member.isPending) return null;
  if (member.isError) return <ProblemAlert error={member.error} />;
  const to = `/loyalty/members/${profileId}?programme=${encodeURIComponent(programme.key)}`;
  if (member.data === null) return <NotMember programme={programme} profileId={profileId} />;
  const data = member.data;
  return (
    <Stack gap={6} data-testid="profile-loyalty-member">
      <Group justify="space-between" gap="sm">
        <Group gap="xs">
          <Text fw={600}>{programme.name}</Text>
          <TierBadge tier={data.tier} />
        </Group>
        <Anchor component={Link} to={to} size="sm" data-testid="profile-loyalty-open">
          <Group gap={4} component="span">
            {t('loyalty.member.open')}
            <IconArrowRight size={14} />
          </Group>
        </Anchor>
      </Group>
      <Group gap="lg">
        {data.balances.map((balance) => (
          <Text key={balance.wallet} size="sm" data-testid="profile-loyalty-balance" data-wallet={balance.wallet}>
            {walletName(programme, balance.wallet)}: <b>{formatPoints(balance.available, language)}</b>
            {balance.pending > 0 && (
              <Text span size="sm" c="dimmed">
                {' '}
                {t('loyalty.balance.pendingShort', { n: formatPoints(balance.pending, language) })}
              </Text>
            )}
          </Text>
        ))}
      </Group>
      <Group gap="xs">
        {data.cards.map((card) => (
          <Badge key={card.id} variant="light" color={CARD_STATUS_COLOR[card.status]} ff="monospace" tt="none">
            {formatCardNumber(card.number)}
          </Badge>
        ))}
      </Group>
    </Stack>
  );
}
