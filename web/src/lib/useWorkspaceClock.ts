import { useCallback } from 'react';
import { useTranslation } from 'react-i18next';
import { useMe } from '../api/org.ts';
import { useSession } from '../session/SessionContext.tsx';
import { formatDateTime } from './format.ts';

/** The current workspace's time zone and a formatter that shows instants in it, in the console's language. */
export function useWorkspaceClock() {
  const { i18n } = useTranslation();
  const { membership } = useSession();
  const me = useMe();
  const timeZone = me.data?.workspace.timeZone ?? membership.workspace.timeZone;
  const language = i18n.resolvedLanguage === 'ru' ? 'ru-RU' : 'en-GB';
  const format = useCallback(
    (iso: string | null | undefined) => formatDateTime(iso, language, timeZone),
    [language, timeZone],
  );
  return { timeZone, format };
}
