// Shapes the harness and its two child processes (simulator, labdeck) exchange over IPC.

export interface SimStartArgs {
  clusters: number;
  guestsPerCluster: number;
  nodesPerCluster: number;
  taskStartMs: number;
  agentTimeoutMs: number;
  ipDelayMs: number;
  /** Task durations beyond the start task (e.g. linkedClone, snapshot for section 8). */
  taskDurationMs?: Record<string, number>;
}

export interface SimClusterInfo {
  id: string; url: string; tokenId: string; tokenSecret: string; nodes: string[];
}

/** 'held': the snapshot moves only when the harness refreshes it; N: every N ms; 0: live. */
export type PvestatdMode = 'held' | number;

export interface SimGuestBrief {
  cluster: string; vmid: number; type: 'qemu' | 'lxc'; node: string; status: string; template: boolean;
}

export interface SimStats { requests: number; bytesOut: number; byPath: Record<string, number> }

export type PowerAction = 'start' | 'stop' | 'shutdown' | 'reboot' | 'suspend' | 'resume';

/** Cluster ids lab-01..lab-NN; the last one runs with the pvestatd lag. */
export function clusterIds(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `lab-${String(i + 1).padStart(2, '0')}`);
}

/** Users, classes and assignments seeded into labdeck before it starts. */
export interface SeedPlan {
  password: string;
  admins: string[];
  classes: Array<{ name: string; teacher: string; cluster: string; students: string[]; pool: string[]; scopeWholeCluster?: boolean }>;
  /** username → VM keys (`cluster:vmid`) assigned to that student. */
  assignments: Record<string, string[]>;
}

/** How the labdeck child is started. */
export interface LabdeckStartArgs {
  dbFile: string;
  planFile: string;
  sessionSecret: string;
  clusters: SimClusterInfo[];
  quickIntervalSeconds: number;
  fullIntervalSeconds: number;
  /** Further sync settings (e.g. the live signals off while phase A measures passes alone). */
  sync?: Record<string, number>;
  /** Provisioning settings (perNode, pollMs, ...) for section 8. */
  provision?: Record<string, number>;
  /** Seed users/classes (first start) or reuse the database as it is (restart). */
  seed: boolean;
  /** 0 = ephemeral; the restart reuses the first port so sockets reconnect by themselves. */
  port: number;
}

export interface Usage { cpuUserMs: number; cpuSystemMs: number; rss: number; maxRss: number; heapUsed: number; heapAfterGc?: number; at: number }

export interface PassMeasure {
  wallMs: number;
  cpuMs: number;
  rowsWritten: number;
  vmEvents: number;
  syncRuns: number;
  announcedVms: number;
  revisionBefore: number;
  revisionAfter: number;
}
