// Power actions from the client: one VM, or many through the server's bulk route (`POST
// /api/vms/actions`: a selection, or a whole class by its id), with a result per VM.
import { apiPost, qs } from './api.js';
import { finalOf, type PowerAction, type Vm } from '../../../contract/vm.js';
import type { BulkActionResponse, BulkResult } from '../../../contract/vm-api.js';

export type { BulkResult, PowerAction };

/** The state each action ends in. */
export const TARGET_STATUS = finalOf;

/** Asks the server to act on one VM; resolves when the server accepted (200 or 202). */
export async function powerAction(vm: Pick<Vm, 'cluster' | 'vmid'>, action: PowerAction): Promise<void> {
  await apiPost(`/api/vm/${vm.vmid}/${action}${qs({ cluster: vm.cluster })}`);
}

/** Acts on a selection, or on every VM of a class (`{classId}`); the server runs 4 at a time. */
export async function powerBulk(action: PowerAction, target: { vms: Array<Pick<Vm, 'cluster' | 'vmid'>> } | { classId: number }): Promise<BulkResult[]> {
  const body = 'classId' in target ? { action, classId: target.classId } : { action, vms: target.vms.map((v) => ({ cluster: v.cluster, vmid: v.vmid })) };
  const res = await apiPost<BulkActionResponse>('/api/vms/actions', body);
  return res.results;
}
