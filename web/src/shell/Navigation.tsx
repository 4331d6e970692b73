import { Badge, Box, Divider, NavLink, ScrollArea, Text } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { Link, useLocation } from 'react-router';
import { useMe } from '../api/org.ts';
import { PRODUCT_MODULES, SETTINGS_SCREENS } from '../modules.ts';
import { WorkspaceSwitcher } from './WorkspaceSwitcher.tsx';

function isActive(pathname: string, path: string) {
  return path === '/' ? pathname === '/' : pathname === path || pathname.startsWith(`${path}/`);
}

/** `onNavigate` lets the phone layout fold the navbar away once a destination is picked. */
export function Navigation({
  onNavigate,
  withWorkspaceSwitcher,
}: {
  onNavigate: () => void;
  withWorkspaceSwitcher: boolean;
}) {
  const { t } = useTranslation();
  const { pathname } = useLocation();
  const me = useMe();
  const permissions = me.data?.permissions;
  // Until Me arrives every screen is listed; afterwards those the role cannot open are left out.
  const visibleSettings = SETTINGS_SCREENS.filter((screen) => !permissions || permissions.includes(screen.permission));
  const visibleModules = PRODUCT_MODULES.filter(
    (module) => !permissions || !('permission' in module) || permissions.includes(module.permission),
  );

  return (
    <>
      {withWorkspaceSwitcher && (
        <Box p="md" pb={0}>
          <WorkspaceSwitcher fullWidth />
        </Box>
      )}
      <ScrollArea style={{ flex: 1 }} p="sm" type="scroll">
        <nav aria-label={t('shell.navigation')}>
          {visibleModules.map((module) => (
            <NavLink
              key={module.id}
              component={Link}
              to={module.path}
              onClick={onNavigate}
              label={t(`nav.${module.id}`)}
              leftSection={<module.icon size={18} stroke={1.6} />}
              rightSection={
                module.built ? null : (
                  <Badge size="xs" variant="transparent" color="gray" tt="none" fw={500} px={0}>
                    {t('comingSoon.short')}
                  </Badge>
                )
              }
              active={isActive(pathname, module.path)}
              data-testid={`nav-${module.id}`}
              py={6}
              style={{ borderRadius: 'var(--mantine-radius-md)' }}
            />
          ))}
          <Divider my={8} />
          <Text size="xs" fw={600} c="dimmed" tt="uppercase" px="sm" pb={2}>
            {t('nav.settings')}
          </Text>
          {visibleSettings.map((screen) => (
            <NavLink
              key={screen.id}
              component={Link}
              to={screen.path}
              onClick={onNavigate}
              label={t(`nav.${screen.id}`)}
              leftSection={<screen.icon size={18} stroke={1.6} />}
              active={isActive(pathname, screen.path)}
              data-testid={`nav-${screen.id}`}
              py={6}
              style={{ borderRadius: 'var(--mantine-radius-md)' }}
            />
          ))}
        </nav>
      </ScrollArea>
    </>
  );
}
