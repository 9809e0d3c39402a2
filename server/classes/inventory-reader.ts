// What the API uses of the inventory and the sync loop: narrow views of the sync helper's
// InventoryRepo and SyncManager, so classes, actions and routes depend only on what they use.
import type { InventoryRepo, VmFilter } from '../inventory/repository.js';
import type { SyncManager } from '../sync/manager.js';

export type VmListFilter = VmFilter;

export type InventoryReader = Pick<InventoryRepo, 'list' | 'since' | 'get' | 'findByVmid' | 'findByVmids' | 'currentRevision' | 'setStatus' | 'summary'>;

export type SyncControl = Pick<SyncManager, 'trigger' | 'watch' | 'status' | 'client' | 'clusterIds'>;
