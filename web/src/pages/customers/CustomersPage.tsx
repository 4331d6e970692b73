import {
  ActionIcon,
  Anchor,
  Avatar,
  Button,
  Group,
  List,
  Loader,
  Paper,
  Stack,
  Table,
  Text,
  TextInput,
  ThemeIcon,
  Title,
} from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { IconSearch, IconUpload, IconUsers, IconX } from '@tabler/icons-react';
import { useState } from 'react';
import { Trans, useTranslation } from 'react-i18next';
import { Link, useNavigate } from 'react-router';
import type { ProfileSummary } from '../../../../src/modules/profiles/profiles.schemas.ts';
import { type ProfileSearch, useLoadDemo, useProfiles, useRefreshCustomersWhile } from '../../api/profiles.ts';
import { EmptyTableRow, LoadingBlock, LoadMore } from '../../components/ListStates.tsx';
import { PageHeader } from '../../components/PageHeader.tsx';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { RequirePermission, useCan } from '../../components/RequirePermission.tsx';
import { looksLikeIdentifier, normalizeIdentifierQuery } from '../../lib/customers.tsx';
import { useIsPhone } from '../../lib/useIsPhone.ts';
import { useWorkspaceClock } from '../../lib/useWorkspaceClock.ts';
import { ChannelIcons } from './ChannelIcons.tsx';

export function CustomersPage() {
  const { t } = useTranslation();
  const canImport = useCan('profiles:write');
  return (
    <>
      <PageHeader
        title={t('customers.title')}
        description={t('customers.description')}
        actions={
          canImport && (
            <Button
              component={Link}
              to="/customers/import"
              variant="light"
              leftSection={<IconUpload size={16} />}
              data-testid="customers-import"
            >
              {t('imports.open')}
            </Button>
          )
        }
      />
      <RequirePermission permission="profiles:read">
        <CustomerList />
      </RequirePermission>
    </>
  );
}

/** What the box holds, as the API wants it: `kind:value` is an exact lookup, two or more characters a search. */
function toSearch(text: string): ProfileSearch {
  const trimmed = text.trim();
  if (looksLikeIdentifier(trimmed)) return { mode: 'identifier', identifier: normalizeIdentifierQuery(trimmed) };
  if (trimmed.length >= 2) return { mode: 'q', q: trimmed };
  return { mode: 'all' };
}

