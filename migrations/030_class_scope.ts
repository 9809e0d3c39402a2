// Class scope and sturdier links: what each class may draw its VMs from (admin-defined rules, each
// on one cluster), pool entries marked as admin-approved (existing ones are), cluster-less tag and
// pool entries split per known cluster, invite use limits and removals that stick.
import type { Kysely } from 'kysely';
import { dialectOfDb } from '../server/db/index.js';

export async function up(db: Kysely<any>): Promise<void> {
  const pg = dialectOfDb(db) === 'postgres';
  const ms = 'double precision';
  const table = db.schema.createTable('class_scope');
  await (pg ? table.addColumn('id', 'serial', (c) => c.primaryKey())
            : table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement()))
    .addColumn('class_id', 'integer', (c) => c.notNull().references('classes.id').onDelete('cascade'))
    .addColumn('cluster_id', 'text', (c) => c.notNull())
    /** 'cluster' (all of it), 'pool', 'tag' (value) or 'range' (vmid_min..vmid_max). */
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('value', 'text')
    .addColumn('vmid_min', 'integer')
    .addColumn('vmid_max', 'integer')
    .addColumn('created_by', 'integer')
    .addColumn('created_at', ms, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('class_scope_class').on('class_scope').column('class_id').execute();

  // Entries made before scopes existed were accepted then; they stay valid as admin decisions.
  await db.schema.alterTable('class_pool').addColumn('approved', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.updateTable('class_pool').set({ approved: 1 }).execute();

  // A tag or pool without a cluster matched on every cluster; keep what it matched on the clusters
  // labdeck knows, one entry per cluster.
  const loose = await db.selectFrom('class_pool').selectAll().where('cluster_id', 'is', null).where('kind', '!=', 'vm').execute();
  if (loose.length) {
    const clusters = (await db.selectFrom('vm_inventory').select('cluster_id').distinct().execute()).map((r) => r.cluster_id as string);
    for (const e of loose) {
      for (const cluster of clusters) {
        await db.insertInto('class_pool').values({ class_id: e.class_id, kind: e.kind, cluster_id: cluster, vmid: null, value: e.value, added_at: e.added_at, approved: 1 }).execute();
      }
      await db.deleteFrom('class_pool').where('id', '=', e.id).execute();
    }
  }

  for (const t of ['invites']) {
    await db.schema.alterTable(t).addColumn('max_uses', 'integer').execute();
  }

  // A student a teacher removed; invites made before this cannot bring them back.
  await db.schema.createTable('class_removals')
    .addColumn('class_id', 'integer', (c) => c.notNull().references('classes.id').onDelete('cascade'))
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('removed_at', ms, (c) => c.notNull())
    .addPrimaryKeyConstraint('class_removals_pk', ['class_id', 'user_id'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('class_removals').ifExists().execute();
  await db.schema.alterTable('invites').dropColumn('max_uses').execute();
  await db.schema.alterTable('class_pool').dropColumn('approved').execute();
  await db.schema.dropTable('class_scope').ifExists().execute();
}
