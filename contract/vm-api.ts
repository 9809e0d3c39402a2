// The VM routes' answers (`GET /api/vms`, `?since=`, a power action, a bulk action): the routes
// `satisfy` these types and the client reads them as they are. Types only.
import type { ErrorCode } from './errors.js';
import type { PowerAction, Vm, VmStatus } from './vm.js';

/** A cluster's staleness now, as a catch-up carries it (staleness has no revision of its own). */
export interface ClusterStaleness { cluster: string; stale: boolean; lastSuccessAt: number | null }

/**
 * `GET /api/vms`: the VMs the caller may see at `revision`. With `?since=` a revision from the
 * future (another database, a restore) cannot be caught up from: the answer is the whole list,
 * with `reset`.
 */
export interface VmListResponse { revision: number; vms: Vm[]; removed?: string[]; reset?: true }

/** `GET /api/vms?since=`: what changed after that revision, what was removed, and each cluster's staleness. */
export interface VmSinceResponse { revision: number; vms: Vm[]; removed: string[]; clusters: ClusterStaleness[] }

/** `POST /api/vm/:vmid/:action`: the VM as it stands (pending while the task runs; `done` once it ended). */
export interface PowerActionResponse { vm: Vm; task: string; done: boolean }

/** One VM's answer from the bulk route. */
export interface BulkResult {
  id: string;
  cluster: string;
  vmid: number;
  ok: boolean;
  httpStatus: number;
  status?: VmStatus;
  task?: string;
  /** Why nothing was done ("already running"). */
  skipped?: string;
  error?: { code: ErrorCode; message: string };
}

/** `POST /api/vms/actions`. */
export interface BulkActionResponse { action: PowerAction; results: BulkResult[] }
