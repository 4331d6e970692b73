import {
  Button,
  Group,
  Paper,
  ScrollArea,
  Select,
  SimpleGrid,
  Stack,
  Tabs,
  Text,
  TextInput,
  ThemeIcon,
  Title,
} from '@mantine/core';
import {
  IconAward,
  IconChecklist,
  IconCreditCard,
  IconGift,
  IconListDetails,
  IconSettings,
  IconUsersGroup,
  IconUsersPlus,
} from '@tabler/icons-react';
import { type FormEvent, type ReactNode, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Outlet, useLocation, useNavigate, useOutletContext, useSearchParams } from 'react-router';
import { DEFAULT_SETTINGS, type Programme, ProgrammeKey } from '../../../../src/modules/loyalty/loyalty.schemas.ts';
import { useCreateProgramme, useProgrammes } from '../../api/loyalty.ts';
import { useMe } from '../../api/org.ts';
import { CurrencyInput, TimeZoneInput } from '../../components/ChoiceInputs.tsx';
import { LoadingBlock } from '../../components/ListStates.tsx';
import { PageHeader } from '../../components/PageHeader.tsx';
import { fieldErrorsOf, notifySuccess, ProblemAlert } from '../../components/ProblemAlert.tsx';
import { RequirePermission, useCan } from '../../components/RequirePermission.tsx';
import { suggestKey } from '../../lib/codes.ts';
import { isValidTimeZone } from '../../lib/format.ts';
import { useIsPhone } from '../../lib/useIsPhone.ts';
import { useCurrentWorkspaceId } from '../../session/SessionContext.tsx';
import { ApprovalsPage } from './ApprovalsPage.tsx';
import { CataloguePage } from './CataloguePage.tsx';
import { ClubsPage } from './ClubsPage.tsx';
import { ReferralsPage } from './ReferralsPage.tsx';

export interface LoyaltyContext {
  programme: Programme;
}

/** The programme the loyalty screens work on (chosen in the layout's header). */
export function useProgramme(): Programme {
  return useOutletContext<LoyaltyContext>().programme;
}

const storageKey = (workspaceId: string) => `rapport.loyalty.programme.${workspaceId}`;

function rememberedProgramme(workspaceId: string): string | null {
  try {
    return localStorage.getItem(storageKey(workspaceId));
  } catch {
    return null;
  }
}

const TABS = [
  { value: 'till', path: '/loyalty', icon: IconCreditCard },
  { value: 'rules', path: '/loyalty/rules', icon: IconListDetails },
  { value: 'settings', path: '/loyalty/settings', icon: IconSettings },
  // Referrals and approvals are views of the layout (?view=…) until the console's routes list them.
  { value: 'referrals', path: '/loyalty?view=referrals', icon: IconUsersPlus },
  { value: 'approvals', path: '/loyalty?view=approvals', icon: IconChecklist },
  { value: 'catalogue', path: '/loyalty?view=catalogue', icon: IconGift },
  { value: 'clubs', path: '/loyalty?view=clubs', icon: IconUsersGroup },
] as const;

/** The screen a ?view= names, shown in place of the routed one. */
function LayoutView({ programme, children }: { programme: Programme; children: ReactNode }) {
  const [params] = useSearchParams();
  const { pathname } = useLocation();
  const view = pathname.replace(/\/+$/, '') === '/loyalty' ? params.get('view') : null;
  if (view === 'referrals') return <ReferralsPage programme={programme} />;
  if (view === 'approvals') return <ApprovalsPage programme={programme} />;
  if (view === 'catalogue') return <CataloguePage programme={programme} />;
  if (view === 'clubs') return <ClubsPage programme={programme} />;
  return <>{children}</>;
}

