// The domain errors: the codes every layer shares and the one error type services throw. The
// HTTP layer maps a code to a status in one table (server/http/errors.ts); socket acks and the
// CLI map the same codes; the client reads `{"error":{"code","message"}}` bodies by these codes.

export const errorCodes = [
  'bad_request', 'unauthorized', 'forbidden', 'not_found', 'conflict', 'payload_too_large',
  'too_many_requests', 'proxmox_error', 'unavailable', 'internal',
  // A revert to a snapshot that is not the newest: Proxmox refuses it, a re-clone is the way out.
  'not_most_recent',
] as const;
export type ErrorCode = (typeof errorCodes)[number];

/** The JSON body of an error answer; details (e.g. the offending `field`) sit beside code and message. */
export interface ErrorBody { error: { code: ErrorCode; message: string; [detail: string]: unknown } }

/** A rule said no: thrown by services, mapped by each edge (HTTP status, socket ack, CLI exit). */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra fields for the error body (e.g. the offending field, Proxmox's own text). */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const badRequest = (message: string, field?: string) => new DomainError('bad_request', message, field ? { field } : undefined);
export const unauthorized = (message = 'sign in first') => new DomainError('unauthorized', message);
export const forbidden = (message = 'you may not do this') => new DomainError('forbidden', message);
export const notFound = (message = 'not found') => new DomainError('not_found', message);
export const conflict = (message: string, details?: Record<string, unknown>) => new DomainError('conflict', message, details);
export const unavailable = (message: string) => new DomainError('unavailable', message);
export const tooManyRequests = (message: string) => new DomainError('too_many_requests', message);
export const proxmoxError = (message: string, details?: Record<string, unknown>) => new DomainError('proxmox_error', message, details);
