// Migrations on every dialect: they run from empty, are idempotent, and leave the counter at 0.
import { afterEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { dialects, makeTestDatabase, type TestDatabase } from '../helpers/db.js';
import { createDb, dialectOf, dialectOfDb, type Db } from '../../server/db/index.js';
import { knownMigrations, migrateToLatest } from '../../server/db/migrate.js';

describe.each(dialects)('migrations on %s', (kind) => {
  let t: TestDatabase;
  let db: Db;
  afterEach(async () => {
    await db?.destroy();
    await t?.drop();
  });

  it('create the inventory tables once, and a second run changes nothing', async () => {
    t = await makeTestDatabase(kind);
    db = createDb(t.url);
    expect(dialectOfDb(db)).toBe(kind);
    await migrateToLatest(db);
    await migrateToLatest(db);
    const applied = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(db);
    expect(applied.rows.map((r) => r.name)).toEqual([...knownMigrations].sort());
    expect(await db.selectFrom('revision_counter').selectAll().execute()).toEqual([{ id: 1, value: 0 }]);
    for (const table of ['vm_inventory', 'cluster_state', 'sync_runs', 'vm_events'] as const) {
      expect(await db.selectFrom(table).selectAll().execute()).toEqual([]);
    }
  });
});

describe('database URLs', () => {
  it('tell SQLite from PostgreSQL', () => {
    expect(dialectOf('postgres://u@h/db')).toBe('postgres');
    expect(dialectOf('postgresql://u@h/db')).toBe('postgres');
    expect(dialectOf('./data/labdeck.db')).toBe('sqlite');
    expect(dialectOf('sqlite:///tmp/x.db')).toBe('sqlite');
  });
});