/** /loyalty/*: picks the programme (most workspaces have one), shows the module's tabs and the screen below them. */
export function LoyaltyLayout() {
  const { t } = useTranslation();
  return (
    <RequirePermission permission="loyalty:read">
      <ProgrammeGate>
        {(programmes, programme, choose) => (
          <>
            <PageHeader
              title={t('nav.loyalty')}
              description={t('loyalty.description')}
              actions={
                programmes.length > 1 ? (
                  <Select
                    aria-label={t('loyalty.programme')}
                    data={programmes.map((p) => ({ value: p.key, label: p.name }))}
                    value={programme.key}
                    onChange={(key) => key && choose(key)}
                    allowDeselect={false}
                    comboboxProps={{ withinPortal: true }}
                    w={240}
                    data-testid="loyalty-programme"
                  />
                ) : (
                  <Text size="sm" c="dimmed" data-testid="loyalty-programme-name">
                    {programme.name}
                  </Text>
                )
              }
            />
            <LoyaltyTabs />
            <LayoutView programme={programme}>
              <Outlet context={{ programme } satisfies LoyaltyContext} />
            </LayoutView>
          </>
        )}
      </ProgrammeGate>
    </RequirePermission>
  );
}

function LoyaltyTabs() {
  const { t } = useTranslation();
  const { pathname } = useLocation();
  const navigate = useNavigate();
  const canRead = useCan('loyalty:read');
  const canManage = useCan('loyalty:manage');
  const [params] = useSearchParams();
  const phone = useIsPhone();
  const section = pathname.split('/')[2] || params.get('view') || 'till';
  const active = TABS.some((tab) => tab.value === section) ? section : null;
  const tabs = TABS.filter((tab) => tab.value !== 'approvals' || canManage);
  if (!canRead) return null;
  return (
    <Tabs
      value={active}
      onChange={(value) => {
        const tab = TABS.find((candidate) => candidate.value === value);
        if (tab) void navigate(tab.path);
      }}
      mb="lg"
    >
      {/* On a phone the tabs scroll sideways rather than wrap onto a second row. */}
      <ScrollArea type="never" offsetScrollbars={false}>
        <Tabs.List style={{ flexWrap: 'nowrap' }}>
          {tabs.map((tab) => (
            <Tabs.Tab
              key={tab.value}
              value={tab.value}
              leftSection={<tab.icon size={16} />}
              data-testid={`loyalty-tab-${tab.value}`}
            >
              {phone ? t(`loyalty.tabsShort.${tab.value}`) : t(`loyalty.tabs.${tab.value}`)}
            </Tabs.Tab>
          ))}
        </Tabs.List>
      </ScrollArea>
    </Tabs>
  );
}

function ProgrammeGate({
  children,
}: {
  children: (programmes: Programme[], programme: Programme, choose: (key: string) => void) => ReactNode;
}) {
  const { t } = useTranslation();
  const workspaceId = useCurrentWorkspaceId();
  const programmes = useProgrammes();
  const [params, setParams] = useSearchParams();
  const [chosen, setChosen] = useState<string | null>(() => rememberedProgramme(workspaceId));
  if (programmes.isPending) return <LoadingBlock />;
  if (programmes.isError) return <ProblemAlert error={programmes.error} />;
  const items = programmes.data.items;
  if (items.length === 0)
    return (
      <>
        <PageHeader title={t('nav.loyalty')} description={t('loyalty.description')} />
        <NoProgramme />
      </>
    );
  // A link may name the programme (?programme=club); otherwise the last one used here, otherwise the first.
  const wanted = params.get('programme') ?? chosen;
  const programme = items.find((p) => p.key === wanted) ?? (items[0] as Programme);
  const choose = (key: string) => {
    setChosen(key);
    try {
      localStorage.setItem(storageKey(workspaceId), key);
    } catch {
      // Without storage the choice lasts for this page only.
    }
    if (params.has('programme'))
      setParams(
        (current) => {
          const next = new URLSearchParams(current);
          next.delete('programme');
          return next;
        },
        { replace: true },
      );
  };
  return <>{children(items, programme, choose)}</>;
}

