import { Badge, Button, CloseButton, Group, Select, Stack, Text } from '@mantine/core';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { Programme } from '../../../../src/modules/loyalty/loyalty.schemas.ts';
import { useClubs, useJoinOrLeaveClub, useMemberClubs } from '../../api/loyalty.ts';
import { LoadingBlock } from '../../components/ListStates.tsx';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { useCan } from '../../components/RequirePermission.tsx';
import { useWorkspaceClock } from '../../lib/useWorkspaceClock.ts';
import { Section, useLanguage } from './MemberParts.tsx';

/** The member card's clubs: which the member belongs to, and (for operators) joining or leaving one for them. */
export function MemberClubs({ programme, profileId }: { programme: Programme; profileId: string }) {
  const { t } = useTranslation();
  const language = useLanguage();
  const { day } = useWorkspaceClock();
  const mine = useMemberClubs(programme.key, profileId);
  const all = useClubs(programme.key);
  const change = useJoinOrLeaveClub(programme.key, profileId);
  const canOperate = useCan('loyalty:operate');
  const [choice, setChoice] = useState<string | null>(null);
  const name = (c: { nameEn: string; nameRu: string | null }) =>
    language.startsWith('ru') && c.nameRu ? c.nameRu : c.nameEn;
  if (mine.isPending || all.isPending) return null;
  // A programme without clubs shows nothing: the section would only be noise at the till.
  if (all.isError || (all.data.items.length === 0 && (mine.data?.clubs.length ?? 0) === 0)) return null;
  const joined = new Set((mine.data?.clubs ?? []).map((c) => c.clubId));
  const open = all.data.items.filter((c) => c.status === 'active' && !joined.has(c.id));
  return (
    <Section title={t('loyaltyRewards.clubs.memberTitle')} testId="member-clubs">
      <Stack gap="sm">
        {mine.isError ? (
          <ProblemAlert error={mine.error} />
        ) : !mine.data ? (
          <LoadingBlock />
        ) : mine.data.clubs.length === 0 ? (
          <Text size="sm" c="dimmed">
            {t('loyaltyRewards.clubs.memberNone')}
          </Text>
        ) : (
          <Group gap="xs">
            {mine.data.clubs.map((c) => (
              <Badge
                key={c.clubId}
                size="lg"
                variant="light"
                data-testid="member-club"
                rightSection={
                  canOperate ? (
                    <CloseButton
                      size="xs"
                      aria-label={`${t('loyaltyRewards.clubs.memberLeave')}: ${name(c)}`}
                      onClick={() => change.mutate({ clubId: c.clubId, action: 'leave' })}
                    />
                  ) : null
                }
              >
                {name(c)}{' '}
                <Text span size="xs" c="dimmed" tt="none">
                  {t('loyaltyRewards.clubs.memberSince', { date: day(c.joinedAt) })}
                </Text>
              </Badge>
            ))}
          </Group>
        )}
        {canOperate && open.length > 0 ? (
          <Group gap="sm" align="flex-end" wrap="wrap">
            <Select
              label={t('loyaltyRewards.clubs.memberChoose')}
              data={open.map((c) => ({ value: c.id, label: name(c) }))}
              value={choice}
              onChange={setChoice}
              style={{ flex: '1 1 220px', maxWidth: 320 }}
              data-testid="member-club-choice"
            />
            <Button
              variant="default"
              disabled={!choice}
              loading={change.isPending}
              onClick={() => {
                if (choice) change.mutate({ clubId: choice, action: 'join' }, { onSuccess: () => setChoice(null) });
              }}
              data-testid="member-club-join"
            >
              {t('loyaltyRewards.clubs.memberJoin')}
            </Button>
          </Group>
        ) : null}
        {change.error ? <ProblemAlert error={change.error} /> : null}
      </Stack>
    </Section>
  );
}
