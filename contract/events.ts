// The one typed map of socket.io events between labdeck and the browser, and the pushes they
// carry: the server's hub and the client's socket are both typed with it, so nobody emits or
// listens to ad-hoc names. Types only: the browser bundle takes it as is.
import type { Vm } from './vm.js';
import type { ErrorCode } from './errors.js';
import type { ProjectorVm } from './classes.js';
import type { SyncStatus } from './sync.js';
import type { JobView } from './provision.js';
import type { ConsoleWatcher } from './console.js';

/** Projector sockets get each VM as a `ProjectorVm` (only what the wall shows). */
export interface VmChangedPush<V extends Vm | ProjectorVm = Vm | ProjectorVm> { revision: number; vms: V[] }
/** `reason: 'access'`: the VMs left this viewer's sight (not deleted); otherwise they were removed. */
export interface VmRemovedPush { revision: number; ids: string[]; reason?: 'access' }
/** A cluster's data went stale (no successful pass recently) or fresh again. */
export interface ClusterStalePush { cluster: string; stale: boolean; lastSuccessAt: number | null }

/** A sync alert as the sync monitor lists it (the same shape as `GET /api/sync/alerts` rows). */
export interface SyncAlertPush {
  id: number;
  cluster: string;
  kind: 'down' | 'recovered';
  at: number;
  reason: string;
  /** Per channel: "ok", "pending" or "error: <why>" at the moment it was raised. */
  deliveries: Record<string, string>;
}

/** `GET /api/sync/alerts` (admins): the alerts raised, newest first; `enabled` false when alerting is off. */
export interface SyncAlertsResponse { enabled: boolean; alerts: SyncAlertPush[] }

/** `V`: the VMs a socket is sent (a session socket full VMs, a projector socket projector VMs). */
export interface ServerToClient<V extends Vm | ProjectorVm = Vm | ProjectorVm> {
  'vm:changed': (msg: VmChangedPush<V>) => void;
  'vm:removed': (msg: VmRemovedPush) => void;
  'sync:status': (status: SyncStatus) => void;
  'cluster:stale': (msg: ClusterStalePush) => void;
  /** A cluster went down or recovered (admins only; sent by server/ops when the alert is recorded). */
  'sync:alert': (alert: SyncAlertPush) => void;
  /** This viewer's classes, rosters or assignments changed: views that show them reload. */
  'access:changed': (msg: { classIds: number[] }) => void;
  /** Who else (a teacher, an admin) has this VM's console open; sent to its students and the viewers. */
  'console:watchers': (msg: { cluster: string; vmid: number; watchers: ConsoleWatcher[] }) => void;
  /** A provisioning job of a class made progress (its teachers and admins only; sent by server/provision). */
  'provision:progress': (msg: { classId: number; job: JobView }) => void;
  /** The server is shutting down (sent by server/ops/shutdown.ts); browsers reconnect when it is back. */
  'server:shutdown': (msg: { at: number; reason: string }) => void;
}

/** Every client event answers through its ack with `{ok, msg}`; a refusal carries the domain error code too. */
export interface Ack { ok: boolean; msg: string; code?: ErrorCode; revision?: number }

export interface ClientToServer {
  /** Asks for the current revision (a cheap liveness check). */
  'hello': (payload: unknown, ack?: (res: Ack) => void) => void;
}
