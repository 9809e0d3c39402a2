// The VM as the API, the push and the client see it: one shared type, built from a vm_inventory row.

/** What Proxmox reports, plus the pending states labdeck writes while a power action runs. */
export type VmStatus =
  | 'running' | 'stopped' | 'paused' | 'suspended' | 'unknown'
  | 'starting' | 'stopping' | 'shutting-down' | 'rebooting';

export type VmCategory = 'windows' | 'linux' | 'lxc' | 'unknown';

/** Why a VM has no IPv4 address (null when it has one). */
export type IpReason = 'stopped' | 'no-agent' | 'agent-not-running' | 'no-address' | 'not-checked' | 'error';

export interface Vm {
  /** Stable key: `${cluster}:${vmid}`. Identity is (cluster, vmid); node is only an attribute. */
  id: string;
  cluster: string;
  vmid: number;
  name: string;
  node: string;
  type: 'qemu' | 'lxc';
  status: VmStatus;
  /** Epoch ms when the guest started (derived from uptime), null when not running. */
  startedAt: number | null;
  /** Quantised CPU use, 0..1 of its cores; null when unknown. */
  cpu: number | null;
  /** Quantised memory use, 0..1 of maxMemory; null when unknown. */
  memory: number | null;
  ip: string | null;
  ipReason: IpReason | null;
  mac: string | null;
  rdpAvailable: boolean | null;
  sshAvailable: boolean | null;
  /** Bytes. */
  maxMemory: number | null;
  cores: number | null;
  /** Bytes. */
  diskSize: number | null;
  template: boolean;
  tags: string[];
  category: VmCategory;
  pool: string | null;
  lock: string | null;
  /** Epoch ms of the last change to this row. */
  lastUpdated: number;
  /** Epoch ms when a pass last saw this guest. */
  lastSeen: number | null;
  syncError: string | null;
  revision: number;
  /** True when its cluster has had no successful pass recently (set at read time). */
  stale: boolean;
}

/** The key of a VM: `${cluster}:${vmid}`. */
export function vmKey(cluster: string, vmid: number): string {
  return `${cluster}:${vmid}`;
}

/** Splits a VM key back into cluster and vmid; null when it is not one. */
export function parseVmKey(key: string): { cluster: string; vmid: number } | null {
  const i = key.lastIndexOf(':');
  if (i <= 0) return null;
  const vmid = Number(key.slice(i + 1));
  if (!Number.isInteger(vmid) || vmid < 1) return null;
  return { cluster: key.slice(0, i), vmid };
}
