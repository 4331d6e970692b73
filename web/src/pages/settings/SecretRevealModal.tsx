import { Alert, Button, Code, CopyButton, Group, Modal, Stack, Text } from '@mantine/core';
import { IconAlertTriangle, IconCheck, IconCopy } from '@tabler/icons-react';
import { useTranslation } from 'react-i18next';
import type { ApiKeyCreated } from '../../../../src/modules/org/org.schemas.ts';

/**
 * Shows a new key's full value exactly once. It can only be left through the explicit button, not by a stray click
 * outside or Escape, so nobody loses a secret key by accident; the page drops the value as soon as this closes.
 */
export function SecretRevealModal({ created, onClose }: { created: ApiKeyCreated; onClose: () => void }) {
  const { t } = useTranslation();
  const secretKey = created.key.kind === 'secret';
  return (
    <Modal
      opened
      onClose={onClose}
      title={t('keys.revealTitle', { name: created.key.name })}
      centered
      size="lg"
      closeOnClickOutside={false}
      closeOnEscape={false}
      withCloseButton={false}
      data-testid="reveal-modal"
    >
      <Stack gap="md">
        {secretKey ? (
          <Alert
            color="orange"
            variant="light"
            icon={<IconAlertTriangle size={18} />}
            title={t('keys.revealWarningTitle')}
          >
            {t('keys.revealWarning')}
          </Alert>
        ) : (
          <Text size="sm" c="dimmed">
            {t('keys.revealWriteNote')}
          </Text>
        )}
        <Code
          block
          data-testid="revealed-secret"
          fz="sm"
          style={{ wordBreak: 'break-all', whiteSpace: 'pre-wrap', userSelect: 'all' }}
        >
          {created.secret}
        </Code>
        <Group justify="space-between" wrap="wrap">
          <CopyButton value={created.secret} timeout={2500}>
            {({ copied, copy }) => (
              <Button
                variant={copied ? 'light' : 'default'}
                color={copied ? 'teal' : undefined}
                leftSection={copied ? <IconCheck size={16} /> : <IconCopy size={16} />}
                onClick={copy}
                data-testid="reveal-copy"
              >
                {copied ? t('common.copied') : t('common.copy')}
              </Button>
            )}
          </CopyButton>
          <Button onClick={onClose} data-testid="reveal-close">
            {secretKey ? t('keys.revealDone') : t('common.close')}
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
