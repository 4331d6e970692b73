import { Navigate, Route, Routes } from 'react-router';
import { isUpcoming, PRODUCT_MODULES } from '../modules.ts';
import { ComingSoonPage } from '../pages/ComingSoonPage.tsx';
import { ConsentOverviewPage } from '../pages/consent/ConsentOverviewPage.tsx';
import { CustomersPage } from '../pages/customers/CustomersPage.tsx';
import { ImportPage } from '../pages/customers/ImportPage.tsx';
import { ProfilePage } from '../pages/customers/ProfilePage.tsx';
import { NotFoundPage } from '../pages/NotFoundPage.tsx';
import { OverviewPage } from '../pages/OverviewPage.tsx';
import { ApiKeysPage } from '../pages/settings/ApiKeysPage.tsx';
import { AuditLogPage } from '../pages/settings/AuditLogPage.tsx';
import { BranchesPage } from '../pages/settings/BranchesPage.tsx';
import { ConsentSettingsPage } from '../pages/settings/ConsentSettingsPage.tsx';
import { UsersPage } from '../pages/settings/UsersPage.tsx';
import { WorkspaceSettingsPage } from '../pages/settings/WorkspaceSettingsPage.tsx';
import { AppLayout } from './AppLayout.tsx';

export function ConsoleRoutes() {
  return (
    <Routes>
      <Route element={<AppLayout />}>
        <Route index element={<OverviewPage />} />
        <Route path="/customers" element={<CustomersPage />} />
        <Route path="/customers/import" element={<ImportPage />} />
        <Route path="/customers/:id" element={<ProfilePage />} />
        <Route path="/consent" element={<ConsentOverviewPage />} />
        {PRODUCT_MODULES.filter(isUpcoming).map((module) => (
          <Route key={module.id} path={module.path} element={<ComingSoonPage moduleId={module.id} />} />
        ))}
        <Route path="/settings" element={<Navigate to="/settings/workspace" replace />} />
        <Route path="/settings/workspace" element={<WorkspaceSettingsPage />} />
        <Route path="/settings/users" element={<UsersPage />} />
        <Route path="/settings/branches" element={<BranchesPage />} />
        <Route path="/settings/api-keys" element={<ApiKeysPage />} />
        <Route path="/settings/consent" element={<ConsentSettingsPage />} />
        <Route path="/settings/audit" element={<AuditLogPage />} />
        <Route path="*" element={<NotFoundPage />} />
      </Route>
    </Routes>
  );
}
