import { type Identifier, normalizeIdentifier } from '../profiles/index.ts';
import type { AnswerValue, FieldError, FormDefinition, FormField, SourceParam } from './forms.schemas.ts';

/**
 * Checking what a person sent against a form's definition (pure): each field's value cleaned and typed, or an
 * error with a stable code per field; the person's identifiers, the traits to set, the consent boxes ticked.
 */

export const FIELD_CODES = {
  REQUIRED: 'REQUIRED',
  INVALID_EMAIL: 'INVALID_EMAIL',
  INVALID_PHONE: 'INVALID_PHONE',
  INVALID_DATE: 'INVALID_DATE',
  INVALID_NUMBER: 'INVALID_NUMBER',
  NOT_AN_OPTION: 'NOT_AN_OPTION',
  OUT_OF_RANGE: 'OUT_OF_RANGE',
  TOO_SHORT: 'TOO_SHORT',
  TOO_LONG: 'TOO_LONG',
  INVALID_VALUE: 'INVALID_VALUE',
  UNKNOWN_FIELD: 'UNKNOWN_FIELD',
  CONSENT_REQUIRED: 'CONSENT_REQUIRED',
} as const;
export type FieldCode = (typeof FIELD_CODES)[keyof typeof FIELD_CODES];

export interface CheckedSubmission {
  /** Cleaned answers by field key (fields left empty are absent). */
  answers: Record<string, AnswerValue>;
  identifiers: Identifier[];
  traits: Record<string, AnswerValue>;
  /** Consent boxes by key: true when ticked. */
  consents: Record<string, boolean>;
  errors: FieldError[];
}

const MESSAGES: Record<FieldCode, string> = {
  REQUIRED: 'This field is required.',
  INVALID_EMAIL: 'Enter a valid e-mail address.',
  INVALID_PHONE: 'Enter a valid phone number with the country code.',
  INVALID_DATE: 'Enter a date as YYYY-MM-DD.',
  INVALID_NUMBER: 'Enter a number.',
  NOT_AN_OPTION: 'Choose one of the options.',
  OUT_OF_RANGE: 'The value is out of the allowed range.',
  TOO_SHORT: 'The answer is too short.',
  TOO_LONG: 'The answer is too long.',
  INVALID_VALUE: 'The value has the wrong type.',
  UNKNOWN_FIELD: 'The form has no such field.',
  CONSENT_REQUIRED: 'Tick this box to continue.',
};

const isEmpty = (v: unknown) =>
  v === undefined || v === null || v === '' || v === false || (Array.isArray(v) && v.length === 0);

function checkField(f: FormField, raw: unknown): { value?: AnswerValue; code?: FieldCode } {
  const v = f.validation ?? {};
  const asText = () => (typeof raw === 'string' ? raw.trim() : typeof raw === 'number' ? String(raw) : null);
  switch (f.type) {
    case 'text':
    case 'textarea':
    case 'hidden': {
      const s = asText();
      if (s === null) return { code: 'INVALID_VALUE' };
      const max = v.maxLength ?? (f.type === 'textarea' ? 5000 : 500);
      if (s.length > max) return { code: 'TOO_LONG' };
      if (v.minLength !== undefined && s.length < v.minLength) return { code: 'TOO_SHORT' };
      return { value: s };
    }
    case 'email': {
      const s = asText();
      const id = s ? normalizeIdentifier('email', s) : null;
      return id ? { value: id.value } : { code: 'INVALID_EMAIL' };
    }
    case 'phone': {
      const s = asText();
      const id = s ? normalizeIdentifier('phone', s) : null;
      return id ? { value: id.value } : { code: 'INVALID_PHONE' };
    }
    case 'date': {
      const s = asText() ?? '';
      const d = /^\d{4}-\d{2}-\d{2}$/.test(s) ? new Date(`${s}T00:00:00Z`) : null;
      if (!d || Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== s) return { code: 'INVALID_DATE' };
      return { value: s };
    }
    case 'number':
    case 'rating': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : Number.NaN;
      if (!Number.isFinite(n)) return { code: 'INVALID_NUMBER' };
      if (f.type === 'rating') {
        if (!Number.isInteger(n) || n < 1 || n > (f.scale ?? 5)) return { code: 'OUT_OF_RANGE' };
      } else if ((v.min !== undefined && n < v.min) || (v.max !== undefined && n > v.max))
        return { code: 'OUT_OF_RANGE' };
      return { value: n };
    }
    case 'select': {
      const s = asText();
      return s !== null && f.options?.some((o) => o.value === s) ? { value: s } : { code: 'NOT_AN_OPTION' };
    }
    case 'multiselect': {
      const list = Array.isArray(raw) ? raw : typeof raw === 'string' ? [raw] : null;
      if (!list || list.some((x) => typeof x !== 'string' || !f.options?.some((o) => o.value === x)))
        return { code: 'NOT_AN_OPTION' };
      return { value: [...new Set(list as string[])] };
    }
    case 'checkbox': {
      if (raw === true || raw === 'true' || raw === '1' || raw === 'on') return { value: true };
      if (raw === false || raw === 'false' || raw === '0' || raw === '') return { value: false };
      return { code: 'INVALID_VALUE' };
    }
  }
}

