// The one typed map of socket.io events between labdeck and the browser: nobody emits ad-hoc names.
import type { Vm } from '../../contract/vm.js';
import type { ErrorCode } from '../../contract/errors.js';
import type { ProjectorVm } from '../classes/projector-vm.js';
import type { SyncStatus } from '../../contract/sync.js';
import type { SessionUser } from '../auth/session.js';
import type { JobView } from '../../contract/provision.js';

/** Projector sockets get each VM as a `ProjectorVm` (only what the wall shows). */
export interface VmChangedPush { revision: number; vms: Array<Vm | ProjectorVm> }
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

export interface ServerToClient {
  'vm:changed': (msg: VmChangedPush) => void;
  'vm:removed': (msg: VmRemovedPush) => void;
  'sync:status': (status: SyncStatus) => void;
  'cluster:stale': (msg: ClusterStalePush) => void;
  /** A cluster went down or recovered (admins only; sent by server/ops when the alert is recorded). */
  'sync:alert': (alert: SyncAlertPush) => void;
  /** This viewer's classes, rosters or assignments changed: views that show them reload. */
  'access:changed': (msg: { classIds: number[] }) => void;
  /** Who else (a teacher, an admin) has this VM's console open; sent to its students and the viewers. */
  'console:watchers': (msg: { cluster: string; vmid: number; watchers: Array<{ name: string; mode: 'control' | 'view' }> }) => void;
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

export interface SocketData {
  user: SessionUser | null;
  /** SHA-256 of the projector token, for projector sockets. */
  projectorHash: string | null;
  projectorToken: string | null;
  cookie: string | undefined;
  /** The viewer group (set of rooms) this socket belongs to. */
  group: string;
}
