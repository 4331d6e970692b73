import { useMediaQuery } from '@mantine/hooks';

/** Below Mantine's `sm` breakpoint tables drop secondary columns instead of scrolling sideways. */
export function useIsPhone(): boolean {
  return useMediaQuery('(max-width: 47.99em)', false, { getInitialValueInEffect: false });
}
