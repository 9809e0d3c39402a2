// The Proxmox VE simulator's programmatic API: starts one loopback API server per simulated
// cluster (HTTP or HTTPS with a fresh self-signed certificate), plus the optional control API.
import { X509Certificate, randomUUID } from 'node:crypto';
import { ALL_PRIVILEGES, type AuthUser, Authenticator } from './auth.js';
import { PveApi } from './api.js';
import { ClusterState, DEFAULT_LOCKS, DEFAULT_TASK_MS, UI_USER, type LockSettings, type OutsideVia, type TaskKind } from './cluster.js';
import { STORAGES, type StorageId } from './storage.js';
import type { TaskListEntry } from './task-list.js';
import type { TaskStatus } from './tasks.js';
import { cloneGuest, destroyGuest } from './lifecycle.js';
import { ipOf } from './guest.js';
import { lockPath } from './locks.js';
import { PveListener } from './listener.js';
import { startActivity } from './activity.js';
import { startControlServer } from './control.js';

export { DEFAULT_TASK_MS, DEFAULT_LOCKS, type LockSettings, type OutsideVia } from './cluster.js';
export type { StorageId } from './storage.js';
export { TASKS_KEPT_PER_NODE, type TaskListEntry } from './task-list.js';

/** A user for ticket login and access/users; privileges default to all. */
export interface SimUser { userid: string; password: string; groups?: string[]; privileges?: string[] } // e.g. 'alice@pve'
/** One simulated cluster. */
export interface SimClusterOptions {
  id: string;
  name?: string;
  /** Default 3; node names 'pve1'..'pveN'. */
  nodes?: number;
  /** Default 20; generated deterministically from the seed. */
  guests?: number;
  seed?: number;
  tokenId?: string;
  tokenSecret?: string;
  /** Privileges of the API token on '/' (default: all). */
  tokenPrivileges?: string[];
  users?: SimUser[];
  port?: number;
  /**
   * Whether termproxy (LXC consoles) accepts the ticket of an API token: true as PVE 9.0.4 and
   * later (default), false as older releases, where only a user's password ticket logs in.
   */
  termproxyTokenLogin?: boolean;
  /** Where guest disks live (default 'local-lvm'); 'local-zfs' rolls back only to the latest snapshot, 'ceph' and 'nfs' are shared, 'nfs' has no linked clones. */
  storage?: StorageId;
}
/** Simulator-wide settings. */
export interface SimOptions {
  clusters: SimClusterOptions[];
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default false; true → a self-signed certificate generated at start (see SimCluster.fingerprint). */
  tls?: boolean;
  /** pvestatd broadcast interval; default 10_000; 0 = cluster/resources always live. */
  pvestatdIntervalMs?: number;
  /** Delay of every 401 answer; default 3000 like real PVE; tests use 0. */
  unauthorizedDelayMs?: number;
  /** Task durations; defaults in DEFAULT_TASK_MS (start 2000, stop 1000, shutdown 4000, clone 8000, ...). */
  taskDurationMs?: Partial<Record<TaskKind, number>>;
  /** Time after boot until the guest agent / LXC reports an IP; default 5000. */
  ipDelayMs?: number;
  /** How long a guest agent call to a booting guest waits before "QEMU guest agent is not running" (default 3000, as real PVE). */
  agentTimeoutMs?: number;
  /** Clone and config locks (defaults in DEFAULT_LOCKS: shared source lock for stopped sources, 1 s clone timeout, 10 s config timeout). */
  locks?: Partial<LockSettings>;
  /** Demo: simulated students start/stop guests now and then (default every 4000 ms). */
  activity?: boolean | { intervalMs?: number };
  /** If set (0 = ephemeral), also serve the HTTP control API. */
  controlPort?: number;
}
/** What the simulator really holds now (live, not the lagged snapshot). */
export interface SimGuestView {
  vmid: number; type: 'qemu' | 'lxc'; node: string; name: string; status: 'running' | 'stopped' | 'paused';
  template: boolean; ip: string | null; mac: string; tags: string[]; pool: string | null; lock: string | null;
  ostype: string; cores: number; memory: number; agent: boolean;
  /** Snapshot names in the order they were taken. */
  snapshots: string[];
  description: string | null;
}
/** Run-time faults of one cluster; setFault replaces the whole set. */
export interface SimFault {
  latencyMs?: number; jitterMs?: number;
  errorRate?: number;
  mode?: 'ok' | 'down' | 'hang';
  tokenRevoked?: boolean;
}
/** One running simulated cluster. stats().byPath counts by path relative to /api2/json, without the query. */
export interface SimCluster {
  readonly id: string; readonly url: string;
  readonly host: string; readonly port: number; readonly protocol: 'http' | 'https';
  readonly tokenId: string; readonly tokenSecret: string;
  readonly fingerprint: string | null;
  readonly nodes: string[];
  guests(): SimGuestView[];
  guest(vmid: number): SimGuestView | undefined;
  /**
   * A power change from outside labdeck: 'ui' runs a task as the Proxmox UI does (listed in
   * /cluster/tasks, the guest changes when it ends) and returns its UPID; 'guest' is a shutdown or
   * reboot from inside the guest (no task). Without `via` the state just changes at once.
   */
  powerOutside(vmid: number, action: 'start' | 'stop' | 'shutdown' | 'reboot' | 'suspend' | 'resume', via?: OutsideVia): string | null;
  /** Moves a guest: at once, or with 'ui' as a qmigrate task (returns its UPID). */
  migrate(vmid: number, toNode: string, via?: 'ui'): string | null;
  /** Clones a guest as the Proxmox UI does (a qmclone task); the new guest exists at once, locked until the task ends. */
  cloneGuest(vmid: number, opts?: { newid?: number; name?: string; target?: string }): { upid: string; newid: number };
  /** The cluster task list as GET /cluster/tasks shows it to a caller with Sys.Audit. */
  tasks(): TaskListEntry[];
  /** Resolves when a task has ended, with its final status. */
  taskDone(upid: string): Promise<TaskStatus>;
  /** A guest's load: 'idle' (a few percent cpu, flat memory) or 'busy' (drifting high over minutes). */
  setLoad(vmid: number, load: 'idle' | 'busy'): void;
  /** Whether a guest is busy now. */
  isBusy(vmid: number): boolean;
  createGuest(opts?: Partial<Pick<SimGuestView, 'type' | 'name' | 'node' | 'tags' | 'pool' | 'ostype' | 'template'>> & { vmid?: number; running?: boolean }): number;
  /** Whether a config-file lock (clone, config change) is held on the guest now. */
  isFileLocked(vmid: number): boolean;
  /** Removes a guest: at once, or with 'ui' as a destroy task (refused while it runs; returns its UPID). */
  destroyGuest(vmid: number, via?: 'ui'): string | null;
  setNodeOnline(node: string, online: boolean): void;
  refreshNow(): void;
  /** A pvestatd broadcast that takes the next load sample now instead of after a second (tests). */
  nextLoadSample(): void;
  setFault(f: SimFault): Promise<void>;
  stats(): { requests: number; byPath: Record<string, number>; bytesOut: number };
  resetStats(): void;
}
/** The running simulator. */
export interface Simulator { clusters: SimCluster[]; cluster(id: string): SimCluster; controlUrl: string | null; close(): Promise<void> }

