// One-time console links: a browser asks for a console and gets a token good for one WebSocket
// connection within seconds. Only the token's SHA-256 hash is stored, with whom it was given to,
// which VM, how it may be used (control or view only), when it expires and whether it was used,
// so that any labdeck instance sharing the database can redeem it. Console sessions themselves
// are audit log entries (action 'console').
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('console_tokens')
    .addColumn('token_hash', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('cluster_id', 'text', (c) => c.notNull())
    .addColumn('vmid', 'integer', (c) => c.notNull())
    /** 'control' | 'view'. */
    .addColumn('mode', 'text', (c) => c.notNull())
    .addColumn('created_at', 'double precision', (c) => c.notNull())
    .addColumn('expires_at', 'double precision', (c) => c.notNull())
    .addColumn('used', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.createIndex('console_tokens_expires').on('console_tokens').column('expires_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('console_tokens').ifExists().execute();
}
