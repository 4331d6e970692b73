import { Navigate, Route, Routes } from 'react-router';
import { isUpcoming, PRODUCT_MODULES } from '../modules.ts';
import { ComingSoonPage } from '../pages/ComingSoonPage.tsx';
import { FraudPage } from '../pages/codes/FraudPage.tsx';
import { PromotionFormPage } from '../pages/codes/PromotionFormPage.tsx';
import { PromotionPage } from '../pages/codes/PromotionPage.tsx';
import { PromotionsPage } from '../pages/codes/PromotionsPage.tsx';
import { ConsentOverviewPage } from '../pages/consent/ConsentOverviewPage.tsx';
import { CustomersPage } from '../pages/customers/CustomersPage.tsx';
import { ImportPage } from '../pages/customers/ImportPage.tsx';
import { ProfilePage } from '../pages/customers/ProfilePage.tsx';
import { FormsRoutes } from '../pages/forms/FormsRoutes.tsx';
import { LoyaltyLayout } from '../pages/loyalty/LoyaltyLayout.tsx';
import { MemberPage } from '../pages/loyalty/MemberPage.tsx';
import { ProgrammeSettingsPage } from '../pages/loyalty/ProgrammeSettingsPage.tsx';
import { RuleEditorPage } from '../pages/loyalty/RuleEditorPage.tsx';
import { RulesPage } from '../pages/loyalty/RulesPage.tsx';
import { TillPage } from '../pages/loyalty/TillPage.tsx';
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
        <Route path="/promo-codes" element={<PromotionsPage />} />
        <Route path="/promo-codes/new" element={<PromotionFormPage />} />
        <Route path="/promo-codes/attempts" element={<FraudPage />} />
        <Route path="/promo-codes/:id" element={<PromotionPage />} />
        <Route path="/promo-codes/:id/edit" element={<PromotionFormPage />} />
        <Route path="/forms/*" element={<FormsRoutes />} />
        <Route path="/loyalty" element={<LoyaltyLayout />}>
          <Route index element={<TillPage />} />
          <Route path="rules" element={<RulesPage />} />
          <Route path="rules/new" element={<RuleEditorPage />} />
          <Route path="rules/:ruleId" element={<RuleEditorPage />} />
          <Route path="settings" element={<ProgrammeSettingsPage />} />
          <Route path="members/:profileId" element={<MemberPage />} />
        </Route>
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
