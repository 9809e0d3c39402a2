// The pvestatd view of a cluster: a statistics snapshot taken every broadcast interval, merged
// with the live guest list (ids, node, pool, lock, tags) into GET /cluster/resources.
import { type Guest, usageOf } from './guest.js';

/** What pvestatd broadcast about one guest at the last refresh. */
export interface StatRow {
  name: string;
  status: string;
  template: number;
  uptime: number;
  maxcpu: number;
  cpu: number;
  maxmem: number;
  mem: number;
  maxdisk: number;
  disk: number;
  netin: number;
  netout: number;
  diskread: number;
  diskwrite: number;
}

/** A cluster node as the resources view needs it. */
export interface NodeInfo {
  name: string;
  online: boolean;
  bootedAt: number;
}

const GiB = 1024 ** 3;

/** Takes the statistics snapshot of every guest on an online node (pvestatd's broadcast). */
export function takeStats(guests: Iterable<Guest>, online: (node: string) => boolean, now: number, loadShiftMs = 0): Map<number, StatRow> {
  const rows = new Map<number, StatRow>();
  for (const g of guests) {
    if (!online(g.node)) continue;
    const u = usageOf(g, now, loadShiftMs);
    rows.set(g.vmid, {
      name: g.name,
      status: g.template ? 'stopped' : g.status,
      template: g.template ? 1 : 0,
      uptime: u.uptime,
      maxcpu: g.cores,
      cpu: u.cpu,
      maxmem: u.maxmem,
      mem: u.mem,
      maxdisk: u.maxdisk,
      disk: g.type === 'lxc' && g.status !== 'stopped' ? Math.floor(u.maxdisk * 0.18) : 0,
      netin: u.netin,
      netout: u.netout,
      diskread: u.diskread,
      diskwrite: u.diskwrite,
    });
  }
  return rows;
}

/** One guest entry: live identity and config properties, lagged statistics (or the stub). */
export function guestEntry(g: Guest, stat: StatRow | undefined): Record<string, unknown> {
  const e: Record<string, unknown> = { id: `${g.type}/${g.vmid}`, vmid: g.vmid, node: g.node, type: g.type };
  if (stat) {
    Object.assign(e, stat);
    if (g.type === 'qemu') e.memhost = stat.mem;
  } else e.status = 'unknown';
  if (g.tags.length) e.tags = g.tags.join(';');
  if (g.pool) e.pool = g.pool;
  if (g.lock) e.lock = g.lock;
  return e;
}

/** Node and storage entries (type node / storage / sdn). */
export function nodeEntries(nodes: NodeInfo[], now: number, type: string | undefined): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  if (!type || type === 'node') {
    for (const n of nodes) {
      const base = { id: `node/${n.name}`, type: 'node', node: n.name, status: n.online ? 'online' : 'offline' };
      out.push(n.online
        ? { ...base, level: '', 'cgroup-mode': 2, maxcpu: 32, cpu: 0.12, maxmem: 128 * GiB, mem: 41 * GiB, maxdisk: 100 * GiB, disk: 12 * GiB, uptime: Math.floor((now - n.bootedAt) / 1000) }
        : base);
    }
  }
  if (!type || type === 'storage') {
    for (const n of nodes) {
      if (!n.online) continue;
      out.push({ id: `storage/${n.name}/local`, type: 'storage', node: n.name, storage: 'local', status: 'available', plugintype: 'dir', content: 'iso,vztmpl,backup', shared: 0, disk: 12 * GiB, maxdisk: 100 * GiB });
      out.push({ id: `storage/${n.name}/local-lvm`, type: 'storage', node: n.name, storage: 'local-lvm', status: 'available', plugintype: 'lvmthin', content: 'images,rootdir', shared: 0, disk: 310 * GiB, maxdisk: 1800 * GiB });
    }
  }
  if (!type || type === 'sdn') {
    for (const n of nodes) if (n.online) out.push({ id: `sdn/${n.name}/localnetwork`, type: 'sdn', sdn: 'localnetwork', node: n.name, status: 'ok' });
  }
  return out;
}

/** Guests in the order PVE lists them: vmid compared as strings ("1000" before "200"). */
export function sortedForResources(guests: Iterable<Guest>): Guest[] {
  return [...guests].map((g) => [String(g.vmid), g] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, g]) => g);
}

/** The complete response body of GET /cluster/resources, from per-guest JSON strings kept between calls. */
export function renderResources(
  sortedGuests: Guest[],
  guestJson: (g: Guest) => string,
  nodes: NodeInfo[],
  now: number,
  type: string | undefined,
  includeGuests: boolean,
): Buffer {
  const parts: string[] = [];
  if (includeGuests && (!type || type === 'vm')) for (const g of sortedGuests) parts.push(guestJson(g));
  if (type !== 'vm') for (const e of nodeEntries(nodes, now, type)) parts.push(JSON.stringify(e));
  return Buffer.from(`{"data":[${parts.join(',')}]}`, 'utf8');
}
