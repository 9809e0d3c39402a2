// The one error type of the simulated API: thrown by handlers, turned into PVE's wire format
// (status, reason phrase = first line, {"data":null,"message":...}) in one place.

/** An API error as the PVE server would raise it. */
export class PveError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors?: Record<string, string>,
  ) {
    super(message);
  }
}

/** 500 with PVE's message text (a trailing newline is added like Perl's `die "...\n"`). */
export const fail = (message: string): PveError => new PveError(500, message);

/** 400 Parameter verification failed. with per-field messages. */
export const paramError = (errors: Record<string, string>): PveError =>
  new PveError(400, 'Parameter verification failed.', errors);
