import { Anchor, Badge, Button, Group, Paper, Stack, Table, Text, ThemeIcon, Title } from '@mantine/core';
import { IconForms, IconPlus } from '@tabler/icons-react';
import { Link, useNavigate } from 'react-router';
import type { FormStatus } from '../../../../src/modules/forms/forms.schemas.ts';
import { useForms } from '../../api/forms.ts';
import { LoadingBlock } from '../../components/ListStates.tsx';
import { PageHeader } from '../../components/PageHeader.tsx';
import { ProblemAlert } from '../../components/ProblemAlert.tsx';
import { RequirePermission, useCan } from '../../components/RequirePermission.tsx';
import { useIsPhone } from '../../lib/useIsPhone.ts';
import { useFormsText } from './useFormsText.ts';

export const STATUS_COLOR: Record<FormStatus, string> = { draft: 'gray', live: 'green', closed: 'orange' };

export function FormsPage() {
  const { t } = useFormsText();
  const canManage = useCan('forms:manage');
  return (
    <>
      <PageHeader
        title={t('nav')}
        description={t('description')}
        actions={
          canManage && (
            <>
              <Button
                component={Link}
                to="/forms/new?kind=survey"
                variant="default"
                leftSection={<IconPlus size={16} />}
                data-testid="survey-create"
              >
                {t('newSurvey')}
              </Button>
              <Button component={Link} to="/forms/new" leftSection={<IconPlus size={16} />} data-testid="form-create">
                {t('newForm')}
              </Button>
            </>
          )
        }
      />
      <RequirePermission permission="forms:read">
        <FormList />
      </RequirePermission>
    </>
  );
}

function FormList() {
  const { t } = useFormsText();
  const forms = useForms();
  const phone = useIsPhone();
  const navigate = useNavigate();
  if (forms.isPending) return <LoadingBlock />;
  if (forms.isError) return <ProblemAlert error={forms.error} />;
  if (forms.data.items.length === 0) return <NoForms />;
  return (
    <Paper withBorder radius="md">
      <Table.ScrollContainer minWidth={phone ? 0 : 640}>
        <Table highlightOnHover data-testid="form-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t('columns.name')}</Table.Th>
              {!phone && <Table.Th>{t('columns.kind')}</Table.Th>}
              <Table.Th>{t('columns.status')}</Table.Th>
              {!phone && <Table.Th>{t('columns.version')}</Table.Th>}
              <Table.Th ta="right">{t('columns.submissions')}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {forms.data.items.map((form) => (
              <Table.Tr
                key={form.id}
                data-testid="form-row"
                data-key={form.key}
                style={{ cursor: 'pointer' }}
                onClick={(event) => {
                  if ((event.target as HTMLElement).closest('a')) return;
                  void navigate(`/forms/${form.id}`);
                }}
              >
                <Table.Td>
                  <Stack gap={0}>
                    <Anchor component={Link} to={`/forms/${form.id}`} size="sm" fw={600}>
                      {form.name}
                    </Anchor>
                    <Text size="xs" c="dimmed" ff="monospace">
                      {form.key}
                    </Text>
                  </Stack>
                </Table.Td>
                {!phone && <Table.Td>{t(`kind.${form.kind}`)}</Table.Td>}
                <Table.Td>
                  <Badge variant="light" color={STATUS_COLOR[form.status]}>
                    {t(`status.${form.status}`)}
                  </Badge>
                </Table.Td>
                {!phone && <Table.Td>{form.version}</Table.Td>}
                <Table.Td ta="right">{form.submissions}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
    </Paper>
  );
}

function NoForms() {
  const { t } = useFormsText();
  const canManage = useCan('forms:manage');
  return (
    <Paper withBorder radius="md" p={{ base: 'md', sm: 'xl' }} data-testid="forms-empty">
      <Stack gap="sm" maw={640}>
        <Group gap="sm" wrap="nowrap">
          <ThemeIcon size={40} radius="xl" variant="light">
            <IconForms size={22} stroke={1.6} />
          </ThemeIcon>
          <Title order={4}>{t('empty.title')}</Title>
        </Group>
        <Text size="sm">{t('empty.text')}</Text>
        {!canManage && (
          <Text size="sm" c="dimmed">
            {t('empty.readOnly')}
          </Text>
        )}
      </Stack>
    </Paper>
  );
}
