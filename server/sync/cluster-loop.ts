// One cluster's scheduler: full and quick passes on their intervals, exponential backoff with
// jitter while failing, a pass joined rather than doubled, stats for the admin.
import type { Logger } from '../log.js';
import type { ClusterConfig, SyncConfig } from '../config.js';
import type { InventoryRepo, ClusterState } from '../inventory/repository.js';
import type { PveClient } from '../pve/client.js';
import { PveError } from '../pve/errors.js';
import { backoffDelay } from './backoff.js';
import { runPass, type PassOutcome, type QuietPass } from './pass.js';
import type { ClusterHealth, ClusterSyncStatus, PassRecord } from './types.js';

export interface ClusterLoopDeps {
  cluster: ClusterConfig;
  sync: SyncConfig;
  client: PveClient;
  repo: InventoryRepo;
  logger: Logger;
  heldStatus: () => ReadonlySet<number>;
  fastLaneCount: () => number;
  /** Called with the guests whose status a pass saw change. */
  onStatusChanged: (vmids: number[]) => void;
  /** Called with held guests whose status the snapshot contradicts (a live check decides). */
  onVerify: (vmids: number[]) => void;
  /** Called after every pass (success or not). */
  onPassDone: () => void;
}

const RECENT = 20;
/** More status changes than this in one pass (a node going down) are not worth a fast lane each. */
const FAST_LANE_BURST = 20;

const describe = (err: unknown) => (err instanceof PveError ? err.message : (err as Error).message ?? String(err));

/** The per-cluster loop. */
export class ClusterLoop {
  readonly id: string;
  private timer: NodeJS.Timeout | null = null;
  private running: { kind: 'full' | 'quick'; promise: Promise<void> } | null = null;
  private stopped = true;
  private nextFullAt = 0;
  private nextQuickAt = 0;
  private nextRunAt: number | null = null;
  private backoffMs = 0;
  private hadFull = false;
  private guests = 0;
  private readonly recent: PassRecord[] = [];
  private state: ClusterState;
  private readonly quiet: { last: QuietPass | null } = { last: null };
  /** A signal asked for a pass while one ran (that one may have read too early): run another right after. */
  private again = false;
  /** Guests finished destroy tasks removed, until a successful pass has tombstoned them. */
  private readonly destroyed = new Set<number>();

  constructor(private readonly deps: ClusterLoopDeps, persisted: ClusterState | undefined) {
    this.id = deps.cluster.id;
    this.state = persisted ?? {
      cluster_id: this.id, last_success_at: null, last_full_at: null, last_quick_at: null,
      last_error: null, last_error_at: null, consecutive_failures: 0, error_count: 0,
    };
  }

  /** Starts the loop with a full pass now. */
  start(guestsKnown: number): void {
    this.stopped = false;
    this.guests = guestsKnown;
    this.nextFullAt = Date.now();
    this.nextQuickAt = Date.now();
    this.schedule();
  }

  /** Stops scheduling and waits (up to timeoutMs) for a running pass. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.nextRunAt = null;
    const p = this.running?.promise;
    if (p) await Promise.race([p, new Promise((r) => setTimeout(r, timeoutMs).unref())]);
  }

  /** Runs a pass now, or joins the one already running. */
  run(kind: 'full' | 'quick'): Promise<void> {
    if (this.running) return this.running.promise;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const promise = this.pass(kind).finally(() => {
      this.running = null;
      this.schedule();
      this.deps.onPassDone();
    });
    this.running = { kind, promise };
    return promise;
  }

  /**
   * A live signal (a finished migration, clone or destroy, a rolled-over task list) wants the
   * snapshot read now: a quick pass at once, or right after the running one; never during backoff.
   */
  soon(destroyed: readonly number[] = []): void {
    for (const vmid of destroyed) this.destroyed.add(vmid);
    if (this.stopped) return;
    if (this.running || this.state.consecutive_failures > 0) {
      this.again = true;
      return;
    }
    void this.run('quick');
  }

  /** Whether the first full pass is in (before it, live signals have nothing to compare with). */
  ready(): boolean {
    return this.hadFull;
  }

  private schedule(): void {
    if (this.stopped || this.running) return;
    if (this.timer) clearTimeout(this.timer);
    const now = Date.now();
    const failing = this.state.consecutive_failures > 0 && this.state.last_error_at !== null;
    if (!failing && this.again) this.nextQuickAt = Math.min(this.nextQuickAt, now);
    this.again = false;
    const at = failing
      ? Math.max(now, this.state.last_error_at! + this.backoffMs)
      : Math.min(this.nextFullAt, this.nextQuickAt);
    this.nextRunAt = Math.max(now, at);
    this.timer = setTimeout(() => {
      this.timer = null;
      const kind = !this.hadFull || Date.now() >= this.nextFullAt ? 'full' : 'quick';
      void this.run(kind);
    }, this.nextRunAt - now);
    this.timer.unref();
  }

