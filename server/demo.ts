// Demo mode: an in-process Proxmox simulator (two clusters, simulated students starting and
// stopping guests) and the cluster configs that point labdeck's real sync loop at it over HTTP.
import { randomUUID } from 'node:crypto';
import { parseFileConfig, type ClusterConfig } from './config.js';
import { startSimulator, type SimUser, type Simulator } from './simulator/index.js';

export interface DemoOptions {
  /** Guests per cluster (default 120 and 40). */
  guests?: [number, number];
  /** pvestatd broadcast interval (default 10 s, as real Proxmox). */
  pvestatdIntervalMs?: number;
  /** Simulated activity (default on). */
  activity?: boolean | { intervalMs?: number };
  /** Proxmox users of the first cluster, for Proxmox-credential sign-in (login is enabled when given). */
  users?: SimUser[];
  /** Default 3000 (as real Proxmox); tests pass 0. */
  unauthorizedDelayMs?: number;
  ipDelayMs?: number;
  seed?: number;
}

/** The templates demo mode adds to lab-a (ids above the generated guests). */
export const DEMO_TEMPLATES = [
  { vmid: 9000, type: 'qemu' as const, name: 'tpl-ubuntu-24-04', node: 'pve1', ostype: 'l26' },
  { vmid: 9001, type: 'qemu' as const, name: 'tpl-windows-11', node: 'pve2', ostype: 'win11' },
  { vmid: 9002, type: 'lxc' as const, name: 'tpl-debian-12-ct', node: 'pve3', ostype: 'debian' },
];

/** Starts the demo simulator and returns ClusterConfigs for it. Close it with `simulator.close()`. */
export async function startDemoClusters(opts: DemoOptions = {}): Promise<{ clusters: ClusterConfig[]; simulator: Simulator }> {
  const [guestsA, guestsB] = opts.guests ?? [120, 40];
  const seed = opts.seed ?? 42;
  const simulator = await startSimulator({
    clusters: [
      { id: 'lab-a', name: 'Lab A', nodes: 3, guests: guestsA, seed, tokenSecret: randomUUID(), users: opts.users },
      { id: 'lab-b', name: 'Lab B', nodes: 1, guests: guestsB, seed: seed + 1, tokenSecret: randomUUID() },
    ],
    pvestatdIntervalMs: opts.pvestatdIntervalMs ?? 10_000,
    unauthorizedDelayMs: opts.unauthorizedDelayMs ?? 3000,
    ipDelayMs: opts.ipDelayMs,
    activity: opts.activity ?? true,
  });
  // Templates a teacher clones the demo class's VMs from (Provision panel of the class page).
  const labA = simulator.cluster('lab-a');
  for (const t of DEMO_TEMPLATES) {
    if (!labA.guest(t.vmid)) labA.createGuest({ vmid: t.vmid, type: t.type, name: t.name, node: t.node, template: true, tags: ['labdeck-template'], ostype: t.ostype });
  }
  // They exist from the start, not as stubs until the first pvestatd broadcast.
  labA.refreshNow();
  // Through the same validation as a config file, so demo clusters get every default a real one gets.
  const file = parseFileConfig({
    clusters: simulator.clusters.map((c, i) => ({
      id: c.id,
      name: i === 0 ? 'Lab A' : 'Lab B',
      url: c.url,
      tokenId: c.tokenId,
      tokenSecret: c.tokenSecret,
      verifyTls: c.protocol === 'https' ? false : true,
      ...(i === 0 && opts.users?.length ? {
        login: { enabled: true, realm: 'pve', groupRoles: { 'labdeck-admins': 'admin', teachers: 'teacher', students: 'student' } },
      } : {}),
    })),
  });
  return { clusters: file.clusters, simulator };
}
