import { Button, Center, Code, Group, Paper, Stack, Text, ThemeIcon, Title } from '@mantine/core';
import { IconAlertTriangle } from '@tabler/icons-react';
import { Component, type ErrorInfo, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';

interface Props {
  children: ReactNode;
  /** Changing it clears a caught error, so navigating away from a broken screen recovers the console. */
  resetKey?: string;
}

interface State {
  error: Error | null;
}

export class ErrorBoundary extends Component<Props, State> {
  state: State = { error: null };

  static getDerivedStateFromError(error: Error): State {
    return { error };
  }

  componentDidCatch(error: Error, info: ErrorInfo) {
    // Kept for whoever opens the developer tools while reporting the problem.
    console.warn('Rapport console: a screen failed to render', error, info.componentStack);
  }

  componentDidUpdate(previous: Props) {
    if (this.state.error && previous.resetKey !== this.props.resetKey) this.setState({ error: null });
  }

  render() {
    if (this.state.error) return <CrashPage error={this.state.error} />;
    return this.props.children;
  }
}

function CrashPage({ error }: { error: Error }) {
  const { t } = useTranslation();
  return (
    <Center mih="60vh" p="md" data-testid="error-boundary">
      <Paper withBorder radius="md" p="xl" maw={520} w="100%">
        <Stack gap="md">
          <ThemeIcon color="red" variant="light" size={48} radius="xl">
            <IconAlertTriangle size={28} />
          </ThemeIcon>
          <Title order={2}>{t('errors.boundaryTitle')}</Title>
          <Text c="dimmed">{t('errors.boundaryText')}</Text>
          <Code block>{error.message}</Code>
          <Group>
            <Button onClick={() => window.location.reload()}>{t('errors.reload')}</Button>
            <Button variant="default" component="a" href="/">
              {t('errors.backToOverview')}
            </Button>
          </Group>
        </Stack>
      </Paper>
    </Center>
  );
}
