import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db.ts';
import type { Logger } from '../../platform/logger.ts';
import type { PersonalDataRegistry } from '../../platform/personal-data.ts';
import type { ConsentModule } from '../consent/index.ts';
import type { OrgModule } from '../org/index.ts';
import type { ProfilesModule } from '../profiles/index.ts';
import { formsJobs } from './forms.jobs.ts';
import { consumerRoutes } from './forms.pages.ts';
import * as repo from './forms.repo.ts';
import { type AuditRecorder, formsRoutes, type ReadAuditRecorder } from './forms.routes.ts';
import { formsContributor } from './forms.subject.ts';
import { DEFAULT_LIMITS, type Enqueue, type FormLimits, type SubmissionInput, submitForm } from './forms.submit.ts';

export type { FormLimits, SubmissionInput, SubmitOutcome } from './forms.submit.ts';
export { DEFAULT_LIMITS, FORM_SUBMITTED_JOB } from './forms.submit.ts';

/**
 * forms: forms and surveys built in the console — fields mapped to traits or identifiers, consent boxes with their
 * wording versions, UTM and placement capture, double opt-in — answered on a hosted page, through an embeddable
 * script or the JSON endpoint. A submission resolves the person, sets traits, records consents and writes
 * `Form Submitted` / `Survey Answered` to the timeline.
 *
 * ```ts
 * const forms = createFormsModule({ db, clock, publicUrl, org, profiles, consent, ingest, enqueue, personalData });
 * profiles.onMerge(forms.onMerge);               // submissions follow the person
 * const queue = createQueue(database, logger, [...forms.jobs]);
 * app.register(forms.routes);                    // under /api/v1: /forms/…
 * app.register(forms.consumer);                  // at the root: POST /v1/forms/<key>/submit, /p/<workspace>/f/<form>
 * ```
 */
export function createFormsModule(input: {
  db: Db;
  clock: Clock;
  logger?: Logger;
  publicUrl: string;
  org: Pick<
    OrgModule,
    'recordAudit' | 'readAudit' | 'resolveWriteKey' | 'findWorkspace' | 'subjectKey' | 'publishableWriteKey'
  >;
  profiles: Pick<ProfilesModule, 'resolveObservations' | 'applyProjection'>;
  consent: Pick<ConsentModule, 'record' | 'wordings'>;
  /** The events module's ingest: submission events go to the timeline through it. */
  ingest: (workspaceId: string, messages: unknown[]) => Promise<{ rejected: { code: string }[] }>;
  /** The queue's enqueue (inside the caller's transaction). */
  enqueue: Enqueue;
  personalData?: PersonalDataRegistry;
  limits?: Partial<FormLimits>;
}) {
  const publicUrl = input.publicUrl.replace(/\/$/, '');
  const slugs = new Map<string, string>();
  const slugOf = async (workspaceId: string) => {
    let slug = slugs.get(workspaceId);
    if (!slug) {
      slug = (await input.org.findWorkspace(workspaceId))?.slug ?? workspaceId;
      slugs.set(workspaceId, slug);
    }
    return slug;
  };
  const submit = (workspaceId: string, submission: SubmissionInput) =>
    submitForm(
      {
        db: input.db,
        clock: input.clock,
        logger: input.logger,
        profiles: input.profiles,
        recordConsents: (trx, workspaceId, profileId, statements, proof) =>
          input.consent.record(trx, workspaceId, profileId, statements, proof),
        enqueue: input.enqueue,
        secretOf: input.org.subjectKey,
        limits: { ...DEFAULT_LIMITS, ...input.limits },
      },
      workspaceId,
      submission,
    );
  input.personalData?.register(formsContributor(input.clock));
  return {
    routes: formsRoutes({
      db: input.db,
      clock: input.clock,
      publicUrl,
      slugOf,
      writeKeyOf: input.org.publishableWriteKey,
      audit: input.org.recordAudit as AuditRecorder,
      readAudit: input.org.readAudit as ReadAuditRecorder,
      wordings: input.consent.wordings,
    }),
    consumer: consumerRoutes({
      db: input.db,
      clock: input.clock,
      submit,
      resolveWriteKey: (key) => input.org.resolveWriteKey(key),
      findWorkspace: (idOrSlug) => input.org.findWorkspace(idOrSlug),
    }),
    jobs: formsJobs(input.ingest, input.logger),
    /** Submits a form (the same path as the JSON endpoint and the hosted page). */
    submit,
    /** Merge listener: submissions follow the survivor. */
    onMerge: async (trx: Db, workspaceId: string, merges: { survivorId: string; absorbedId: string }[]) => {
      for (const m of merges) await repo.repointProfile(trx, workspaceId, m.survivorId, m.absorbedId);
    },
  };
}
export type FormsModule = ReturnType<typeof createFormsModule>;
