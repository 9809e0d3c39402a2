// What everyone but the sync reads of the inventory: a narrow, read-only view of InventoryRepo, so
// the hub, classes, actions, provisioning, ops and routes depend only on what they use and cannot
// write. The composition root (server/server.ts) builds the repository, hands the writer to the
// sync and this view to the rest; a state labdeck decides itself goes through the sync (setStatus).
import type { InventoryRepo } from './repository.js';

export type InventoryReader = Pick<InventoryRepo, 'list' | 'since' | 'get' | 'findByVmid' | 'findByVmids' | 'currentRevision' | 'summary' | 'pendingRows'>;
