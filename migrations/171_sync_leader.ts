// Several instances on one PostgreSQL database (server/cluster): who leads each cluster's sync.
// The advisory lock decides the leader; this row carries the epoch every write of the leader's
// passes is checked against (fencing), and the leader's last status for the other instances.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('sync_leader')
    .addColumn('cluster_id', 'text', (c) => c.primaryKey())
    .addColumn('holder', 'text', (c) => c.notNull())
    .addColumn('epoch', 'bigint', (c) => c.notNull())
    .addColumn('renewed_at', 'double precision', (c) => c.notNull())
    /** The leader's ClusterSyncStatus as JSON (written with each pass). */
    .addColumn('status', 'text')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('sync_leader').ifExists().execute();
}
