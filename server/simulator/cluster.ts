// The state of one simulated cluster: nodes, guests, tasks and the pvestatd snapshot, with the
// guest operations as qemu-server / pve-container perform them (sync failures vs task failures).
import { type GeneratedGuest, generateGuests, macFor, prng } from './generator.js';
import { type Guest, isUp, seededBusy } from './guest.js';
import { fail, paramError } from './errors.js';
import { type NodeInfo, type StatRow, guestEntry, renderResources, sortedForResources, takeStats } from './resources.js';
import { TaskRunner, type TaskWork } from './tasks.js';
import { FileLocks } from './locks.js';
import type { StorageId } from './storage.js';

/** Task kinds with a configurable duration. */
export type TaskKind = 'start' | 'stop' | 'shutdown' | 'reboot' | 'suspend' | 'resume' | 'reset' | 'clone' | 'linkedClone' | 'destroy' | 'rollback' | 'snapshot' | 'config' | 'migrate';
/** How an outside power change happens: a task from the Proxmox UI (or HA, or another tool), or the guest's own OS (no task). */
export type OutsideVia = 'ui' | 'guest';
/** The user outside tasks run as: someone in the Proxmox UI. */
export const UI_USER = 'root@pam';
/** Power actions a guest accepts. */
export type PowerAction = 'start' | 'stop' | 'shutdown' | 'reboot' | 'suspend' | 'resume' | 'reset';

/** Real-world-ish task durations (ms). */
export const DEFAULT_TASK_MS: Record<TaskKind, number> = {
  start: 2000, stop: 1000, shutdown: 4000, reboot: 5000, suspend: 500, resume: 500, reset: 500,
  clone: 8000, linkedClone: 2000, destroy: 2000, rollback: 2000, snapshot: 1500, config: 300, migrate: 4000,
};

/** How clones and config changes lock (see lifecycle.ts). */
export interface LockSettings {
  /**
   * The lock a clone takes on a stopped source: 'shared' as qemu-server does today (parallel
   * clones of a template coexist), 'exclusive' as older releases did (they time out).
   * A running source is always locked exclusively.
   */
  cloneSource: 'shared' | 'exclusive';
  /** How long a clone waits for the source and new-id locks (qemu-server: 1 s). */
  cloneTimeoutMs: number;
  /** How long other config changes wait (lock_config: 10 s). */
  configTimeoutMs: number;
}

export const DEFAULT_LOCKS: LockSettings = { cloneSource: 'shared', cloneTimeoutMs: 1000, configTimeoutMs: 10_000 };

/** Settings of one cluster's behaviour. */
export interface ClusterSettings {
  id: string;
  name: string;
  nodes: number;
  guests: number;
  seed: number;
  pvestatdIntervalMs: number;
  ipDelayMs: number;
  taskMs: Record<TaskKind, number>;
  /** Where guest disks live: decides linked clones, cross-node targets and rollback order. */
  storage: StorageId;
  locks: LockSettings;
}

const TASK_TYPE: Record<'qemu' | 'lxc', Record<TaskKind, string>> = {
  qemu: { start: 'qmstart', stop: 'qmstop', shutdown: 'qmshutdown', reboot: 'qmreboot', suspend: 'qmpause', resume: 'qmresume', reset: 'qmreset', clone: 'qmclone', linkedClone: 'qmclone', destroy: 'qmdestroy', rollback: 'qmrollback', snapshot: 'qmsnapshot', config: 'qmconfig', migrate: 'qmigrate' },
  lxc: { start: 'vzstart', stop: 'vzstop', shutdown: 'vzshutdown', reboot: 'vzreboot', suspend: 'vzsuspend', resume: 'vzresume', reset: 'vzreset', clone: 'vzclone', linkedClone: 'vzclone', destroy: 'vzdestroy', rollback: 'vzrollback', snapshot: 'vzsnapshot', config: 'vzconfig', migrate: 'vzmigrate' },
};

export const label = (g: Guest): string => (g.type === 'qemu' ? 'VM' : 'CT');

