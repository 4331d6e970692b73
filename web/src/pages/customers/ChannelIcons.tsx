import { Group, ThemeIcon, Tooltip } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { channelIcon, channelLabel } from '../../lib/customers.tsx';

export function ChannelIcon({ channel, size = 22 }: { channel: string; size?: number }) {
  const { t } = useTranslation();
  const Icon = channelIcon(channel);
  const label = channelLabel(channel, t);
  return (
    <Tooltip label={label} withinPortal>
      <ThemeIcon size={size} radius="xl" variant="light" color="indigo" aria-label={label} role="img">
        <Icon size={Math.round(size * 0.62)} stroke={1.7} />
      </ThemeIcon>
    </Tooltip>
  );
}

export function ChannelIcons({ channels }: { channels: string[] }) {
  if (channels.length === 0) return null;
  return (
    <Group gap={4} wrap="nowrap">
      {channels.map((channel) => (
        <ChannelIcon key={channel} channel={channel} />
      ))}
    </Group>
  );
}

/** The icon alone, for places that already have a label (badges). */
export function BareChannelIcon({ channel, size = 14 }: { channel: string; size?: number }) {
  const Icon = channelIcon(channel);
  return <Icon size={size} stroke={1.8} style={{ display: 'block' }} />;
}
