// Reliability: the Proxmox task (UPID) a pending audit entry waits for, so a restarted labdeck can
// settle it from the task's real outcome; and a one-row table readiness writes to (a full disk
// still answers reads).
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('audit_log').addColumn('task', 'text').execute();
  await db.schema.createIndex('audit_log_outcome').on('audit_log').column('outcome').execute();
  await db.schema.createTable('health_probe')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('at', 'double precision', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('health_probe').ifExists().execute();
  await db.schema.dropIndex('audit_log_outcome').ifExists().execute();
  await db.schema.alterTable('audit_log').dropColumn('task').execute();
}
