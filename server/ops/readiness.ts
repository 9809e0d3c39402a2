// Liveness and readiness answers for orchestrators. Readiness = the database answers and takes a
// write (a full disk still answers reads), no query found it unavailable since its last good
// write, every migration of this build is applied, every cluster has finished its first pass (ok or not), and
// the process is not shutting down. A cluster that is down does not make labdeck unready: it still
// serves the last known state, marked stale; its state is reported so a monitor can see it.
import { sql } from 'kysely';
import type { Db } from '../db/index.js';
import { describeDbError, type DbHealthState } from '../db/health.js';
import { knownMigrations } from '../db/migrate.js';
import type { ClusterSyncStatus, SyncStatus } from '../../contract/sync.js';

export type ClusterReadiness = 'ok' | 'failing' | 'stale' | 'pending';

export interface ReadinessReport {
  ready: boolean;
  status: 'ready' | 'not_ready' | 'shutting_down';
  checks: {
    database: { ok: boolean; ms: number; error?: string };
    migrations: { ok: boolean; missing: string[] };
    clusters: Array<{
      id: string;
      state: ClusterReadiness;
      lastSuccessAt: number | null;
      consecutiveFailures: number;
      lastError: string | null;
    }>;
  };
}

/** What anyone may read of readiness: states, no hosts, ports or error texts (those are for admins). */
export interface PublicReadinessReport {
  ready: boolean;
  status: ReadinessReport['status'];
  checks: {
    database: { ok: boolean };
    migrations: { ok: boolean };
    clusters: Array<{ id: string; state: ClusterReadiness }>;
  };
}

/** The report without details for callers who are not admins (pure). */
export function publicReadiness(r: ReadinessReport): PublicReadinessReport {
  return {
    ready: r.ready,
    status: r.status,
    checks: {
      database: { ok: r.checks.database.ok },
      migrations: { ok: r.checks.migrations.ok },
      clusters: r.checks.clusters.map((c) => ({ id: c.id, state: c.state })),
    },
  };
}

/** The readiness state of one cluster from its sync status. */
export function clusterReadiness(c: ClusterSyncStatus): ClusterReadiness {
  if (c.consecutiveFailures > 0) return 'failing';
  if (c.lastSuccessAt === null) return c.lastErrorAt === null ? 'pending' : 'failing';
  return c.stale ? 'stale' : 'ok';
}

/** Pure: combines the probe results into the report. */
export function readinessReport(input: {
  database: { ok: boolean; ms: number; error?: string };
  applied: string[];
  sync: SyncStatus | null;
  shuttingDown: boolean;
}): ReadinessReport {
  const missing = knownMigrations.filter((m) => !input.applied.includes(m));
  const clusters = (input.sync?.clusters ?? []).map((c) => ({
    id: c.id, state: clusterReadiness(c), lastSuccessAt: c.lastSuccessAt, consecutiveFailures: c.consecutiveFailures, lastError: c.lastError,
  }));
  const ready = !input.shuttingDown && input.database.ok && missing.length === 0 && clusters.every((c) => c.state !== 'pending');
  return {
    ready,
    status: input.shuttingDown ? 'shutting_down' : ready ? 'ready' : 'not_ready',
    checks: { database: input.database, migrations: { ok: missing.length === 0, missing }, clusters },
  };
}

/**
 * Probes the database within `timeoutMs`: a trivial query, the applied migrations, and one write
 * (the health_probe row). `health` is what other queries found since: a failure there stands
 * until a write succeeds, so a probe that happens to squeeze through does not hide it.
 */
export async function probeDatabase(db: Db, timeoutMs = 2_000, health?: () => DbHealthState): Promise<{ database: { ok: boolean; ms: number; error?: string }; applied: string[] }> {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs); });
  try {
    const applied = await Promise.race([
      (async () => {
        await sql`select 1`.execute(db);
        const rows = await sql<{ name: string }>`select name from kysely_migration`.execute(db);
        const applied = rows.rows.map((r) => r.name);
        if (applied.includes('060_reliability')) {
          await db.insertInto('health_probe').values({ id: 1, at: Date.now() })
            .onConflict((oc) => oc.column('id').doUpdateSet({ at: (eb) => eb.ref('excluded.at') })).execute();
        }
        return applied;
      })(),
      timeout,
    ]);
    const ms = Math.round(performance.now() - t0);
    const h = health?.();
    if (h && !h.ok) return { database: { ok: false, ms, error: h.error ?? 'unavailable' }, applied };
    return { database: { ok: true, ms }, applied };
  } catch (err) {
    return { database: { ok: false, ms: Math.round(performance.now() - t0), error: describeDbError(err) }, applied: [] };
  } finally {
    clearTimeout(timer);
  }
}
