// The audit log records a refused bulk request as one entry with how many VMs it asked for
// (`count`), instead of one entry per VM: a 500-VM request from someone who may use none of them
// is one row, not 500. Null means one.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('audit_log').addColumn('count', 'integer').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('audit_log').dropColumn('count').execute();
}