const TOKEN_ID_RE = /^[^\s:/@!]+@[A-Za-z][A-Za-z0-9.\-_]+![A-Za-z][A-Za-z0-9.\-_]+$/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** One running simulated cluster, as tests and the control API drive it. */
class RunningCluster implements SimCluster {
  readonly nodes: string[];
  constructor(
    readonly state: ClusterState,
    private readonly listener: PveListener,
    readonly tokenId: string,
    readonly tokenSecret: string,
    readonly protocol: 'http' | 'https',
    readonly fingerprint: string | null,
  ) {
    this.nodes = state.nodes.map((n) => n.name);
  }
  get id(): string { return this.state.settings.id; }
  get host(): string { return this.listener.host; }
  get port(): number { return this.listener.port; }
  get url(): string { return `${this.protocol}://${this.host}:${this.port}`; }

  private view(vmid: number): SimGuestView | undefined {
    const g = this.state.guests.get(vmid);
    if (!g) return undefined;
    return {
      vmid: g.vmid, type: g.type, node: g.node, name: g.name, status: g.status, template: g.template,
      ip: ipOf(g, Date.now(), this.state.settings.ipDelayMs), mac: g.mac, tags: [...g.tags], pool: g.pool, lock: g.lock,
      ostype: g.ostype, cores: g.cores, memory: g.memoryMiB * 1024 * 1024, agent: g.agent,
      snapshots: g.snapshots.map((x) => x.name), description: g.description ?? null,
    };
  }
  guests(): SimGuestView[] {
    return [...this.state.guests.keys()].sort((a, b) => a - b).map((id) => this.view(id)!);
  }
  guest(vmid: number): SimGuestView | undefined { return this.view(vmid); }
  powerOutside(vmid: number, action: 'start' | 'stop' | 'shutdown' | 'reboot' | 'suspend' | 'resume', via?: OutsideVia): string | null {
    return this.state.powerOutside(vmid, action, via);
  }
  migrate(vmid: number, toNode: string, via?: 'ui'): string | null { return this.state.migrate(vmid, toNode, via); }
  cloneGuest(vmid: number, opts: { newid?: number; name?: string; target?: string } = {}): { upid: string; newid: number } {
    const newid = opts.newid ?? this.state.nextId();
    return { upid: cloneGuest(this.state, this.state.mustGet(vmid), { newid, name: opts.name, target: opts.target, full: true }, UI_USER), newid };
  }
  tasks(): TaskListEntry[] { return this.state.tasks.list.entries(this.nodes); }
  taskDone(upid: string): Promise<TaskStatus> { return this.state.tasks.whenDone(upid); }
  setLoad(vmid: number, load: 'idle' | 'busy'): void { this.state.setLoad(vmid, load); }
  isBusy(vmid: number): boolean { return this.state.mustGet(vmid).busy; }
  createGuest(opts: Parameters<SimCluster['createGuest']>[0] = {}): number { return this.state.createGuest(opts ?? {}); }
  destroyGuest(vmid: number, via?: 'ui'): string | null {
    if (via === 'ui') return destroyGuest(this.state, this.state.mustGet(vmid), UI_USER, { skiplock: false, purge: false });
    this.state.destroyGuest(vmid);
    return null;
  }
  isFileLocked(vmid: number): boolean {
    const g = this.state.guests.get(vmid);
    return !!g && this.state.locks.isHeld(lockPath(g.type, vmid));
  }
  setNodeOnline(node: string, online: boolean): void { this.state.setNodeOnline(node, online); }
  refreshNow(): void { this.state.refreshNow(); }
  nextLoadSample(): void { this.state.nextLoadSample(); }
  setFault(f: SimFault): Promise<void> { return this.listener.setFault(f); }
  stats(): { requests: number; byPath: Record<string, number>; bytesOut: number } { return this.listener.getStats(); }
  resetStats(): void { this.listener.resetStats(); }
  async close(): Promise<void> {
    this.state.stop();
    await this.listener.close();
  }
}

