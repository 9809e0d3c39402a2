// The client side of provisioning: the calls of /api/classes/:id/provision…, the VMs labdeck made
// for a class (reset, remove), revert and re-create, and the inventory search of the pickers.
import { apiGet, apiPost, qs } from './api.js';
import type { JobView, ProvisionedVm, VmOutcome } from '../../../contract/provision.js';

export type { JobView, ProvisionedVm, VmOutcome } from '../../../contract/provision.js';

/** One row of the inventory search. */
export interface PickedVm { cluster: string; vmid: number; name: string; node: string; type: 'qemu' | 'lxc'; status: string; tags: string[]; pool: string | null; template: boolean }

export interface ProvisionRequest { cluster: string; templateVmid: number; count: number; namePrefix?: string; full?: boolean; baseline?: boolean; assign?: boolean }

export const startProvision = (classId: number, body: ProvisionRequest) => apiPost<{ job: JobView }>(`/api/classes/${classId}/provision`, body);
export const listJobs = (classId: number) => apiGet<{ jobs: JobView[] }>(`/api/classes/${classId}/provision`);
export const cancelJob = (classId: number, jobId: number) => apiPost<{ job: JobView }>(`/api/classes/${classId}/provision/${jobId}/cancel`);
export const listProvisioned = (classId: number) => apiGet<{ vms: ProvisionedVm[] }>(`/api/classes/${classId}/provisioned`);
export const resetClass = (classId: number) => apiPost<{ results: VmOutcome[]; reverted: number; failed: number }>(`/api/classes/${classId}/reset`);
export const removeVms = (classId: number, vms?: Array<{ cluster: string; vmid: number }>) =>
  apiPost<{ results: VmOutcome[]; removed: number; failed: number }>(`/api/classes/${classId}/remove-vms`, vms ? { vms } : {});
/** Re-creates a VM labdeck made from its template (a one-VM job that removes it, then clones again). */
export const recloneVm = (cluster: string, vmid: number) => apiPost<{ job: JobView }>(`/api/vm/${vmid}/reclone${qs({ cluster })}`);
export const revertVm = (cluster: string, vmid: number) => apiPost<{ started: boolean }>(`/api/vm/${vmid}/revert${qs({ cluster })}`);
export const searchInventory = (classId: number, q: { q: string; kind: 'template' | 'vm'; limit?: number }) =>
  apiGet<{ vms: PickedVm[] }>(`/api/classes/${classId}/inventory${qs({ q: q.q, kind: q.kind, limit: q.limit ?? 20 })}`);

/** Plain words for a VM's step in a job. */
export const VM_STEP: Record<JobView['vms'][number]['state'], string> = {
  pending: 'waiting', cloning: 'cloning', configuring: 'tagging', baseline: 'taking the baseline', done: 'ready',
  failed: 'failed', cancelled: 'cancelled', removing: 'removing', removed: 'removed',
};
