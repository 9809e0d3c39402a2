// The client side of provisioning: the calls of /api/classes/:id/provision…, the VMs labdeck made
// for a class (reset, remove), revert and re-create, and the inventory search of the pickers.
import { apiGet, apiPost, qs } from './api.js';
import type {
  JobListResponse, JobResponse, JobView, PickerResponse, ProvisionedResponse, RemoveResponse, ResetResponse, RevertResponse,
} from '../../../contract/provision.js';

export type { JobView, PickedVm, ProvisionedVm, VmOutcome } from '../../../contract/provision.js';

export interface ProvisionRequest { cluster: string; templateVmid: number; count: number; namePrefix?: string; full?: boolean; baseline?: boolean; assign?: boolean }

export const startProvision = (classId: number, body: ProvisionRequest) => apiPost<JobResponse>(`/api/classes/${classId}/provision`, body);
export const listJobs = (classId: number) => apiGet<JobListResponse>(`/api/classes/${classId}/provision`);
export const cancelJob = (classId: number, jobId: number) => apiPost<JobResponse>(`/api/classes/${classId}/provision/${jobId}/cancel`);
export const listProvisioned = (classId: number) => apiGet<ProvisionedResponse>(`/api/classes/${classId}/provisioned`);
export const resetClass = (classId: number) => apiPost<ResetResponse>(`/api/classes/${classId}/reset`);
export const removeVms = (classId: number, vms?: Array<{ cluster: string; vmid: number }>) =>
  apiPost<RemoveResponse>(`/api/classes/${classId}/remove-vms`, vms ? { vms } : {});
/** Re-creates a VM labdeck made from its template (a one-VM job that removes it, then clones again). */
export const recloneVm = (cluster: string, vmid: number) => apiPost<JobResponse>(`/api/vm/${vmid}/reclone${qs({ cluster })}`);
export const revertVm = (cluster: string, vmid: number) => apiPost<RevertResponse>(`/api/vm/${vmid}/revert${qs({ cluster })}`);
/** The inventory search of the pickers (templates, or VMs), inside the class's scope. */
export const searchInventory = (classId: number, q: { q: string; kind: 'template' | 'vm'; limit?: number }) =>
  apiGet<PickerResponse>(`/api/classes/${classId}/inventory${qs({ q: q.q, kind: q.kind, limit: q.limit ?? 20 })}`);

/** Plain words for a VM's step in a job. */
export const VM_STEP: Record<JobView['vms'][number]['state'], string> = {
  pending: 'waiting', cloning: 'cloning', configuring: 'tagging', baseline: 'taking the baseline', done: 'ready',
  failed: 'failed', cancelled: 'cancelled', removing: 'removing', removed: 'removed',
};
