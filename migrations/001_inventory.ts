// The inventory: vm_inventory (one row per (cluster, vmid), tombstones kept), the global revision
// counter, per-cluster sync state, sync_runs and vm_events. Timestamps are epoch ms as double
// precision so SQLite and PostgreSQL both hand back a JS number.
import { sql, type Kysely } from 'kysely';
import { dialectOfDb } from '../server/db/index.js';

export async function up(db: Kysely<any>): Promise<void> {
  const pg = dialectOfDb(db) === 'postgres';
  const ms = 'double precision';

  await db.schema.createTable('vm_inventory')
    .addColumn('cluster_id', 'text', (c) => c.notNull())
    .addColumn('vmid', 'integer', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('node', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('started_at', ms)
    .addColumn('cpu_usage', ms)
    .addColumn('memory_usage', ms)
    .addColumn('ip', 'text')
    .addColumn('ip_reason', 'text')
    .addColumn('mac_address', 'text')
    .addColumn('rdp_available', 'integer')
    .addColumn('ssh_available', 'integer')
    .addColumn('memory', ms)
    .addColumn('cores', 'integer')
    .addColumn('disk_size', ms)
    .addColumn('is_template', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('tags', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('category', 'text', (c) => c.notNull().defaultTo('unknown'))
    .addColumn('ostype', 'text')
    .addColumn('pool', 'text')
    .addColumn('lock', 'text')
    .addColumn('last_updated', ms, (c) => c.notNull())
    .addColumn('last_seen', ms)
    .addColumn('last_status_check', ms)
    .addColumn('sync_error', 'text')
    .addColumn('revision', 'integer', (c) => c.notNull())
    .addColumn('deleted', 'integer', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('vm_inventory_pk', ['cluster_id', 'vmid'])
    .execute();
  await db.schema.createIndex('vm_inventory_revision').on('vm_inventory').column('revision').execute();

  await db.schema.createTable('revision_counter')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('value', 'integer', (c) => c.notNull())
    .execute();
  await db.insertInto('revision_counter').values({ id: 1, value: 0 }).execute();

  await db.schema.createTable('cluster_state')
    .addColumn('cluster_id', 'text', (c) => c.primaryKey())
    .addColumn('last_success_at', ms)
    .addColumn('last_full_at', ms)
    .addColumn('last_quick_at', ms)
    .addColumn('last_error', 'text')
    .addColumn('last_error_at', ms)
    .addColumn('consecutive_failures', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('error_count', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();

  const id = (t: ReturnType<typeof db.schema.createTable>) =>
    pg ? t.addColumn('id', 'serial', (c) => c.primaryKey())
       : t.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());

  await id(db.schema.createTable('sync_runs'))
    .addColumn('cluster_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('started_at', ms, (c) => c.notNull())
    .addColumn('duration_ms', ms, (c) => c.notNull())
    .addColumn('guests_seen', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('rows_changed', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('requests', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('error', 'text')
    .execute();
  await db.schema.createIndex('sync_runs_cluster_started').on('sync_runs').columns(['cluster_id', 'started_at']).execute();

  await id(db.schema.createTable('vm_events'))
    .addColumn('cluster_id', 'text', (c) => c.notNull())
    .addColumn('vmid', 'integer', (c) => c.notNull())
    .addColumn('at', ms, (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('from_value', 'text')
    .addColumn('to_value', 'text')
    .addColumn('detail', 'text')
    .execute();
  await db.schema.createIndex('vm_events_vm_at').on('vm_events').columns(['cluster_id', 'vmid', 'at']).execute();
  await db.schema.createIndex('vm_events_at').on('vm_events').column('at').execute();
  void sql;
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['vm_events', 'sync_runs', 'cluster_state', 'revision_counter', 'vm_inventory']) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}