  private async pass(kind: 'full' | 'quick'): Promise<void> {
    const { logger, sync } = this.deps;
    const startedAt = Date.now();
    const t0 = performance.now();
    const requestsBefore = this.deps.client.requestCount();
    let outcome: PassOutcome | null = null;
    let error: string | null = null;
    const destroyed = new Set(this.destroyed);
    try {
      outcome = await runPass({
        cluster: this.id, client: this.deps.client, repo: this.deps.repo,
        detailConcurrency: sync.detailConcurrency, probePorts: this.deps.cluster.probePorts,
        heldStatus: this.deps.heldStatus, quiet: this.quiet, destroyed,
      }, kind);
      for (const vmid of destroyed) this.destroyed.delete(vmid);
    } catch (err) {
      error = describe(err);
    }
    const durationMs = performance.now() - t0;
    const end = Date.now();
    if (outcome) {
      this.guests = outcome.guests;
      this.backoffMs = 0;
      if (kind === 'full') {
        this.hadFull = true;
        this.nextFullAt = end + sync.fullIntervalSeconds * 1000;
        logger.info({ cluster: this.id, changed: outcome.changed, removed: outcome.removed, requests: outcome.requests },
          `Full sync completed: ${outcome.guests} VMs in ${(durationMs / 1000).toFixed(1)}s`);
      } else if (outcome.changed > 0) {
        logger.info({ cluster: this.id }, `Quick sync updated ${outcome.changed} VMs`);
      } else {
        logger.debug({ cluster: this.id }, 'Quick sync updated 0 VMs');
      }
      this.nextQuickAt = end + sync.quickIntervalSeconds * 1000;
      if (outcome.skipped) {
        logger.warn({ cluster: this.id, skipped: outcome.skipped }, `Skipped ${outcome.skipped} unreadable guest entries: ${outcome.skipReason}`);
      }
      if (outcome.statusChanged.length && outcome.statusChanged.length <= FAST_LANE_BURST) this.deps.onStatusChanged(outcome.statusChanged);
      if (outcome.verify.length) this.deps.onVerify(outcome.verify);
    } else {
      logger.warn({ cluster: this.id }, `${kind === 'full' ? 'Full' : 'Quick'} sync failed: ${error}`);
    }
    const record: PassRecord = {
      kind, startedAt, durationMs: Math.round(durationMs), guests: outcome?.guests ?? 0,
      changed: outcome ? outcome.changed + outcome.removed : 0, error,
    };
    this.recent.push(record);
    if (this.recent.length > RECENT) this.recent.shift();
    try {
      this.state = await this.deps.repo.recordPass({
        cluster: this.id, kind, startedAt, durationMs: record.durationMs, guests: record.guests, changed: record.changed,
        requests: this.deps.client.requestCount() - requestsBefore, error,
      });
    } catch (err) {
      logger.error({ cluster: this.id, err: describe(err) }, 'Could not record the sync pass');
      if (error) this.state = { ...this.state, consecutive_failures: this.state.consecutive_failures + 1, last_error: error, last_error_at: end };
    }
    if (error) {
      this.backoffMs = backoffDelay(this.state.consecutive_failures, {
        baseMs: Math.min(5_000, sync.quickIntervalSeconds * 1000), maxMs: sync.maxBackoffSeconds * 1000,
      });
    }
  }

  /** The admin's view of this cluster. */
  status(): ClusterSyncStatus {
    const s = this.state;
    const now = Date.now();
    const stale = s.last_success_at === null || now - s.last_success_at > this.deps.sync.staleAfterSeconds * 1000;
    let health: ClusterHealth = 'unknown';
    if (s.consecutive_failures >= 3 || (s.consecutive_failures > 0 && stale)) health = 'down';
    else if (s.consecutive_failures > 0) health = 'degraded';
    else if (s.last_success_at !== null) health = 'healthy';
    const lat = this.deps.client.latency();
    return {
      id: this.id,
      name: this.deps.cluster.name ?? this.id,
      health,
      running: this.running?.kind ?? null,
      lastFullAt: s.last_full_at,
      lastQuickAt: s.last_quick_at,
      lastSuccessAt: s.last_success_at,
      stale,
      guests: this.guests,
      errorCount: s.error_count,
      lastError: s.last_error,
      lastErrorAt: s.last_error_at,
      consecutiveFailures: s.consecutive_failures,
      backoffMs: s.consecutive_failures > 0 ? this.backoffMs : 0,
      nextRunAt: this.nextRunAt,
      recentPasses: [...this.recent],
      latencyMs: { p50: lat.p50, p95: lat.p95, last: lat.last },
      fastLane: this.deps.fastLaneCount(),
    };
  }
}
