import { Route, Routes } from 'react-router';
import { NotFoundPage } from '../NotFoundPage.tsx';
import { FormBuilderPage } from './FormBuilderPage.tsx';
import { FormPage } from './FormPage.tsx';
import { FormsPage } from './FormsPage.tsx';

/** Everything under /forms: the list, the builder (new and edit) and a form's page. */
export function FormsRoutes() {
  return (
    <Routes>
      <Route index element={<FormsPage />} />
      <Route path="new" element={<FormBuilderPage />} />
      <Route path=":id" element={<FormPage />} />
      <Route path=":id/edit" element={<FormBuilderPage />} />
      <Route path="*" element={<NotFoundPage />} />
    </Routes>
  );
}
