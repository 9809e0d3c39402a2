// Sync statistics on the wire, as the admin sees them (GET /api/sync/status, the sync:status push, /readyz): server and client import these.

/** The passes over the snapshot (`/cluster/resources`) that can be scheduled or asked for. */
export const snapshotPassKinds = ['full', 'quick'] as const;
export type SnapshotPassKind = (typeof snapshotPassKinds)[number];
/** A pass as the statistics record it: the snapshot passes, and the fast lane's live reads. */
export type PassKind = SnapshotPassKind | 'fast';
export type ClusterHealth = 'healthy' | 'degraded' | 'down' | 'unknown';

export interface PassRecord {
  kind: PassKind;
  startedAt: number;
  durationMs: number;
  guests: number;
  changed: number;
  error: string | null;
}

/** A node of a cluster as the last pass saw it (from /cluster/resources' node rows). */
export interface NodeState {
  name: string;
  online: boolean;
}

export interface ClusterSyncStatus {
  id: string;
  name: string;
  health: ClusterHealth;
  running: PassKind | null;
  lastFullAt: number | null;
  lastQuickAt: number | null;
  /** Epoch ms of the last successful pass of any kind: data older than this is stale. */
  lastSuccessAt: number | null;
  stale: boolean;
  guests: number;
  errorCount: number;
  lastError: string | null;
  lastErrorAt: number | null;
  consecutiveFailures: number;
  backoffMs: number;
  nextRunAt: number | null;
  /** Most recent passes, newest last (bounded). */
  recentPasses: PassRecord[];
  /** Proxmox call latency over recent calls, ms. */
  latencyMs: { p50: number | null; p95: number | null; last: number | null };
  fastLane: number;
  /** The cluster's nodes as the last successful pass saw them (empty before one). */
  nodes: NodeState[];
  /** The instance that syncs this cluster (null while none does: several instances, leader lost). */
  leader?: string | null;
}

/** Several instances on one database: what this one leads, and writes of its passes refused since it started. */
export interface InstancesStatus {
  led: string[];
  /** Per cluster: refused by the epoch in the database, or before asking it (no longer leader). */
  fenced: Record<string, { byEpoch: number; notLeader: number }>;
}

export interface SyncStatus {
  /** The instance that answered. */
  instance?: string;
  /** Only when several instances share the database. */
  instances?: InstancesStatus;
  running: boolean;
  startedAt: number;
  clusters: ClusterSyncStatus[];
  totals: { guests: number; errorCount: number; clustersDown: number };
}
