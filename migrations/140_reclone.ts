// Re-creating a VM from its template (when the storage cannot roll back to the baseline): the new
// VM's row names the row of the VM it replaces, so that the runner removes that one first and a
// restart in between resumes the swap instead of leaving two VMs or none.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('provision_vms').addColumn('replaces_id', 'integer').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('provision_vms').dropColumn('replaces_id').execute();
}
