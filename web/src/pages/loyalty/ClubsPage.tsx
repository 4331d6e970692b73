import {
  Badge,
  Button,
  Group,
  Modal,
  NumberInput,
  Paper,
  Select,
  SimpleGrid,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { IconPencil, IconPlus } from '@tabler/icons-react';
import { type FormEvent, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { type Club, ClubKey } from '../../../../src/modules/loyalty/loyalty.rewards.schemas.ts';
import type { Programme } from '../../../../src/modules/loyalty/loyalty.schemas.ts';
import { useClubs, useSaveClub } from '../../api/loyalty.ts';
import { EmptyTableRow, LoadingBlock } from '../../components/ListStates.tsx';
import { fieldErrorsOf, notifySuccess, ProblemAlert } from '../../components/ProblemAlert.tsx';
import { useCan } from '../../components/RequirePermission.tsx';
import { suggestKey } from '../../lib/codes.ts';
import { formatPoints } from '../../lib/money.ts';
import { useLanguage } from './MemberParts.tsx';

/** Loyalty → Clubs: clubs of the programme with an earn multiplier for their members and club-only rewards. */
export function ClubsPage({ programme }: { programme: Programme }) {
  const { t } = useTranslation();
  const language = useLanguage();
  const canManage = useCan('loyalty:manage');
  const clubs = useClubs(programme.key);
  const [editing, setEditing] = useState<Club | 'new' | null>(null);
  return (
    <Paper withBorder radius="md" p={{ base: 'md', sm: 'lg' }} data-testid="clubs">
      <Group justify="space-between" align="flex-start" gap="sm" mb="md">
        <Stack gap={2} style={{ flex: '1 1 320px' }}>
          <Title order={4}>{t('loyaltyRewards.clubs.title')}</Title>
          <Text size="sm" c="dimmed">
            {t('loyaltyRewards.clubs.hint')}
          </Text>
        </Stack>
        {canManage ? (
          <Button leftSection={<IconPlus size={16} />} onClick={() => setEditing('new')} data-testid="club-add">
            {t('loyaltyRewards.clubs.add')}
          </Button>
        ) : null}
      </Group>
      {clubs.isPending ? (
        <LoadingBlock />
      ) : clubs.isError ? (
        <ProblemAlert error={clubs.error} />
      ) : (
        <Table.ScrollContainer minWidth={600}>
          <Table verticalSpacing="sm" striped data-testid="club-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t('loyaltyRewards.clubs.name')}</Table.Th>
                <Table.Th>{t('loyaltyRewards.clubs.key')}</Table.Th>
                <Table.Th ta="right">{t('loyaltyRewards.clubs.members')}</Table.Th>
                <Table.Th>{t('loyaltyRewards.clubs.multiplier')}</Table.Th>
                <Table.Th>{t('loyaltyRewards.catalogue.status')}</Table.Th>
                {canManage ? <Table.Th /> : null}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {clubs.data.items.length === 0 ? (
                <EmptyTableRow columns={canManage ? 6 : 5} message={t('loyaltyRewards.clubs.empty')} />
              ) : (
                clubs.data.items.map((club) => (
                  <Table.Tr key={club.id} data-testid="club-row">
                    <Table.Td>
                      <Text size="sm" fw={500}>
                        {language.startsWith('ru') && club.nameRu ? club.nameRu : club.nameEn}
                      </Text>
                    </Table.Td>
                    <Table.Td>
                      <Text size="sm" ff="monospace">
                        {club.key}
                      </Text>
                    </Table.Td>
                    <Table.Td ta="right">{formatPoints(club.members, language)}</Table.Td>
                    <Table.Td>
                      {club.earnMultiplier && club.earnMultiplier > 1
                        ? t('loyaltyRewards.clubs.times', { factor: club.earnMultiplier })
                        : '—'}
                    </Table.Td>
                    <Table.Td>
                      <Badge color={club.status === 'active' ? 'green' : 'dark'} variant="dot">
                        {t(`loyaltyRewards.statuses.${club.status}`)}
                      </Badge>
                    </Table.Td>
                    {canManage ? (
                      <Table.Td>
                        <Button
                          size="xs"
                          variant="subtle"
                          leftSection={<IconPencil size={14} />}
                          onClick={() => setEditing(club)}
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
      {editing ? (
        <ClubFormModal
          programme={programme}
          club={editing === 'new' ? null : editing}
          onClose={() => setEditing(null)}
        />
      ) : null}
    </Paper>
  );
}

function ClubFormModal({ programme, club, onClose }: { programme: Programme; club: Club | null; onClose: () => void }) {
  const { t } = useTranslation();
  const save = useSaveClub(programme.key, club?.id ?? null);
  const [nameEn, setNameEn] = useState(club?.nameEn ?? '');
  const [nameRu, setNameRu] = useState(club?.nameRu ?? '');
  const [key, setKey] = useState(club?.key ?? '');
  const [keyTouched, setKeyTouched] = useState(Boolean(club));
  const [multiplier, setMultiplier] = useState<string | number>(club?.earnMultiplier ?? '');
  const [status, setStatus] = useState<Club['status']>(club?.status ?? 'active');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const serverErrors = fieldErrorsOf(save.error);

  function submit(event: FormEvent) {
    event.preventDefault();
    const found: Record<string, string> = {};
    if (!nameEn.trim()) found.nameEn = t('validation.required');
    if (!club && !ClubKey.safeParse(key).success) found.key = t('loyaltyRewards.clubs.keyInvalid');
    setErrors(found);
    if (Object.keys(found).length > 0) return;
    const body = {
      nameEn: nameEn.trim(),
      nameRu: nameRu.trim() || null,
      earnMultiplier: multiplier === '' ? null : Number(multiplier),
      status,
    };
    save.mutate(club ? body : { ...body, key }, {
      onSuccess: () => {
        notifySuccess(t('loyaltyRewards.clubs.saved'));
        onClose();
      },
    });
  }

  return (
    <Modal opened onClose={onClose} title={club ? t('loyaltyRewards.clubs.editTitle') : t('loyaltyRewards.clubs.add')}>
      <form onSubmit={submit} noValidate data-testid="club-form">
        <Stack gap="sm">
          {save.error ? <ProblemAlert error={save.error} /> : null}
          <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm">
            <TextInput
              label={t('loyaltyRewards.form.nameEn')}
              value={nameEn}
              onChange={(e) => {
                const next = e.currentTarget.value;
                setNameEn(next);
                if (!keyTouched)
                  setKey(
                    suggestKey(next)
                      .replace(/^[^a-z]+/, '')
                      .slice(0, 40),
                  );
              }}
              error={errors.nameEn ?? serverErrors.nameEn}
              data-testid="club-name-en"
            />
            <TextInput
              label={t('loyaltyRewards.form.nameRu')}
              value={nameRu}
              onChange={(e) => setNameRu(e.currentTarget.value)}
            />
            <TextInput
              label={t('loyaltyRewards.clubs.key')}
              description={t('loyaltyRewards.clubs.keyHint')}
              value={key}
              disabled={Boolean(club)}
              onChange={(e) => {
                setKey(e.currentTarget.value.toLowerCase());
                setKeyTouched(true);
              }}
              error={errors.key ?? serverErrors.key}
              data-testid="club-key"
            />
            <NumberInput
              label={t('loyaltyRewards.clubs.multiplier')}
              description={t('loyaltyRewards.clubs.multiplierHint')}
              min={1}
              max={10}
              step={0.5}
              decimalScale={2}
              value={multiplier}
              onChange={setMultiplier}
              error={serverErrors.earnMultiplier}
              data-testid="club-multiplier"
            />
            <Select
              label={t('loyaltyRewards.catalogue.status')}
              data={(['active', 'archived'] as const).map((s) => ({
                value: s,
                label: t(`loyaltyRewards.statuses.${s}`),
              }))}
              value={status}
              onChange={(v) => v && setStatus(v as Club['status'])}
              allowDeselect={false}
            />
          </SimpleGrid>
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              {t('common.cancel')}
            </Button>
            <Button type="submit" loading={save.isPending} data-testid="club-save">
              {t('loyaltyRewards.form.save')}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
