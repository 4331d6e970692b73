import { ActionIcon, Badge, Code, CopyButton, Group, Stack, Table, Text, Tooltip } from '@mantine/core';
import { IconBan, IconCheck, IconCopy } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import type { ApiKey } from '../../../../src/modules/org/org.schemas.ts';

interface ApiKeyRowProps {
  apiKey: ApiKey;
  branchName: (id: string) => string | undefined;
  format: (iso: string | null) => string;
  onRevoke: (key: ApiKey) => void;
  /** Phones get three columns: everything but the status and the action is stacked under the name. */
  compact: boolean;
}

export function ApiKeyHeader({ compact }: { compact: boolean }) {
  const { t } = useTranslation();
  return (
    <Table.Tr>
      <Table.Th>{t('keys.name')}</Table.Th>
      {!compact && (
        <>
          <Table.Th>{t('keys.kind')}</Table.Th>
          <Table.Th>{t('keys.key')}</Table.Th>
          <Table.Th>{t('keys.access')}</Table.Th>
          <Table.Th>{t('common.createdAt')}</Table.Th>
          <Table.Th>{t('keys.lastUsed')}</Table.Th>
        </>
      )}
      <Table.Th>{t('keys.status')}</Table.Th>
      <Table.Th w={50} />
    </Table.Tr>
  );
}

export const API_KEY_COLUMNS = { compact: 3, full: 8 };

export function ApiKeyRow({ apiKey: key, branchName, format, onRevoke, compact }: ApiKeyRowProps) {
  const { t } = useTranslation();
  const revoked = key.revokedAt !== null;
  const kind = (
    <Badge variant="light" color={key.kind === 'secret' ? 'grape' : 'cyan'} radius="sm">
      {key.kind === 'secret' ? t('keys.kindSecret') : t('keys.kindWrite')}
    </Badge>
  );
  const access =
    key.kind === 'secret' && key.role ? (
      <Text size="sm">
        {t(`roles.${key.role}`)}
        <Text span size="xs" c="dimmed">
          {' · '}
          {key.branchId ? (branchName(key.branchId) ?? t('keys.oneBranch')) : t('keys.allBranches')}
        </Text>
      </Text>
    ) : (
      <Text size="sm" c="dimmed">
        {t('keys.writeAccess')}
      </Text>
    );

  return (
    <Table.Tr data-testid="key-row" data-key-id={key.id} style={revoked ? { opacity: 0.6 } : undefined}>
      <Table.Td>
        {compact ? (
          <Stack gap={4} align="flex-start">
            <Text size="sm" fw={500} data-testid="key-name-cell">
              {key.name}
            </Text>
            <KeyValue apiKey={key} />
            <Group gap={6}>
              {kind}
              {access}
            </Group>
          </Stack>
        ) : (
          <Text size="sm" fw={500} data-testid="key-name-cell">
            {key.name}
          </Text>
        )}
      </Table.Td>
      {!compact && (
        <>
          <Table.Td>{kind}</Table.Td>
          <Table.Td>
            <KeyValue apiKey={key} />
          </Table.Td>
          <Table.Td>{access}</Table.Td>
          <Table.Td>
            <Text size="sm" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
              {format(key.createdAt)}
            </Text>
          </Table.Td>
          <Table.Td>
            <Text size="sm" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
              {key.lastUsedAt ? format(key.lastUsedAt) : t('common.never')}
            </Text>
          </Table.Td>
        </>
      )}
      <Table.Td>
        {revoked ? (
          <Tooltip label={format(key.revokedAt)}>
            <Badge color="red" variant="light" radius="sm" data-testid="key-status">
              {t('keys.revoked')}
            </Badge>
          </Tooltip>
        ) : (
          <Badge color="teal" variant="light" radius="sm" data-testid="key-status">
            {t('keys.active')}
          </Badge>
        )}
      </Table.Td>
      <Table.Td>
        {!revoked && (
          <Tooltip label={t('keys.revoke')}>
            <ActionIcon
              variant="subtle"
              color="red"
              aria-label={t('keys.revoke')}
              onClick={() => onRevoke(key)}
              data-testid="key-revoke"
            >
              <IconBan size={16} />
            </ActionIcon>
          </Tooltip>
        )}
      </Table.Td>
    </Table.Tr>
  );
}

/** Write keys are publishable and stay readable (with a copy button); secret keys only ever show their prefix. */
function KeyValue({ apiKey: key }: { apiKey: ApiKey }) {
  const { t } = useTranslation();
  if (!key.writeKey) {
    return (
      <Code data-testid="key-prefix" style={{ whiteSpace: 'nowrap' }}>
        {key.prefix}…
      </Code>
    );
  }
  return (
    <Group gap={4} wrap="nowrap">
      <Code
        data-testid="key-prefix"
        title={key.writeKey}
        style={{
          maxWidth: 160,
          overflow: 'hidden',
          textOverflow: 'ellipsis',
          whiteSpace: 'nowrap',
          display: 'inline-block',
        }}
      >
        {key.writeKey}
      </Code>
      <CopyButton value={key.writeKey}>
        {({ copied, copy }) => (
          <ActionIcon
            variant="subtle"
            color={copied ? 'teal' : 'gray'}
            size="sm"
            onClick={copy}
            aria-label={t('common.copy')}
          >
            {copied ? <IconCheck size={14} /> : <IconCopy size={14} />}
          </ActionIcon>
        )}
      </CopyButton>
    </Group>
  );
}
