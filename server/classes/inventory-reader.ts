// What the API reads from the inventory and asks of the sync loop: structural views of the sync
// helper's InventoryRepo and SyncManager, so classes, actions and routes depend only on what they use.
import type { Vm, VmStatus } from '../inventory/vm.js';
import type { PveClient } from '../pve/client.js';
import type { SyncStatus } from '../sync/types.js';

export interface VmListFilter {
  cluster?: string;
  node?: string;
  status?: string;
  type?: string;
  category?: string;
  tag?: string;
  q?: string;
  keys?: string[];
}

export interface InventoryReader {
  list(filter?: VmListFilter): Promise<Vm[]>;
  since(revision: number): Promise<{ revision: number; vms: Vm[]; removed: string[] }>;
  get(cluster: string, vmid: number): Promise<Vm | null>;
  findByVmid(vmid: number): Promise<Vm[]>;
  currentRevision(): Promise<number>;
  setStatus(cluster: string, vmid: number, status: VmStatus, fields?: Record<string, unknown>): Promise<Vm>;
  summary(): Promise<{ byCluster: Record<string, Record<string, number>>; total: number }>;
}

export interface SyncControl {
  start(): void;
  stop(): Promise<void>;
  trigger(opts?: { cluster?: string; kind?: 'full' | 'quick' }): Promise<void>;
  watch(cluster: string, vmid: number): void;
  status(): SyncStatus;
  client(clusterId: string): PveClient | undefined;
  clusterIds(): string[];
  repo: InventoryReader;
}
