// Migrations on every dialect: they run from empty, are idempotent, and leave the counter at 0.
import { afterEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { dialects, makeTestDatabase, type TestDatabase } from '../helpers/db.js';
import { createDb, dialectOf, dialectOfDb, type Db } from '../../server/db/index.js';
import { knownMigrations, migrateTo, migrateToLatest } from '../../server/db/migrate.js';

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

  it('a migration that landed after a higher-numbered one still runs on a database that has the higher one', async () => {
    t = await makeTestDatabase(kind);
    db = createDb(t.url);
    await migrateToLatest(db);
    // As a database that ran 171 and 172 before 140 existed: 140 forgotten, its column gone.
    await db.deleteFrom('kysely_migration' as never).where('name' as never, '=', '140_reclone' as never).execute();
    await db.schema.alterTable('provision_vms').dropColumn('replaces_id').execute();
    await migrateToLatest(db);
    const applied = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(db);
    expect(applied.rows.map((r) => r.name)).toEqual([...knownMigrations].sort());
    await sql`select replaces_id from provision_vms`.execute(db);
  });

  it('030 keeps every existing pool entry as an admin decision and gives cluster-less tags a cluster each', async () => {
    t = await makeTestDatabase(kind);
    db = createDb(t.url);
    await migrateTo(db, '020_alerts');
    const now = Date.now();
    const any = db as unknown as import('kysely').Kysely<any>;
    for (const [cluster, vmid] of [['lab-a', 100], ['lab-b', 100]] as const) {
      await any.insertInto('vm_inventory').values({ cluster_id: cluster, vmid, node: 'n1', type: 'qemu', status: 'running', last_updated: now, revision: 1, tags: 'web' }).execute();
    }
    const u = await any.insertInto('users').values({ username: 't', display_name: 't', role: 'teacher', created_at: now, updated_at: now }).returning('id').executeTakeFirstOrThrow();
    const c = await any.insertInto('classes').values({ name: 'Old', created_by: u.id, created_at: now }).returning('id').executeTakeFirstOrThrow();
    await any.insertInto('class_pool').values([
      { class_id: c.id, kind: 'vm', cluster_id: 'lab-a', vmid: 100, value: null, added_at: now },
      { class_id: c.id, kind: 'tag', cluster_id: null, vmid: null, value: 'web', added_at: now },
    ]).execute();
    await migrateToLatest(db);
    const pool = await db.selectFrom('class_pool').select(['kind', 'cluster_id', 'vmid', 'value', 'approved']).orderBy('kind').orderBy('cluster_id').execute();
    expect(pool).toEqual([
      { kind: 'tag', cluster_id: 'lab-a', vmid: null, value: 'web', approved: 1 },
      { kind: 'tag', cluster_id: 'lab-b', vmid: null, value: 'web', approved: 1 },
      { kind: 'vm', cluster_id: 'lab-a', vmid: 100, value: null, approved: 1 },
    ]);
    expect(await db.selectFrom('class_scope').selectAll().execute()).toEqual([]);
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
