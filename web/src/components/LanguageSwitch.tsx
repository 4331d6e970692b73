import { SegmentedControl } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { changeLanguage, type Language } from '../i18n/index.ts';

export function LanguageSwitch({ size = 'xs' }: { size?: 'xs' | 'sm' }) {
  const { t, i18n } = useTranslation();
  return (
    <SegmentedControl
      size={size}
      radius="md"
      value={i18n.resolvedLanguage === 'ru' ? 'ru' : 'en'}
      onChange={(value) => changeLanguage(value as Language)}
      aria-label={t('language.label')}
      data-testid="language-switch"
      data={[
        {
          value: 'en',
          label: (
            <span data-testid="language-en" title={t('language.english')}>
              EN
            </span>
          ),
        },
        {
          value: 'ru',
          label: (
            <span data-testid="language-ru" title={t('language.russian')}>
              RU
            </span>
          ),
        },
      ]}
    />
  );
}
