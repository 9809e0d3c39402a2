// The HTTP side of the domain errors (contract/errors.ts): the one table from error code to
// status, and the body shape. Routes and services throw DomainError; the error middleware in
// app.ts answers `{"error":{"code","message"}}` with the status this table gives.
import { DomainError, type ErrorCode } from '../../contract/errors.js';

export { DomainError, badRequest, conflict, forbidden, notFound, unauthorized, unavailable, tooManyRequests, proxmoxError } from '../../contract/errors.js';
export type { ErrorCode } from '../../contract/errors.js';

type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 429 | 500 | 502 | 503;

/** The one mapping from domain error code to HTTP status. */
export const httpStatusOf: Readonly<Record<ErrorCode, ErrorStatus>> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  not_most_recent: 409,
  payload_too_large: 413,
  too_many_requests: 429,
  internal: 500,
  proxmox_error: 502,
  unavailable: 503,
};

/** The status an error answers with. */
export function statusOf(err: DomainError): ErrorStatus {
  return httpStatusOf[err.code];
}

/** The JSON body of an error answer. */
export function errorBody(code: string, message: string, extra?: Record<string, unknown>) {
  return { error: { code, message, ...extra } };
}

/**
 * An error as a given caller may see it. Proxmox's own words (host names, ports, storage and
 * cluster internals; an error carries them as `proxmox`) are for admins: anyone else learns only
 * whether Proxmox answered at all. Errors in labdeck's own words pass unchanged.
 */
export function shownTo(err: DomainError, admin: boolean): DomainError {
  if (admin || err.code !== 'proxmox_error' || err.details?.proxmox === undefined) return err;
  return err.details?.unreachable === true
    ? new DomainError('proxmox_error', 'Proxmox is unreachable right now; try again in a minute (an admin can see the details)', { unreachable: true })
    : new DomainError('proxmox_error', 'Proxmox could not do this; try again, and tell an admin if it keeps failing (they can see the reason)');
}
