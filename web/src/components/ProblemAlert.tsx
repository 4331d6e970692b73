import { Alert, Code, Group, Text } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconAlertTriangle, IconLock } from '@tabler/icons-react';
import i18next, { type TFunction } from 'i18next';
import { useTranslation } from 'react-i18next';
import { ApiError } from '../api/client.ts';

export interface DescribedProblem {
  title: string;
  message: string;
  code: string | undefined;
  requestId: string | undefined;
  forbidden: boolean;
}

/** Turns any thrown value into words a person can act on; the API's `detail` is the message whenever it has one. */
export function describeProblem(error: unknown, t: TFunction): DescribedProblem {
  if (error instanceof ApiError) {
    // The server's detail is English and the most precise; readers of another language get the console's own
    // wording for the codes it knows, and the English detail only for codes it does not.
    const knownCodeKey = `problems.${error.code}`;
    const preferOwnWording = i18next.resolvedLanguage !== 'en' || !error.detail;
    const translated =
      preferOwnWording && i18next.exists(knownCodeKey) ? (t(knownCodeKey as never) as string) : undefined;
    if (error.status === 403) {
      return {
        title: t('errors.forbiddenTitle'),
        message: translated ?? error.detail ?? t('errors.forbidden'),
        code: error.code,
        requestId: error.requestId,
        forbidden: true,
      };
    }
    if (error.code === 'NETWORK_ERROR') {
      return {
        title: t('errors.networkTitle'),
        message: t('errors.network'),
        code: undefined,
        requestId: undefined,
        forbidden: false,
      };
    }
    return {
      title: error.status >= 500 ? t('errors.serverTitle') : t('errors.requestTitle'),
      message: translated ?? error.detail ?? t('errors.unexpected'),
      code: error.code,
      requestId: error.requestId,
      forbidden: false,
    };
  }
  const message = error instanceof Error && error.message ? error.message : t('errors.unexpected');
  return { title: t('errors.title'), message, code: undefined, requestId: undefined, forbidden: false };
}

/** Inline error for a failed load or action: the problem's detail, with its code small for support. */
export function ProblemAlert({ error, title }: { error: unknown; title?: string }) {
  const { t } = useTranslation();
  const problem = describeProblem(error, t);
  return (
    <Alert
      color={problem.forbidden ? 'orange' : 'red'}
      variant="light"
      title={title ?? problem.title}
      icon={problem.forbidden ? <IconLock size={18} /> : <IconAlertTriangle size={18} />}
      data-testid="problem-alert"
    >
      <Text size="sm">{problem.message}</Text>
      {(problem.code || problem.requestId) && (
        <Group gap="xs" mt={6}>
          {problem.code && (
            <Text size="xs" c="dimmed">
              {t('errors.code')}: <Code fz="xs">{problem.code}</Code>
            </Text>
          )}
          {problem.requestId && (
            <Text size="xs" c="dimmed">
              {t('errors.requestId')}: <Code fz="xs">{problem.requestId}</Code>
            </Text>
          )}
        </Group>
      )}
    </Alert>
  );
}

export function notifyProblem(error: unknown, t: TFunction) {
  const problem = describeProblem(error, t);
  notifications.show({
    color: problem.forbidden ? 'orange' : 'red',
    title: problem.title,
    message: problem.code ? `${problem.message} (${problem.code})` : problem.message,
  });
}

export function notifySuccess(message: string) {
  notifications.show({ color: 'teal', message, icon: undefined });
}

/** Server-side validation errors keyed by the body field they belong to, for showing under inputs. */
export function fieldErrorsOf(error: unknown): Record<string, string> {
  if (!(error instanceof ApiError)) return {};
  const byField: Record<string, string> = {};
  for (const fieldError of error.fieldErrors) {
    const field = fieldError.path.replace(/^\/?(body[./])?/, '').split(/[./]/)[0] ?? '';
    if (field && !byField[field]) byField[field] = fieldError.message;
  }
  return byField;
}
