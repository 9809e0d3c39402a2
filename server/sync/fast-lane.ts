// The fast lane: a guest just acted on (or just seen changing) is polled live with status/current
// about once a second until it settles, so its final state shows within a second or two instead
// of after the next quick pass plus pvestatd's lag. It also fetches the IP once a guest runs, and
// settles with one live read whether a held status or the snapshot contradicting it is right.
import type { Logger } from '../log.js';
import { diffLive, type GuestDetails } from '../inventory/diff.js';
import type { InventoryRepo } from '../inventory/repository.js';
import type { InventoryRow } from '../inventory/row.js';
import { targetOfPending, vmKey, type VmStatus } from '../../contract/vm.js';
import type { PveClient } from '../pve/client.js';
import { PveError } from '../pve/errors.js';
import type { LiveStatus } from '../pve/normalise.js';
import { addressDetails } from './details.js';

export interface WatchOptions {
  /** The status the action should end in; by default taken from the stored pending state. */
  expect?: VmStatus;
  /** The action is known to be over (its task ended): the first live reading is its outcome. */
  settled?: boolean;
}

export interface FastLaneDeps {
  repo: InventoryRepo;
  client(cluster: string): PveClient | undefined;
  intervalMs: number;
  probePorts(cluster: string): boolean;
  /** The guest is gone from where we thought it was (migrated or destroyed): a pass should look. */
  onGone(cluster: string): void;
  logger: Logger;
  /** Give up after this long (default 60 s). */
  maxWatchMs?: number;
  /** After a live reading, passes keep their hands off the status this long (pvestatd lag). */
  holdMs?: number;
  /** At most this many guests watched per cluster. */
  maxPerCluster?: number;
}

interface Watch {
  cluster: string;
  vmid: number;
  deadline: number;
  expect: VmStatus | null;
  settled: boolean;
  /** A verification: one read; it turns into a full watch only when the status really changed. */
  once: boolean;
  done: Promise<void>;
  /** Ends the current wait between two reads early (the task ended: read now). */
  wake: (() => void) | null;
  /** A wake-up came while a read was in flight: skip the next wait. */
  woken: boolean;
}

/** Waits ms between two reads of a watch, or until it is woken. */
function pause(w: Watch, ms: number): Promise<void> {
  if (w.woken) {
    w.woken = false;
    return Promise.resolve();
  }
  return new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    timer.unref?.();
    function done() {
      clearTimeout(timer);
      w.wake = null;
      resolve();
    }
    w.wake = done;
  });
}

function wake(w: Watch): void {
  if (w.wake) w.wake();
  else w.woken = true;
}

/** Settled means the live state reached its target (a reboot must also have restarted). */
function reached(target: VmStatus | null, stored: InventoryRow, live: LiveStatus, firstUptime: number | null, sawDown: boolean): boolean {
  if (target === null) return true;
  if (live.status !== target) return false;
  if (stored.status === 'rebooting') return sawDown || (firstUptime !== null && live.uptime !== null && live.uptime < firstUptime);
  return true;
}

/** One fast lane for all clusters of a sync manager. */
export class FastLane {
  private readonly watches = new Map<string, Watch>();
  private readonly held = new Map<string, Map<number, number>>();
  private stopped = false;
  private readonly maxWatchMs: number;
  private readonly holdMs: number;
  private readonly maxPerCluster: number;

  constructor(private readonly deps: FastLaneDeps) {
    this.maxWatchMs = deps.maxWatchMs ?? 60_000;
    this.holdMs = deps.holdMs ?? 15_000;
    this.maxPerCluster = deps.maxPerCluster ?? 50;
  }

  /** Starts (or extends) live polling of one guest. */
  watch(cluster: string, vmid: number, opts: WatchOptions = {}): void {
    if (this.stopped || !this.deps.client(cluster)) return;
    const key = vmKey(cluster, vmid);
    const existing = this.watches.get(key);
    this.deps.logger.debug({ cluster, vmid, existing: Boolean(existing), expect: opts.expect ?? null, trace: 'watch' }, 'Fast lane watch');
    if (existing) {
      existing.deadline = Date.now() + this.maxWatchMs;
      existing.once = false;
      if (opts.expect) existing.expect = opts.expect;
      if (opts.settled) existing.settled = true;
      return;
    }
    this.begin(cluster, vmid, opts.expect ?? null, false, opts.settled ?? false);
  }

  /**
   * The Proxmox task about a watched guest ended (seen in the task list): stop waiting for the
   * outcome it was expected to have; the next reads take what the guest says now and settle.
   */
  settle(cluster: string, vmid: number): void {
    const w = this.watches.get(vmKey(cluster, vmid));
    if (!w) return;
    w.expect = null;
    w.once = false;
    w.deadline = Date.now() + this.maxWatchMs;
    // The outcome is there now: read it at once rather than at the next tick.
    wake(w);
  }

