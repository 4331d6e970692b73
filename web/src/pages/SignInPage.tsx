import { Alert, Box, Button, Center, Group, Paper, PasswordInput, Stack, Text, TextInput, Title } from '@mantine/core';
import { IconAlertTriangle, IconHourglass } from '@tabler/icons-react';
import { useMutation } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { Session } from '../../../src/modules/org/org.schemas.ts';
import { ApiError } from '../api/client.ts';
import { signIn } from '../api/org.ts';
import { LanguageSwitch } from '../components/LanguageSwitch.tsx';
import { LogoMark } from '../components/Logo.tsx';
import { ProblemAlert } from '../components/ProblemAlert.tsx';

export function SignInPage({ onSignedIn }: { onSignedIn: (session: Session) => void }) {
  const { t } = useTranslation();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [touched, setTouched] = useState(false);
  const mutation = useMutation({
    mutationFn: () => signIn(email.trim(), password),
    onSuccess: onSignedIn,
  });

  const emailError = touched && !email.trim() ? t('signIn.emailRequired') : null;
  const passwordError = touched && !password ? t('signIn.passwordRequired') : null;

  function submit(event: FormEvent) {
    event.preventDefault();
    setTouched(true);
    if (!email.trim() || !password) return;
    mutation.mutate();
  }

  return (
    <Box
      mih="100vh"
      style={{
        background:
          'radial-gradient(circle at 15% 10%, var(--mantine-color-indigo-1), transparent 45%), radial-gradient(circle at 85% 90%, var(--mantine-color-teal-0), transparent 40%), var(--mantine-color-gray-0)',
      }}
    >
      <Group justify="flex-end" p="md">
        <LanguageSwitch size="sm" />
      </Group>
      <Center px="md" pb="xl" mih="calc(100vh - 80px)">
        <Paper withBorder shadow="md" radius="lg" p={{ base: 'lg', sm: 'xl' }} w="100%" maw={420}>
          <form onSubmit={submit} noValidate data-testid="sign-in-form">
            <Stack gap="md">
              <Stack gap={6} align="center" mb="xs">
                <LogoMark size={44} />
                <Title order={1} fz={26} ta="center">
                  Rapport
                </Title>
                <Text c="dimmed" size="sm" ta="center">
                  {t('signIn.subtitle')}
                </Text>
              </Stack>
              <SignInProblem error={mutation.error} />
              <TextInput
                label={t('signIn.email')}
                type="email"
                autoComplete="username"
                autoFocus
                value={email}
                onChange={(event) => setEmail(event.currentTarget.value)}
                error={emailError}
                data-testid="sign-in-email"
              />
              <PasswordInput
                label={t('signIn.password')}
                autoComplete="current-password"
                value={password}
                onChange={(event) => setPassword(event.currentTarget.value)}
                error={passwordError}
                data-testid="sign-in-password"
              />
              <Button type="submit" fullWidth size="md" loading={mutation.isPending} data-testid="sign-in-submit">
                {t('signIn.submit')}
              </Button>
            </Stack>
          </form>
        </Paper>
      </Center>
    </Box>
  );
}

/** "9 minutes" / "9 минут": Intl knows each language's plural forms. */
function waitTime(seconds: number, language: string): string {
  const minutes = Math.ceil(seconds / 60);
  const [value, unit] = minutes > 1 ? [minutes, 'minute'] : [Math.max(1, Math.ceil(seconds)), 'second'];
  return new Intl.NumberFormat(language, { style: 'unit', unit, unitDisplay: 'long' }).format(value);
}

function SignInProblem({ error }: { error: Error | null }) {
  const { t, i18n } = useTranslation();
  if (!error) return null;
  if (error instanceof ApiError && error.code === 'INVALID_CREDENTIALS') {
    return (
      <Alert color="red" variant="light" icon={<IconAlertTriangle size={18} />} data-testid="sign-in-error">
        {t('signIn.invalidCredentials')}
      </Alert>
    );
  }
  if (error instanceof ApiError && (error.code === 'RATE_LIMITED' || error.status === 429)) {
    return (
      <Alert
        color="orange"
        variant="light"
        icon={<IconHourglass size={18} />}
        title={t('signIn.rateLimitedTitle')}
        data-testid="sign-in-error"
      >
        {error.retryAfterSeconds
          ? t('signIn.rateLimitedFor', { time: waitTime(error.retryAfterSeconds, i18n.language) })
          : t('signIn.rateLimited')}
      </Alert>
    );
  }
  return <ProblemAlert error={error} />;
}
