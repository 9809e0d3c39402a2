// History retention: vm_events, sync_runs and alert_events older than `retention.days`, and the
// audit log older than its own, longer `retention.auditDays`, are deleted on one schedule, in
// bounded batches so a first prune of a big table does not stall the server.
import type { Db } from '../db/index.js';
import { log as rootLog, type Logger } from '../log.js';
import type { RetentionConfig } from './config-schema.js';

export interface PruneResult { vmEvents: number; syncRuns: number; alertEvents: number; auditEntries: number; cutoff: number; auditCutoff: number }

const BATCH = 5_000;

async function pruneTable(db: Db, table: 'vm_events' | 'sync_runs' | 'alert_events' | 'audit_log', column: 'at' | 'started_at', cutoff: number): Promise<number> {
  let total = 0;
  for (;;) {
    const ids = db.selectFrom(table as 'vm_events').select('id').where(column as 'at', '<', cutoff).limit(BATCH);
    const res = await db.deleteFrom(table as 'vm_events').where('id', 'in', ids).executeTakeFirst();
    const n = Number(res.numDeletedRows ?? 0);
    total += n;
    if (n < BATCH) return total;
  }
}

/** Audit entries are kept this long unless `retention.auditDays` says otherwise. */
export const DEFAULT_AUDIT_DAYS = 365;

/**
 * Deletes history older than `days` and audit entries older than `auditDays` before `now`;
 * returns how many rows went.
 */
export async function pruneHistory(db: Db, days: number, now = Date.now(), auditDays = DEFAULT_AUDIT_DAYS): Promise<PruneResult> {
  const cutoff = now - days * 86_400_000;
  const auditCutoff = now - auditDays * 86_400_000;
  return {
    vmEvents: await pruneTable(db, 'vm_events', 'at', cutoff),
    syncRuns: await pruneTable(db, 'sync_runs', 'started_at', cutoff),
    alertEvents: await pruneTable(db, 'alert_events', 'at', cutoff),
    auditEntries: await pruneTable(db, 'audit_log', 'at', auditCutoff),
    cutoff,
    auditCutoff,
  };
}

export interface RetentionJob {
  /** Prunes now (also what the schedule calls). */
  runNow(): Promise<PruneResult>;
  /** Stops the schedule and waits for a prune under way. */
  stop(): Promise<void>;
}

/** Prunes once shortly after start, then every `intervalHours`. */
export function startRetention(db: Db, cfg: RetentionConfig, logger: Logger = rootLog): RetentionJob {
  const log = logger.child({ module: 'retention' });
  let running: Promise<PruneResult> | null = null;
  const runNow = () => {
    running ??= pruneHistory(db, cfg.days, Date.now(), cfg.auditDays)
      .then((r) => {
        if (r.vmEvents || r.syncRuns || r.alertEvents || r.auditEntries) log.info({ ...r, days: cfg.days, auditDays: cfg.auditDays }, 'Pruned old history');
        return r;
      })
      .finally(() => { running = null; });
    return running;
  };
  const tick = () => { runNow().catch((err) => log.error({ err }, 'History pruning failed')); };
  const first = setTimeout(tick, 30_000);
  const timer = setInterval(tick, cfg.intervalHours * 3_600_000);
  first.unref();
  timer.unref();
  return {
    runNow,
    async stop() {
      clearTimeout(first);
      clearInterval(timer);
      await running?.catch(() => undefined);
    },
  };
}
