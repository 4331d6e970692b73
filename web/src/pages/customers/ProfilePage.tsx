import {
  Anchor,
  Badge,
  Box,
  Code,
  Collapse,
  Group,
  Paper,
  Select,
  SimpleGrid,
  Stack,
  Table,
  Text,
  Timeline,
  Title,
  UnstyledButton,
} from '@mantine/core';
import { IconArrowLeft, IconChevronDown, IconChevronRight, IconGitMerge } from '@tabler/icons-react';
import { type ReactNode, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useParams } from 'react-router';
import { EVENT_TYPES, type EventType, type TimelineEvent } from '../../../../src/modules/events/events.schemas.ts';
import type { Profile } from '../../../../src/modules/profiles/profiles.schemas.ts';
import { type TimelineFilters, useProfile, useTimeline } from '../../api/profiles.ts';
import { LoadingBlock, LoadMore } from '../../components/ListStates.tsx';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { RequirePermission } from '../../components/RequirePermission.tsx';
import {
  channelLabel,
  displayValue,
  eventTitle,
  identityKindLabel,
  KNOWN_CHANNELS,
  kindRank,
  profileTitle,
} from '../../lib/customers.tsx';
import { useWorkspaceClock } from '../../lib/useWorkspaceClock.ts';
import { ProfileLoyalty } from '../loyalty/ProfileLoyalty.tsx';
import { BareChannelIcon, ChannelIcon } from './ChannelIcons.tsx';
import { ConsentPanel } from './ConsentPanel.tsx';
import { ErasedNotice, ProfileActions } from './SubjectRights.tsx';

export function ProfilePage() {
  const { t } = useTranslation();
  const { id = '' } = useParams();
  return (
    <Stack gap="lg">
      <Box>
        <Anchor component={Link} to="/customers" size="sm" c="dimmed">
          <Group gap={4} component="span">
            <IconArrowLeft size={14} />
            {t('customers.backToList')}
          </Group>
        </Anchor>
      </Box>
      <RequirePermission permission="profiles:read">
        <ProfileView id={id} />
      </RequirePermission>
    </Stack>
  );
}

function ProfileView({ id }: { id: string }) {
  const profile = useProfile(id);
  const navigate = useNavigate();
  const survivorId = profile.data?.id;

  // A merged-away id answers with the profile it was merged into: the address should name that one.
  useEffect(() => {
    if (survivorId && survivorId !== id) void navigate(`/customers/${survivorId}`, { replace: true });
  }, [survivorId, id, navigate]);

  if (profile.isPending) return <LoadingBlock />;
  if (profile.isError) return <ProblemAlert error={profile.error} />;
  return (
    <>
      <ProfileHeader profile={profile.data} />
      <SimpleGrid cols={{ base: 1, md: 2 }} spacing="lg">
        <Identities profile={profile.data} />
        <Traits traits={profile.data.traits} />
      </SimpleGrid>
      <ProfileLoyalty profileId={profile.data.id} erased={profile.data.erasedAt !== null} />
      <ConsentPanel profileId={profile.data.id} erased={profile.data.erasedAt !== null} />
      {profile.data.mergedFrom.length > 0 && <MergeHistory profile={profile.data} />}
      <EventTimeline profileId={profile.data.id} channels={profile.data.channels} />
    </>
  );
}

function Fact({ label, children }: { label: string; children: ReactNode }) {
  return (
    <Stack gap={2}>
      <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
        {label}
      </Text>
      {children}
    </Stack>
  );
}

