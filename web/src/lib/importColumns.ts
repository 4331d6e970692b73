import type { ImportFormat, ImportKind } from '../../../src/modules/events/events.uploads.schemas.ts';

/** The format the server will assume for a file name (as `formatOf` on the server does). */
export function formatOfFile(name: string): ImportFormat {
  return /\.(nd)?jsonl?$/i.test(name) ? 'ndjson' : 'csv';
}

/** The header row of a CSV file: its first record, with quoted names and a byte-order mark handled. */
export function parseHeader(text: string): string[] {
  const source = text.replace(/^\uFEFF/, '');
  const names: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < source.length; i++) {
    const char = source[i];
    if (quoted) {
      if (char === '"' && source[i + 1] === '"') {
        current += '"';
        i++;
      } else if (char === '"') quoted = false;
      else current += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      names.push(current.trim());
      current = '';
    } else if (char === '\n' || char === '\r') break;
    else current += char;
  }
  names.push(current.trim());
  return names.filter((name, index) => name !== '' || index < names.length - 1);
}

/** Reads the header of a CSV file from its first 64 KB (never the whole file). */
export async function readHeader(file: File): Promise<string[]> {
  return parseHeader(await file.slice(0, 65_536).text());
}

/** Fields the importer understands, offered as suggestions; anything else may be typed (traits.x, properties.x). */
export const SUGGESTED_FIELDS: Record<ImportKind, string[]> = {
  profiles: ['email', 'phone', 'card', 'userId', 'name', 'firstName', 'lastName', 'city', 'birthday', 'timestamp'],
  events: [
    'userId',
    'email',
    'phone',
    'card',
    'anonymousId',
    'event',
    'type',
    'timestamp',
    'messageId',
    'channel',
    'properties.total',
    'properties.currency',
  ],
};

// Common English and Russian column names of customer files, by their letters only.
const GUESSES: Record<string, string> = {
  email: 'email',
  mail: 'email',
  emailaddress: 'email',
  почта: 'email',
  эпочта: 'email',
  электроннаяпочта: 'email',
  phone: 'phone',
  mobile: 'phone',
  tel: 'phone',
  telephone: 'phone',
  phonenumber: 'phone',
  mobilephone: 'phone',
  телефон: 'phone',
  мобильный: 'phone',
  мобильныйтелефон: 'phone',
  номертелефона: 'phone',
  card: 'card',
  cardno: 'card',
  cardnumber: 'card',
  loyaltycard: 'card',
  карта: 'card',
  номеркарты: 'card',
  name: 'name',
  fullname: 'name',
  фио: 'name',
  firstname: 'firstName',
  имя: 'firstName',
  lastname: 'lastName',
  surname: 'lastName',
  фамилия: 'lastName',
  city: 'city',
  город: 'city',
  userid: 'userId',
  customerid: 'userId',
  clientid: 'userId',
  idклиента: 'userId',
  birthday: 'birthday',
  birthdate: 'birthday',
  датарождения: 'birthday',
  event: 'event',
  eventname: 'event',
  событие: 'event',
  timestamp: 'timestamp',
  datetime: 'timestamp',
  time: 'timestamp',
};

/** A field for a column whose name the importer would not read as intended, or '' to keep the name as it is. */
export function guessField(header: string, kind: ImportKind): string {
  const letters = header.toLowerCase().replace(/[^\p{L}\p{N}]/gu, '');
  const guess = GUESSES[letters] ?? '';
  if (guess === 'event' && kind !== 'events') return '';
  return guess === header ? '' : guess;
}

/** Whether a column can be mapped at all: the map syntax (Header=field, …) has no room for commas or '='. */
export function mappable(header: string): boolean {
  return header !== '' && !/[,=]/.test(header);
}
