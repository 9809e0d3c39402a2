// Provisioning on the wire: a job and its VMs as the class page shows them (GET /api/classes/:id/
// provision…, the provision:progress push). The server's job and VM rows (server/db/schema.ts)
// take their states from here, so the page and the database name them alike.
import type { Vm } from './vm.js';
import type { ErrorCode } from './errors.js';

export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
export type JobVmState = 'pending' | 'cloning' | 'configuring' | 'baseline' | 'done' | 'failed' | 'cancelled' | 'removing' | 'removed';

/** One VM of a job as the class page shows it. */
export interface JobVmView {
  vmid: number | null;
  name: string;
  state: JobVmState;
  error: string | null;
  attempts: number;
  node: string | null;
  assignedTo: number | null;
}

/** A provisioning job with its progress. */
export interface JobView {
  id: number;
  classId: number;
  cluster: string;
  template: { vmid: number; name: string; type: 'qemu' | 'lxc' };
  state: JobState;
  full: boolean;
  baseline: boolean;
  total: number;
  done: number;
  failed: number;
  cancelled: number;
  createdAt: number;
  finishedAt: number | null;
  vms: JobVmView[];
}

/** A VM labdeck made for a class, for the remove confirmation. */
export interface ProvisionedVm {
  cluster: string;
  vmid: number;
  name: string;
  state: JobVmState;
  error: string | null;
  hasBaseline: boolean;
  jobId: number;
  status: string | null;
}

/** What a reset or remove did to one VM. */
export interface VmOutcome { cluster: string; vmid: number; ok: boolean; error?: string; code?: ErrorCode }

/** One row of a class's inventory search (the provisioning pickers: templates, or VMs). */
export type PickedVm = Pick<Vm, 'cluster' | 'vmid' | 'name' | 'node' | 'type' | 'status' | 'tags' | 'pool' | 'template'>;

/** The provisioning routes' answers (the routes `satisfy` them, the client reads them as they are). */
export interface JobResponse { job: JobView }
export interface JobListResponse { jobs: JobView[] }
export interface ProvisionedResponse { vms: ProvisionedVm[] }
export interface ResetResponse { results: VmOutcome[]; reverted: number; failed: number }
export interface RemoveResponse { results: VmOutcome[]; removed: number; failed: number }
export interface PickerResponse { vms: PickedVm[] }
export interface RevertResponse { vm: { cluster: string; vmid: number }; started: boolean }
