// The Kysely instance: SQLite (better-sqlite3, WAL) by default, PostgreSQL when DATABASE_URL says so.
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, type LogEvent, type SqliteDatabase } from 'kysely';
import { log } from '../log.js';
import type { Database } from './schema.js';
import { DbHealth, describeDbError } from './health.js';
import { PatientSqliteDialect, SQLITE_BUSY_TIMEOUT_MS } from './sqlite-driver.js';

export type Db = Kysely<Database>;
export type Dialect = 'sqlite' | 'postgres';

/** Which database a DATABASE_URL names. */
export function dialectOf(url: string): Dialect {
  return /^postgres(ql)?:\/\//i.test(url) ? 'postgres' : 'sqlite';
}

export interface DbOptions {
  /** Told about every query's success or failure (readiness, the sync loop's error accounting). */
  health?: DbHealth;
  /** PostgreSQL ends a pool connection's transaction left idle this long (several instances: a stalled one). */
  idleInTransactionMs?: number;
}

/** A statement whose success proves the database takes writes again. */
const WRITE = /^\s*(commit|insert|update|delete)\b/i;

/** Feeds a DbHealth from Kysely's query log (every query, transactions' begin and commit included). */
function healthLog(health: DbHealth): (event: LogEvent) => void {
  return (event) => {
    if (event.level === 'error') health.failed(event.error);
    else health.succeeded(WRITE.test(event.query.sql));
  };
}

/** Opens the database named by a file path, `sqlite:` URL, `:memory:` or `postgres://` URL. */
export function createDb(url: string, opts: DbOptions = {}): Db {
  const health = opts.health;
  const logConfig = health ? { log: healthLog(health) } : {};
  if (dialectOf(url) === 'postgres') {
    // Loaded only for PostgreSQL: a SQLite install never holds pg's ~3 MB of heap.
    const pg = createRequire(import.meta.url)('pg') as typeof import('pg');
    // bigint (int8) as a JS number: our counts and revisions stay far below 2^53.
    pg.types.setTypeParser(20, (x: string) => Number(x));
    // A restart or failover of PostgreSQL ends our connections: without these, a query waits
    // forever for a connection and an idle client's error event ends the process.
    const pool = new pg.Pool({
      connectionString: url, max: 10, connectionTimeoutMillis: 5_000, idleTimeoutMillis: 30_000,
      ...(opts.idleInTransactionMs ? { idle_in_transaction_session_timeout: opts.idleInTransactionMs } : {}),
    });
    pool.on('error', (err) => {
      log.warn({ err: describeDbError(err) }, 'Database connection lost; it is reopened on the next query');
      health?.failed(err);
    });
    // A checked-out client may fail between queries too; its query then fails and the pool drops it.
    pool.on('connect', (client) => client.on('error', () => undefined));
    return new Kysely<Database>({ dialect: new PostgresDialect({ pool }), ...logConfig });
  }
  const file = url.replace(/^sqlite:(\/\/)?/i, '');
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const sqlite = new SQLite(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  // Short: a longer wait would block the event loop; the driver retries asynchronously instead.
  sqlite.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
  return new Kysely<Database>({ dialect: new PatientSqliteDialect(sqlite, reusingStatements(sqlite)), ...logConfig });
}

/** How many distinct SQL texts keep their prepared statement (least recently used dropped first). */
const STATEMENTS_KEPT = 256;

/**
 * better-sqlite3 as Kysely sees it, with prepared statements reused by SQL text: Kysely prepares
 * every query anew, and preparing was the largest CPU cost of a small read (bench/RESULTS.md).
 * A statement runs to completion before the next use (better-sqlite3 is synchronous and labdeck
 * does not stream), so one statement per text is enough.
 */
export function reusingStatements(sqlite: SQLite.Database, kept = STATEMENTS_KEPT): SqliteDatabase {
  const statements = new Map<string, SQLite.Statement>();
  return {
    close: () => {
      statements.clear();
      sqlite.close();
    },
    prepare: (sql: string) => {
      let stmt = statements.get(sql);
      if (stmt) {
        // Most recently used last, so the first key is the one to drop.
        statements.delete(sql);
      } else {
        stmt = sqlite.prepare(sql);
        if (statements.size >= kept) statements.delete(statements.keys().next().value!);
      }
      statements.set(sql, stmt);
      return stmt;
    },
  };
}

/** The dialect of an open Kysely instance (migrations use it for the few non-portable types). */
export function dialectOfDb(db: Kysely<any>): Dialect {
  return db.getExecutor().adapter.constructor.name.startsWith('Postgres') ? 'postgres' : 'sqlite';
}
