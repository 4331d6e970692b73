import type { Db } from './db.ts';

/** An identifier a message carries, as the profiles module normalised it (kind and value). */
export interface CarriedIdentifier {
  kind: string;
  value: string;
}

/**
 * Declared here, below both, so that the events module (which runs extensions) and the modules that provide them
 * (consent reads `context.consent`) depend on the platform rather than on each other.
 *
 * A context extension lets another module act on a part of a tracking message's `context` (the consent module
 * reads `context.consent`). It is asked twice:
 *
 * - `check`, before anything is written, for every message of a batch that carries `context[key]`: it parses
 *   and validates, and a rejection refuses that message by index (with a stable code) while the rest of the
 *   batch goes on;
 * - `apply`, inside the transaction that stores the events, for the messages stored for the first time only
 *   (a repeated messageId adds nothing, here as everywhere), with the profile each one resolved to.
 *
 * `apply` should not fail for anything `check` accepted: a failure there fails the whole group of batches.
 */
export interface ContextExtension<T = unknown> {
  key: string;
  check(db: Db, workspaceId: string, items: ExtensionInput[]): Promise<ExtensionCheck<T>[]>;
  apply(trx: Db, workspaceId: string, items: ExtensionItem<T>[]): Promise<void>;
}

export interface ExtensionInput {
  value: unknown;
  /** The identifiers the message carries (an e-mail in traits, a phone, a user id …). */
  ids: CarriedIdentifier[];
  context: Record<string, unknown>;
  occurredAt: Date;
}

export interface ExtensionItem<T> {
  value: T;
  profileId: string;
  messageId: string;
  ids: CarriedIdentifier[];
  context: Record<string, unknown>;
  occurredAt: Date;
}

export type ExtensionCheck<T> = { ok: true; value: T } | { ok: false; code: string; message: string };
