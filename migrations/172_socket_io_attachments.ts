// Several instances on one PostgreSQL database: socket.io's PostgreSQL adapter keeps messages over
// NOTIFY's 8000-byte limit in this table (its layout is the adapter's). SQLite needs none.
import { sql, type Kysely } from 'kysely';
import { dialectOfDb } from '../server/db/index.js';

export async function up(db: Kysely<any>): Promise<void> {
  if (dialectOfDb(db) !== 'postgres') return;
  await sql`CREATE TABLE IF NOT EXISTS socket_io_attachments (id bigserial UNIQUE, created_at timestamptz DEFAULT NOW(), payload bytea)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  if (dialectOfDb(db) !== 'postgres') return;
  await sql`DROP TABLE IF EXISTS socket_io_attachments`.execute(db);
}
