// The typed in-process announcement of inventory changes: the sync loop and power actions publish,
// the realtime hub (and metrics, alerts) listen. Only real changes are announced, never whole lists.
import { EventEmitter } from 'node:events';
import type { Vm } from '../../contract/vm.js';
import type { SyncStatus } from '../../contract/sync.js';

export interface VmChanged { revision: number; vms: Vm[] }
export interface VmRemoved { revision: number; ids: string[] }

export interface ChangeEvents {
  'vm:changed': [VmChanged];
  'vm:removed': [VmRemoved];
  'sync:status': [SyncStatus];
}

/** One feed per server process. */
export class ChangeFeed extends EventEmitter<ChangeEvents> {
  constructor() {
    super();
    this.setMaxListeners(100);
  }
}
