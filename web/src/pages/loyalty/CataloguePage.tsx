import { Badge, Button, Group, Image, Paper, Stack, Table, Text, Title } from '@mantine/core';
import { IconGift, IconPencil, IconPlus } from '@tabler/icons-react';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { Reward } from '../../../../src/modules/loyalty/loyalty.rewards.schemas.ts';
import type { Programme } from '../../../../src/modules/loyalty/loyalty.schemas.ts';
import { useClubs, useRewards } from '../../api/loyalty.ts';
import { EmptyTableRow, LoadingBlock } from '../../components/ListStates.tsx';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { useCan } from '../../components/RequirePermission.tsx';
import { formatMinor, formatPoints } from '../../lib/money.ts';
import { RewardFormModal } from './CatalogueForm.tsx';
import { useLanguage } from './MemberParts.tsx';

export const STATUS_COLOR = { active: 'green', draft: 'gray', archived: 'dark' } as const;

/** A reward's name in the console's language (the Russian name when there is one and the console speaks Russian). */
export function rewardName(reward: Pick<Reward, 'nameEn' | 'nameRu'>, language: string) {
  return language.startsWith('ru') && reward.nameRu ? reward.nameRu : reward.nameEn;
}

/** Loyalty → Catalogue: the rewards members can redeem, with stock left; marketers add and edit them. */
export function CataloguePage({ programme }: { programme: Programme }) {
  const { t } = useTranslation();
  const language = useLanguage();
  const canManage = useCan('loyalty:manage');
  const rewards = useRewards(programme.key);
  const clubs = useClubs(programme.key);
  const [editing, setEditing] = useState<Reward | 'new' | null>(null);
  const clubName = (id: string | null) => {
    const club = clubs.data?.items.find((c) => c.id === id);
    return club ? (language.startsWith('ru') && club.nameRu ? club.nameRu : club.nameEn) : null;
  };
  return (
    <Stack gap="md" data-testid="catalogue">
      <Paper withBorder radius="md" p={{ base: 'md', sm: 'lg' }}>
        <Group justify="space-between" align="flex-start" gap="sm" mb="md">
          <Stack gap={2} style={{ flex: '1 1 320px' }}>
            <Title order={4}>{t('loyaltyRewards.catalogue.title')}</Title>
            <Text size="sm" c="dimmed">
              {t('loyaltyRewards.catalogue.hint')}
            </Text>
          </Stack>
          {canManage ? (
            <Button leftSection={<IconPlus size={16} />} onClick={() => setEditing('new')} data-testid="reward-add">
              {t('loyaltyRewards.catalogue.add')}
            </Button>
          ) : null}
        </Group>
        {rewards.isPending ? (
          <LoadingBlock />
        ) : rewards.isError ? (
          <ProblemAlert error={rewards.error} />
        ) : (
          <Table.ScrollContainer minWidth={760}>
            <Table verticalSpacing="sm" striped highlightOnHover data-testid="reward-table">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t('loyaltyRewards.catalogue.name')}</Table.Th>
                  <Table.Th>{t('loyaltyRewards.catalogue.kind')}</Table.Th>
                  <Table.Th ta="right">{t('loyaltyRewards.catalogue.cost')}</Table.Th>
                  <Table.Th ta="right">{t('loyaltyRewards.catalogue.stock')}</Table.Th>
                  <Table.Th>{t('loyaltyRewards.catalogue.restrictions')}</Table.Th>
                  <Table.Th>{t('loyaltyRewards.catalogue.status')}</Table.Th>
                  {canManage ? <Table.Th /> : null}
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {rewards.data.items.length === 0 ? (
                  <EmptyTableRow columns={canManage ? 7 : 6} message={t('loyaltyRewards.catalogue.empty')} />
                ) : (
                  rewards.data.items.map((reward) => (
                    <Table.Tr key={reward.id} data-testid="reward-row" data-reward={reward.nameEn}>
                      <Table.Td>
                        <Group gap="sm" wrap="nowrap">
                          {reward.imageUrl ? (
                            <Image src={reward.imageUrl} w={36} h={36} radius="sm" fit="cover" alt="" />
                          ) : (
                            <IconGift size={22} stroke={1.5} />
                          )}
                          <Stack gap={0}>
                            <Text size="sm" fw={500}>
                              {rewardName(reward, language)}
                            </Text>
                            {reward.couponValueMinor ? (
                              <Text size="xs" c="dimmed">
                                {t('loyaltyRewards.catalogue.couponWorth', {
                                  amount: formatMinor(reward.couponValueMinor, programme.currency, language),
                                })}
                              </Text>
                            ) : null}
                          </Stack>
                        </Group>
                      </Table.Td>
                      <Table.Td>
                        <Badge variant="light">{t(`loyaltyRewards.kinds.${reward.kind}`)}</Badge>
                      </Table.Td>
                      <Table.Td ta="right" style={{ whiteSpace: 'nowrap' }}>
                        {formatPoints(reward.cost, language)}{' '}
                        {programme.settings.wallets.find((w) => w.key === reward.wallet)?.name ?? reward.wallet}
                      </Table.Td>
                      <Table.Td ta="right" data-testid="reward-stock" data-stock={reward.stock ?? ''}>
                        <Text size="sm" fw={500} c={reward.stock === 0 ? 'red' : undefined}>
                          {reward.stock === null
                            ? t('loyaltyRewards.catalogue.unlimited')
                            : formatPoints(reward.stock, language)}
                        </Text>
                        <Text size="xs" c="dimmed">
                          {t('loyaltyRewards.catalogue.redeemed', { n: reward.redeemed })}
                        </Text>
                      </Table.Td>
                      <Table.Td>
                        <Group gap={4}>
                          {reward.tier ? (
                            <Badge color="grape" variant="light">
                              {t('loyaltyRewards.catalogue.tierFrom', { tier: reward.tier })}
                            </Badge>
                          ) : null}
                          {reward.clubId ? (
                            <Badge color="teal" variant="light">
                              {clubName(reward.clubId) ?? t('loyaltyRewards.catalogue.club')}
                            </Badge>
                          ) : null}
                          {reward.perMemberLimit ? (
                            <Badge color="gray" variant="light">
                              {t('loyaltyRewards.catalogue.perMember', { n: reward.perMemberLimit })}
                            </Badge>
                          ) : null}
                          {!reward.tier && !reward.clubId && !reward.perMemberLimit ? (
                            <Text size="sm" c="dimmed">
                              {t('loyaltyRewards.form.anyone')}
                            </Text>
                          ) : null}
                        </Group>
                      </Table.Td>
                      <Table.Td>
                        <Badge color={STATUS_COLOR[reward.status]} variant="dot">
                          {t(`loyaltyRewards.statuses.${reward.status}`)}
                        </Badge>
                      </Table.Td>
                      {canManage ? (
                        <Table.Td>
                          <Button
                            size="xs"
                            variant="subtle"
                            leftSection={<IconPencil size={14} />}
                            onClick={() => setEditing(reward)}
                            data-testid="reward-edit"
                          >
                            {t('loyaltyRewards.catalogue.edit')}
                          </Button>
                        </Table.Td>
                      ) : null}
                    </Table.Tr>
                  ))
                )}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      </Paper>
      {editing ? (
        <RewardFormModal
          programme={programme}
          reward={editing === 'new' ? null : editing}
          clubs={clubs.data?.items ?? []}
          onClose={() => setEditing(null)}
        />
      ) : null}
    </Stack>
  );
}
