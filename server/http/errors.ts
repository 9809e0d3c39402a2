// The one typed HTTP error. Routes and services throw it; the error middleware turns it into
// `{"error":{"code","message"}}` with its status. Anything else becomes a logged 500 without details.

export type ErrorCode =
  | 'bad_request' | 'unauthorized' | 'forbidden' | 'not_found' | 'conflict' | 'payload_too_large'
  | 'too_many_requests' | 'proxmox_error' | 'unavailable' | 'internal';

export class HttpError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 405 | 409 | 413 | 415 | 429 | 500 | 502 | 503 | 504,
    readonly code: ErrorCode | string,
    message: string,
    /** Extra fields for the error body (e.g. the offending field). */
    readonly extra?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** The JSON body of an error answer. */
export function errorBody(code: string, message: string, extra?: Record<string, unknown>) {
  return { error: { code, message, ...extra } };
}

export const badRequest = (message: string, field?: string) =>
  new HttpError(400, 'bad_request', message, field ? { field } : undefined);
export const unauthorized = (message = 'sign in first') => new HttpError(401, 'unauthorized', message);
export const forbidden = (message = 'you may not do this') => new HttpError(403, 'forbidden', message);
export const notFound = (message = 'not found') => new HttpError(404, 'not_found', message);
export const conflict = (message: string) => new HttpError(409, 'conflict', message);
