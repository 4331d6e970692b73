import { Button, Menu, Text } from '@mantine/core';
import { IconChevronDown, IconFileCertificate } from '@tabler/icons-react';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { ConsentEntry, ConsentState } from '../../../../src/modules/consent/consent.schemas.ts';
import { openConsentProof } from '../../api/consent.ts';
import { notifyProblem } from '../../components/ProblemAlert.tsx';
import { consentChannelLabel } from '../../lib/consent.ts';
import { useWorkspaceClock } from '../../lib/useWorkspaceClock.ts';

/** Every address something was recorded for, with the channels it was recorded on, in the order first seen. */
function addressesOf(current: ConsentState[], history: ConsentEntry[]): { address: string; channels: string[] }[] {
  const byAddress = new Map<string, Set<string>>();
  for (const { address, channel } of [...current, ...history]) {
    if (!address) continue;
    const channels = byAddress.get(address) ?? new Set<string>();
    channels.add(channel);
    byAddress.set(address, channels);
  }
  return [...byAddress].map(([address, channels]) => ({ address, channels: [...channels] }));
}

/**
 * "Proof of consent": the printable report the server renders from the ledger — for the whole profile, or for one
 * address (what a regulator or the person asks about). Opens in a new tab; the caller shows it only to roles with
 * profiles:read_pii, as the report holds addresses, IPs and user agents in clear.
 */
export function ProofMenu({
  profileId,
  current,
  history,
}: {
  profileId: string;
  current: ConsentState[];
  history: ConsentEntry[];
}) {
  const { t, i18n } = useTranslation();
  const [opening, setOpening] = useState(false);
  const { timeZone } = useWorkspaceClock();
  if (history.length === 0) return null;
  const addresses = addressesOf(current, history);

  function open(address: string | null) {
    setOpening(true);
    openConsentProof(
      profileId,
      address,
      i18n.resolvedLanguage === 'ru' ? 'ru' : 'en',
      timeZone,
      t('consent.proofLoading'),
    )
      .catch((error: unknown) => notifyProblem(error, t))
      .finally(() => setOpening(false));
  }

  return (
    <Menu position="bottom-end" withinPortal shadow="md" width={300}>
      <Menu.Target>
        <Button
          size="xs"
          variant="default"
          leftSection={<IconFileCertificate size={14} />}
          rightSection={<IconChevronDown size={14} />}
          loading={opening}
          data-testid="consent-proof"
        >
          {t('consent.proofOf')}
        </Button>
      </Menu.Target>
      <Menu.Dropdown>
        <Menu.Item onClick={() => open(null)} data-testid="consent-proof-all">
          <Text size="sm">{t('consent.proofAll')}</Text>
          <Text size="xs" c="dimmed">
            {t('consent.proofAllHint')}
          </Text>
        </Menu.Item>
        {addresses.length > 0 && <Menu.Label>{t('consent.proofForAddress')}</Menu.Label>}
        {addresses.map(({ address, channels }) => (
          <Menu.Item
            key={address}
            onClick={() => open(address)}
            data-testid="consent-proof-address"
            data-address={address}
          >
            <Text size="sm" style={{ wordBreak: 'break-all' }}>
              {address}
            </Text>
            <Text size="xs" c="dimmed">
              {channels.map((channel) => consentChannelLabel(channel, t)).join(', ')}
            </Text>
          </Menu.Item>
        ))}
        <Menu.Divider />
        <Text size="xs" c="dimmed" px="sm" py={4}>
          {t('consent.proofNote')}
        </Text>
      </Menu.Dropdown>
    </Menu>
  );
}
