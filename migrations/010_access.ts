// Users, classes (teachers, students, VM pool, assignments), invite and projector links, and the
// audit log. Tokens are stored only as SHA-256 hashes; passwords only as scrypt hashes.
import type { Kysely } from 'kysely';
import { dialectOfDb } from '../server/db/index.js';

export async function up(db: Kysely<any>): Promise<void> {
  const pg = dialectOfDb(db) === 'postgres';
  const ms = 'double precision';
  const id = (t: ReturnType<typeof db.schema.createTable>) =>
    pg ? t.addColumn('id', 'serial', (c) => c.primaryKey())
       : t.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());

  await id(db.schema.createTable('users'))
    .addColumn('username', 'text', (c) => c.notNull().unique())
    .addColumn('display_name', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('password_hash', 'text')
    .addColumn('source', 'text', (c) => c.notNull().defaultTo('local'))
    .addColumn('session_version', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', ms, (c) => c.notNull())
    .addColumn('updated_at', ms, (c) => c.notNull())
    .execute();

  await id(db.schema.createTable('classes'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('created_by', 'integer')
    .addColumn('created_at', ms, (c) => c.notNull())
    .execute();

  await db.schema.createTable('class_teachers')
    .addColumn('class_id', 'integer', (c) => c.notNull().references('classes.id').onDelete('cascade'))
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('is_owner', 'integer', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('class_teachers_pk', ['class_id', 'user_id'])
    .execute();

  await db.schema.createTable('class_members')
    .addColumn('class_id', 'integer', (c) => c.notNull().references('classes.id').onDelete('cascade'))
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('joined_at', ms, (c) => c.notNull())
    .addPrimaryKeyConstraint('class_members_pk', ['class_id', 'user_id'])
    .execute();
  await db.schema.createIndex('class_members_user').on('class_members').column('user_id').execute();

  await id(db.schema.createTable('class_pool'))
    .addColumn('class_id', 'integer', (c) => c.notNull().references('classes.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('cluster_id', 'text')
    .addColumn('vmid', 'integer')
    .addColumn('value', 'text')
    .addColumn('added_at', ms, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('class_pool_class').on('class_pool').column('class_id').execute();

  await db.schema.createTable('vm_assignments')
    .addColumn('class_id', 'integer', (c) => c.notNull().references('classes.id').onDelete('cascade'))
    .addColumn('cluster_id', 'text', (c) => c.notNull())
    .addColumn('vmid', 'integer', (c) => c.notNull())
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('assigned_at', ms, (c) => c.notNull())
    .addPrimaryKeyConstraint('vm_assignments_pk', ['class_id', 'cluster_id', 'vmid'])
    .execute();
  await db.schema.createIndex('vm_assignments_user').on('vm_assignments').column('user_id').execute();

  for (const table of ['invites', 'projector_links']) {
    await id(db.schema.createTable(table))
      .addColumn('class_id', 'integer', (c) => c.notNull().references('classes.id').onDelete('cascade'))
      .addColumn('token_hash', 'text', (c) => c.notNull().unique())
      .addColumn('created_by', 'integer')
      .addColumn('created_at', ms, (c) => c.notNull())
      .addColumn('expires_at', ms, (c) => c.notNull())
      .addColumn('revoked', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('uses', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
  }

  await id(db.schema.createTable('audit_log'))
    .addColumn('at', ms, (c) => c.notNull())
    .addColumn('user_id', 'integer')
    .addColumn('username', 'text')
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('cluster_id', 'text')
    .addColumn('vmid', 'integer')
    .addColumn('class_id', 'integer')
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('detail', 'text')
    .execute();
  await db.schema.createIndex('audit_log_at').on('audit_log').column('at').execute();
  await db.schema.createIndex('audit_log_class').on('audit_log').columns(['class_id', 'at']).execute();
  await db.schema.createIndex('audit_log_vm').on('audit_log').columns(['cluster_id', 'vmid', 'at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['audit_log', 'projector_links', 'invites', 'vm_assignments', 'class_pool', 'class_members',
    'class_teachers', 'classes', 'users']) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}