function ProfileHeader({ profile }: { profile: Profile }) {
  const { t } = useTranslation();
  const { format, relative } = useWorkspaceClock();
  const title = profileTitle(profile);
  return (
    <Paper withBorder radius="md" p={{ base: 'md', sm: 'lg' }}>
      <Stack gap="md">
        <Group justify="space-between" align="flex-start" gap="sm">
          <Title
            order={2}
            data-testid="profile-name"
            c={title ? undefined : 'dimmed'}
            style={{ wordBreak: 'break-word', flex: '1 1 240px', minWidth: 0 }}
          >
            {title ?? (profile.erasedAt ? t('privacy.erasedTitle') : t('customers.unnamed'))}
          </Title>
          <ProfileActions profile={profile} />
        </Group>
        {profile.erasedAt && <ErasedNotice erasedAt={profile.erasedAt} />}
        <SimpleGrid cols={{ base: 1, xs: 3 }} spacing="md">
          <Fact label={t('customers.firstSeen')}>
            <Text size="sm">{format(profile.firstSeenAt)}</Text>
          </Fact>
          <Fact label={t('customers.lastSeen')}>
            <Text size="sm">
              {relative(profile.lastSeenAt)}{' '}
              <Text span size="xs" c="dimmed">
                · {format(profile.lastSeenAt)}
              </Text>
            </Text>
          </Fact>
          <Fact label={t('customers.channels')}>
            {profile.channels.length > 0 ? (
              <Group gap={6}>
                {profile.channels.map((channel) => (
                  <Badge
                    key={channel}
                    variant="light"
                    color="indigo"
                    tt="none"
                    fw={500}
                    leftSection={<BareChannelIcon channel={channel} />}
                  >
                    {channelLabel(channel, t)}
                  </Badge>
                ))}
              </Group>
            ) : (
              <Text size="sm" c="dimmed">
                —
              </Text>
            )}
          </Fact>
        </SimpleGrid>
      </Stack>
    </Paper>
  );
}

function Section({ title, children, testId }: { title: string; children: ReactNode; testId?: string }) {
  return (
    <Paper withBorder radius="md" p={{ base: 'md', sm: 'lg' }} data-testid={testId}>
      <Title order={4} mb="sm">
        {title}
      </Title>
      {children}
    </Paper>
  );
}

function Identities({ profile }: { profile: Profile }) {
  const { t } = useTranslation();
  const { format } = useWorkspaceClock();
  const groups = new Map<string, Profile['identities']>();
  for (const identity of [...profile.identities].sort((a, b) => kindRank(a.kind) - kindRank(b.kind))) {
    groups.set(identity.kind, [...(groups.get(identity.kind) ?? []), identity]);
  }
  return (
    <Section title={t('customers.identities')}>
      {groups.size === 0 ? (
        <Text size="sm" c="dimmed">
          {t('customers.noIdentities')}
        </Text>
      ) : (
        <Stack gap="sm">
          {[...groups].map(([kind, identities]) => (
            <Stack key={kind} gap={4}>
              <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
                {identityKindLabel(kind, t)}
              </Text>
              {identities.map((identity) => (
                <Group
                  key={identity.value}
                  justify="space-between"
                  gap="xs"
                  wrap="wrap"
                  data-testid="profile-identity"
                  data-kind={identity.kind}
                >
                  <Text
                    size="sm"
                    ff={kind === 'anonymous_id' ? 'monospace' : undefined}
                    style={{ wordBreak: 'break-all' }}
                  >
                    {identity.value}
                  </Text>
                  <Text size="xs" c="dimmed">
                    {t('customers.since', { date: format(identity.since) })}
                  </Text>
                </Group>
              ))}
            </Stack>
          ))}
        </Stack>
      )}
    </Section>
  );
}

function Traits({ traits }: { traits: Record<string, unknown> }) {
  const { t } = useTranslation();
  const entries = Object.entries(traits).sort(([a], [b]) => a.localeCompare(b));
  return (
    <Section title={t('customers.traits')}>
      {entries.length === 0 ? (
        <Text size="sm" c="dimmed">
          {t('customers.noTraits')}
        </Text>
      ) : (
        <KeyValues entries={entries} />
      )}
    </Section>
  );
}

/** `keyWidth`: the key column's share; details under an event are narrow and their keys short. */
function KeyValues({ entries, keyWidth = '38%' }: { entries: [string, unknown][]; keyWidth?: string | number }) {
  return (
    <Table withRowBorders={false} verticalSpacing={4} horizontalSpacing={0} layout="fixed">
      <Table.Tbody>
        {entries.map(([key, value]) => {
          const shown = displayValue(value);
          const structured = typeof value === 'object' && value !== null;
          return (
            <Table.Tr key={key}>
              <Table.Td w={keyWidth} pr="sm" style={{ verticalAlign: 'top' }}>
                <Text size="sm" c="dimmed" style={{ wordBreak: 'break-word' }}>
                  {key}
                </Text>
              </Table.Td>
              <Table.Td style={{ verticalAlign: 'top' }}>
                {structured ? (
                  <Code fz="xs" style={{ wordBreak: 'break-all', whiteSpace: 'pre-wrap' }}>
                    {shown}
                  </Code>
                ) : (
                  <Text size="sm" style={{ wordBreak: 'break-word' }}>
                    {shown}
                  </Text>
                )}
              </Table.Td>
            </Table.Tr>
          );
        })}
      </Table.Tbody>
    </Table>
  );
}

