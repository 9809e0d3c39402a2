// What the API reads of the inventory: a narrow view of the sync's InventoryRepo, so classes,
// actions, provisioning and routes depend only on what they use (and never write a pass).
import type { InventoryRepo } from './repository.js';

export type InventoryReader = Pick<InventoryRepo, 'list' | 'since' | 'get' | 'findByVmid' | 'findByVmids' | 'currentRevision' | 'setStatus' | 'summary'>;
