// One cluster's live signals, between the snapshot passes: Proxmox's task list, read every couple
// of seconds, sends every guest whose task started or ended to the fast lane and asks for a pass
// when a migration, clone or destroy ends (or the list rolled over); the node-local guest lists,
// read every few seconds where guests run, catch what leaves no task (a shutdown from inside).
// Both are cheap next to the snapshot: a task list is a few kB; a sweep of the node lists is about
// one cluster listing, split by node.
import type { Logger } from '../log.js';
import type { InventoryRepo } from '../inventory/repository.js';
import type { VmStatus } from '../../contract/vm.js';
import type { PveClient } from '../pve/client.js';
import { PveError } from '../pve/errors.js';
import { mapLimit } from '../limit.js';
import { checkNodeList, indexStored, nodeListsToRead, type StoredIndex } from './node-list-check.js';
import type { GuestType } from '../pve/normalise.js';
import { NodeGuestColumns } from '../pve/signals.js';
import { DESTROY_TASKS, MEMBERSHIP_TASKS, TaskTracker, taskTarget } from './task-tracker.js';

export interface SignalLoopDeps {
  cluster: string;
  client: PveClient;
  repo: InventoryRepo;
  logger: Logger;
  /** Period of the task list reads; 0 = off. */
  taskIntervalMs: number;
  /** Period of the node list sweeps; 0 = off. */
  nodeListIntervalMs: number;
  /** Whether the cluster's first full pass is in. */
  ready: () => boolean;
  /**
   * Guests the fast lane is watching now (a node list needs not send them again). Not those merely
   * held after a live reading: the hold keeps the lagging snapshot off, but a node list is live, and
   * a guest shut down from inside right after a change must not wait for the hold to run out.
   */
  held: () => ReadonlySet<number>;
  /** Polls a guest live until it settles (expecting a status, or whatever it says). */
  watch: (vmid: number, expect: VmStatus | null) => void;
  /** The task about a watched guest ended: stop expecting its outcome. */
  settle: (vmid: number) => void;
  /** Runs a quick pass as soon as possible, tombstoning guests destroy tasks removed. */
  passSoon: (destroyed: readonly number[]) => void;
  /** Where in their periods this cluster's reads fall, in (0, 1] (1 by default): clusters apart, not all at once. */
  phase?: number;
}

/** Counters for the sync monitor and the bench. */
export interface SignalStats {
  taskReads: number;
  nodeListReads: number;
  /** Guests sent to the fast lane by a task or a node list. */
  signalled: number;
  rollovers: number;
  errors: number;
}

const MAX_BACKOFF_MS = 30_000;
/** One at a time: the reads share one connection (the client's), so a task read waits behind one list at most. */
const NODE_LIST_CONCURRENCY = 1;
/**
 * Right after a task started or ended (someone is at work in the Proxmox UI, HA is moving
 * guests), the task list is read this often for BUSY_FOR_MS, so a short task that starts and ends
 * between two reads shows within a second, not two. A task that merely keeps running (a backup, an
 * open console) does not count: its guest, if any, is already being watched.
 */
const BUSY_TASK_INTERVAL_MS = 1_000;
const BUSY_FOR_MS = 10_000;
const describe = (err: unknown) => (err instanceof PveError ? err.message : (err as Error).message ?? String(err));

/** The live-signal timers of one cluster. */
export class SignalLoop {
  private readonly tracker = new TaskTracker();
  private taskTimer: NodeJS.Timeout | null = null;
  private nodeTimer: NodeJS.Timeout | null = null;
  private taskFailures = 0;
  private nodeFailures = 0;
  private stopped = true;
  private sweeping: Promise<void> | null = null;
  /** Tasks ending from this moment on (epoch s) count, also those the first read finds already ended. */
  private endedSince = Infinity;
  /** The last read failed: the next one cannot tell what happened in between. */
  private missed = false;
  private reading: Promise<void> | null = null;
  /** When the last task start or end was seen (epoch ms). */
  private lastTaskChangeAt = -Infinity;
  /** The stored rows' sweep view (lists to read, index), rebuilt only when the stored rows changed. */
  private view: { version: number; pairs: Array<{ node: string; type: GuestType }>; index: StoredIndex } | null = null;
  /** Node-list columns not in use by a read. */
  private readonly columns: NodeGuestColumns[] = [];
  readonly stats: SignalStats = { taskReads: 0, nodeListReads: 0, signalled: 0, rollovers: 0, errors: 0 };

