// The background VM inventory sync: one loop per configured cluster, a shared fast lane, status
// for the admin and the sync:status push. The server's composition root creates and starts it and
// hands it the inventory's writer and the sync-state store: the sync is the only writer of both.
import type { PveCalls } from '../pve/http.js';
import { log as rootLog, type Logger } from '../log.js';
import type { AppConfig, ClusterConfig, InstanceConfig } from '../config.js';
import { instanceName } from '../instance.js';
import type { Db } from '../db/index.js';
import type { ChangeFeed } from '../inventory/changes.js';
import type { InventoryRepo } from '../inventory/repository.js';
import type { ClusterState, SyncStateStore } from '../inventory/sync-state.js';
import { createPveClient, type PveClient } from '../pve/client.js';
import { ClusterLoop } from './cluster-loop.js';
import { FastLane, type WatchOptions } from './fast-lane.js';
import { SignalLoop, type SignalStats } from './signal-loop.js';
import type { ClusterSyncStatus, InstancesStatus, SnapshotPassKind, SyncStatus } from '../../contract/sync.js';

/** What the manager asks of the instances' coordination when several share one database (server/cluster). */
export interface SyncCoordinator {
  /** Starts taking the lead of clusters; `hooks` run the loops of the clusters led here. */
  start(hooks: CoordinatorHooks): Promise<void>;
  stop(): Promise<void>;
  /** The status the leading instance stored for a cluster not led here, or null. */
  remoteStatus(cluster: string): ClusterSyncStatus | null;
  /** Asks the cluster's leader to watch a guest live (a power action ran here). */
  forwardWatch(cluster: string, vmid: number, opts: WatchOptions): void;
  /** Asks the cluster's leader to run a pass. */
  forwardTrigger(cluster: string, kind: SnapshotPassKind): void;
  info(): InstancesStatus;
}

export interface CoordinatorHooks {
  lead(cluster: string, epoch: number): Promise<void>;
  lose(cluster: string): Promise<void>;
  /** A leader's work asked for by another instance. */
  watch(cluster: string, vmid: number, opts: WatchOptions): void;
  trigger(cluster: string, kind: SnapshotPassKind): void;
  /** The status of a cluster led here (stored with each pass for the other instances). */
  status(cluster: string): ClusterSyncStatus | null;
  /** Another instance's status changed: push it. */
  statusChanged(): void;
}

export interface SyncManagerOptions {
  db: Db;
  feed: ChangeFeed;
  /** The inventory's writer (built by the composition root; nobody else writes through it). */
  repo: InventoryRepo;
  /** The clusters' sync state, which the passes record. */
  states: SyncStateStore;
  /** Clusters and sync intervals (only `clusters` and `sync` are read). */
  config: Pick<AppConfig, 'clusters' | 'sync'> & { instance?: Partial<InstanceConfig> };
  logger?: Logger;
  /** Tests and the bench can hand in clients; by default one is made per cluster. */
  clientFactory?: (cluster: ClusterConfig, calls?: PveCalls) => PveClient;
  /** The metrics' view of Proxmox calls, handed to every client made here. */
  pveCalls?: PveCalls;
  /** Several instances on one database: only the clusters this one leads are synced here. */
  coordinator?: SyncCoordinator;
}

export interface SyncManager {
  /** Loads persisted cluster state and starts every cluster's loop (first pass: full, now). */
  start(): Promise<void>;
  /** Stops the loops and the fast lane, waiting for running passes up to a timeout. */
  stop(timeoutMs?: number): Promise<void>;
  /** Runs a pass now (all clusters, or one); joins a pass already running instead of starting another. */
  trigger(opts?: { cluster?: string; kind?: SnapshotPassKind }): Promise<void>;
  /** Polls one guest live until it settles (after a power action). */
  watch(cluster: string, vmid: number, opts?: WatchOptions): void;
  status(): SyncStatus;
  /** Each cluster's state as the running loops know it (ahead of the database while it is down); null before start(). */
  clusterStates(): ClusterState[] | null;
  client(clusterId: string): PveClient | undefined;
  clusterIds(): string[];
  /** Reads the live signals of one cluster now (the task list, then the node lists); for tests and the bench. */
  checkSignals(cluster: string): Promise<void>;
  /** Live-signal counters per cluster. */
  signalStats(): Record<string, SignalStats>;
  /** Writes a state labdeck itself decided (a power action's pending state or outcome); see InventoryRepo.setStatus. */
  setStatus: InventoryRepo['setStatus'];
  /** This instance's name (config instance.name, LABDECK_INSTANCE, or hostname-pid). */
  readonly instance: string;
}

