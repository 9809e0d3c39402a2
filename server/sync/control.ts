// What the API asks of the sync loop: a narrow view of the SyncManager (trigger a pass, watch a
// guest after an action, read the status, reach a cluster's client).
import type { SyncManager } from './manager.js';

export type SyncControl = Pick<SyncManager, 'trigger' | 'watch' | 'status' | 'client' | 'clusterIds'>;