  /**
   * One live check of a guest whose held status a pass's snapshot contradicts (the snapshot may
   * lag, or the guest changed outside labdeck): the live status decides. A guest already watched
   * needs none; at most one runs per guest, within the per-cluster cap.
   */
  verify(cluster: string, vmid: number): void {
    if (this.stopped || !this.deps.client(cluster) || this.watches.has(vmKey(cluster, vmid))) return;
    this.deps.logger.debug({ cluster, vmid }, 'Snapshot contradicts a held status: checking live');
    this.begin(cluster, vmid, null, true);
  }

  private begin(cluster: string, vmid: number, expect: VmStatus | null, once: boolean, settled = false): void {
    if (this.count(cluster) >= this.maxPerCluster) return;
    const key = vmKey(cluster, vmid);
    const w: Watch = { cluster, vmid, deadline: Date.now() + this.maxWatchMs, expect, settled, once, done: Promise.resolve(), wake: null, woken: false };
    w.done = this.run(w).catch((err) => this.deps.logger.warn({ cluster, vmid, err: (err as Error).message }, 'Fast lane stopped on an error'))
      .finally(() => this.watches.delete(key));
    this.watches.set(key, w);
  }

  /** Guests of a cluster whose status a pass must not overwrite right now. */
  heldFor(cluster: string): ReadonlySet<number> {
    const m = this.held.get(cluster);
    const out = new Set<number>();
    if (!m) return out;
    const now = Date.now();
    for (const [vmid, until] of m) {
      if (until > now) out.add(vmid);
      else m.delete(vmid);
    }
    for (const w of this.watches.values()) if (w.cluster === cluster) out.add(w.vmid);
    return out;
  }

  /** The guests being watched in a cluster now. */
  watching(cluster: string): ReadonlySet<number> {
    const out = new Set<number>();
    for (const w of this.watches.values()) if (w.cluster === cluster) out.add(w.vmid);
    return out;
  }

  /** Guests being watched in a cluster. */
  count(cluster: string): number {
    let n = 0;
    for (const w of this.watches.values()) if (w.cluster === cluster) n++;
    return n;
  }

  /** Stops all watches and waits for them to finish their current poll. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const w of this.watches.values()) wake(w);
    await Promise.all([...this.watches.values()].map((w) => w.done));
  }

  private hold(cluster: string, vmid: number): void {
    let m = this.held.get(cluster);
    if (!m) this.held.set(cluster, (m = new Map()));
    m.set(vmid, Date.now() + this.holdMs);
  }

  private async run(w: Watch): Promise<void> {
    const { cluster, vmid } = w;
    let last: VmStatus | null = null;
    let stable = 0;
    let firstUptime: number | null = null;
    let sawDown = false;
    while (!this.stopped) {
      const client = this.deps.client(cluster);
      const [row] = await this.deps.repo.storedRows(cluster, [vmid]);
      if (!client || !row || row.deleted) return;
      let live: LiveStatus;
      const readAt = Date.now();
      try {
        live = await client.statusCurrent(row.node, row.type, vmid);
      } catch (err) {
        if (err instanceof PveError && /does not exist/i.test(err.reason)) {
          this.deps.onGone(cluster);
          return;
        }
        // A failed verification leaves the hold to run out; the next pass asks again.
        if (w.once || Date.now() >= w.deadline) return;
        await pause(w, this.deps.intervalMs);
        continue;
      }
      this.deps.logger.debug({ cluster, vmid, status: live.status, readAt, readMs: Date.now() - readAt, trace: 'live-read' }, 'Fast lane read');
      if (firstUptime === null) firstUptime = live.uptime;
      if (live.status !== 'running') sawDown = true;
      const target = w.settled ? null : w.expect ?? targetOfPending(row.status);
      const timedOut = Date.now() >= w.deadline;
      if (!reached(target, row, live, firstUptime, sawDown) && !timedOut) {
        await pause(w, this.deps.intervalMs);
        continue;
      }
      w.expect = null;
      // The stored status was right (the snapshot lagged): that one read was the whole check.
      const confirmed = w.once && live.status === row.status;
      if (!confirmed) w.once = false;
      const write = (details?: GuestDetails) => this.deps.repo.apply(cluster, (stored) => diffLive(cluster, stored[0], live, Date.now(), details), [vmid]);
      const wantsIp = !confirmed && live.status === 'running' && (row.ip === null ? row.ip_reason !== 'no-agent' : row.status !== 'running');
      // The status first: a booting guest's agent can take seconds to answer (or to time out), and
      // the screen must not wait for the address to show that the guest runs.
      await write();
      this.deps.logger.debug({ cluster, vmid, status: live.status, trace: 'applied' }, 'Fast lane wrote');
      this.hold(cluster, vmid);
      if (wantsIp) await write(await addressDetails(client, { vmid, node: row.node, type: row.type, status: 'running' }, { concurrency: 1, probePorts: this.deps.probePorts(cluster) }));
      if (confirmed) return;
      stable = live.status === last ? stable + 1 : 1;
      last = live.status;
      const [after] = await this.deps.repo.storedRows(cluster, [vmid]);
      const ipSettled = live.status !== 'running' || !after || after.ip !== null || after.ip_reason === 'no-agent';
      if ((stable >= 2 && ipSettled) || timedOut) return;
      await pause(w, this.deps.intervalMs);
    }
  }
}
