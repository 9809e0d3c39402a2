// Several instances on one PostgreSQL database: a provisioning job names the instance running it
// and when that instance last said so (its lease). Another instance takes a job over only once
// the lease ran out (the owner was killed or stalled), never while its owner is alive.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('provision_jobs').addColumn('owner', 'text').execute();
  await db.schema.alterTable('provision_jobs').addColumn('renewed_at', 'double precision').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('provision_jobs').dropColumn('renewed_at').execute();
  await db.schema.alterTable('provision_jobs').dropColumn('owner').execute();
}
