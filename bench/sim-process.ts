// Bench-only entry: runs the Proxmox VE simulator in its own process (so its CPU is not counted
// as labdeck's) and lets the harness drive it over IPC: external changes, pvestatd, stats.
import { startSimulator, type Simulator, type SimCluster } from '../server/simulator/index.js';
import { serveIpc } from './ipc.js';
import { now } from './stats.js';
import { clusterIds, type PowerAction, type PvestatdMode, type SimClusterInfo, type SimGuestBrief, type SimStartArgs, type SimStats } from './protocol.js';

/** Far beyond any run: the simulator's own pvestatd never fires; this process decides when it does. */
const HELD_MS = 24 * 3600_000;

let sim: Simulator | null = null;
const byId = new Map<string, { cluster: SimCluster; mode: PvestatdMode; timer: NodeJS.Timeout | null }>();

function entry(id: string) {
  const c = byId.get(id);
  if (!c) throw new Error(`no simulated cluster ${id}`);
  return c;
}

function cluster(id: string): SimCluster {
  return entry(id).cluster;
}

/**
 * pvestatd as the harness needs it, per cluster, through the simulator's public refreshNow():
 * 'held' = the snapshot changes only when the harness asks (so "nothing changed" really is
 * nothing); a number N = a broadcast every N ms at a random phase, like real pvestatd; 0 = live:
 * a guest changed from outside shows at once and load drift at most once a second (the
 * simulator's own live mode).
 */
function setMode(id: string, mode: PvestatdMode): void {
  const e = entry(id);
  if (e.timer) clearTimeout(e.timer);
  e.timer = null;
  e.mode = mode;
  if (mode === 'held') return;
  const every = mode === 0 ? 1000 : mode;
  const tick = () => {
    e.cluster.refreshNow();
    e.timer = setTimeout(tick, every);
  };
  e.timer = setTimeout(tick, Math.random() * every);
}

serveIpc({
  async start(a: SimStartArgs): Promise<SimClusterInfo[]> {
    const ids = clusterIds(a.clusters);
    sim = await startSimulator({
      clusters: ids.map((id, i) => ({ id, nodes: a.nodesPerCluster, guests: a.guestsPerCluster, seed: 1000 + i })),
      pvestatdIntervalMs: HELD_MS,
      unauthorizedDelayMs: 0,
      ipDelayMs: a.ipDelayMs,
      agentTimeoutMs: a.agentTimeoutMs,
      taskDurationMs: { start: a.taskStartMs, stop: 500, shutdown: 1000, reboot: 1000, suspend: 300, resume: 300, migrate: 2000, ...a.taskDurationMs },
    });
    for (const c of sim.clusters) byId.set(c.id, { cluster: c, mode: 'held', timer: null });
    return ids.map((id) => {
      const c = cluster(id);
      return { id, url: c.url, tokenId: c.tokenId, tokenSecret: c.tokenSecret, nodes: [...c.nodes] };
    });
  },

  /** Sets each named cluster's pvestatd behaviour. */
  pvestatd({ modes }: { modes: Record<string, PvestatdMode> }): null {
    for (const [id, mode] of Object.entries(modes)) setMode(id, mode);
    return null;
  },

  guests(): SimGuestBrief[] {
    const out: SimGuestBrief[] = [];
    for (const [id, { cluster: c }] of byId) {
      for (const g of c.guests()) out.push({ cluster: id, vmid: g.vmid, type: g.type, node: g.node, status: g.status, template: g.template });
    }
    return out;
  },

  /** Makes a guest (a template for section 8) on a node. */
  createGuest({ cluster: id, ...opts }: { cluster: string; node: string; name: string; template?: boolean; type?: 'qemu' | 'lxc' }): number {
    return cluster(id).createGuest(opts);
  },

  /** Guests under a clone lock right now, per node (how many clones run at once). */
  cloneLocks({ cluster: id }: { cluster: string }): Record<string, number> {
    const out: Record<string, number> = {};
    for (const g of cluster(id).guests()) if (g.lock === 'clone') out[g.node] = (out[g.node] ?? 0) + 1;
    return out;
  },

  guest({ cluster: id, vmid }: { cluster: string; vmid: number }) {
    return cluster(id).guest(vmid) ?? null;
  },

  /** Power changes "from the Proxmox UI"; answers the wall time right after they took effect. */
  power({ items }: { items: Array<{ cluster: string; vmid: number; action: PowerAction }> }): { at: number } {
    for (const it of items) cluster(it.cluster).powerOutside(it.vmid, it.action);
    const at = now();
    // Live clusters show a changed guest at once, as the simulator's own live mode does.
    for (const id of new Set(items.map((it) => it.cluster))) if (entry(id).mode === 0) cluster(id).refreshNow();
    return { at };
  },

  /**
   * A change from outside labdeck: 'ui' runs the action as a Proxmox UI task and answers once the
   * task has ended (`at` = its end); 'guest' shuts down or reboots the guest from inside, at once.
   */
  async outside({ cluster: id, vmid, action, via }: { cluster: string; vmid: number; action: PowerAction; via: 'ui' | 'guest' }): Promise<{ at: number; exitstatus: string | null }> {
    const c = cluster(id);
    const upid = c.powerOutside(vmid, action, via);
    if (!upid) return { at: now(), exitstatus: null };
    const done = await c.taskDone(upid);
    return { at: now(), exitstatus: done.exitstatus ?? null };
  },

  /** What one poll of an open Proxmox UI tab fetches from a cluster: the bytes of its resources and task list answers. */
  async uiTabBytes({ cluster: id }: { cluster: string }): Promise<{ resources: number; tasks: number }> {
    const c = cluster(id);
    const get = async (path: string) => {
      const res = await fetch(`${c.url}/api2/json${path}`, { headers: { Authorization: `PVEAPIToken=${c.tokenId}=${c.tokenSecret}` } });
      return (await res.arrayBuffer()).byteLength;
    };
    return { resources: await get('/cluster/resources'), tasks: await get('/cluster/tasks') };
  },

  /** Forces a pvestatd snapshot on the given clusters (all when none given). */
  refresh({ clusters }: { clusters?: string[] }): { at: number } {
    for (const id of clusters ?? [...byId.keys()]) cluster(id).refreshNow();
    return { at: now() };
  },

  /** Each guest's live status and node (the truth a client must end up showing). */
  truth(): Record<string, { status: string; node: string }> {
    const out: Record<string, { status: string; node: string }> = {};
    for (const [id, { cluster: c }] of byId) for (const g of c.guests()) out[`${id}:${g.vmid}`] = { status: g.status, node: g.node };
    return out;
  },

  stats(): Record<string, SimStats> {
    const out: Record<string, SimStats> = {};
    for (const [id, { cluster: c }] of byId) out[id] = c.stats();
    return out;
  },

  resetStats(): null {
    for (const { cluster: c } of byId.values()) c.resetStats();
    return null;
  },

  usage() {
    return { cpu: process.cpuUsage(), rss: process.memoryUsage().rss };
  },

  async close() {
    for (const e of byId.values()) if (e.timer) clearTimeout(e.timer);
    await sim?.close();
    setImmediate(() => process.exit(0));
    return null;
  },
});
