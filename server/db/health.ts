// Whether the database is working, as every query finds it: which errors mean "the database is
// unavailable" (connection lost, server restarting, disk full, locked too long) rather than a bug
// or a constraint of one statement, and the last such failure until a write succeeds again.
// Readiness reports it, and the sync loop keeps such errors off a cluster's health.

/** SQLite codes that say the database itself cannot serve (not that one statement was wrong). */
const SQLITE_UNAVAILABLE = /^SQLITE_(FULL|IOERR|BUSY|LOCKED|READONLY|CANTOPEN|CORRUPT|NOTADB|PROTOCOL)/;
/** PostgreSQL SQLSTATE classes/codes of the same kind: connection (08), resources (53), operator intervention (57P). */
const PG_UNAVAILABLE = /^(08|53|57P|58)/;
/** Socket-level failures of the PostgreSQL client. */
const NET_UNAVAILABLE = /^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN)$/;
const PG_TEXT = /Connection terminated|connection timeout|Client has encountered a connection error|terminating connection|database .* does not allow connections|the database system is (starting up|shutting down)|is not currently accepting connections/i;

/** True when an error means the database is unavailable, not that a statement was wrong (pure). */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { code?: unknown; message?: unknown; cause?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  if (SQLITE_UNAVAILABLE.test(code) || PG_UNAVAILABLE.test(code) || NET_UNAVAILABLE.test(code)) return true;
  if (typeof e.message === 'string' && PG_TEXT.test(e.message)) return true;
  return e.cause !== undefined && e.cause !== err && isDatabaseUnavailable(e.cause);
}

/** The database's message with its code, for logs and the status pages. */
export function describeDbError(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  const msg = typeof e?.message === 'string' && e.message ? e.message : String(err);
  return typeof e?.code === 'string' && !msg.includes(e.code) ? `${msg} (${e.code})` : msg;
}

export interface DbHealthState {
  ok: boolean;
  /** The failure that made it not ok (null when ok). */
  error: string | null;
  since: number | null;
}

/** The database's availability as queries find it: failing from an "unavailable" error until a query succeeds. */
export class DbHealth {
  private failure: { error: string; since: number } | null = null;
  private readonly listeners = new Set<(s: DbHealthState) => void>();

  /** A query or the connection pool failed. */
  failed(err: unknown): void {
    if (!isDatabaseUnavailable(err)) return;
    const first = this.failure === null;
    this.failure = { error: describeDbError(err), since: this.failure?.since ?? Date.now() };
    if (first) this.tell();
  }

  /** A query succeeded; a write succeeding proves more than a read (a full disk still reads). */
  succeeded(write: boolean): void {
    if (!this.failure) return;
    // Reads succeed on a full disk: only a write clears a write failure.
    if (!write && /FULL|READONLY|IOERR|disk/i.test(this.failure.error)) return;
    this.failure = null;
    this.tell();
  }

  state(): DbHealthState {
    return this.failure ? { ok: false, error: this.failure.error, since: this.failure.since } : { ok: true, error: null, since: null };
  }

  /** Called when the state flips (for the log). */
  onChange(fn: (s: DbHealthState) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private tell(): void {
    const s = this.state();
    for (const fn of this.listeners) fn(s);
  }
}
