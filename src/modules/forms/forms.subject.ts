import type { Clock } from '../../platform/clock.ts';
import type { PersonalDataContributor } from '../../platform/personal-data.ts';
import * as repo from './forms.repo.ts';

/**
 * The forms module's part of a data subject's export and erasure. Submissions are kept (counts and survey totals
 * must add up) but lose what the person wrote: answers, consent boxes, the page's source, IP and user agent.
 */
export function formsContributor(clock: Clock): PersonalDataContributor {
  return {
    name: 'form_submissions',
    async export(db, workspaceId, _profileId, subject) {
      const rows = await repo.submissionsOfProfiles(db, workspaceId, subject.profileIds);
      return rows.map((r) => ({ record: 'form submission', ...r }));
    },
    async erase(trx, workspaceId, _profileId, subject) {
      await repo.eraseSubmissions(trx, workspaceId, subject.profileIds, clock.now());
    },
  };
}
