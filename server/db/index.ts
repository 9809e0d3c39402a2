// The Kysely instance: SQLite (better-sqlite3, WAL) by default, PostgreSQL when DATABASE_URL says so.
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, type SqliteDatabase } from 'kysely';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;
export type Dialect = 'sqlite' | 'postgres';

/** Which database a DATABASE_URL names. */
export function dialectOf(url: string): Dialect {
  return /^postgres(ql)?:\/\//i.test(url) ? 'postgres' : 'sqlite';
}

/** Opens the database named by a file path, `sqlite:` URL, `:memory:` or `postgres://` URL. */
export function createDb(url: string): Db {
  if (dialectOf(url) === 'postgres') {
    // Loaded only for PostgreSQL: a SQLite install never holds pg's ~3 MB of heap.
    const pg = createRequire(import.meta.url)('pg') as typeof import('pg');
    // bigint (int8) as a JS number: our counts and revisions stay far below 2^53.
    pg.types.setTypeParser(20, (x: string) => Number(x));
    return new Kysely<Database>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 10 }) }),
    });
  }
  const file = url.replace(/^sqlite:(\/\/)?/i, '');
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const sqlite = new SQLite(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: reusingStatements(sqlite) }) });
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
