// One cluster's scheduler: full and quick passes on their intervals, exponential backoff with
// jitter while failing, a pass joined rather than doubled, stats for the admin. Only Proxmox's
// failures count against a cluster: a pass the database could not take is redone soon (its own
// backoff) and leaves the cluster's health alone, and a pass cut off by shutdown counts for nothing.
// The cluster's state is kept in memory first and stored after, so a database outage loses no
// success; when the data turns stale the status is pushed at that moment, not after the next pass.
import { isStale } from '../inventory/staleness.js';
import type { Logger } from '../log.js';
import type { ClusterConfig, SyncConfig } from '../config.js';
import type { InventoryRepo } from '../inventory/repository.js';
import { nextClusterState, emptyClusterState, type ClusterState, type PassRecordInput, type SyncStateStore } from '../inventory/sync-state.js';
import { describeDbError } from '../db/health.js';
import type { PveClient } from '../pve/client.js';
import { PveError } from '../pve/errors.js';
import { backoffDelay } from './backoff.js';
import { runPass, type PassOutcome, type QuietPass } from './pass.js';
import type { ClusterHealth, ClusterSyncStatus, NodeState, PassRecord, SnapshotPassKind } from '../../contract/sync.js';

export interface ClusterLoopDeps {
  cluster: ClusterConfig;
  sync: SyncConfig;
  client: PveClient;
  repo: InventoryRepo;
  /** Where each pass is recorded (the cluster's state, its sync_runs row). */
  states: Pick<SyncStateStore, 'recordPass'>;
  logger: Logger;
  heldStatus: () => ReadonlySet<number>;
  fastLaneCount: () => number;
  /** Called with the guests whose status a pass saw change. */
  onStatusChanged: (vmids: number[]) => void;
  /** Called with held guests whose status the snapshot contradicts (a live check decides). */
  onVerify: (vmids: number[]) => void;
  /** Called after every pass (success or not), and when the cluster's data turns stale. */
  onPassDone: () => void;
  /** This instance's name (the cluster's leader while this loop runs its passes). */
  instance?: string;
  /**
   * Where in the quick interval this cluster's passes fall, in (0, 1] (1 by default): clusters that
   * started together would otherwise read and diff their snapshots at the same moment, every
   * interval, and the garbage collector would find all of them alive at once.
   */
  phase?: number;
}

/** First retry of a pass the database could not take, and the most it waits between retries. */
const DB_RETRY = { baseMs: 1_000, maxMs: 30_000 };

const RECENT = 20;
/** More status changes than this in one pass (a node going down) are not worth a fast lane each. */
const FAST_LANE_BURST = 20;

const describe = (err: unknown) => (err instanceof PveError ? err.message : (err as Error).message ?? String(err));

/** A cluster's staleness and health from its state (pure; the other instances judge a leader's status with it too). */
export function healthOf(s: Pick<ClusterState, 'last_success_at' | 'consecutive_failures'>, staleAfterMs: number, now: number): { stale: boolean; health: ClusterHealth } {
  const stale = isStale(s.last_success_at, staleAfterMs, now);
  let health: ClusterHealth = 'unknown';
  if (s.consecutive_failures >= 3 || (s.consecutive_failures > 0 && stale)) health = 'down';
  else if (s.consecutive_failures > 0) health = 'degraded';
  else if (s.last_success_at !== null) health = 'healthy';
  return { stale, health };
}

/** The per-cluster loop. */
export class ClusterLoop {
  readonly id: string;
  private timer: NodeJS.Timeout | null = null;
  private running: { kind: SnapshotPassKind; promise: Promise<void> } | null = null;
  private stopped = true;
  /** Set by stop(): a pass failing from now on was cut off by the shutdown. */
  private stopping = false;
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
  /** Passes in a row the database could not take, and when the next try is due. */
  private dbFailures = 0;
  private dbRetryAt: number | null = null;
  private staleTimer: NodeJS.Timeout | null = null;
  private nodes: NodeState[] = [];

  constructor(private readonly deps: ClusterLoopDeps, persisted: ClusterState | undefined) {
    this.id = deps.cluster.id;
    this.state = persisted ?? emptyClusterState(this.id);
  }

  /** The cluster's sync state as this process knows it (ahead of the database while it is down). */
  clusterState(): ClusterState {
    return this.state;
  }

  /** Starts the loop with a full pass now. */
  start(guestsKnown: number): void {
    this.stopped = false;
    this.stopping = false;
    this.guests = guestsKnown;
    this.nextFullAt = Date.now();
    this.nextQuickAt = Date.now();
    this.schedule();
    this.armStaleTimer();
  }

