import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db.ts';
import type { PersonalDataRegistry } from '../../platform/personal-data.ts';
import { listWordings } from './consent.repo.ts';
import { type AuditRecorder, consentRoutes, hostedConsentPages } from './consent.routes.ts';
import type { ConsentStatement } from './consent.schemas.ts';
import {
  type ConfirmationSender,
  type ConsentDeps,
  handleInbound,
  type InboundMessage,
  linkToken,
  mayContact,
  onMerge,
  outboxSender,
  type PeopleDirectory,
  type Proof,
  recordStatements,
} from './consent.service.ts';
import { consentContributor } from './consent.subject.ts';
import { trackingExtension } from './consent.tracking.ts';

export type { ConsentStatement, SendDecision } from './consent.schemas.ts';
export type { ConfirmationSender, InboundMessage, InboundOutcome, PeopleDirectory, Proof } from './consent.service.ts';

/**
 * consent: the ledger of consents per profile, channel and purpose with proof; double opt-in; one-click
 * unsubscribe and the preference centre; opt-out keywords. Every sender asks `mayContact` before a message goes.
 *
 * ```ts
 * const consent = createConsentModule({ db, clock, publicUrl, people, audit });
 * profiles.onMerge(consent.onMerge);            // refusals survive merges
 * events.extendContext(consent.tracking);       // context.consent in tracking messages and imports
 * app.register(consent.routes);                 // under /api/v1
 * app.register(consent.pages);                  // at the root: /u/<token>, /u/confirm/<token>
 * const { allowed } = await consent.mayContact(workspaceId, profileId, 'email', 'marketing');
 * ```
 */
export function createConsentModule(input: {
  db: Db;
  clock: Clock;
  publicUrl: string;
  people: PeopleDirectory;
  audit: AuditRecorder;
  sender?: ConfirmationSender;
  /** Where a data subject's export and erasure find the consent ledger. */
  personalData?: PersonalDataRegistry;
}) {
  const deps: ConsentDeps = {
    db: input.db,
    clock: input.clock,
    publicUrl: input.publicUrl.replace(/\/$/, ''),
    people: input.people,
    sender: input.sender ?? outboxSender,
  };
  input.personalData?.register(consentContributor());
  return {
    routes: consentRoutes({ ...deps, audit: input.audit }),
    pages: hostedConsentPages(deps),
    /** Consent statements in tracking messages and imported rows (`context.consent`): give it to events.extendContext. */
    tracking: trackingExtension(deps),
    /** The send check (one indexed read). */
    mayContact: (workspaceId: string, profileId: string, channel: string, purpose: string, address?: string) =>
      mayContact(deps, workspaceId, profileId, channel, purpose, address),
    /** The workspace's consent wordings (purpose, version, locale, text): what forms show beside their boxes. */
    wordings: (db: Db, workspaceId: string) => listWordings(db, workspaceId),
    /** Records statements inside the caller's transaction (forms, code entry, ingestion, imports). */
    record: (trx: Db, workspaceId: string, profileId: string, statements: ConsentStatement[], proof: Proof) =>
      recordStatements(deps, trx, workspaceId, profileId, statements, proof),
    /** Inbound SMS/messenger text: opt-out keywords and confirmation codes. Channels call this. */
    handleInbound: (workspaceId: string, message: InboundMessage, proof?: Proof) =>
      handleInbound(deps, workspaceId, message, proof),
    /** A signed token for /u/<token> links (one-click unsubscribe, preference centre). */
    linkToken: (workspaceId: string, profileId: string, channel: string, purpose?: string) =>
      linkToken(input.db, workspaceId, profileId, channel, purpose),
    /** Merge listener: hands the ledger to the survivor; a refusal on either side stays. */
    onMerge: (trx: Db, workspaceId: string, merges: { survivorId: string; absorbedId: string }[]) =>
      onMerge(deps, trx, workspaceId, merges),
  };
}
export type ConsentModule = ReturnType<typeof createConsentModule>;