function MergeHistory({ profile }: { profile: Profile }) {
  const { t } = useTranslation();
  const { format } = useWorkspaceClock();
  return (
    <Section title={t('customers.mergeHistory')} testId="profile-merges">
      <Text size="sm" c="dimmed" mb="sm">
        {t('customers.mergeHint')}
      </Text>
      <Stack gap="xs">
        {profile.mergedFrom.map((merge) => (
          <Group key={merge.profileId} gap="sm" wrap="nowrap" align="flex-start">
            <IconGitMerge size={18} color="var(--mantine-color-grape-6)" style={{ flexShrink: 0, marginTop: 2 }} />
            <Stack gap={0} style={{ minWidth: 0 }}>
              <Text size="sm">
                {t('customers.mergedProfile')}{' '}
                <Code fz="xs" title={merge.profileId}>
                  {merge.profileId.slice(0, 8)}
                </Code>
              </Text>
              <Text size="xs" c="dimmed">
                {format(merge.at)}
                {merge.reason ? ` · ${merge.reason}` : ''}
              </Text>
            </Stack>
          </Group>
        ))}
      </Stack>
    </Section>
  );
}

function EventTimeline({ profileId, channels }: { profileId: string; channels: string[] }) {
  const { t } = useTranslation();
  const { day, timeZone } = useWorkspaceClock();
  const [filters, setFilters] = useState<TimelineFilters>({});
  const timeline = useTimeline(profileId, filters);
  const channelOptions = [...new Set([...channels, ...KNOWN_CHANNELS])].map((channel) => ({
    value: channel,
    label: channelLabel(channel, t),
  }));
  const typeOptions = EVENT_TYPES.map((type) => ({ value: type, label: t(`customers.eventTypes.${type}`) }));
  const filtered = Boolean(filters.type || filters.channel);

  // Events come newest first; a heading starts each of the workspace's calendar days.
  const days: { day: string; events: TimelineEvent[] }[] = [];
  for (const event of timeline.items) {
    const label = day(event.occurredAt);
    const last = days.at(-1);
    if (last?.day === label) last.events.push(event);
    else days.push({ day: label, events: [event] });
  }

  return (
    <Section title={t('customers.timeline.title')} testId="profile-timeline">
      <Group gap="sm" mb="md" align="flex-end" wrap="wrap">
        <Select
          label={t('customers.timeline.type')}
          placeholder={t('customers.timeline.anyType')}
          data={typeOptions}
          value={filters.type ?? null}
          onChange={(type) => setFilters((current) => ({ ...current, type: (type as EventType | null) ?? undefined }))}
          clearable
          comboboxProps={{ withinPortal: true }}
          style={{ flex: '1 1 180px', maxWidth: 260 }}
          data-testid="timeline-type"
        />
        <Select
          label={t('customers.timeline.channel')}
          placeholder={t('customers.timeline.anyChannel')}
          data={channelOptions}
          value={filters.channel ?? null}
          onChange={(channel) => setFilters((current) => ({ ...current, channel: channel ?? undefined }))}
          clearable
          comboboxProps={{ withinPortal: true }}
          style={{ flex: '1 1 180px', maxWidth: 260 }}
          data-testid="timeline-channel"
        />
      </Group>
      <Text size="xs" c="dimmed" mb="md">
        {t('customers.timeline.timeZoneNote', { timeZone })}
      </Text>
      {timeline.isPending ? (
        <LoadingBlock />
      ) : timeline.isError ? (
        <ProblemAlert error={timeline.error} />
      ) : timeline.items.length === 0 ? (
        <Text size="sm" c="dimmed" ta="center" py="lg">
          {filtered ? t('customers.timeline.emptyFiltered') : t('customers.timeline.empty')}
        </Text>
      ) : (
        <Stack gap="lg">
          {days.map((group) => (
            <Stack key={group.day} gap="sm">
              <Text size="sm" fw={600} c="dimmed">
                {capitalize(group.day)}
              </Text>
              <Timeline bulletSize={28} lineWidth={2}>
                {group.events.map((event) => (
                  <Timeline.Item key={event.id} bullet={<ChannelIcon channel={event.channel} size={28} />}>
                    <EventItem event={event} />
                  </Timeline.Item>
                ))}
              </Timeline>
            </Stack>
          ))}
        </Stack>
      )}
      <LoadMore
        hasMore={timeline.hasNextPage}
        loading={timeline.isFetchingNextPage}
        onLoad={() => void timeline.fetchNextPage()}
      />
    </Section>
  );
}

