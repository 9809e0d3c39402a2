// Provisioning jobs and the VMs they make: work that outlives a request, resumable after a
// restart (each VM's step, vmid and task are written before the next Proxmox call), and the
// record of which VMs labdeck created for which class (only those may be reverted or removed).
import type { Kysely } from 'kysely';
import { dialectOfDb } from '../server/db/index.js';

export async function up(db: Kysely<any>): Promise<void> {
  const pg = dialectOfDb(db) === 'postgres';
  const ms = 'double precision';
  const id = (t: ReturnType<typeof db.schema.createTable>) =>
    pg ? t.addColumn('id', 'serial', (c) => c.primaryKey())
       : t.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());

  await id(db.schema.createTable('provision_jobs'))
    .addColumn('class_id', 'integer', (c) => c.notNull().references('classes.id').onDelete('cascade'))
    .addColumn('cluster_id', 'text', (c) => c.notNull())
    .addColumn('template_vmid', 'integer', (c) => c.notNull())
    .addColumn('template_type', 'text', (c) => c.notNull())
    .addColumn('template_node', 'text', (c) => c.notNull())
    .addColumn('template_name', 'text', (c) => c.notNull())
    .addColumn('count', 'integer', (c) => c.notNull())
    .addColumn('name_prefix', 'text', (c) => c.notNull())
    .addColumn('full_clone', 'integer', (c) => c.notNull())
    .addColumn('baseline', 'integer', (c) => c.notNull())
    /** Proxmox pool the clones go into (null: none). */
    .addColumn('pve_pool', 'text')
    /** A tag the class's scope needs on its VMs (null: none). */
    .addColumn('scope_tag', 'text')
    /** queued | running | done | failed | cancelled */
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('cancel_requested', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_by', 'integer')
    .addColumn('created_at', ms, (c) => c.notNull())
    .addColumn('updated_at', ms, (c) => c.notNull())
    .addColumn('finished_at', ms)
    .execute();
  await db.schema.createIndex('provision_jobs_class').on('provision_jobs').columns(['class_id', 'id']).execute();
  await db.schema.createIndex('provision_jobs_state').on('provision_jobs').column('state').execute();

  await id(db.schema.createTable('provision_vms'))
    .addColumn('job_id', 'integer', (c) => c.notNull().references('provision_jobs.id').onDelete('cascade'))
    .addColumn('class_id', 'integer', (c) => c.notNull())
    .addColumn('cluster_id', 'text', (c) => c.notNull())
    .addColumn('idx', 'integer', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    /** Set (and written) before the clone is sent: a crash never leaves a VM labdeck does not know of. */
    .addColumn('vmid', 'integer')
    .addColumn('node', 'text')
    .addColumn('type', 'text', (c) => c.notNull())
    /** pending | cloning | configuring | baseline | done | failed | cancelled | removing | removed */
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('upid', 'text')
    .addColumn('error', 'text')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('assign_user_id', 'integer')
    .addColumn('has_baseline', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('updated_at', ms, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('provision_vms_job').on('provision_vms').columns(['job_id', 'idx']).unique().execute();
  await db.schema.createIndex('provision_vms_vm').on('provision_vms').columns(['cluster_id', 'vmid']).execute();
  await db.schema.createIndex('provision_vms_class').on('provision_vms').column('class_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('provision_vms').ifExists().execute();
  await db.schema.dropTable('provision_jobs').ifExists().execute();
}
