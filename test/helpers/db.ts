// Fresh, isolated databases for tests: a temp SQLite file always, and a throw-away PostgreSQL
// database (created on the server at TEST_DATABASE_URL, dropped afterwards) when that is set.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDb, type Db } from '../../server/db/index.js';
import { createScratchDatabase } from '../../server/db/scratch.js';
import { migrateToLatest } from '../../server/db/migrate.js';

export interface TestDatabase {
  kind: 'sqlite' | 'postgres';
  url: string;
  /** Drops the database (PostgreSQL) or removes the file (SQLite). */
  drop(): Promise<void>;
}

/** The dialects to run repository tests on; PostgreSQL only when TEST_DATABASE_URL is set. */
export const dialects: Array<'sqlite' | 'postgres'> = process.env.TEST_DATABASE_URL ? ['sqlite', 'postgres'] : ['sqlite'];

if (!process.env.TEST_DATABASE_URL && !process.env.LABDECK_PG_SKIP_NOTED) {
  process.env.LABDECK_PG_SKIP_NOTED = '1';
  console.warn('TEST_DATABASE_URL is not set: PostgreSQL variants of the database tests are skipped (SQLite runs).');
}

/** Makes an empty database of the given kind (not migrated). */
export async function makeTestDatabase(kind: 'sqlite' | 'postgres'): Promise<TestDatabase> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'labdeck-test-'));
    return { kind, url: join(dir, 'labdeck.db'), drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const admin = process.env.TEST_DATABASE_URL;
  if (!admin) throw new Error('TEST_DATABASE_URL is not set');
  return { kind, ...await createScratchDatabase(admin, 'labdeck_t') };
}

/** A migrated Kysely instance on a fresh database; call close() in afterAll/afterEach. */
export async function openTestDb(kind: 'sqlite' | 'postgres' = 'sqlite'): Promise<{ db: Db; url: string; close(): Promise<void> }> {
  const t = await makeTestDatabase(kind);
  const db = createDb(t.url);
  await migrateToLatest(db);
  return { db, url: t.url, close: async () => { await db.destroy(); await t.drop(); } };
}
