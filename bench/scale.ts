// The sizes of a benchmark run: the full run the issue asks for, a quick one for development,
// and a tiny one the smoke test uses so the harness cannot rot.

export interface Scale {
  name: 'full' | 'quick' | 'tiny';
  clusters: number;
  guestsPerCluster: number;
  nodesPerCluster: number;
  /** The last cluster's pvestatd interval (the others run at 0 = live cluster/resources). */
  laggedPvestatdMs: number;
  classes: number;
  studentsPerClass: number;
  vmsPerStudent: number;
  admins: number;
  /** Quick passes measured: fraction of guests changed before the pass → how many passes. */
  passes: Array<{ fraction: number; repeats: number }>;
  readMs: number;
  readConcurrency: { student: number; teacher: number; admin: number };
  pushSingles: number;
  pushBatch: number;
  startSamples: number;
  /** Simulated duration of a start task. */
  taskStartMs: number;
  /** Simulator: how long a booting guest's agent call waits before "not running" (real PVE: ~3 s). */
  agentTimeoutMs: number;
  /** Simulator: how long after boot a guest reports its address. */
  ipDelayMs: number;
  /** Quick interval of the "as deployed" phase. */
  deployedQuickIntervalS: number;
  /** Length of the side-by-side window (idle push vs polling). */
  compareWindowMs: number;
  pollers: number;
  pollIntervalMs: number;
  /** Seed-design quick sync: concurrency of its per-VM status/current calls. */
  seedSyncConcurrency: number;
  /** Live signals (section 6): idle window, outside changes of each kind measured, soak length. */
  liveIdleMs: number;
  liveSamples: number;
  soakMs: number;
}

export const scales: Record<Scale['name'], Scale> = {
  full: {
    name: 'full', clusters: 10, guestsPerCluster: 2000, nodesPerCluster: 4, laggedPvestatdMs: 10_000,
    classes: 50, studentsPerClass: 40, vmsPerStudent: 2, admins: 1,
    passes: [{ fraction: 0, repeats: 5 }, { fraction: 0.01, repeats: 3 }, { fraction: 0.1, repeats: 2 }],
    readMs: 6000, readConcurrency: { student: 16, teacher: 8, admin: 2 },
    pushSingles: 24, pushBatch: 1000, startSamples: 10,
    taskStartMs: 2000, agentTimeoutMs: 3000, ipDelayMs: 3000, deployedQuickIntervalS: 30, compareWindowMs: 60_000, pollers: 40, pollIntervalMs: 2000,
    seedSyncConcurrency: 8, liveIdleMs: 60_000, liveSamples: 60, soakMs: 180_000,
  },
  quick: {
    name: 'quick', clusters: 2, guestsPerCluster: 500, nodesPerCluster: 2, laggedPvestatdMs: 5000,
    classes: 5, studentsPerClass: 40, vmsPerStudent: 2, admins: 1,
    passes: [{ fraction: 0, repeats: 3 }, { fraction: 0.01, repeats: 2 }, { fraction: 0.1, repeats: 2 }],
    readMs: 2000, readConcurrency: { student: 8, teacher: 4, admin: 2 },
    pushSingles: 12, pushBatch: 100, startSamples: 4,
    taskStartMs: 1000, agentTimeoutMs: 3000, ipDelayMs: 3000, deployedQuickIntervalS: 30, compareWindowMs: 15_000, pollers: 8, pollIntervalMs: 2000,
    seedSyncConcurrency: 8, liveIdleMs: 20_000, liveSamples: 16, soakMs: 40_000,
  },
  tiny: {
    name: 'tiny', clusters: 2, guestsPerCluster: 60, nodesPerCluster: 1, laggedPvestatdMs: 1000,
    classes: 2, studentsPerClass: 5, vmsPerStudent: 1, admins: 1,
    passes: [{ fraction: 0, repeats: 1 }, { fraction: 0.1, repeats: 1 }],
    readMs: 300, readConcurrency: { student: 2, teacher: 1, admin: 1 },
    pushSingles: 2, pushBatch: 10, startSamples: 1,
    taskStartMs: 200, agentTimeoutMs: 200, ipDelayMs: 500, deployedQuickIntervalS: 1, compareWindowMs: 2500, pollers: 2, pollIntervalMs: 1000,
    seedSyncConcurrency: 4, liveIdleMs: 4000, liveSamples: 3, soakMs: 6000,
  },
};