/** Checks the options a caller passed, with messages that say what to fix. */
function checkOptions(opts: SimOptions): void {
  if (!opts.clusters?.length) throw new Error('simulator: at least one cluster is needed');
  const l = opts.locks ?? {};
  if (l.cloneSource !== undefined && l.cloneSource !== 'shared' && l.cloneSource !== 'exclusive') throw new Error("simulator: locks.cloneSource must be 'shared' or 'exclusive'");
  for (const k of ['cloneTimeoutMs', 'configTimeoutMs'] as const) {
    if (l[k] !== undefined && (!Number.isFinite(l[k]) || l[k]! < 0)) throw new Error(`simulator: locks.${k} must be a number of milliseconds`);
  }
  const ids = new Set<string>();
  for (const c of opts.clusters) {
    if (!/^[a-z0-9][a-z0-9-]*$/i.test(c.id)) throw new Error(`simulator: invalid cluster id '${c.id}'`);
    if (ids.has(c.id)) throw new Error(`simulator: duplicate cluster id '${c.id}'`);
    ids.add(c.id);
    if (c.tokenId !== undefined && !TOKEN_ID_RE.test(c.tokenId)) throw new Error(`simulator: tokenId must look like user@realm!name, got '${c.tokenId}'`);
    if (c.tokenSecret !== undefined && !UUID_RE.test(c.tokenSecret)) throw new Error('simulator: tokenSecret must be a lowercase UUID');
    if (c.nodes !== undefined && (!Number.isInteger(c.nodes) || c.nodes < 1 || c.nodes > 64)) throw new Error('simulator: nodes must be 1..64');
    if (c.guests !== undefined && (!Number.isInteger(c.guests) || c.guests < 0 || c.guests > 200_000)) throw new Error('simulator: guests must be 0..200000');
    for (const p of c.tokenPrivileges ?? []) if (!ALL_PRIVILEGES.includes(p)) throw new Error(`simulator: unknown privilege '${p}'`);
    if (c.storage !== undefined && !(c.storage in STORAGES)) throw new Error(`simulator: storage must be one of ${Object.keys(STORAGES).join(', ')}`);
  }
}

