import { Autocomplete, type AutocompleteProps } from '@mantine/core';
import { COMMON_CURRENCIES, COMMON_TIME_ZONES } from '../lib/choices.ts';

type InputProps = Omit<AutocompleteProps, 'data' | 'onChange' | 'value'> & {
  value: string;
  onChange: (value: string) => void;
};

/** Suggests common IANA zones but accepts any valid one typed in: brands operate in more zones than a list can hold. */
export function TimeZoneInput({ value, onChange, ...props }: InputProps) {
  const data =
    value && !COMMON_TIME_ZONES.includes(value as never) ? [value, ...COMMON_TIME_ZONES] : [...COMMON_TIME_ZONES];
  return <Autocomplete data={data} value={value} onChange={onChange} limit={60} maxDropdownHeight={260} {...props} />;
}

export function CurrencyInput({ value, onChange, ...props }: InputProps) {
  return (
    <Autocomplete
      data={[...COMMON_CURRENCIES]}
      value={value}
      onChange={(next) => onChange(next.toUpperCase().slice(0, 3))}
      maxLength={3}
      {...props}
    />
  );
}

export function browserTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}
