// Runs the numbered migrations in migrations/ (a static list, so it works from source and from a build).
import { Migrator, type Migration, type MigrationProvider } from 'kysely';
import type { Db } from './index.js';
import * as m001 from '../../migrations/001_inventory.js';
import * as m010 from '../../migrations/010_access.js';
import * as m020 from '../../migrations/020_alerts.js';
import * as m030 from '../../migrations/030_class_scope.js';
import * as m040 from '../../migrations/040_console.js';
import * as m045 from '../../migrations/045_link_tokens_audit_class.js';
import * as m050 from '../../migrations/050_provisioning.js';
import * as m060 from '../../migrations/060_reliability.js';
import * as m110 from '../../migrations/110_audit_count.js';
import * as m140 from '../../migrations/140_reclone.js';
import * as m171 from '../../migrations/171_sync_leader.js';
import * as m172 from '../../migrations/172_socket_io_attachments.js';
import * as m173 from '../../migrations/173_provision_lease.js';

/** Every migration, by name; names sort in the order they run. */
const migrations: Record<string, Migration> = {
  '001_inventory': m001,
  '010_access': m010,
  '020_alerts': m020,
  '030_class_scope': m030,
  '040_console': m040,
  '045_link_tokens_audit_class': m045,
  '050_provisioning': m050,
  '060_reliability': m060,
  '110_audit_count': m110,
  '140_reclone': m140,
  '171_sync_leader': m171,
  '172_socket_io_attachments': m172,
  '173_provision_lease': m173,
};

const provider: MigrationProvider = { getMigrations: async () => migrations };
// Each issue numbers its migrations in its own range and they land in any order: a database that
// already ran 171 must still take a 140 that landed after it (each migration stands alone).

/** Brings the schema up to date; throws with the failing migration's name. */
export async function migrateToLatest(db: Db): Promise<void> {
  const { error, results } = await new Migrator({ db, provider, allowUnorderedMigrations: true }).migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`migration ${failed} failed: ${(error as Error).message ?? String(error)}`);
  }
}

/** Brings the schema up to (and including) one migration: tests of a later migration's data step. */
export async function migrateTo(db: Db, name: string): Promise<void> {
  const { error } = await new Migrator({ db, provider, allowUnorderedMigrations: true }).migrateTo(name);
  if (error) throw error;
}

/** Names of the migrations known to this build (for /readyz). */
export const knownMigrations = Object.keys(migrations);
