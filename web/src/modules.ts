import {
  type Icon,
  IconActivity,
  IconAward,
  IconBuildingStore,
  IconChartBar,
  IconChartPie,
  IconDiscount,
  IconForms,
  IconHeadset,
  IconHistory,
  IconHome,
  IconKey,
  IconMessages,
  IconShieldCheck,
  IconSitemap,
  IconSpeakerphone,
  IconTicket,
  IconUserCog,
  IconUsers,
} from '@tabler/icons-react';
import type { Permission } from '../../src/modules/org/org.schemas.ts';

/**
 * Product modules in navigation order. Those without a screen yet lead to their "coming soon" page; those with a
 * `permission` are left out of the menu for roles that lack it.
 */
export const PRODUCT_MODULES = [
  { id: 'overview', path: '/', icon: IconHome, built: true },
  { id: 'customers', path: '/customers', icon: IconUsers, built: true, permission: 'profiles:read' },
  { id: 'events', path: '/events', icon: IconActivity, built: false },
  { id: 'consent', path: '/consent', icon: IconShieldCheck, built: true, permission: 'profiles:read' },
  { id: 'promoCodes', path: '/promo-codes', icon: IconTicket, built: true, permission: 'codes:read' },
  { id: 'loyalty', path: '/loyalty', icon: IconAward, built: true, permission: 'loyalty:read' },
  { id: 'forms', path: '/forms', icon: IconForms, built: true, permission: 'forms:read' },
  { id: 'segments', path: '/segments', icon: IconChartPie, built: false },
  { id: 'campaigns', path: '/campaigns', icon: IconSpeakerphone, built: false },
  { id: 'messages', path: '/messages', icon: IconMessages, built: false },
  { id: 'offers', path: '/offers', icon: IconDiscount, built: false },
  { id: 'analytics', path: '/analytics', icon: IconChartBar, built: false },
  { id: 'service', path: '/service', icon: IconHeadset, built: false },
] as const satisfies readonly { id: string; path: string; icon: Icon; built: boolean; permission?: Permission }[];

export type ProductModuleId = (typeof PRODUCT_MODULES)[number]['id'];
type ProductModule = (typeof PRODUCT_MODULES)[number];
export type UpcomingModule = Extract<ProductModule, { built: false }>;
export type UpcomingModuleId = UpcomingModule['id'];

export function isUpcoming(module: ProductModule): module is UpcomingModule {
  return !module.built;
}

export const SETTINGS_SCREENS = [
  { id: 'workspace', path: '/settings/workspace', icon: IconBuildingStore, permission: 'workspace:read' },
  { id: 'users', path: '/settings/users', icon: IconUserCog, permission: 'users:read' },
  { id: 'branches', path: '/settings/branches', icon: IconSitemap, permission: 'branches:read' },
  { id: 'apiKeys', path: '/settings/api-keys', icon: IconKey, permission: 'keys:manage' },
  { id: 'consentSettings', path: '/settings/consent', icon: IconShieldCheck, permission: 'workspace:manage' },
  { id: 'audit', path: '/settings/audit', icon: IconHistory, permission: 'audit:read' },
] as const satisfies readonly { id: string; path: string; icon: Icon; permission: Permission }[];