function NoProgramme() {
  const { t } = useTranslation();
  const canManage = useCan('loyalty:manage');
  return (
    <Paper withBorder radius="md" p={{ base: 'md', sm: 'xl' }} data-testid="loyalty-empty">
      <Stack gap="sm" maw={720}>
        <Group gap="sm" wrap="nowrap">
          <ThemeIcon size={40} radius="xl" variant="light">
            <IconAward size={22} stroke={1.6} />
          </ThemeIcon>
          <Title order={4}>{t('loyalty.emptyTitle')}</Title>
        </Group>
        <Text size="sm">{t('loyalty.emptyText')}</Text>
        {canManage ? (
          <CreateProgrammeForm />
        ) : (
          <Text size="sm" c="dimmed">
            {t('loyalty.emptyReadOnly')}
          </Text>
        )}
      </Stack>
    </Paper>
  );
}

function CreateProgrammeForm() {
  const { t } = useTranslation();
  const me = useMe();
  const create = useCreateProgramme();
  const [name, setName] = useState('');
  const [key, setKey] = useState('');
  const [keyTouched, setKeyTouched] = useState(false);
  const [currency, setCurrency] = useState(me.data?.workspace.currency ?? 'EUR');
  const [timeZone, setTimeZone] = useState(me.data?.workspace.timeZone ?? 'UTC');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const serverErrors = fieldErrorsOf(create.error);

  function submit(event: FormEvent) {
    event.preventDefault();
    const found: Record<string, string> = {};
    if (!name.trim()) found.name = t('validation.required');
    if (!ProgrammeKey.safeParse(key).success) found.key = t('loyalty.create.keyInvalid');
    if (!/^[A-Z]{3}$/.test(currency)) found.currency = t('validation.currency');
    if (!isValidTimeZone(timeZone)) found.timeZone = t('validation.timeZone');
    setErrors(found);
    if (Object.keys(found).length > 0) return;
    create.mutate(
      {
        key,
        name: name.trim(),
        currency,
        timeZone,
        // The default wallet is named in the language of whoever creates the programme.
        settings: {
          ...DEFAULT_SETTINGS,
          wallets: DEFAULT_SETTINGS.wallets.map((w) => ({ ...w, name: t('loyalty.create.defaultWallet') })),
        },
      },
      { onSuccess: () => notifySuccess(t('loyalty.create.created')) },
    );
  }

  return (
    <form onSubmit={submit} noValidate data-testid="programme-create">
      <Stack gap="sm" mt="sm">
        <Title order={5}>{t('loyalty.create.title')}</Title>
        {create.error ? <ProblemAlert error={create.error} /> : null}
        <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm">
          <TextInput
            label={t('loyalty.create.name')}
            placeholder={t('loyalty.create.namePlaceholder')}
            value={name}
            onChange={(event) => {
              const next = event.currentTarget.value;
              setName(next);
              if (!keyTouched) setKey(suggestKey(next).slice(0, 40));
            }}
            error={errors.name ?? serverErrors.name}
            data-testid="programme-name"
          />
          <TextInput
            label={t('loyalty.create.key')}
            description={t('loyalty.create.keyHint')}
            inputWrapperOrder={['label', 'input', 'description', 'error']}
            value={key}
            onChange={(event) => {
              setKey(event.currentTarget.value.toLowerCase());
              setKeyTouched(true);
            }}
            error={errors.key ?? serverErrors.key}
            styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
            data-testid="programme-key"
          />
          <CurrencyInput
            label={t('workspaceForm.currency')}
            value={currency}
            onChange={setCurrency}
            error={errors.currency ?? serverErrors.currency}
          />
          <TimeZoneInput
            label={t('workspaceForm.timeZone')}
            value={timeZone}
            onChange={setTimeZone}
            error={errors.timeZone ?? serverErrors.timeZone}
          />
        </SimpleGrid>
        <Text size="xs" c="dimmed">
          {t('loyalty.create.defaults')}
        </Text>
        <Group>
          <Button type="submit" loading={create.isPending} data-testid="programme-create-submit">
            {t('loyalty.create.submit')}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