/** One simulated cluster's state and operations. */
export class ClusterState {
  readonly nodes: NodeInfo[];
  readonly guests = new Map<number, Guest>();
  readonly tasks = new TaskRunner();
  /** Config-file flocks (clone, config changes). */
  readonly locks = new FileLocks();
  /** Resource pools that exist (clone's `pool` must name one). */
  readonly pools = new Set<string>();
  private stats = new Map<number, StatRow>();
  /** Bumped on every change that shows in /cluster/resources, so its cached body can be reused. */
  private version = 0;
  private readonly cache = new Map<string, { version: number; body: Buffer }>();
  /** Each guest's serialised resources entry, reused while its inputs are unchanged. */
  private readonly entryCache = new Map<number, { stat: StatRow | undefined; node: string; lock: string | null; pool: string | null; tags: string; json: string }>();
  private sorted: Guest[] | null = null;
  /** Guests whose run state changed since the last snapshot (used when statistics are live). */
  private readonly touched = new Set<number>();
  private lastFullRefresh = 0;
  private refreshTimer: NodeJS.Timeout | null = null;
  /** How far the load samples of broadcasts run ahead of the clock (nextLoadSample). */
  private loadShiftMs = 0;
  private nextPid = 2000 + Math.floor(Math.random() * 100000);

  constructor(readonly settings: ClusterSettings) {
    const now = Date.now();
    this.nodes = Array.from({ length: settings.nodes }, (_, i) => ({ name: `pve${i + 1}`, online: true, bootedAt: now - (86400 * 12 + i * 3600) * 1000 }));
    const rnd = prng(settings.seed ^ 0x5eed);
    for (const gg of generateGuests(settings.id, this.nodes.map((n) => n.name), settings.guests, settings.seed)) {
      // Guests that run at start booted a while ago, so they already have an address.
      this.addGuest(gg, gg.running ? now - Math.floor(600_000 + rnd() * 86_400_000) : null, now);
    }
    this.refreshNow();
  }

  private addGuest(gg: GeneratedGuest, bootedAt: number | null, now: number): Guest {
    this.touched.add(gg.vmid);
    const g: Guest = {
      vmid: gg.vmid, type: gg.type, node: gg.node, name: gg.name, status: bootedAt === null ? 'stopped' : 'running',
      template: gg.template, mac: macFor(gg.vmid), tags: [...gg.tags], pool: gg.pool, lock: null, ostype: gg.ostype,
      cores: gg.cores, memoryMiB: gg.memoryMiB, agent: gg.agent, bootedAt, busy: seededBusy(this.settings.seed, gg.vmid), pid: bootedAt === null ? null : this.nextPid++,
      diskGiB: gg.type === 'lxc' ? 8 : gg.ostype.startsWith('win') ? 64 : 32, snapshots: [], parent: null, createdAt: now - 30 * 86_400_000, storage: this.settings.storage,
    };
    this.guests.set(g.vmid, g);
    if (g.pool) this.pools.add(g.pool);
    this.membersChanged();
    return g;
  }

  /** Marks the live view as changed (new cache body on the next /cluster/resources). */
  changed(): void {
    this.version++;
  }

  /** Marks a change of the guest set (added or removed guests). */
  membersChanged(): void {
    this.sorted = null;
    this.changed();
  }

  /** pvestatd broadcast: takes a new statistics snapshot and serialises the list right away. */
  refresh(): void {
    this.lastFullRefresh = Date.now();
    this.touched.clear();
    this.stats = takeStats(this.guests.values(), (n) => this.isOnline(n), this.lastFullRefresh, this.loadShiftMs);
    this.changed();
    // Build the big body here, off the request path, so that requests only send it.
    if (this.settings.pvestatdIntervalMs > 0) this.resourcesBody('vm', true);
  }

