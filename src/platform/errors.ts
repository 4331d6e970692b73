/**
 * Errors a use case raises on purpose. Services speak in kinds, not HTTP statuses; the HTTP layer maps a kind to a
 * status and renders RFC 9457 problem+json with the stable `code` (see http/problem.ts).
 */
export type ErrorKind =
  | 'invalid'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'rate_limited'
  | 'too_large'
  | 'unavailable';

export class DomainError extends Error {
  readonly kind: ErrorKind;
  /** Stable, documented, SCREAMING_SNAKE: clients branch on it. */
  readonly code: string;
  readonly details: Record<string, unknown> | undefined;

  constructor(kind: ErrorKind, code: string, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'DomainError';
    this.kind = kind;
    this.code = code;
    this.details = details;
  }
}

export const notFound = (what: string, code = 'NOT_FOUND') => new DomainError('not_found', code, `${what} not found`);
