import { z } from 'zod';
import type { CarriedIdentifier, ContextExtension, ExtensionCheck } from '../../platform/context-extension.ts';
import { DomainError } from '../../platform/errors.ts';
import { ConsentStatement } from './consent.schemas.ts';
import {
  ADDRESS_KINDS,
  type ConsentDeps,
  normalizedAddress,
  purposesOf,
  recordStatements,
  statementProblem,
} from './consent.service.ts';

/** Sources a tracking message or an imported row may state; the others belong to Rapport's own flows. */
const TRACKING_SOURCES = ['form', 'code_entry', 'pos', 'call_centre', 'import', 'api', 'inbound_keyword'] as const;

const TrackingStatement = ConsentStatement.extend({ source: z.enum(TRACKING_SOURCES).default('api') });

/** `context.consent`: one statement or a list of up to 20. */
export const TrackingConsent = z.union([
  z.array(TrackingStatement).min(1).max(20),
  TrackingStatement.transform((st) => [st]),
]);

/**
 * Consent statements in tracking messages and imported rows (`context.consent`), checked before the batch is
 * written — an unknown purpose or a grant without an address refuses that message by index — and recorded in
 * the transaction that stores the event, for the profile it resolved to, with the message's `context.ip` and
 * `context.userAgent` as proof. A grant's address defaults to the message's own e-mail, phone or messenger id.
 */
export function trackingExtension(deps: ConsentDeps): ContextExtension<ConsentStatement[]> {
  return {
    key: 'consent',
    async check(db, workspaceId, items) {
      const purposes = await purposesOf(db, workspaceId);
      const checks: ExtensionCheck<ConsentStatement[]>[] = [];
      for (const item of items) checks.push(await checkOne(item));
      return checks;

      async function checkOne(item: (typeof items)[number]): Promise<ExtensionCheck<ConsentStatement[]>> {
        const parsed = TrackingConsent.safeParse(item.value);
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          return {
            ok: false,
            code: 'INVALID_CONSENT',
            message: `context.consent${issue?.path.length ? `.${issue.path.join('.')}` : ''}: ${issue?.message ?? 'invalid'}`,
          };
        }
        const statements: ConsentStatement[] = [];
        for (const st of parsed.data) {
          try {
            const problem = statementProblem(purposes, st);
            if (problem) throw problem;
            const address = st.address
              ? normalizedAddress(st.channel, st.address)
              : (ownAddress(st.channel, item.ids) ??
                (st.action === 'grant' ? await knownAddress(deps, db, workspaceId, st.channel, item.ids) : undefined));
            if (st.action === 'grant' && ADDRESS_KINDS[st.channel] && !address) {
              throw new DomainError(
                'invalid',
                'ADDRESS_REQUIRED',
                `A grant on ${st.channel} needs the address it is for: send it in the statement or the message's traits.`,
              );
            }
            statements.push({
              ...st,
              ...(address ? { address } : {}),
              at: st.at ?? item.occurredAt.toISOString(),
            });
          } catch (error) {
            if (error instanceof DomainError) return { ok: false, code: error.code, message: error.message };
            throw error;
          }
        }
        return { ok: true, value: statements };
      }
    },
    async apply(trx, workspaceId, items) {
      for (const item of items) {
        await recordStatements(
          deps,
          trx,
          workspaceId,
          item.profileId,
          item.value,
          { ip: text(item.context.ip), userAgent: text(item.context.userAgent) },
          { overLimit: 'skip' },
        );
      }
    },
  };
}

/** The message's own address for a channel: its e-mail, phone or messenger id. */
function ownAddress(channel: string, ids: CarriedIdentifier[]): string | undefined {
  for (const kind of ADDRESS_KINDS[channel] ?? []) {
    const found = ids.find((i) => i.kind === kind);
    if (found) return channel === 'messenger' ? `${found.kind}:${found.value}` : found.value;
  }
  return undefined;
}

/** A known person's address on a channel, found through any of the message's identifiers (a user id alone). */
async function knownAddress(
  deps: ConsentDeps,
  db: Parameters<ConsentDeps['people']['ownerOf']>[0],
  workspaceId: string,
  channel: string,
  ids: CarriedIdentifier[],
): Promise<string | undefined> {
  for (const id of ids) {
    const owner = await deps.people.ownerOf(db, workspaceId, id.kind, id.value);
    if (!owner) continue;
    return ownAddress(channel, await deps.people.identifiersOf(db, workspaceId, owner));
  }
  return undefined;
}

function text(v: unknown): string | null {
  return typeof v === 'string' && v.length > 0 ? v.slice(0, 500) : null;
}