function CustomerList() {
  const { t } = useTranslation();
  const [text, setText] = useState('');
  const [debounced] = useDebouncedValue(text, 300);
  const search = toSearch(debounced);
  const profiles = useProfiles(search);
  const phone = useIsPhone();
  const searching = search.mode !== 'all';
  const typing = toSearch(text).mode !== search.mode || text.trim() !== debounced.trim();

  return (
    <Stack gap="md">
      <TextInput
        value={text}
        onChange={(event) => setText(event.currentTarget.value)}
        placeholder={t('customers.searchPlaceholder')}
        description={t('customers.searchHint')}
        aria-label={t('customers.search')}
        leftSection={<IconSearch size={16} />}
        rightSection={
          (profiles.isFetching && !profiles.isFetchingNextPage) || typing ? (
            <Loader size={14} />
          ) : text ? (
            <ActionIcon
              variant="subtle"
              color="gray"
              aria-label={t('customers.clearSearch')}
              onClick={() => setText('')}
            >
              <IconX size={14} />
            </ActionIcon>
          ) : null
        }
        maw={560}
        inputWrapperOrder={['label', 'input', 'description', 'error']}
        data-testid="customers-search"
      />

      {profiles.isPending ? (
        <LoadingBlock />
      ) : profiles.isError ? (
        <ProblemAlert error={profiles.error} />
      ) : profiles.items.length === 0 && !searching ? (
        <NoCustomersYet />
      ) : (
        <>
          <Paper withBorder radius="md">
            <Table.ScrollContainer minWidth={phone ? 0 : 760}>
              <Table
                highlightOnHover
                data-testid="customer-table"
                data-search={search.mode === 'q' ? search.q : search.mode === 'identifier' ? search.identifier : ''}
                data-stale={profiles.isPlaceholderData || undefined}
              >
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>{t('customers.name')}</Table.Th>
                    {!phone && (
                      <>
                        <Table.Th>{t('customers.email')}</Table.Th>
                        <Table.Th>{t('customers.phone')}</Table.Th>
                        <Table.Th>{t('customers.channels')}</Table.Th>
                      </>
                    )}
                    {!phone && <Table.Th>{t('customers.lastSeen')}</Table.Th>}
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {profiles.items.length === 0 && (
                    <EmptyTableRow
                      columns={phone ? 1 : 5}
                      message={
                        search.mode === 'identifier'
                          ? t('customers.noMatchIdentifier', { identifier: search.identifier })
                          : t('customers.noMatch', { text: debounced.trim() })
                      }
                    />
                  )}
                  {profiles.items.map((profile) => (
                    <CustomerRow key={profile.id} profile={profile} phone={phone} />
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          </Paper>
          <LoadMore
            hasMore={profiles.hasNextPage}
            loading={profiles.isFetchingNextPage}
            onLoad={() => void profiles.fetchNextPage()}
          />
        </>
      )}
    </Stack>
  );
}

function initials(name: string | null): string {
  if (!name) return '';
  return name
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((part) => part[0]?.toUpperCase() ?? '')
    .join('');
}

function CustomerRow({ profile, phone }: { profile: ProfileSummary; phone: boolean }) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const { format, relative } = useWorkspaceClock();
  const to = `/customers/${profile.id}`;
  return (
    <Table.Tr
      data-testid="customer-row"
      onClick={(event) => {
        // The name is a real link (new tab, keyboard); the rest of the row is a convenience for the mouse.
        if ((event.target as HTMLElement).closest('a')) return;
        void navigate(to);
      }}
      style={{ cursor: 'pointer' }}
    >
      <Table.Td>
        <Group gap="sm" wrap="nowrap">
          <Avatar size={32} radius="xl" color="indigo" variant="light">
            {initials(profile.name)}
          </Avatar>
          <Stack gap={0} style={{ minWidth: 0 }}>
            <Anchor component={Link} to={to} size="sm" fw={600} c={profile.name ? undefined : 'dimmed'} truncate>
              {profile.name ?? t('customers.unnamed')}
            </Anchor>
            {phone && (profile.email || profile.phone) && (
              <Text size="xs" c="dimmed" truncate>
                {[profile.email, profile.phone].filter(Boolean).join(' · ')}
              </Text>
            )}
            {phone && (
              <Text size="xs" c="dimmed" title={format(profile.lastSeenAt)}>
                {t('customers.lastSeenAgo', { when: relative(profile.lastSeenAt) })}
              </Text>
            )}
          </Stack>
        </Group>
      </Table.Td>
      {!phone && (
        <>
          <Table.Td>
            <Text size="sm" c={profile.email ? undefined : 'dimmed'} truncate maw={260}>
              {profile.email ?? '—'}
            </Text>
          </Table.Td>
          <Table.Td>
            <Text size="sm" c={profile.phone ? undefined : 'dimmed'} style={{ whiteSpace: 'nowrap' }}>
              {profile.phone ?? '—'}
            </Text>
          </Table.Td>
          <Table.Td>
            <ChannelIcons channels={profile.channels} />
          </Table.Td>
        </>
      )}
      {!phone && (
        <Table.Td>
          <Text size="sm" style={{ whiteSpace: 'nowrap' }}>
            {relative(profile.lastSeenAt)}
          </Text>
          <Text size="xs" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
            {format(profile.lastSeenAt)}
          </Text>
        </Table.Td>
      )}
    </Table.Tr>
  );
}

/** Enough to make every screen come alive, quick enough to wait for (about a minute on the embedded database). */
const DEMO_CUSTOMERS = 2000;

/** A brand-new workspace has no customers: say where they come from instead of showing an empty table. */
function NoCustomersYet() {
  const { t } = useTranslation();
  const canManageKeys = useCan('keys:manage');
  const canLoadDemo = useCan('workspace:manage');
  const canImport = useCan('profiles:write');
  const loadDemo = useLoadDemo();
  useRefreshCustomersWhile(loadDemo.isSuccess);
  return (
    <Paper withBorder radius="md" p={{ base: 'md', sm: 'xl' }} data-testid="customers-empty">
      <Stack gap="sm" maw={640}>
        <Group gap="sm" wrap="nowrap">
          <ThemeIcon size={40} radius="xl" variant="light">
            <IconUsers size={22} stroke={1.6} />
          </ThemeIcon>
          <Title order={4}>{t('customers.emptyTitle')}</Title>
        </Group>
        <Text size="sm">{t('customers.emptyText')}</Text>
        <List size="sm" spacing={6}>
          <List.Item>
            {canManageKeys ? (
              <Trans
                i18nKey="customers.emptyTrackingWithLink"
                components={{ keys: <Anchor component={Link} to="/settings/api-keys" size="sm" /> }}
              />
            ) : (
              t('customers.emptyTracking')
            )}
          </List.Item>
          <List.Item>
            {canImport ? (
              <Trans
                i18nKey="customers.emptyImportWithLink"
                components={{ upload: <Anchor component={Link} to="/customers/import" size="sm" /> }}
              />
            ) : (
              t('customers.emptyImport')
            )}
          </List.Item>
        </List>
        <Text size="xs" c="dimmed">
          {t('customers.emptyNote')}
        </Text>
        {canLoadDemo && (
          <Stack gap={6} mt="sm">
            <Text size="sm">{t('customers.demoText')}</Text>
            {loadDemo.isError && <ProblemAlert error={loadDemo.error} />}
            {loadDemo.isSuccess ? (
              <Text size="sm" c="teal" data-testid="demo-started">
                {t('customers.demoStarted', { count: DEMO_CUSTOMERS })}
              </Text>
            ) : (
              <Group>
                <Button
                  variant="light"
                  loading={loadDemo.isPending}
                  onClick={() => loadDemo.mutate(DEMO_CUSTOMERS)}
                  data-testid="load-demo"
                >
                  {t('customers.demoButton', { count: DEMO_CUSTOMERS })}
                </Button>
              </Group>
            )}
          </Stack>
        )}
      </Stack>
    </Paper>
  );
}
