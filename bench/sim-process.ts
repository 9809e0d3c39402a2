// Bench-only entry: runs the Proxmox VE simulator in its own process (so its CPU is not counted
// as labdeck's) and lets the harness drive it over IPC: external changes, pvestatd refreshes, stats.
import { startSimulator, type Simulator, type SimCluster } from '../server/simulator/index.js';
import { serveIpc } from './ipc.js';
import { now } from './stats.js';
import { clusterIds, type PowerAction, type SimClusterInfo, type SimGuestBrief, type SimStartArgs, type SimStats } from './protocol.js';

const sims: Simulator[] = [];
const byId = new Map<string, { cluster: SimCluster; pvestatdMs: number }>();

function cluster(id: string): SimCluster {
  const c = byId.get(id);
  if (!c) throw new Error(`no simulated cluster ${id}`);
  return c.cluster;
}

serveIpc({
  async start(a: SimStartArgs): Promise<SimClusterInfo[]> {
    const ids = clusterIds(a.clusters);
    const common = {
      unauthorizedDelayMs: 0,
      ipDelayMs: a.ipDelayMs,
      agentTimeoutMs: a.agentTimeoutMs,
      taskDurationMs: { start: a.taskStartMs, stop: 500, shutdown: 1000, reboot: 1000, suspend: 300, resume: 300 },
    };
    const spec = (id: string, i: number) => ({ id, nodes: a.nodesPerCluster, guests: a.guestsPerCluster, seed: 1000 + i });
    const live = ids.slice(0, -1);
    const lagged = ids.slice(-1);
    if (live.length) {
      const s = await startSimulator({ ...common, clusters: live.map(spec), pvestatdIntervalMs: 0 });
      sims.push(s);
      for (const c of s.clusters) byId.set(c.id, { cluster: c, pvestatdMs: 0 });
    }
    const s = await startSimulator({ ...common, clusters: lagged.map((id) => spec(id, ids.length - 1)), pvestatdIntervalMs: a.laggedPvestatdMs });
    sims.push(s);
    for (const c of s.clusters) byId.set(c.id, { cluster: c, pvestatdMs: a.laggedPvestatdMs });
    return ids.map((id) => {
      const { cluster: c, pvestatdMs } = byId.get(id)!;
      return { id, url: c.url, tokenId: c.tokenId, tokenSecret: c.tokenSecret, nodes: [...c.nodes], pvestatdMs };
    });
  },

  guests(): SimGuestBrief[] {
    const out: SimGuestBrief[] = [];
    for (const [id, { cluster: c }] of byId) {
      for (const g of c.guests()) out.push({ cluster: id, vmid: g.vmid, type: g.type, node: g.node, status: g.status, template: g.template });
    }
    return out;
  },

  guest({ cluster: id, vmid }: { cluster: string; vmid: number }) {
    return cluster(id).guest(vmid) ?? null;
  },

  /** Power changes "from the Proxmox UI"; answers the wall time right after they took effect. */
  power({ items }: { items: Array<{ cluster: string; vmid: number; action: PowerAction }> }): { at: number } {
    for (const it of items) cluster(it.cluster).powerOutside(it.vmid, it.action);
    return { at: now() };
  },

  /** Forces a pvestatd snapshot on the given clusters (all when none given). */
  refresh({ clusters }: { clusters?: string[] }): { at: number } {
    for (const id of clusters ?? [...byId.keys()]) cluster(id).refreshNow();
    return { at: now() };
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
    await Promise.all(sims.map((s) => s.close()));
    setImmediate(() => process.exit(0));
    return null;
  },
});