  /**
   * With pvestatdIntervalMs 0 the list is live: changed guests get new rows at once, the rest
   * (cpu, memory and uptime drift) at most once a second, so big live clusters stay cheap.
   */
  private liveRefresh(): void {
    if (Date.now() - this.lastFullRefresh >= 1000) return this.refresh();
    if (!this.touched.size) return;
    const fresh = takeStats([...this.touched].map((id) => this.guests.get(id)).filter((g): g is Guest => !!g), (n) => this.isOnline(n), Date.now(), this.loadShiftMs);
    for (const [vmid, row] of fresh) this.stats.set(vmid, row);
    this.touched.clear();
    this.changed();
  }

  private guestJson(g: Guest): string {
    const stat = this.stats.get(g.vmid);
    const tags = g.tags.join(';');
    const hit = this.entryCache.get(g.vmid);
    if (hit && hit.stat === stat && hit.node === g.node && hit.lock === g.lock && hit.pool === g.pool && hit.tags === tags) return hit.json;
    const json = JSON.stringify(guestEntry(g, stat));
    this.entryCache.set(g.vmid, { stat, node: g.node, lock: g.lock, pool: g.pool, tags, json });
    return json;
  }

  /** Broadcasts with the load one sample (a second) ahead, so a test need not wait for fresh jitter. */
  nextLoadSample(): void {
    this.loadShiftMs += 1000;
    this.refreshNow();
  }

  /** Forces a broadcast now; the next periodic one follows a full interval later. */
  refreshNow(): void {
    this.refresh();
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    if (this.settings.pvestatdIntervalMs > 0) {
      this.refreshTimer = setInterval(() => this.refresh(), this.settings.pvestatdIntervalMs);
      this.refreshTimer.unref();
    }
  }

  /** Stops timers (simulator shutdown). */
  stop(): void {
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    this.tasks.stop();
  }

  /** Whether the cluster has a node of that name. */
  isNode(node: string): boolean {
    return this.nodes.some((n) => n.name === node);
  }

  /** Whether the node exists and is online. */
  isOnline(node: string): boolean {
    return this.nodes.some((n) => n.name === node && n.online);
  }

  /** The body of GET /cluster/resources (cached between changes). */
  resourcesBody(type: string | undefined, includeGuests: boolean): Buffer {
    if (this.settings.pvestatdIntervalMs === 0) this.liveRefresh();
    const key = `${type ?? ''}|${includeGuests}`;
    const hit = this.cache.get(key);
    if (hit && hit.version === this.version) return hit.body;
    this.sorted ??= sortedForResources(this.guests.values());
    if (this.entryCache.size > this.guests.size * 2) this.entryCache.clear();
    const body = renderResources(this.sorted, (g) => this.guestJson(g), this.nodes, Date.now(), type, includeGuests);
    this.cache.set(key, { version: this.version, body });
    return body;
  }

  /** Lowest free vmid from 100. */
  nextId(): number {
    let id = 100;
    while (this.guests.has(id)) id++;
    return id;
  }

  /** The guest `vmid` as seen from `node`: PVE reads the config file of that node. */
  guestOn(node: string, vmid: number, type: 'qemu' | 'lxc'): Guest {
    const g = this.guests.get(vmid);
    if (!g || g.node !== node || g.type !== type) {
      const dir = type === 'qemu' ? 'qemu-server' : 'lxc';
      throw fail(`Configuration file 'nodes/${node}/${dir}/${vmid}.conf' does not exist`);
    }
    return g;
  }

  /** Starts a worker task for the guest (on its node) and returns the UPID. */
  task(g: Guest, kind: TaskKind, user: string, finish: () => void, hold?: TaskWork['hold']): string {
    return this.tasks.run({ node: g.node, type: TASK_TYPE[g.type][kind], id: String(g.vmid), user, durationMs: this.settings.taskMs[kind], finish, hold });
  }

  /** Marks a guest's resources row for a redo (with live statistics). */
  touch(g: Guest): void {
    this.touched.add(g.vmid);
  }

  /** Changes a guest's run state; with live statistics its resources row is redone on the next call. */
  private setStatus(g: Guest, status: Guest['status']): void {
    g.status = status;
    this.touched.add(g.vmid);
  }

  boot(g: Guest): void {
    this.setStatus(g, 'running');
    g.bootedAt = Date.now();
    g.pid = this.nextPid++;
  }

