/**
 * Dates are shown in the workspace's time zone, not the browser's: a marketer in Lisbon looking at a Moscow brand's
 * audit log must see the times the brand's staff see.
 */
export function formatDateTime(iso: string | null | undefined, language: string, timeZone: string): string {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  try {
    return new Intl.DateTimeFormat(language, { dateStyle: 'medium', timeStyle: 'short', timeZone }).format(date);
  } catch {
    // An unknown zone name must not break a whole table.
    return new Intl.DateTimeFormat(language, { dateStyle: 'medium', timeStyle: 'short' }).format(date);
  }
}

export function isValidTimeZone(timeZone: string): boolean {
  if (!timeZone) return false;
  try {
    new Intl.DateTimeFormat('en', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** Milliseconds by which the wall clock in `timeZone` is ahead of UTC at `instant`. */
function zoneOffset(instant: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  }).formatToParts(new Date(instant));
  const field = (type: string) => Number(parts.find((part) => part.type === type)?.value ?? 0);
  const wallClock = Date.UTC(
    field('year'),
    field('month') - 1,
    field('day'),
    field('hour'),
    field('minute'),
    field('second'),
  );
  return wallClock - (instant - (instant % 1000));
}

/**
 * The instant a calendar day (YYYY-MM-DD) starts in a time zone, as an ISO timestamp: the audit filter's "from" and
 * "to" days mean the workspace's days. `endOfDay` gives the first instant of the next day instead.
 */
export function startOfZonedDay(day: string, timeZone: string, endOfDay = false): string | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!match) return undefined;
  const asUtc = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]) + (endOfDay ? 1 : 0));
  const zone = isValidTimeZone(timeZone) ? timeZone : 'UTC';
  // Two passes settle days on which the offset itself changes (daylight-saving switches).
  let instant = asUtc - zoneOffset(asUtc, zone);
  instant = asUtc - zoneOffset(instant, zone);
  return new Date(instant).toISOString();
}

/** "Europe/Moscow · GMT+03:00": the offset helps people who do not know every zone name. */
export function describeTimeZone(timeZone: string): string {
  try {
    const offset = new Intl.DateTimeFormat('en', { timeZone, timeZoneName: 'longOffset' })
      .formatToParts(new Date())
      .find((part) => part.type === 'timeZoneName')?.value;
    return offset ? `${timeZone} · ${offset}` : timeZone;
  } catch {
    return timeZone;
  }
}

const RELATIVE_STEPS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['second', 60],
  ['minute', 60],
  ['hour', 24],
  ['day', 7],
  ['week', 4.345],
  ['month', 12],
  ['year', Number.POSITIVE_INFINITY],
];

/** "5 minutes ago", "yesterday", "3 months ago": how long ago an instant was, in the console's language. */
export function formatRelative(iso: string | null | undefined, language: string, now = Date.now()): string {
  if (!iso) return '';
  const time = new Date(iso).getTime();
  if (Number.isNaN(time)) return iso;
  let amount = (time - now) / 1000;
  const formatter = new Intl.RelativeTimeFormat(language, { numeric: 'auto' });
  // A clock a few seconds ahead of the server must not say "in 3 seconds".
  if (Math.abs(amount) < 45) return formatter.format(0, 'second');
  for (const [unit, size] of RELATIVE_STEPS) {
    if (Math.abs(amount) < size) return formatter.format(Math.round(amount), unit);
    amount /= size;
  }
  return formatter.format(Math.round(amount), 'year');
}

/** The calendar day of an instant in a time zone, long form: "Monday, 3 March 2025". */
export function formatDay(iso: string, language: string, timeZone: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const options: Intl.DateTimeFormatOptions = { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' };
  try {
    return new Intl.DateTimeFormat(language, { ...options, timeZone }).format(date);
  } catch {
    return new Intl.DateTimeFormat(language, options).format(date);
  }
}

/** Only the time of day of an instant in a time zone: "14:05". */
export function formatTime(iso: string, language: string, timeZone: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  try {
    return new Intl.DateTimeFormat(language, { timeStyle: 'short', timeZone }).format(date);
  } catch {
    return new Intl.DateTimeFormat(language, { timeStyle: 'short' }).format(date);
  }
}

const BYTE_UNITS = ['byte', 'kilobyte', 'megabyte', 'gigabyte'] as const;

/** "12.3 MB", "12,3 МБ": a file size in the console's language. */
export function formatBytes(bytes: number, language: string): string {
  let value = Math.max(0, bytes);
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  // Intl's "byte" reads "142 byte" in English; the symbol is what people expect.
  if (unit === 0) return `${new Intl.NumberFormat(language).format(value)} ${language.startsWith('ru') ? 'Б' : 'B'}`;
  return new Intl.NumberFormat(language, {
    style: 'unit',
    unit: BYTE_UNITS[unit],
    unitDisplay: 'short',
    maximumFractionDigits: unit === 0 || value >= 100 ? 0 : 1,
  }).format(value);
}

/** An import's counters in the console's language ("6,000" / "6 000"), for its "rows: imported, rejected" line. */
export function importCounts(item: { rows: number; accepted: number; rejected: number }, language: string) {
  const number = new Intl.NumberFormat(language);
  return {
    rows: number.format(item.rows),
    accepted: number.format(item.accepted),
    rejected: number.format(item.rejected),
  };
}

/**
 * The instant at which the wall clock in `timeZone` reads `local` (YYYY-MM-DDTHH:mm), as an ISO timestamp: earn
 * rules' dates are typed in the programme's zone and sent as instants.
 */
export function instantOfZonedLocal(local: string, timeZone: string): string | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(local);
  if (!match) return undefined;
  const [, y, mo, d, h, mi] = match.map(Number) as number[];
  const asUtc = Date.UTC(y as number, (mo as number) - 1, d, h, mi);
  const zone = isValidTimeZone(timeZone) ? timeZone : 'UTC';
  let instant = asUtc - zoneOffset(asUtc, zone);
  instant = asUtc - zoneOffset(instant, zone);
  return new Date(instant).toISOString();
}

/** The wall-clock reading (YYYY-MM-DDTHH:mm) of an instant in `timeZone`, for a datetime-local input. */
export function zonedLocalOfInstant(iso: string, timeZone: string): string {
  const instant = Date.parse(iso);
  if (Number.isNaN(instant)) return '';
  const zone = isValidTimeZone(timeZone) ? timeZone : 'UTC';
  return new Date(instant + zoneOffset(instant, zone)).toISOString().slice(0, 16);
}
