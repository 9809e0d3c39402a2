// Table types for Kysely: the one source of truth for row shapes. Each migration's owner adds its tables.
import type { Generated } from 'kysely';

export interface VmInventoryTable {
  cluster_id: string;
  vmid: number;
  name: string;
  node: string;
  type: 'qemu' | 'lxc';
  status: string;
  started_at: number | null;
  cpu_usage: number | null;
  memory_usage: number | null;
  ip: string | null;
  ip_reason: string | null;
  mac_address: string | null;
  rdp_available: number | null;
  ssh_available: number | null;
  memory: number | null;
  cores: number | null;
  disk_size: number | null;
  is_template: number;
  /** ';'-joined, sorted, as Proxmox writes them. */
  tags: string;
  category: string;
  ostype: string | null;
  pool: string | null;
  lock: string | null;
  last_updated: number;
  last_seen: number | null;
  last_status_check: number | null;
  sync_error: string | null;
  revision: number;
  deleted: number;
}

export interface RevisionCounterTable { id: number; value: number }

export interface ClusterStateTable {
  cluster_id: string;
  last_success_at: number | null;
  last_full_at: number | null;
  last_quick_at: number | null;
  last_error: string | null;
  last_error_at: number | null;
  consecutive_failures: number;
  error_count: number;
}

export interface SyncRunsTable {
  id: Generated<number>;
  cluster_id: string;
  kind: string;
  started_at: number;
  duration_ms: number;
  guests_seen: number;
  rows_changed: number;
  requests: number;
  error: string | null;
}

export interface VmEventsTable {
  id: Generated<number>;
  cluster_id: string;
  vmid: number;
  at: number;
  kind: string;
  from_value: string | null;
  to_value: string | null;
  detail: string | null;
}

export interface Database {
  vm_inventory: VmInventoryTable;
  revision_counter: RevisionCounterTable;
  cluster_state: ClusterStateTable;
  sync_runs: SyncRunsTable;
  vm_events: VmEventsTable;
}
