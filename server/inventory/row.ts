// A vm_inventory row and the one function that turns it into the shared Vm type.
import type { Selectable } from 'kysely';
import type { VmInventoryTable } from '../db/schema.js';
import { vmKey, type IpReason, type Vm, type VmCategory, type VmStatus } from '../../contract/vm.js';

export type InventoryRow = Selectable<VmInventoryTable>;

const nullableBool = (x: number | null): boolean | null => (x === null ? null : x !== 0);

/** Row → Vm. `stale` comes from the cluster's last successful pass, decided by the caller. */
export function toVm(row: InventoryRow, stale: boolean): Vm {
  return {
    id: vmKey(row.cluster_id, row.vmid),
    cluster: row.cluster_id,
    vmid: row.vmid,
    name: row.name,
    node: row.node,
    type: row.type,
    status: row.status as VmStatus,
    startedAt: row.started_at,
    cpu: row.cpu_usage,
    memory: row.memory_usage,
    ip: row.ip,
    ipReason: row.ip_reason as IpReason | null,
    mac: row.mac_address,
    rdpAvailable: nullableBool(row.rdp_available),
    sshAvailable: nullableBool(row.ssh_available),
    maxMemory: row.memory,
    cores: row.cores,
    diskSize: row.disk_size,
    template: row.is_template !== 0,
    tags: splitTags(row.tags),
    category: row.category as VmCategory,
    pool: row.pool,
    lock: row.lock,
    lastUpdated: row.last_updated,
    lastSeen: row.last_seen,
    syncError: row.sync_error,
    revision: row.revision,
    stale,
  };
}

/** Tags as stored (joined by ';', as Proxmox lists them) back to a list; empty parts dropped. */
export function splitTags(stored: string | null): string[] {
  return stored ? stored.split(';').filter(Boolean) : [];
}
