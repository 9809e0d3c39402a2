// The one error type for everything that goes wrong talking to a Proxmox cluster.

/** What kind of failure: an HTTP answer, no answer in time, no connection, or an answer we cannot read. */
export type PveErrorKind = 'http' | 'timeout' | 'network' | 'invalid-response' | 'refused';

/** A failed Proxmox call. `status` is the HTTP status, 0 when there was no HTTP answer. */
export class PveError extends Error {
  readonly cluster: string;
  readonly status: number;
  readonly reason: string;
  readonly kind: PveErrorKind;
  /** A network failure before any connection existed (the request was never sent). */
  notConnected = false;

  constructor(cluster: string, status: number, reason: string, kind: PveErrorKind = 'http') {
    super(status ? `${cluster}: ${status} ${reason}` : `${cluster}: ${reason}`);
    this.name = 'PveError';
    this.cluster = cluster;
    this.status = status;
    this.reason = reason;
    this.kind = kind;
  }
}

/** True when the error is a Proxmox answer whose text matches `pattern` (e.g. agent errors). */
export function pveReasonMatches(err: unknown, pattern: RegExp): boolean {
  return err instanceof PveError && pattern.test(err.reason);
}
