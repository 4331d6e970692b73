import { Button, Group, Modal, PasswordInput, Select, Stack, TextInput } from '@mantine/core';
import { type FormEvent, useState } from 'react';
import { useTranslation } from 'react-i18next';
import {
  type Branch,
  ROLES,
  type Role,
  type User,
  UserCreate,
  type UserCreated,
  type UserUpdate,
} from '../../../../src/modules/org/org.schemas.ts';
import { useCreateUser, useUpdateUser } from '../../api/org.ts';
import { fieldErrorsOf, notifySuccess, ProblemAlert } from '../../components/ProblemAlert.tsx';
import { branchOptions } from '../../lib/branchTree.ts';

interface UserFormModalProps {
  /** The member being edited; absent when inviting a new one. */
  user?: User;
  branches: readonly Branch[];
  onClose: () => void;
  onCreated?: (created: UserCreated) => void;
}

/** Rendered only while open, so every opening starts from a clean form. */
export function UserFormModal({ user, branches, onClose, onCreated }: UserFormModalProps) {
  const { t } = useTranslation();
  const creating = !user;
  const [email, setEmail] = useState(user?.email ?? '');
  const [name, setName] = useState(user?.name ?? '');
  const [role, setRole] = useState<Role>(user?.role ?? 'marketer');
  const [branchId, setBranchId] = useState<string | null>(user?.branchId ?? null);
  const [password, setPassword] = useState('');
  const [touched, setTouched] = useState(false);
  const createUser = useCreateUser();
  const updateUser = useUpdateUser();
  const mutation = creating ? createUser : updateUser;

  const serverErrors = fieldErrorsOf(mutation.error);
  const errors = {
    email:
      touched && creating && !UserCreate.shape.email.safeParse(email.trim()).success
        ? t('validation.email')
        : serverErrors.email,
    name: touched && !UserCreate.shape.name.safeParse(name).success ? t('validation.required') : serverErrors.name,
    password: touched && password && password.length < 10 ? t('users.passwordTooShort') : serverErrors.password,
    branchId: touched && role === 'branch_manager' && !branchId ? t('users.branchRequired') : serverErrors.branchId,
  };
  const valid = !errors.email && !errors.name && !errors.password && !errors.branchId;

  function submit(event: FormEvent) {
    event.preventDefault();
    setTouched(true);
    const fields = { name: name.trim(), role, branchId };
    const clientValid =
      UserCreate.shape.name.safeParse(fields.name).success &&
      (!creating || UserCreate.shape.email.safeParse(email.trim()).success) &&
      (!password || password.length >= 10) &&
      (role !== 'branch_manager' || branchId);
    if (!clientValid) return;
    if (user) {
      const input: UserUpdate = {};
      if (fields.name !== user.name) input.name = fields.name;
      if (fields.role !== user.role) input.role = fields.role;
      if (fields.branchId !== user.branchId) input.branchId = fields.branchId;
      if (Object.keys(input).length === 0) return onClose();
      updateUser.mutate(
        { id: user.id, input },
        {
          onSuccess: () => {
            notifySuccess(t('users.updated'));
            onClose();
          },
        },
      );
    } else {
      createUser.mutate(
        { ...fields, email: email.trim(), password: password || undefined },
        {
          onSuccess: (created) => {
            createUser.reset();
            notifySuccess(t('users.created', { name: created.user.name }));
            onCreated?.(created);
          },
        },
      );
    }
  }

  return (
    <Modal opened onClose={onClose} title={creating ? t('users.createTitle') : t('users.editTitle')} centered>
      <form onSubmit={submit} noValidate data-testid="user-form">
        <Stack gap="sm">
          {mutation.error && Object.keys(serverErrors).length === 0 ? <ProblemAlert error={mutation.error} /> : null}
          <TextInput
            label={t('users.email')}
            type="email"
            value={email}
            onChange={(event) => setEmail(event.currentTarget.value)}
            error={errors.email}
            disabled={!creating}
            required={creating}
            data-autofocus={creating || undefined}
            data-testid="user-email"
          />
          <TextInput
            label={t('users.name')}
            value={name}
            onChange={(event) => setName(event.currentTarget.value)}
            error={errors.name}
            required
            data-testid="user-name"
          />
          <Stack gap="sm">
            <Select
              label={t('users.role')}
              description={t(`roleHints.${role}`)}
              data={ROLES.map((value) => ({ value, label: t(`roles.${value}`) }))}
              value={role}
              onChange={(value) => value && setRole(value as Role)}
              allowDeselect={false}
              comboboxProps={{ withinPortal: true }}
              data-testid="user-role"
            />
            <Select
              label={t('users.branch')}
              description={t('users.branchHint')}
              placeholder={t('users.allBranches')}
              data={branchOptions(branches)}
              value={branchId}
              onChange={setBranchId}
              error={errors.branchId}
              clearable
              searchable
              nothingFoundMessage={t('common.nothingFound')}
              comboboxProps={{ withinPortal: true }}
              data-testid="user-branch"
            />
          </Stack>
          {creating && (
            <PasswordInput
              label={t('users.password')}
              description={t('users.passwordHint')}
              value={password}
              onChange={(event) => setPassword(event.currentTarget.value)}
              error={errors.password}
              autoComplete="new-password"
              data-testid="user-password"
            />
          )}
          <Group justify="flex-end" mt="sm">
            <Button variant="default" onClick={onClose}>
              {t('common.cancel')}
            </Button>
            <Button type="submit" loading={mutation.isPending} disabled={touched && !valid} data-testid="user-submit">
              {creating ? t('users.createSubmit') : t('common.saveChanges')}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
