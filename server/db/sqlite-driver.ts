// Kysely's SQLite driver, made patient without freezing the process: better-sqlite3 is
// synchronous, so a busy_timeout blocks the whole event loop while another process (a backup, the
// CLI, sqlite3) holds the write lock. Here SQLite waits only a few milliseconds itself and a busy
// statement is retried after an asynchronous pause instead; a transaction starts with BEGIN
// IMMEDIATE (retried the same way) so it never finds the lock taken halfway through. A failed
// statement that SQLite already rolled back (a full disk does that) is not rolled back again, so
// the real error is the one reported.
import type SQLite from 'better-sqlite3';
import { CompiledQuery, SqliteDialect, SqliteDriver, type DatabaseConnection, type Driver, type QueryResult, type SqliteDatabase, type SqliteDialectConfig } from 'kysely';

/** How long SQLite itself may block on a lock before the statement is retried asynchronously. */
export const SQLITE_BUSY_TIMEOUT_MS = 20;

export interface PatientOptions {
  /** Give up on a busy database after this long (default 30 s). */
  busyBudgetMs?: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** True for SQLite's "another connection holds the lock" (SQLITE_BUSY and its extended codes). */
export function isSqliteBusy(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY') && code !== 'SQLITE_BUSY_SNAPSHOT';
}

/** A connection whose statements wait out a busy database asynchronously. */
class PatientConnection implements DatabaseConnection {
  constructor(private readonly inner: DatabaseConnection, private readonly sqlite: SQLite.Database, private readonly budgetMs: number) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const deadline = Date.now() + this.budgetMs;
    let pause = 5;
    for (;;) {
      try {
        return await this.inner.executeQuery<R>(query);
      } catch (err) {
        // Inside a transaction a busy statement cannot simply run again (it began under BEGIN
        // IMMEDIATE, so it should never be busy); outside one it had no effect and can.
        const retryable = isSqliteBusy(err) && (!this.sqlite.inTransaction || /^\s*begin\b/i.test(query.sql));
        if (!retryable || Date.now() + pause > deadline) throw err;
        await sleep(pause);
        pause = Math.min(250, pause * 2);
      }
    }
  }

  streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(query, chunkSize);
  }
}

class PatientDriver extends SqliteDriver {
  private readonly wrapped = new WeakMap<DatabaseConnection, PatientConnection>();

  constructor(config: SqliteDialectConfig, private readonly sqlite: SQLite.Database, private readonly budgetMs: number) {
    super(config);
  }

  override async acquireConnection(): Promise<DatabaseConnection> {
    const c = await super.acquireConnection();
    let w = this.wrapped.get(c);
    if (!w) this.wrapped.set(c, (w = new PatientConnection(c, this.sqlite, this.budgetMs)));
    return w;
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }

  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    // SQLITE_FULL, SQLITE_IOERR and friends end the transaction themselves: a ROLLBACK then fails
    // with "cannot rollback - no transaction is active" and would hide the real error.
    if (!this.sqlite.inTransaction) return;
    await super.rollbackTransaction(connection);
  }
}

/** The SQLite dialect over one better-sqlite3 database (queried through `database`, e.g. a statement cache), with the patient driver. */
export class PatientSqliteDialect extends SqliteDialect {
  private readonly sqlite: SQLite.Database;
  private readonly budgetMs: number;
  private readonly cfg: SqliteDialectConfig;

  constructor(sqlite: SQLite.Database, database: SqliteDatabase = sqlite, opts: PatientOptions = {}) {
    const cfg: SqliteDialectConfig = { database };
    super(cfg);
    this.cfg = cfg;
    this.sqlite = sqlite;
    this.budgetMs = opts.busyBudgetMs ?? 30_000;
  }

  override createDriver(): Driver {
    return new PatientDriver(this.cfg, this.sqlite, this.budgetMs);
  }
}
