// What a projector may carry about a VM: only what the wall shows (name, status, IP or why there is
// none, freshness). A projector link opens without a session on a shared classroom PC, so MAC
// addresses, nodes, tags, pools, sizes and Proxmox error texts stay off it.
import type { Vm } from '../../contract/vm.js';
import { NODE_OFFLINE, type ProjectorVm } from '../../contract/classes.js';

export type { ProjectorStudent, ProjectorVm } from '../../contract/classes.js';

/** Cuts a VM down to what a projector shows (pure). */
export function toProjectorVm(vm: Vm): ProjectorVm {
  return {
    id: vm.id, cluster: vm.cluster, vmid: vm.vmid, name: vm.name, status: vm.status, ip: vm.ip, ipReason: vm.ipReason,
    stale: vm.stale, lastSeen: vm.lastSeen, revision: vm.revision, syncError: vm.syncError === NODE_OFFLINE ? NODE_OFFLINE : vm.syncError ? 'sync error' : null,
  };
}
