import { useCallback } from 'react';
import { useTranslation } from 'react-i18next';
import { useMe } from '../api/org.ts';
import { useSession } from '../session/SessionContext.tsx';
import { formatDateTime, formatDay, formatRelative, formatTime } from './format.ts';

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
  /** "5 minutes ago": how long ago, independent of the zone. */
  const relative = useCallback((iso: string | null | undefined) => formatRelative(iso, language), [language]);
  /** The workspace's calendar day of an instant, for grouping. */
  const day = useCallback((iso: string) => formatDay(iso, language, timeZone), [language, timeZone]);
  const time = useCallback((iso: string) => formatTime(iso, language, timeZone), [language, timeZone]);
  return { timeZone, format, relative, day, time };
}
