import { Button } from '@mantine/core';
import { IconDownload } from '@tabler/icons-react';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { Import } from '../../../../src/modules/events/events.uploads.schemas.ts';
import { downloadRejects } from '../../api/imports.ts';
import { notifyProblem } from '../../components/ProblemAlert.tsx';

/** Downloads an import's refused lines (line, code, message) as CSV. */
export function RejectsButton({ item, compact = false }: { item: Import; compact?: boolean }) {
  const { t } = useTranslation();
  const [busy, setBusy] = useState(false);
  const run = async () => {
    setBusy(true);
    try {
      await downloadRejects(item);
    } catch (error) {
      notifyProblem(error, t);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Button
      variant={compact ? 'subtle' : 'light'}
      size={compact ? 'compact-sm' : 'sm'}
      color="orange"
      leftSection={<IconDownload size={compact ? 14 : 16} />}
      loading={busy}
      onClick={() => void run()}
      title={compact ? t('imports.downloadRejects', { count: item.rejected }) : undefined}
      data-testid="import-rejects"
    >
      {compact
        ? t('imports.rejectsShort', { count: item.rejected })
        : t('imports.downloadRejects', { count: item.rejected })}
    </Button>
  );
}
