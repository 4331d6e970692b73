import { createTheme } from '@mantine/core';

export const theme = createTheme({
  primaryColor: 'indigo',
  defaultRadius: 'md',
  fontFamily: 'Inter, "Segoe UI", system-ui, -apple-system, Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif',
  headings: { fontWeight: '650' },
  components: {
    Modal: { defaultProps: { radius: 'md', overlayProps: { backgroundOpacity: 0.45, blur: 2 } } },
    Table: { defaultProps: { verticalSpacing: 'sm' } },
    // Sentence-case badges read better in Russian, and must never be cut to "АКТИВ…" inside a narrow table cell.
    Badge: { defaultProps: { tt: 'none', fw: 600 }, styles: { root: { flexShrink: 0, minWidth: 'max-content' } } },
  },
});
