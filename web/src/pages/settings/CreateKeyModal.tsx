import { Button, Group, Modal, SegmentedControl, Select, Stack, Text, TextInput } from '@mantine/core';
import { type FormEvent, useState } from 'react';
import { useTranslation } from 'react-i18next';
import {
  type ApiKeyCreate,
  type ApiKeyCreated,
  type Branch,
  ROLES,
  type Role,
} from '../../../../src/modules/org/org.schemas.ts';
import { useCreateApiKey } from '../../api/org.ts';
import { fieldErrorsOf, ProblemAlert } from '../../components/ProblemAlert.tsx';
import { branchOptions } from '../../lib/branchTree.ts';

/** Rendered only while open; hands the created key (with its one-time secret) to the page that reveals it. */
export function CreateKeyModal({
  branches,
  onClose,
  onCreated,
}: {
  branches: readonly Branch[];
  onClose: () => void;
  onCreated: (created: ApiKeyCreated) => void;
}) {
  const { t } = useTranslation();
  const [kind, setKind] = useState<'write' | 'secret'>('secret');
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('analyst');
  const [branchId, setBranchId] = useState<string | null>(null);
  const [touched, setTouched] = useState(false);
  const mutation = useCreateApiKey();
  const serverErrors = fieldErrorsOf(mutation.error);
  const nameError = touched && !name.trim() ? t('validation.required') : serverErrors.name;

  function submit(event: FormEvent) {
    event.preventDefault();
    setTouched(true);
    if (!name.trim()) return;
    const input: ApiKeyCreate =
      kind === 'write' ? { kind, name: name.trim() } : { kind, name: name.trim(), role, branchId: branchId ?? null };
    mutation.mutate(input, {
      onSuccess: (created) => {
        mutation.reset();
        onCreated(created);
      },
    });
  }

  return (
    <Modal opened onClose={onClose} title={t('keys.createTitle')} centered size="lg">
      <form onSubmit={submit} noValidate data-testid="key-form">
        <Stack gap="sm">
          {mutation.error && Object.keys(serverErrors).length === 0 ? <ProblemAlert error={mutation.error} /> : null}
          <Stack gap={6}>
            <Text size="sm" fw={500}>
              {t('keys.kind')}
            </Text>
            <SegmentedControl
              fullWidth
              value={kind}
              onChange={(value) => setKind(value === 'write' ? 'write' : 'secret')}
              data-testid="key-kind"
              data={[
                { value: 'secret', label: <span data-testid="key-kind-secret">{t('keys.kindSecret')}</span> },
                { value: 'write', label: <span data-testid="key-kind-write">{t('keys.kindWrite')}</span> },
              ]}
            />
            <Text size="xs" c="dimmed">
              {kind === 'secret' ? t('keys.kindSecretHint') : t('keys.kindWriteHint')}
            </Text>
          </Stack>
          <TextInput
            label={t('keys.name')}
            description={t('keys.nameHint')}
            placeholder={kind === 'secret' ? t('keys.secretNamePlaceholder') : t('keys.writeNamePlaceholder')}
            value={name}
            onChange={(event) => setName(event.currentTarget.value)}
            error={nameError}
            required
            data-autofocus
            data-testid="key-name"
          />
          {kind === 'secret' && (
            <Stack gap="sm">
              <Select
                label={t('keys.role')}
                description={t(`roleHints.${role}`)}
                data={ROLES.map((value) => ({ value, label: t(`roles.${value}`) }))}
                value={role}
                onChange={(value) => value && setRole(value as Role)}
                allowDeselect={false}
                comboboxProps={{ withinPortal: true }}
                data-testid="key-role"
              />
              <Select
                label={t('keys.branch')}
                description={t('keys.branchHint')}
                placeholder={t('keys.allBranches')}
                data={branchOptions(branches)}
                value={branchId}
                onChange={setBranchId}
                clearable
                searchable
                nothingFoundMessage={t('common.nothingFound')}
                comboboxProps={{ withinPortal: true }}
                data-testid="key-branch"
              />
            </Stack>
          )}
          <Group justify="flex-end" mt="sm">
            <Button variant="default" onClick={onClose}>
              {t('common.cancel')}
            </Button>
            <Button type="submit" loading={mutation.isPending} data-testid="key-submit">
              {t('keys.createSubmit')}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
