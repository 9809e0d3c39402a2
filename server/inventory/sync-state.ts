// The sync's state per cluster (cluster_state, sync_runs): what the passes record and what readers
// judge staleness by. Kept apart from the inventory rows: the sync writes both, but the VM list,
// the read model and the sync status read only this to tell whether a cluster's data is stale.
// The composition root builds one and hands it to the sync (writer) and to the readers.
import type { Selectable, Transaction } from 'kysely';
import type { Database, ClusterStateTable } from '../db/schema.js';
import type { Db } from '../db/index.js';
import { stalenessOf } from './staleness.js';
import type { SnapshotPassKind } from '../../contract/sync.js';

export type ClusterState = Selectable<ClusterStateTable>;

export interface PassRecordInput {
  cluster: string;
  kind: SnapshotPassKind;
  startedAt: number;
  durationMs: number;
  guests: number;
  changed: number;
  requests: number;
  error: string | null;
}

/** What a store shared with other instances does inside its write transactions (server/cluster's SharedWrites fits). */
export interface SharedStateWrites {
  /** Throws unless this instance still leads `cluster`'s sync; `withStatus` also stores its status. */
  fence(trx: Transaction<Database>, cluster: string, withStatus: boolean): Promise<void>;
  /** Tells the other instances (delivered at commit). */
  notify(trx: Transaction<Database>, cluster: string, kind: 'state', revision: null): Promise<void>;
}

export interface SyncStateOptions {
  /** A cluster without a successful pass for this long reads as stale (default 90 s). */
  staleAfterMs?: number;
  now?: () => number;
}

/** The cluster states: read from the database once, then kept by recordPass (the only writer here). */
export class SyncStateStore {
  private readonly staleAfterMs: number;
  private readonly now: () => number;
  private shared: SharedStateWrites | null = null;
  /** The cluster states in memory (null until first read). */
  private states: Map<string, ClusterState> | null = null;

  constructor(private readonly db: Db, opts: SyncStateOptions = {}) {
    this.staleAfterMs = opts.staleAfterMs ?? 90_000;
    this.now = opts.now ?? Date.now;
  }

  /** Shares the database with other instances: each record is fenced by the sync epoch and announced. */
  attachShared(shared: SharedStateWrites): void {
    this.shared = shared;
  }

  /**
   * Per-cluster sync state as persisted (survives restarts). Read from the database once, then
   * kept by recordPass: staleness checks on every read ask no database.
   */
  async clusterStates(): Promise<ClusterState[]> {
    if (!this.states) {
      const rows = await this.db.selectFrom('cluster_state').selectAll().orderBy('cluster_id').execute();
      // A pass recorded while this read ran is newer than what it read.
      this.states ??= new Map(rows.map((r) => [r.cluster_id, r]));
    }
    return [...this.states.values()].sort((a, b) => (a.cluster_id < b.cluster_id ? -1 : a.cluster_id > b.cluster_id ? 1 : 0));
  }

  /** Cluster id → is its data stale now. */
  async staleness(): Promise<(cluster: string) => boolean> {
    return stalenessOf(await this.clusterStates(), this.staleAfterMs, this.now());
  }

  /** A cluster state as another instance stored it (readers' staleness follows it). */
  adoptState(state: ClusterState): void {
    this.states?.set(state.cluster_id, state);
  }

  /** Reads one cluster's state afresh (this instance takes over its sync from another). */
  async reread(cluster: string): Promise<void> {
    const row = await this.db.selectFrom('cluster_state').selectAll().where('cluster_id', '=', cluster).executeTakeFirst();
    if (row) this.adoptState(row);
  }

  /**
   * Persists one pass: its sync_runs row and the cluster's state (success resets the failure
   * streak). The caller may hand in the state it already computed (the sync loop keeps its own):
   * then that state is what readers see even when the database cannot take it (an outage must not
   * make a cluster that answers look stale; the next record writes the whole row again).
   */
  async recordPass(p: PassRecordInput, state?: ClusterState): Promise<ClusterState> {
    let next: ClusterState;
    try {
      next = await this.db.transaction().execute(async (trx) => {
        if (this.shared) await this.shared.fence(trx, p.cluster, true);
        let row = state;
        if (!row) {
          const prev = await trx.selectFrom('cluster_state').selectAll().where('cluster_id', '=', p.cluster).executeTakeFirst();
          row = nextClusterState(prev ?? emptyClusterState(p.cluster), p);
        }
        const r = row;
        await trx.insertInto('cluster_state').values(r)
          .onConflict((oc) => oc.column('cluster_id').doUpdateSet({
            last_success_at: r.last_success_at, last_full_at: r.last_full_at, last_quick_at: r.last_quick_at,
            last_error: r.last_error, last_error_at: r.last_error_at,
            consecutive_failures: r.consecutive_failures, error_count: r.error_count,
          })).execute();
        await trx.insertInto('sync_runs').values({
          cluster_id: p.cluster, kind: p.kind, started_at: p.startedAt, duration_ms: p.durationMs,
          guests_seen: p.guests, rows_changed: p.changed, requests: p.requests, error: p.error,
        }).execute();
        if (this.shared) await this.shared.notify(trx, p.cluster, 'state', null);
        return r;
      });
    } catch (err) {
      if (state) this.states?.set(state.cluster_id, state);
      throw err;
    }
    // After the commit, so no reader sees a state the database might still lose.
    this.states?.set(next.cluster_id, next);
    return next;
  }
}

/** A cluster that has never been synced. */
export function emptyClusterState(cluster: string): ClusterState {
  return {
    cluster_id: cluster, last_success_at: null, last_full_at: null, last_quick_at: null,
    last_error: null, last_error_at: null, consecutive_failures: 0, error_count: 0,
  };
}

/**
 * A cluster's state after one more pass (pure): a success resets the failure streak and clears
 * the last error (its time stays, for the history), a failure extends the streak.
 */
export function nextClusterState(base: ClusterState, p: Pick<PassRecordInput, 'kind' | 'startedAt' | 'durationMs' | 'error'>): ClusterState {
  const end = p.startedAt + p.durationMs;
  return p.error === null
    ? { ...base, last_success_at: end, consecutive_failures: 0, last_error: null,
        ...(p.kind === 'full' ? { last_full_at: end } : { last_quick_at: end }) }
    : { ...base, last_error: p.error, last_error_at: end, consecutive_failures: base.consecutive_failures + 1, error_count: base.error_count + 1 };
}