  halt(g: Guest): void {
    this.setStatus(g, 'stopped');
    g.bootedAt = null;
    g.pid = null;
  }

  /** POST .../status/{action}: sync checks, then a task; returns the UPID. */
  power(g: Guest, action: PowerAction, user: string, opts: { skiplock?: boolean; forceStop?: boolean } = {}): string {
    const L = label(g);
    if (g.lock && !opts.skiplock) throw fail(`${L} is locked (${g.lock})`);
    const notRunning = (): never => {
      throw fail(`${L} ${g.vmid} not running`);
    };
    if (g.type === 'lxc') {
      if (action === 'start' && isUp(g)) throw fail(`CT ${g.vmid} already running`);
      if (action === 'start' && g.template) throw fail(`you can't start a CT if it's a template`);
      if (action !== 'start' && !isUp(g)) notRunning();
    }
    switch (action) {
      case 'start':
        return this.task(g, 'start', user, () => {
          if (g.template) throw new Error(`you can't start a vm if it's a template`);
          if (isUp(g)) throw new Error(`${L} ${g.vmid} already running`);
          this.boot(g);
        });
      case 'stop':
        return this.task(g, 'stop', user, () => this.halt(g));
      case 'shutdown':
        if (g.status === 'paused' && !opts.forceStop) throw fail('VM is paused - cannot shutdown');
        return this.task(g, 'shutdown', user, () => this.halt(g));
      case 'reboot':
        if (!isUp(g)) notRunning();
        return this.task(g, 'reboot', user, () => {
          if (!isUp(g)) throw new Error(`${L} ${g.vmid} not running`);
          this.boot(g);
        });
      case 'suspend':
        if (!isUp(g)) notRunning();
        return this.task(g, 'suspend', user, () => {
          if (!isUp(g)) throw new Error(`${L} ${g.vmid} not running`);
          this.setStatus(g, 'paused');
        });
      case 'resume':
        if (!isUp(g)) notRunning();
        return this.task(g, 'resume', user, () => {
          if (!isUp(g)) throw new Error(`${L} ${g.vmid} not running`);
          this.setStatus(g, 'running');
        });
      case 'reset':
        if (!isUp(g)) notRunning();
        return this.task(g, 'reset', user, () => {
          if (!isUp(g)) throw new Error(`${L} ${g.vmid} not running`);
          this.setStatus(g, 'running');
          g.bootedAt = Date.now();
        });
    }
  }

  /**
   * A power change from outside labdeck. 'ui': a real task, as the Proxmox UI (or HA) starts it:
   * listed in /cluster/tasks at once, the guest changes when it ends, the same failures as the API.
   * 'guest': the guest's own OS shuts down or reboots, with no task at all. Without `via`, the state
   * simply changes at once (for tests that do not care how). Returns the UPID of a 'ui' task.
   */
  powerOutside(vmid: number, action: 'start' | 'stop' | 'shutdown' | 'reboot' | 'suspend' | 'resume', via?: OutsideVia): string | null {
    const g = this.mustGet(vmid);
    if (via === 'ui') return this.power(g, action, UI_USER);
    if (via === 'guest') {
      if (action !== 'shutdown' && action !== 'reboot') throw new Error(`a guest can only shut down or reboot itself, not ${action}`);
      if (g.status !== 'running') throw new Error(`guest ${vmid} is not running`);
      if (action === 'shutdown') this.halt(g);
      else this.boot(g);
      return null;
    }
    if (action === 'start') {
      if (g.template) throw new Error(`guest ${vmid} is a template`);
      if (!isUp(g)) this.boot(g);
    } else if (action === 'stop' || action === 'shutdown') this.halt(g);
    else if (action === 'reboot') {
      if (isUp(g)) this.boot(g);
    } else if (action === 'suspend') {
      if (isUp(g)) this.setStatus(g, 'paused');
    } else if (isUp(g)) this.setStatus(g, 'running');
    return null;
  }

