// Alert history: one row per "down" or "recovered" alert of a cluster, with how each channel fared.
import type { Kysely } from 'kysely';
import { dialectOfDb } from '../server/db/index.js';

export async function up(db: Kysely<any>): Promise<void> {
  const pg = dialectOfDb(db) === 'postgres';
  const table = db.schema.createTable('alert_events');
  await (pg ? table.addColumn('id', 'serial', (c) => c.primaryKey())
            : table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement()))
    .addColumn('cluster_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('at', 'double precision', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    /** JSON: {channel: "ok" | "error: <text>" | "pending"}. */
    .addColumn('deliveries', 'text', (c) => c.notNull().defaultTo('{}'))
    .execute();
  await db.schema.createIndex('alert_events_cluster_at').on('alert_events').columns(['cluster_id', 'at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('alert_events').ifExists().execute();
}
