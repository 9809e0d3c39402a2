// The live link: one socket.io connection that feeds the VM store, catches up with
// `GET /api/vms?since=` after every reconnect, and reports its state for the indicator.
import { io, type Socket } from 'socket.io-client';
import type { SyncStatus } from '../../../contract/sync.js';
import type { ClientToServer, ServerToClient, SyncAlertPush } from '../../../contract/events.js';
import { apiGet, ApiError } from './api.js';
import type { Vm } from '../../../contract/vm.js';
import type { ProjectorVm } from '../../../contract/classes.js';
import { VmStore, type SinceResponse } from './vm-store.js';

/** The socket, typed with the server's own event map. */
export type LiveSocket<T extends Vm | ProjectorVm = Vm> = Socket<ServerToClient<T>, ClientToServer>;

export type LinkState = 'connecting' | 'live' | 'reconnecting' | 'offline';

export interface LiveOptions<T extends Vm | ProjectorVm = Vm> {
  /** Projector token: authenticates the socket instead of the session cookie. */
  projector?: string;
  /** Full snapshot loader (first load, and when `since` is not possible). */
  loadSnapshot: () => Promise<SinceResponse<T>>;
  /** Catch-up loader; default `GET /api/vms?since=`. */
  loadSince?: (revision: number) => Promise<SinceResponse<T>>;
  /** Reload the full snapshot after a reconnect instead of asking for changes since. */
  fullReload?: boolean;
}

type StateListener = () => void;

/**
 * Owns the socket and the store; `state`, `lastUpdateAt` and `syncStatus` drive the UI. `T` is
 * the VM shape the socket carries: `Vm`, or `ProjectorVm` for a projector link.
 */
export class LiveLink<T extends Vm | ProjectorVm = Vm> {
  readonly store = new VmStore<T>();
  state: LinkState = 'connecting';
  /** Why the server refused the socket (e.g. the session ended). */
  refused: string | null = null;
  syncStatus: SyncStatus | null = null;
  private socket: LiveSocket<T> | null = null;
  private readonly listeners = new Set<StateListener>();
  private readonly accessListeners = new Set<(classIds: number[]) => void>();
  private readonly alertListeners = new Set<(alert: SyncAlertPush) => void>();
  private catchingUp = false;

  constructor(private readonly opts: LiveOptions<T>) {}

  /** Notified when state, refusal or sync status changes. */
  onState(fn: StateListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Notified when the server says this viewer's classes or assignments changed. */
  onAccessChanged(fn: (classIds: number[]) => void): () => void {
    this.accessListeners.add(fn);
    return () => this.accessListeners.delete(fn);
  }

  /** Notified of every sync alert as it is raised (admins only). */
  onAlert(fn: (alert: SyncAlertPush) => void): () => void {
    this.alertListeners.add(fn);
    return () => this.alertListeners.delete(fn);
  }

  /** Opens the socket; the first snapshot is loaded once it is connected. */
  start(): void {
    if (this.socket) return;
    const socket: LiveSocket<T> = io({
      path: '/socket.io',
      transports: ['websocket', 'polling'],
      withCredentials: true,
      auth: this.opts.projector ? { projector: this.opts.projector } : {},
      reconnectionDelay: 500,
      reconnectionDelayMax: 5000,
    });
    this.socket = socket;
    socket.on('connect', () => {
      this.refused = null;
      void this.catchUp();
    });
    socket.on('disconnect', (reason) => {
      if (reason === 'io server disconnect') {
        // Signed out elsewhere or link revoked; if the session is still good, the retry succeeds.
        this.refused = 'The server ended this connection (signed out or link revoked).';
        this.setState('offline');
        setTimeout(() => {
          if (this.socket === socket && !socket.connected) socket.connect();
        }, 3000);
      } else {
        this.setState('reconnecting');
      }
    });
    socket.on('connect_error', (err: Error & { data?: { reason?: string } }) => {
      if (!socket.active) {
        this.refused = err.data?.reason ?? err.message;
        this.setState('offline');
      } else {
        this.setState(this.store.loaded ? 'reconnecting' : 'connecting');
      }
    });
    socket.io.on('reconnect_failed', () => this.setState('offline'));
    // If the socket cannot connect at all (a proxy without WebSockets or long polling), still show
    // the data once, marked as not live, rather than an empty page.
    setTimeout(() => {
      if (this.socket === socket && !socket.connected && !this.store.loaded && !this.refused) {
        this.opts.loadSnapshot().then((snap) => {
          if (!this.store.loaded) this.store.applySnapshot(snap.revision, snap.vms);
        }, () => undefined);
      }
    }, 3000);
    // The server sends session sockets full VMs and projector sockets projector VMs: T says which.
    socket.on('vm:changed', (msg) => this.store.applyChanged(msg));
    socket.on('vm:removed', (msg) => this.store.applyRemoved(msg));
    socket.on('cluster:stale', (msg) => this.store.markClusterStale(msg.cluster, msg.stale));
    socket.on('server:shutdown', () => this.setState('reconnecting'));
    socket.on('access:changed', (msg) => {
      if (this.opts.fullReload) void this.catchUp();
      for (const fn of this.accessListeners) fn(msg.classIds);
    });
    socket.on('sync:alert', (a) => {
      for (const fn of this.alertListeners) fn(a);
    });
    socket.on('sync:status', (s) => {
      this.syncStatus = s;
      this.emit();
    });
  }

  /** Closes the socket (sign-out, leaving the page). */
  stop(): void {
    this.socket?.removeAllListeners();
    this.socket?.disconnect();
    this.socket = null;
    this.setState('offline');
  }

  /** The underlying socket (tests and the sync monitor use it). */
  get raw(): LiveSocket | null {
    return this.socket;
  }

  /** Loads a snapshot first time, then only what changed since the last revision seen. */
  private async catchUp(): Promise<void> {
    if (this.catchingUp) return;
    this.catchingUp = true;
    try {
      if (!this.store.loaded || this.opts.fullReload) {
        const snap = await this.opts.loadSnapshot();
        this.store.applySnapshot(snap.revision, snap.vms);
      } else {
        const since = this.opts.loadSince ?? ((rev: number) => apiGet<SinceResponse<T>>(`/api/vms?since=${rev}`));
        this.store.applySince(await since(this.store.revision));
      }
      this.setState('live');
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 403 || err.status === 404)) {
        this.refused = err.message;
        this.stop();
        return;
      }
      this.setState('reconnecting');
      setTimeout(() => {
        if (this.socket?.connected) void this.catchUp();
      }, 1000);
    } finally {
      this.catchingUp = false;
    }
  }

  private setState(s: LinkState): void {
    if (this.state === s) {
      this.emit();
      return;
    }
    this.state = s;
    this.emit();
  }

  private emit(): void {
    for (const fn of this.listeners) fn();
  }
}