  constructor(private readonly deps: SignalLoopDeps) {}

  start(): void {
    this.stopped = false;
    this.endedSince = Math.floor(Date.now() / 1000);
    const phase = this.deps.phase ?? 1;
    if (this.deps.taskIntervalMs > 0) this.nextTasks(this.deps.taskIntervalMs * phase);
    if (this.deps.nodeListIntervalMs > 0) this.nextSweep(this.deps.nodeListIntervalMs * phase);
  }

  /** Stops the timers and waits (up to timeoutMs) for a read in flight. */
  async stop(timeoutMs = 5_000): Promise<void> {
    this.stopped = true;
    if (this.taskTimer) clearTimeout(this.taskTimer);
    if (this.nodeTimer) clearTimeout(this.nodeTimer);
    this.taskTimer = this.nodeTimer = null;
    await Promise.race([Promise.all([this.reading, this.sweeping]), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
  }

  private nextTasks(ms: number): void {
    if (this.stopped) return;
    this.taskTimer = setTimeout(() => {
      this.taskTimer = null;
      void this.readTasks().finally(() => this.nextTasks(backoff(this.taskInterval(), this.taskFailures)));
    }, ms);
    this.taskTimer.unref();
  }

  /** The task list's period now: shorter for a while after a task started or ended. */
  taskInterval(): number {
    const base = this.deps.taskIntervalMs;
    return Date.now() - this.lastTaskChangeAt < BUSY_FOR_MS ? Math.min(base, BUSY_TASK_INTERVAL_MS) : base;
  }

  private nextSweep(ms: number): void {
    if (this.stopped) return;
    this.nodeTimer = setTimeout(() => {
      this.nodeTimer = null;
      void this.sweep().finally(() => this.nextSweep(backoff(this.deps.nodeListIntervalMs, this.nodeFailures)));
    }, ms);
    this.nodeTimer.unref();
  }

  /** Reads the task list once and acts on what changed (joins a read already running). */
  readTasks(): Promise<void> {
    this.reading ??= this.tasksOnce().finally(() => { this.reading = null; });
    return this.reading;
  }

  private async tasksOnce(): Promise<void> {
    if (!this.deps.ready()) return;
    const { cluster, client, logger } = this.deps;
    let snap;
    const readAt = Date.now();
    try {
      snap = await client.tasks();
      this.taskFailures = 0;
      this.stats.taskReads++;
    } catch (err) {
      this.taskFailures++;
      this.stats.errors++;
      // What happened meanwhile cannot be told from the next read alone: compare afresh.
      this.tracker.reset();
      this.missed = true;
      logger.debug({ cluster, err: describe(err) }, 'Reading the task list failed');
      return;
    }
    if (snap.unchanged && !this.missed) return;
    const ch = this.tracker.observe(snap.tasks, this.endedSince);
    this.endedSince = Infinity;
    if (ch.started.length || ch.ended.length || ch.vanished.length) this.lastTaskChangeAt = Date.now();
    const destroyed: number[] = [];
    let membership = false;
    for (const t of ch.started) {
      if (t.vmid === null) continue;
      // A clone's new guest exists (locked) from the start: show it at once.
      if (MEMBERSHIP_TASKS.has(t.type)) membership ||= t.type.endsWith('clone');
      else this.signal(t.vmid, taskTarget(t.type));
    }
    for (const t of [...ch.ended, ...ch.vanished]) {
      if (t.vmid === null) continue;
      logger.debug({ cluster, vmid: t.vmid, type: t.type, endtime: t.endtime, readAt, readMs: Date.now() - readAt, trace: 'task-end' }, 'Task end seen in the task list');
      if (MEMBERSHIP_TASKS.has(t.type)) {
        membership = true;
        if (DESTROY_TASKS.has(t.type) && t.status === 'OK') destroyed.push(t.vmid);
        continue;
      }
      this.signal(t.vmid, null);
      this.deps.settle(t.vmid);
    }
    if (ch.rolledOver.length || this.missed) {
      this.missed = false;
      // Tasks may have started and ended unseen: the snapshot and the node lists tell what they did.
      this.stats.rollovers++;
      logger.info({ cluster, nodes: ch.rolledOver }, ch.rolledOver.length
        ? 'The task list rolled over between two reads: checking the snapshot and the node lists'
        : 'The task list could not be read for a while: checking the snapshot and the node lists');
      membership = true;
      void this.sweep();
    }
    if (membership) this.deps.passSoon(destroyed);
  }

  private signal(vmid: number, expect: VmStatus | null): void {
    this.stats.signalled++;
    this.deps.watch(vmid, expect);
  }

  /** Reads the node lists where guests run and sends contradicted guests to the fast lane (joins a sweep already running). */
  sweep(): Promise<void> {
    this.sweeping ??= this.sweepOnce().finally(() => { this.sweeping = null; });
    return this.sweeping;
  }

  /**
   * The lists to read and the index of the stored rows as they are now. An idle cluster's rows
   * change only when a pass writes (a few times a minute), while a sweep runs every few seconds:
   * rebuilt from the 2,000 rows only when the repository's version moved since the last build.
   */
  private async storedView(): Promise<{ pairs: Array<{ node: string; type: GuestType }>; index: StoredIndex }> {
    const { cluster, repo } = this.deps;
    if (this.view && this.view.version === repo.storedVersion(cluster)) return this.view;
    // The version before the read: a write landing meanwhile only makes the next sweep rebuild.
    const version = repo.storedVersion(cluster);
    const rows = await repo.storedRows(cluster);
    this.view = { version, pairs: nodeListsToRead(rows), index: indexStored(rows) };
    return this.view;
  }

  private async sweepOnce(): Promise<void> {
    if (!this.deps.ready()) return;
    const { cluster, client, logger } = this.deps;
    const { pairs } = await this.storedView();
    let failed = 0;
    let membership = false;
    await mapLimit(pairs, NODE_LIST_CONCURRENCY, async ({ node, type }) => {
      // Columns reused from one read to the next (one set per read in flight), not a list per read.
      const listed = this.columns.pop() ?? new NodeGuestColumns();
      try {
        try {
          await client.nodeGuests(node, type, listed);
          this.stats.nodeListReads++;
        } catch (err) {
          // An offline node answers nothing; the snapshot shows its guests as it can.
          failed++;
          this.stats.errors++;
          logger.debug({ cluster, node, type, err: describe(err) }, 'Reading a node guest list failed');
          return;
        }
        // Checked as soon as it is read, against the rows as stored now (a write meanwhile is not
        // undone), not after the sweep's last read. The stored rows are indexed once, not per list
        // (and not again while nothing was written).
        const { index } = await this.storedView();
        const verdict = checkNodeList(index, node, type, listed, this.deps.held(), Date.now());
        for (const vmid of verdict.watch) this.signal(vmid, null);
        membership ||= verdict.membershipChanged;
      } finally {
        this.columns.push(listed);
      }
    });
    this.nodeFailures = pairs.length > 0 && failed === pairs.length ? this.nodeFailures + 1 : 0;
    if (membership) this.deps.passSoon([]);
  }
}

// Not backoff.ts's jittered delay: one labdeck reads its own cluster, so there is no crowd of retries
// to spread, and the slowed pace stays a multiple of the reading's own period.
function backoff(intervalMs: number, failures: number): number {
  return failures === 0 ? intervalMs : Math.min(MAX_BACKOFF_MS, intervalMs * 2 ** Math.min(failures, 5));
}
