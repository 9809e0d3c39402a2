// The VM vocabulary server and client share: the VM as the API, the push and the client see it,
// its statuses, the pending states of power actions and where each ends, the two meanings of
// "up", and VM keys. Plain constants and types, no imports: the browser bundle takes it as is.

/** Statuses Proxmox reports. */
export const pveStatuses = ['running', 'stopped', 'paused', 'suspended', 'unknown'] as const;
/** States labdeck writes while a power action runs; passes leave them alone for a while. */
export const pendingStatuses = ['starting', 'stopping', 'shutting-down', 'rebooting'] as const;
/** Every status a VM can have (valibot picklists are built from this list). */
export const vmStatuses = [...pveStatuses, ...pendingStatuses] as const;

export type PendingStatus = (typeof pendingStatuses)[number];
/** What Proxmox reports, plus the pending states labdeck writes while a power action runs. */
export type VmStatus = (typeof vmStatuses)[number];

/** The power actions labdeck offers (Proxmox has more: the PVE client adds suspend and resume). */
export const powerActions = ['start', 'stop', 'shutdown', 'reboot'] as const;
export type PowerAction = (typeof powerActions)[number];

/** The state labdeck shows while an action runs. */
export const pendingOf: Readonly<Record<PowerAction, PendingStatus>> = { start: 'starting', stop: 'stopping', shutdown: 'shutting-down', reboot: 'rebooting' };
/** The state a successful action ends in. */
export const finalOf: Readonly<Record<PowerAction, VmStatus>> = { start: 'running', stop: 'stopped', shutdown: 'stopped', reboot: 'running' };
/** The state each pending state is heading for. */
export const finalOfPending: Readonly<Record<PendingStatus, VmStatus>> = { starting: 'running', rebooting: 'running', stopping: 'stopped', 'shutting-down': 'stopped' };

const PENDING: ReadonlySet<string> = new Set(pendingStatuses);

/** True for a pending state (an action labdeck started is still running). */
export function isPending(status: string): status is PendingStatus {
  return PENDING.has(status);
}

/** Which status a pending state expects its action to end in; null for a settled status. */
export function targetOfPending(status: string): VmStatus | null {
  return isPending(status) ? finalOfPending[status] : null;
}

/**
 * The guest exists as a process in Proxmox (running, paused or suspended): a change between this
 * and "not" is a real start or stop, where running ↔ paused is not.
 */
export function guestProcessUp(status: string): boolean {
  return status === 'running' || status === 'paused' || status === 'suspended';
}

/** The guest counts as up for uptime: running, or a pending state of a guest that was running. */
export function countsAsUptime(status: string): boolean {
  return status === 'running' || status === 'rebooting' || status === 'stopping' || status === 'shutting-down';
}

export const vmTypes = ['qemu', 'lxc'] as const;
export type VmType = (typeof vmTypes)[number];

export const vmCategories = ['windows', 'linux', 'lxc', 'unknown'] as const;
export type VmCategory = (typeof vmCategories)[number];

/** Why a VM has no IPv4 address (null when it has one). */
export const ipReasons = ['stopped', 'no-agent', 'agent-not-running', 'no-address', 'not-checked', 'error'] as const;
export type IpReason = (typeof ipReasons)[number];

export interface Vm {
  /** Stable key: `${cluster}:${vmid}`. Identity is (cluster, vmid); node is only an attribute. */
  id: string;
  cluster: string;
  vmid: number;
  name: string;
  node: string;
  type: VmType;
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

/** The cluster part of a VM key. */
export const clusterOfVmKey = (key: string): string => key.slice(0, key.lastIndexOf(':'));

/** Splits a VM key back into cluster and vmid; null when it is not one. */
export function parseVmKey(key: string): { cluster: string; vmid: number } | null {
  const i = key.lastIndexOf(':');
  if (i <= 0) return null;
  const vmid = Number(key.slice(i + 1));
  if (!Number.isInteger(vmid) || vmid < 1) return null;
  return { cluster: key.slice(0, i), vmid };
}