/** Builds the sync manager; nothing runs until start(). */
export function createSyncManager(opts: SyncManagerOptions): SyncManager {
  const logger = opts.logger ?? rootLog;
  const me = instanceName(opts.config);
  const coordinator = opts.coordinator;
  const sync = opts.config.sync;
  const { repo, states: syncStates } = opts;
  const makeClient = opts.clientFactory ?? createPveClient;
  const clients = new Map<string, PveClient>();
  const configs = new Map<string, ClusterConfig>();
  for (const c of opts.config.clusters) {
    clients.set(c.id, makeClient(c, opts.pveCalls));
    configs.set(c.id, c);
  }
  const loops = new Map<string, ClusterLoop>();
  const signals = new Map<string, SignalLoop>();
  let startedAt = Date.now();
  let running = false;
  let statusTimer: NodeJS.Timeout | null = null;

  const emitStatus = () => {
    // Several clusters finishing together make one push, not one each.
    if (statusTimer) return;
    statusTimer = setTimeout(() => {
      statusTimer = null;
      opts.feed.emit('sync:status', manager.status());
    }, 50);
    statusTimer.unref();
  };

  const fastLane = new FastLane({
    repo,
    client: (id) => clients.get(id),
    intervalMs: sync.fastIntervalMs,
    probePorts: (id) => configs.get(id)?.probePorts ?? false,
    onGone: (id) => void loops.get(id)?.run('quick'),
    logger,
  });

  // Each cluster's place in the periods: the n clusters' passes and reads 1/n of a period apart.
  const phaseOf = (id: string) => (opts.config.clusters.findIndex((c) => c.id === id) + 1) / opts.config.clusters.length;
  const newLoop = (c: ClusterConfig, states: ClusterState[]) => new ClusterLoop({
    cluster: c, sync, client: clients.get(c.id)!, repo, states: syncStates, logger,
    heldStatus: () => fastLane.heldFor(c.id),
    fastLaneCount: () => fastLane.count(c.id),
    onStatusChanged: (vmids) => { if (running) vmids.forEach((vmid) => fastLane.watch(c.id, vmid)); },
    onVerify: (vmids) => { if (running) vmids.forEach((vmid) => fastLane.verify(c.id, vmid)); },
    onPassDone: emitStatus, instance: me, phase: phaseOf(c.id),
  }, states.find((s) => s.cluster_id === c.id));

  const newSignals = (c: ClusterConfig, loop: ClusterLoop) => new SignalLoop({
    cluster: c.id, client: clients.get(c.id)!, repo, logger,
    taskIntervalMs: sync.taskIntervalSeconds * 1000,
    nodeListIntervalMs: sync.nodeListIntervalSeconds * 1000,
    ready: () => loop.ready(),
    held: () => fastLane.watching(c.id),
    watch: (vmid, expect) => { if (running) fastLane.watch(c.id, vmid, expect ? { expect } : {}); },
    settle: (vmid) => fastLane.settle(c.id, vmid),
    passSoon: (destroyed) => loop.soon(destroyed),
    phase: phaseOf(c.id),
  });

  const hooks: CoordinatorHooks = {
    async lead(cluster) {
      const c = configs.get(cluster);
      if (!c || !running) return;
      // Another instance synced it until now: its rows and state are read afresh.
      await Promise.all([repo.forget(cluster), syncStates.reread(cluster)]);
      const [states, summary] = await Promise.all([syncStates.clusterStates(), repo.summary()]);
      const loop = newLoop(c, states);
      loops.set(cluster, loop);
      loop.start(Object.values(summary.byCluster[cluster] ?? {}).reduce((a, b) => a + b, 0));
      const sig = newSignals(c, loop);
      signals.set(cluster, sig);
      sig.start();
      emitStatus();
    },
    async lose(cluster) {
      const loop = loops.get(cluster);
      const sig = signals.get(cluster);
      loops.delete(cluster);
      signals.delete(cluster);
      await Promise.all([sig?.stop(2_000), loop?.stop(2_000)]);
      emitStatus();
    },
    watch: (cluster, vmid, o) => { if (running && loops.has(cluster)) fastLane.watch(cluster, vmid, o); },
    trigger: (cluster, kind) => { if (running) void loops.get(cluster)?.run(kind); },
    status: (cluster) => loops.get(cluster)?.status() ?? null,
    statusChanged: emitStatus,
  };

  const manager: SyncManager = {
    instance: me,
    setStatus: (cluster, vmid, status, fields) => repo.setStatus(cluster, vmid, status, fields),

    async start() {
      if (running) return;
      running = true;
      startedAt = Date.now();
      if (coordinator) {
        await coordinator.start(hooks);
        logger.info({ clusters: opts.config.clusters.map((c) => c.id), instance: me }, 'Background VM inventory sync started (clusters synced by whichever instance leads them)');
        return;
      }
      const [states, summary] = await Promise.all([syncStates.clusterStates(), repo.summary()]);
      for (const c of opts.config.clusters) {
        const loop = loops.get(c.id) ?? newLoop(c, states);
        loops.set(c.id, loop);
        const known = Object.values(summary.byCluster[c.id] ?? {}).reduce((a, b) => a + b, 0);
        loop.start(known);
        const sig = signals.get(c.id) ?? newSignals(c, loop);
        signals.set(c.id, sig);
        sig.start();
      }
      logger.info({
        clusters: opts.config.clusters.map((c) => c.id), fullIntervalSeconds: sync.fullIntervalSeconds, quickIntervalSeconds: sync.quickIntervalSeconds,
        taskIntervalSeconds: sync.taskIntervalSeconds, nodeListIntervalSeconds: sync.nodeListIntervalSeconds,
      },
        'Background VM inventory sync started');
    },

    async stop(timeoutMs = 5_000) {
      running = false;
      await coordinator?.stop();
      await Promise.all([...signals.values()].map((s) => s.stop(timeoutMs)));
      await Promise.all([...loops.values()].map((l) => l.stop(timeoutMs)));
      await Promise.race([fastLane.stop(), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
      if (statusTimer) clearTimeout(statusTimer);
      statusTimer = null;
      await Promise.all([...clients.values()].map((c) => c.close()));
    },

    async trigger(t = {}) {
      const kind = t.kind ?? 'full';
      let targets = t.cluster ? [t.cluster] : [...configs.keys()];
      if (coordinator && running) {
        for (const id of targets) if (!loops.has(id)) coordinator.forwardTrigger(id, kind);
        targets = targets.filter((id) => loops.has(id));
      }
      const missing = targets.filter((id) => configs.has(id) && !loops.has(id));
      if (missing.length) {
        // Not started (tests, one-off runs): loops that run passes only when asked.
        const states = await syncStates.clusterStates();
        for (const id of missing) if (!loops.has(id)) loops.set(id, newLoop(configs.get(id)!, states));
      }
      await Promise.all(targets.map((id) => loops.get(id)?.run(kind)));
    },

    watch(cluster, vmid, o) {
      if (coordinator && running && !loops.has(cluster)) coordinator.forwardWatch(cluster, vmid, o ?? {});
      else fastLane.watch(cluster, vmid, o);
    },

    status() {
      const clusters = opts.config.clusters.map((c) => loops.get(c.id)?.status() ?? coordinator?.remoteStatus(c.id) ?? {
        id: c.id, name: c.name ?? c.id, health: 'unknown' as const, running: null, lastFullAt: null, lastQuickAt: null,
        lastSuccessAt: null, stale: true, guests: 0, errorCount: 0, lastError: null, lastErrorAt: null,
        consecutiveFailures: 0, backoffMs: 0, nextRunAt: null, recentPasses: [],
        latencyMs: { p50: null, p95: null, last: null }, fastLane: 0, nodes: [], leader: null,
      });
      return {
        instance: me,
        ...(coordinator ? { instances: coordinator.info() } : {}),
        running,
        startedAt,
        clusters,
        totals: {
          guests: clusters.reduce((a, c) => a + c.guests, 0),
          errorCount: clusters.reduce((a, c) => a + c.errorCount, 0),
          clustersDown: clusters.filter((c) => c.health === 'down').length,
        },
      };
    },

    clusterStates() {
      if (!running) return null;
      return [...loops.values()].map((l) => l.clusterState());
    },

    client: (id) => clients.get(id),
    clusterIds: () => [...configs.keys()],

    async checkSignals(cluster) {
      const sig = signals.get(cluster);
      if (!sig) return;
      await sig.readTasks();
      await sig.sweep();
    },

    signalStats: () => Object.fromEntries([...signals].map(([id, s]) => [id, { ...s.stats }])),
  };
  return manager;
}
