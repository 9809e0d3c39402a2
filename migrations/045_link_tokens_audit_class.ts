// Class links keep a sealed copy of their token (so the teacher page can offer Copy after a reload;
// only the server's key opens it, the hash still authenticates), and the audit log is read by class.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  for (const table of ['invites', 'projector_links']) {
    await db.schema.alterTable(table).addColumn('token_sealed', 'text').execute();
  }
  await db.schema.createIndex('audit_log_class_id').on('audit_log').columns(['class_id', 'id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('audit_log_class_id').ifExists().execute();
  for (const table of ['invites', 'projector_links']) {
    await db.schema.alterTable(table).dropColumn('token_sealed').execute();
  }
}
