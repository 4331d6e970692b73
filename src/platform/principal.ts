import type { Scope } from './scope.ts';

/** Who is calling, once authenticated and authorised in one workspace. Services receive it as part of an Actor. */
export interface Principal {
  readonly kind: 'user' | 'key';
  readonly scope: Scope;
  readonly role: string;
  readonly permissions: ReadonlySet<string>;
  readonly userId: string | null;
  readonly keyId: string | null;
  /** A label for the audit log that is not personal data (user id or key prefix). */
  readonly actorLabel: string;
}

/** A principal plus where the call came from, for the audit log. */
export interface Actor {
  readonly principal: Principal;
  readonly ip: string | null;
  /** The client's User-Agent (cut to 300 characters), for audit entries of reads and exports. */
  readonly userAgent?: string | null;
}