/** Starts the simulator: every cluster listening, the control API if asked for. */
export async function startSimulator(opts: SimOptions): Promise<Simulator> {
  checkOptions(opts);
  const host = opts.host ?? '127.0.0.1';
  let tls: { key: string; cert: string } | null = null;
  let fingerprint: string | null = null;
  if (opts.tls) {
    // Loaded only here: selfsigned (and the forge code under it) is ~3.5 MB of heap that a simulator
    // without TLS, like the demo's in-process one, never needs.
    const { generate } = await import('selfsigned');
    const pems = await generate([{ name: 'commonName', value: 'pve1.sim.invalid' }], {
      keyType: 'ec', algorithm: 'sha256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }, ...(host !== '127.0.0.1' && host !== 'localhost' ? [{ type: 7 as const, ip: host }] : [])] }],
    });
    tls = { key: pems.private, cert: pems.cert };
    fingerprint = new X509Certificate(pems.cert).fingerprint256;
  }
  const taskMs = { ...DEFAULT_TASK_MS, ...opts.taskDurationMs };
  const running: RunningCluster[] = [];
  try {
    for (const c of opts.clusters) {
      const state = new ClusterState({
        id: c.id, name: c.name ?? c.id, nodes: c.nodes ?? 3, guests: c.guests ?? 20, seed: c.seed ?? 1,
        pvestatdIntervalMs: opts.pvestatdIntervalMs ?? 10_000, ipDelayMs: opts.ipDelayMs ?? 5000, taskMs,
        storage: c.storage ?? 'local-lvm', locks: { ...DEFAULT_LOCKS, ...opts.locks },
      });
      const tokenId = c.tokenId ?? 'root@pam!labdeck';
      const tokenSecret = c.tokenSecret ?? randomUUID();
      const users = new Map<string, AuthUser>((c.users ?? []).map((u) => [u.userid, {
        userid: u.userid, password: u.password, groups: u.groups ?? [], privileges: new Set(u.privileges ?? ALL_PRIVILEGES),
      }]));
      const auth = new Authenticator(tokenId, tokenSecret, new Set(c.tokenPrivileges ?? ALL_PRIVILEGES), users);
      const api = new PveApi(state, auth, { agentTimeoutMs: opts.agentTimeoutMs ?? 3000, clusterName: c.name ?? c.id, fingerprint: fingerprint ?? '', termproxyTokenLogin: c.termproxyTokenLogin });
      const listener = new PveListener(api, host, c.port ?? 0, tls, opts.unauthorizedDelayMs ?? 3000);
      const rc = new RunningCluster(state, listener, tokenId, tokenSecret, tls ? 'https' : 'http', fingerprint);
      running.push(rc);
      await listener.start();
    }
  } catch (e) {
    await Promise.all(running.map((r) => r.close()));
    throw e;
  }
  const byId = new Map(running.map((r) => [r.id, r]));
  const cluster = (id: string): RunningCluster => {
    const c = byId.get(id);
    if (!c) throw new Error(`simulator: no cluster '${id}'`);
    return c;
  };
  const stopActivity = opts.activity ? startActivity(running, typeof opts.activity === 'object' ? opts.activity.intervalMs : undefined) : null;
  const control = opts.controlPort !== undefined ? await startControlServer(running, host, opts.controlPort) : null;
  return {
    clusters: running,
    cluster,
    controlUrl: control?.url ?? null,
    async close() {
      stopActivity?.();
      await control?.close();
      await Promise.all(running.map((r) => r.close()));
    },
  };
}
