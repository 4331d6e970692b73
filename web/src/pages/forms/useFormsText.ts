import { useTranslation } from 'react-i18next';
import type { enForms } from '../../i18n/en.forms.ts';

type Leaves<T, P extends string = ''> = {
  [K in keyof T & string]: T[K] extends string ? `${P}${K}` : Leaves<T[K], `${P}${K}.`>;
}[keyof T & string];

/** A key of the `forms` namespace (en.forms.ts), checked by the compiler like the console's main dictionary. */
export type FormsKey = Leaves<typeof enForms>;
export type FormsT = (key: FormsKey, values?: Record<string, string | number>) => string;

/** The forms screens' strings (namespace `forms`) and the console's language, re-rendered when it changes. */
export function useFormsText(): { t: FormsT; lang: 'en' | 'ru' } {
  const { i18n } = useTranslation();
  const fixed = i18n.getFixedT as unknown as (lng: null, ns: string) => (key: string, values?: object) => string;
  const translate = fixed(null, 'forms');
  return { t: (key, values) => translate(key, values), lang: i18n.resolvedLanguage === 'ru' ? 'ru' : 'en' };
}