/** "воскресенье, 22 ноября" → "Воскресенье, 22 ноября": CSS capitalize would raise every word. */
function capitalize(text: string): string {
  return text.charAt(0).toLocaleUpperCase() + text.slice(1);
}

function EventItem({ event }: { event: TimelineEvent }) {
  const { t } = useTranslation();
  const { time, format } = useWorkspaceClock();
  const [open, setOpen] = useState(false);
  const properties = Object.entries(event.properties);
  const traits = Object.entries(event.traits);
  const hasContext = Object.keys(event.context).length > 0;
  return (
    <Stack gap={2} data-testid="timeline-event" data-type={event.type}>
      <Group gap="xs" wrap="nowrap" justify="space-between" align="flex-start">
        <Text size="sm" fw={600} style={{ wordBreak: 'break-word', minWidth: 0 }}>
          {eventTitle(event, t)}
        </Text>
        <Text size="xs" c="dimmed" title={format(event.occurredAt)} style={{ whiteSpace: 'nowrap' }}>
          {time(event.occurredAt)}
        </Text>
      </Group>
      <Group gap="sm">
        <Text size="xs" c="dimmed">
          {channelLabel(event.channel, t)}
        </Text>
        <UnstyledButton
          onClick={() => setOpen((current) => !current)}
          aria-expanded={open}
          data-testid="timeline-event-toggle"
        >
          <Group gap={2}>
            {open ? <IconChevronDown size={14} /> : <IconChevronRight size={14} />}
            <Text size="xs" c="indigo">
              {open ? t('customers.timeline.hideDetails') : t('customers.timeline.showDetails')}
            </Text>
          </Group>
        </UnstyledButton>
      </Group>
      <Collapse expanded={open}>
        <Stack gap="xs" mt="xs" p="sm" bg="gray.0" style={{ borderRadius: 'var(--mantine-radius-md)' }}>
          <DetailBlock title={t('customers.timeline.properties')} entries={properties} />
          {traits.length > 0 && <DetailBlock title={t('customers.traits')} entries={traits} />}
          {hasContext && (
            <Stack gap={2}>
              <Text size="xs" fw={600} c="dimmed" tt="uppercase">
                {t('customers.timeline.context')}
              </Text>
              <Code block fz="xs" style={{ maxHeight: 240, overflow: 'auto' }}>
                {JSON.stringify(event.context, null, 2)}
              </Code>
            </Stack>
          )}
          <Text size="xs" c="dimmed">
            {t('customers.timeline.received', { date: format(event.receivedAt) })} ·{' '}
            <Text span ff="monospace" fz="xs">
              {event.messageId}
            </Text>
          </Text>
        </Stack>
      </Collapse>
    </Stack>
  );
}

function DetailBlock({ title, entries }: { title: string; entries: [string, unknown][] }) {
  const { t } = useTranslation();
  return (
    <Stack gap={2}>
      <Text size="xs" fw={600} c="dimmed" tt="uppercase">
        {title}
      </Text>
      {entries.length === 0 ? (
        <Text size="xs" c="dimmed">
          {t('customers.timeline.noProperties')}
        </Text>
      ) : (
        <KeyValues entries={entries} keyWidth={150} />
      )}
    </Stack>
  );
}