/** Checks a submission; `errors` lists every problem at once, in the form's order. */
export function checkSubmission(
  definition: FormDefinition,
  rawAnswers: Record<string, unknown>,
  rawConsents: Record<string, unknown>,
): CheckedSubmission {
  const out: CheckedSubmission = { answers: {}, identifiers: [], traits: {}, consents: {}, errors: [] };
  const error = (path: string, code: FieldCode) => out.errors.push({ path, code, message: MESSAGES[code] });
  const known = new Set(definition.fields.map((f) => f.key));
  for (const key of Object.keys(rawAnswers)) if (!known.has(key)) error(key, 'UNKNOWN_FIELD');
  for (const f of definition.fields) {
    const raw = rawAnswers[f.key];
    let value: AnswerValue | undefined;
    if (f.type === 'checkbox') {
      const r = checkField(f, raw === undefined || raw === null ? false : raw);
      if (r.code) {
        error(f.key, r.code);
        continue;
      }
      if (f.required && r.value !== true) {
        error(f.key, 'REQUIRED');
        continue;
      }
      value = r.value;
    } else {
      const r = isEmpty(raw) ? { value: '' } : checkField(f, raw);
      if (r.code) {
        error(f.key, r.code);
        continue;
      }
      if (r.value === '' || r.value === undefined) {
        if (f.required) error(f.key, 'REQUIRED');
        continue;
      }
      value = r.value;
    }
    if (value === undefined) continue;
    out.answers[f.key] = value;
    if (f.maps.to === 'trait') out.traits[f.maps.trait] = value;
    if (f.maps.to === 'identity') {
      const id = normalizeIdentifier(f.maps.identity, String(value));
      if (id) out.identifiers.push(id);
      else
        error(
          f.key,
          f.maps.identity === 'phone'
            ? 'INVALID_PHONE'
            : f.maps.identity === 'email'
              ? 'INVALID_EMAIL'
              : 'INVALID_VALUE',
        );
    }
  }
  for (const c of definition.consents) {
    const raw = rawConsents[c.key];
    const ticked = raw === true || raw === '1' || raw === 'on' || raw === 'true';
    if (c.required && !ticked) error(c.key, 'CONSENT_REQUIRED');
    out.consents[c.key] = ticked;
  }
  return out;
}

/** The UTM tags and placement keyword the form keeps, from a page URL's query or a body's `source`. */
export function sourceOf(definition: FormDefinition, params: Record<string, unknown> | undefined) {
  const source: Partial<Record<SourceParam, string>> = {};
  if (!params) return source;
  for (const p of definition.capture) {
    const v = params[p];
    if (typeof v === 'string' && v.trim() !== '') source[p] = v.trim().slice(0, 200);
  }
  return source;
}

/** Segment's `context.campaign`: the placement keyword is the content, as response codes per medium expect. */
export function campaignOf(source: Partial<Record<SourceParam, string>>) {
  const campaign: Record<string, string> = {};
  if (source.utm_source) campaign.source = source.utm_source;
  if (source.utm_medium) campaign.medium = source.utm_medium;
  if (source.utm_campaign) campaign.name = source.utm_campaign;
  if (source.utm_term) campaign.term = source.utm_term;
  const content = source.m ?? source.utm_content;
  if (content) campaign.content = content;
  return campaign;
}

export function fieldMessage(code: string) {
  return MESSAGES[code as FieldCode] ?? 'The value is not valid.';
}
