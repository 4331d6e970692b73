import { Button, Group, Modal, Select, Stack, TextInput } from '@mantine/core';
import { type FormEvent, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { type Branch, BranchCreate, type BranchUpdate } from '../../../../src/modules/org/org.schemas.ts';
import { useCreateBranch, useUpdateBranch } from '../../api/org.ts';
import { TimeZoneInput } from '../../components/ChoiceInputs.tsx';
import { fieldErrorsOf, notifySuccess, ProblemAlert } from '../../components/ProblemAlert.tsx';
import { branchOptions } from '../../lib/branchTree.ts';
import { isValidTimeZone } from '../../lib/format.ts';

interface BranchFormModalProps {
  /** The branch being edited; absent when creating one. */
  branch?: Branch;
  /** Preselected parent when creating ("add a branch under this one"). */
  parentId?: string | null;
  branches: readonly Branch[];
  onClose: () => void;
}

/** Rendered only while open, so every opening starts from a clean form. */
export function BranchFormModal({ branch, parentId = null, branches, onClose }: BranchFormModalProps) {
  const { t } = useTranslation();
  const creating = !branch;
  const [name, setName] = useState(branch?.name ?? '');
  const [code, setCode] = useState(branch?.code ?? '');
  const [parent, setParent] = useState<string | null>(branch?.parentId ?? parentId);
  const [timeZone, setTimeZone] = useState(branch?.timeZone ?? '');
  const [touched, setTouched] = useState(false);
  const createBranch = useCreateBranch();
  const updateBranch = useUpdateBranch();
  const mutation = creating ? createBranch : updateBranch;

  const serverErrors = fieldErrorsOf(mutation.error);
  const errors = {
    name: touched && !BranchCreate.shape.name.safeParse(name).success ? t('validation.required') : serverErrors.name,
    code: touched && !BranchCreate.shape.code.safeParse(code).success ? t('branches.codeInvalid') : serverErrors.code,
    timeZone: touched && timeZone && !isValidTimeZone(timeZone) ? t('validation.timeZone') : serverErrors.timeZone,
  };

  function submit(event: FormEvent) {
    event.preventDefault();
    setTouched(true);
    const fields = { name: name.trim(), code: code.trim(), timeZone: timeZone.trim() || null };
    if (!BranchCreate.safeParse(fields).success) return;
    if (branch) {
      // Only what changed is sent, so an edit never trips over a field someone else changed meanwhile.
      const input: BranchUpdate = {};
      if (fields.name !== branch.name) input.name = fields.name;
      if (fields.code !== branch.code) input.code = fields.code;
      if (fields.timeZone !== branch.timeZone) input.timeZone = fields.timeZone;
      if (Object.keys(input).length === 0) return onClose();
      updateBranch.mutate(
        { id: branch.id, input },
        {
          onSuccess: () => {
            notifySuccess(t('branches.updated'));
            onClose();
          },
        },
      );
    } else {
      createBranch.mutate(
        { ...fields, parentId: parent },
        {
          onSuccess: (created) => {
            notifySuccess(t('branches.created', { name: created.name }));
            onClose();
          },
        },
      );
    }
  }

  return (
    <Modal opened onClose={onClose} title={creating ? t('branches.createTitle') : t('branches.editTitle')} centered>
      <form onSubmit={submit} noValidate data-testid="branch-form">
        <Stack gap="sm">
          {mutation.error && Object.keys(serverErrors).length === 0 ? <ProblemAlert error={mutation.error} /> : null}
          <TextInput
            label={t('branches.name')}
            placeholder={t('branches.namePlaceholder')}
            value={name}
            onChange={(event) => setName(event.currentTarget.value)}
            error={errors.name}
            required
            data-autofocus
            data-testid="branch-name"
          />
          <TextInput
            label={t('branches.code')}
            description={t('branches.codeHint')}
            placeholder="MSK-01"
            value={code}
            onChange={(event) => setCode(event.currentTarget.value)}
            error={errors.code}
            required
            data-testid="branch-code"
          />
          {creating && (
            <Select
              label={t('branches.parent')}
              placeholder={t('branches.noParent')}
              data={branchOptions(branches)}
              value={parent}
              onChange={setParent}
              clearable
              searchable
              nothingFoundMessage={t('common.nothingFound')}
              comboboxProps={{ withinPortal: true }}
              data-testid="branch-parent"
            />
          )}
          <TimeZoneInput
            label={t('branches.timeZone')}
            description={t('branches.timeZoneHint')}
            placeholder={t('branches.timeZoneInherit')}
            value={timeZone}
            onChange={setTimeZone}
            error={errors.timeZone}
            data-testid="branch-time-zone"
          />
          <Group justify="flex-end" mt="sm">
            <Button variant="default" onClick={onClose}>
              {t('common.cancel')}
            </Button>
            <Button type="submit" loading={mutation.isPending} data-testid="branch-submit">
              {creating ? t('common.create') : t('common.saveChanges')}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
