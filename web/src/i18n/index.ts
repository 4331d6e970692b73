import i18next from 'i18next';
import { initReactI18next } from 'react-i18next';
import { enForms } from './en.forms.ts';
import { en } from './en.ts';
import { ruForms } from './ru.forms.ts';
import { ru } from './ru.ts';

export const LANGUAGES = ['en', 'ru'] as const;
export type Language = (typeof LANGUAGES)[number];

const LANGUAGE_STORAGE_KEY = 'rapport.language';

function storedLanguage(): Language | null {
  try {
    const value = localStorage.getItem(LANGUAGE_STORAGE_KEY);
    return value === 'en' || value === 'ru' ? value : null;
  } catch {
    return null;
  }
}

/** A person's explicit choice wins; otherwise their browser's first preference decides between Russian and English. */
export function initialLanguage(): Language {
  const stored = storedLanguage();
  if (stored) return stored;
  const firstPreference = navigator.languages?.[0] ?? navigator.language ?? 'en';
  return firstPreference.toLowerCase().startsWith('ru') ? 'ru' : 'en';
}

export function changeLanguage(language: Language) {
  try {
    localStorage.setItem(LANGUAGE_STORAGE_KEY, language);
  } catch {
    // Without storage the choice lasts for this page only.
  }
  void i18next.changeLanguage(language);
}

i18next.on('languageChanged', (language) => {
  document.documentElement.lang = language;
});

void i18next.use(initReactI18next).init({
  resources: { en: { translation: en, forms: enForms }, ru: { translation: ru, forms: ruForms } },
  lng: initialLanguage(),
  fallbackLng: 'en',
  supportedLngs: LANGUAGES,
  interpolation: { escapeValue: false },
  returnNull: false,
});

export { i18next };