  /** Makes a guest busy or idle (its cpu and memory follow from the next sample on). */
  setLoad(vmid: number, load: 'idle' | 'busy'): void {
    const g = this.mustGet(vmid);
    g.busy = load === 'busy';
    this.touched.add(g.vmid);
  }

  /**
   * Moves a guest to another node: at once without `via`; with 'ui' as a qmigrate task on the source
   * node (the guest holds `lock: migrate` meanwhile and moves when the task ends).
   */
  migrate(vmid: number, toNode: string, via?: 'ui'): string | null {
    const g = this.mustGet(vmid);
    if (!this.isNode(toNode)) throw new Error(`no such node '${toNode}'`);
    if (via !== 'ui') {
      g.node = toNode;
      this.changed();
      return null;
    }
    if (toNode === g.node) throw fail('target is local node.');
    if (!this.isOnline(toNode)) throw fail(`target node '${toNode}' is not online`);
    if (g.lock) throw fail(`${label(g)} is locked (${g.lock})`);
    g.lock = 'migrate';
    this.changed();
    return this.task(g, 'migrate', UI_USER, () => {
      g.lock = null;
      this.changed();
      if (this.guests.get(g.vmid) !== g) throw new Error(`migration aborted: ${label(g)} ${g.vmid} vanished`);
      g.node = toNode;
      this.changed();
    });
  }

  /** Creates a guest outside labdeck; it shows as a stub in /cluster/resources until the next refresh. */
  createGuest(opts: { vmid?: number; type?: 'qemu' | 'lxc'; name?: string; node?: string; tags?: string[]; pool?: string | null; ostype?: string; running?: boolean; template?: boolean }): number {
    const vmid = opts.vmid ?? this.nextId();
    if (this.guests.has(vmid)) throw new Error(`guest ${vmid} already exists`);
    if (!Number.isInteger(vmid) || vmid < 100 || vmid > 999_999_999) throw new Error(`invalid vmid ${vmid}`);
    const node = opts.node ?? this.nodes.find((n) => n.online)?.name ?? this.nodes[0].name;
    if (!this.isNode(node)) throw new Error(`no such node '${node}'`);
    const type = opts.type ?? 'qemu';
    if (opts.template && opts.running) throw new Error('a template cannot run');
    const now = Date.now();
    this.addGuest({
      vmid, type, node, name: opts.name ?? `${this.settings.id}-${type === 'qemu' ? 'ws' : 'ct'}-${vmid}`, template: opts.template ?? false, running: false,
      ostype: opts.ostype ?? (type === 'qemu' ? 'l26' : 'debian'), cores: 2, memoryMiB: 2048, tags: opts.tags ?? [], pool: opts.pool ?? null, agent: type === 'qemu',
    }, null, now);
    if (opts.running) this.boot(this.guests.get(vmid)!);
    return vmid;
  }

  /** Removes a guest at once (a destroy as a task is lifecycle.ts's destroyGuest). */
  destroyGuest(vmid: number): void {
    this.mustGet(vmid);
    this.guests.delete(vmid);
    this.entryCache.delete(vmid);
    this.membersChanged();
  }

  /** Takes a node off- or online; calls proxied to an offline node fail, its guests go 'unknown' at the next refresh. */
  setNodeOnline(node: string, online: boolean): void {
    const n = this.nodes.find((x) => x.name === node);
    if (!n) throw new Error(`no such node '${node}'`);
    if (online && !n.online) n.bootedAt = Date.now();
    n.online = online;
    // Statistics of the node's guests stop (or resume) with the node; a live view shows it at once.
    this.lastFullRefresh = 0;
    this.changed();
  }

  /** The guest or an error naming it (for the outside events and the control API). */
  mustGet(vmid: number): Guest {
    const g = this.guests.get(vmid);
    if (!g) throw new Error(`no guest ${vmid}`);
    return g;
  }

  /** Throws PVE's 400 when `vmid` is already taken (GET /cluster/nextid?vmid=). */
  assertFree(vmid: number): void {
    if (this.guests.has(vmid)) throw paramError({ vmid: `VM ${vmid} already exists` });
  }
}