  /** Stops scheduling and waits (up to timeoutMs) for a running pass. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopped = true;
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.staleTimer) clearTimeout(this.staleTimer);
    this.timer = null;
    this.staleTimer = null;
    this.nextRunAt = null;
    const p = this.running?.promise;
    if (p) await Promise.race([p, new Promise((r) => setTimeout(r, timeoutMs).unref())]);
  }

  /** Runs a pass now, or joins the one already running. */
  run(kind: SnapshotPassKind): Promise<void> {
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
    const at = this.dbRetryAt !== null ? this.dbRetryAt
      : failing
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

  /** Pushes the status the moment the data turns stale (passes may be far apart while failing). */
  private armStaleTimer(): void {
    if (this.staleTimer) clearTimeout(this.staleTimer);
    this.staleTimer = null;
    const last = this.state.last_success_at;
    if (this.stopped || last === null) return;
    const at = last + this.deps.sync.staleAfterSeconds * 1000 + 10;
    const wait = at - Date.now();
    if (wait <= 0) return;
    this.staleTimer = setTimeout(() => {
      this.staleTimer = null;
      this.deps.onPassDone();
    }, wait);
    this.staleTimer.unref();
  }

  private async pass(kind: SnapshotPassKind): Promise<void> {
    const { logger, sync } = this.deps;
    const startedAt = Date.now();
    const t0 = performance.now();
    const requestsBefore = this.deps.client.requestCount();
    let outcome: PassOutcome | null = null;
    let error: string | null = null;
    const destroyed = new Set(this.destroyed);
    let failure: unknown = null;
    try {
      outcome = await runPass({
        cluster: this.id, client: this.deps.client, repo: this.deps.repo,
        detailConcurrency: sync.detailConcurrency, probePorts: this.deps.cluster.probePorts,
        heldStatus: this.deps.heldStatus, quiet: this.quiet, destroyed,
      }, kind);
      for (const vmid of destroyed) this.destroyed.delete(vmid);
    } catch (err) {
      failure = err;
      error = describe(err);
    }
    const durationMs = performance.now() - t0;
    const end = Date.now();
    const record: PassRecord = {
      kind, startedAt, durationMs: Math.round(durationMs), guests: outcome?.guests ?? 0,
      changed: outcome ? outcome.changed + outcome.removed : 0, error,
    };
    if (failure !== null && this.stopping) {
      // Shutdown closed the clients or the database under it: nothing was wrong with the cluster.
      logger.info({ cluster: this.id, err: error }, `${kind === 'full' ? 'Full' : 'Quick'} sync cut off by shutdown (not counted)`);
      return;
    }
    if (failure !== null && !(failure instanceof PveError)) {
      // The database (or labdeck itself), not Proxmox: nothing of the pass was stored; redo it soon.
      this.dbFailures++;
      this.dbRetryAt = end + backoffDelay(this.dbFailures, DB_RETRY);
      record.error = `database: ${describeDbError(failure)}`;
      this.pushRecent(record);
      logger.error({ cluster: this.id, err: describeDbError(failure), retryInMs: this.dbRetryAt - end },
        `${kind === 'full' ? 'Full' : 'Quick'} sync not stored: database error; redoing the pass`);
      return;
    }
    this.dbFailures = 0;
    this.dbRetryAt = null;
    if (outcome) {
      this.guests = outcome.guests;
      this.nodes = outcome.nodes;
      this.backoffMs = 0;
      // After the first full pass the passes move to the cluster's phase, and stay there (each next
      // pass is timed from the end of the one before).
      const shift = this.hadFull ? 0 : sync.quickIntervalSeconds * 1000 * ((this.deps.phase ?? 1) - 1);
      if (kind === 'full') {
        this.hadFull = true;
        this.nextFullAt = end + sync.fullIntervalSeconds * 1000 + shift;
        logger.info({ cluster: this.id, changed: outcome.changed, removed: outcome.removed, requests: outcome.requests },
          `Full sync completed: ${outcome.guests} VMs in ${(durationMs / 1000).toFixed(1)}s`);
      } else if (outcome.changed > 0) {
        logger.info({ cluster: this.id }, `Quick sync updated ${outcome.changed} VMs`);
      } else {
        logger.debug({ cluster: this.id }, 'Quick sync updated 0 VMs');
      }
      this.nextQuickAt = end + sync.quickIntervalSeconds * 1000 + shift;
      if (outcome.skipped) {
        logger.warn({ cluster: this.id, skipped: outcome.skipped }, `Skipped ${outcome.skipped} unreadable guest entries: ${outcome.skipReason}`);
      }
      const offline = outcome.nodes.filter((n) => !n.online).map((n) => n.name);
      if (offline.length) logger.warn({ cluster: this.id, nodes: offline }, `Nodes offline: ${offline.join(', ')} (their guests show as unknown)`);
      if (outcome.statusChanged.length && outcome.statusChanged.length <= FAST_LANE_BURST) this.deps.onStatusChanged(outcome.statusChanged);
      if (outcome.verify.length) this.deps.onVerify(outcome.verify);
    } else {
      logger.warn({ cluster: this.id }, `${kind === 'full' ? 'Full' : 'Quick'} sync failed: ${error}`);
    }
    this.pushRecent(record);
    const input: PassRecordInput = {
      cluster: this.id, kind, startedAt, durationMs: record.durationMs, guests: record.guests, changed: record.changed,
      requests: this.deps.client.requestCount() - requestsBefore, error,
    };
    // In memory first: a database that cannot take the record does not undo the pass's verdict.
    this.state = nextClusterState(this.state, input);
    this.armStaleTimer();
    try {
      await this.deps.states.recordPass(input, this.state);
    } catch (err) {
      logger.error({ cluster: this.id, err: describeDbError(err) }, 'Could not record the sync pass: database error');
    }
    if (error) {
      this.backoffMs = backoffDelay(this.state.consecutive_failures, {
        baseMs: Math.min(5_000, sync.quickIntervalSeconds * 1000), maxMs: sync.maxBackoffSeconds * 1000,
      });
    }
  }

  private pushRecent(record: PassRecord): void {
    this.recent.push(record);
    if (this.recent.length > RECENT) this.recent.shift();
  }

  /** The admin's view of this cluster. */
  status(): ClusterSyncStatus {
    const s = this.state;
    const { stale, health } = healthOf(s, this.deps.sync.staleAfterSeconds * 1000, Date.now());
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
      nodes: [...this.nodes],
      leader: this.deps.instance ?? null,
    };
  }
}
