// The live link: one socket.io connection that feeds the VM store, catches up with
// `GET /api/vms?since=` after every reconnect, and reports its state for the indicator.
import { io, type Socket } from 'socket.io-client';
import type { SyncStatus } from '../../../server/sync/types.js';
import type { SyncAlertPush } from '../../../server/realtime/events.js';
import { apiGet, ApiError } from './api.js';
import { VmStore, type VmChangedMsg, type VmRemovedMsg, type SinceResponse } from './vm-store.js';

export type LinkState = 'connecting' | 'live' | 'reconnecting' | 'offline';

export interface LiveOptions {
  /** Projector token: authenticates the socket instead of the session cookie. */
  projector?: string;
  /** Full snapshot loader (first load, and when `since` is not possible). */
  loadSnapshot: () => Promise<SinceResponse>;
  /** Catch-up loader; default `GET /api/vms?since=`. */
  loadSince?: (revision: number) => Promise<SinceResponse>;
  /** Reload the full snapshot after a reconnect instead of asking for changes since. */
  fullReload?: boolean;
}

type StateListener = () => void;

/** Owns the socket and the store; `state`, `lastUpdateAt` and `syncStatus` drive the UI. */
export class LiveLink {
  readonly store = new VmStore();
  state: LinkState = 'connecting';
  /** Why the server refused the socket (e.g. the session ended). */
  refused: string | null = null;
  syncStatus: SyncStatus | null = null;
  private socket: Socket | null = null;
  private readonly listeners = new Set<StateListener>();
  private readonly accessListeners = new Set<(classIds: number[]) => void>();
  private readonly alertListeners = new Set<(alert: SyncAlertPush) => void>();
  private catchingUp = false;

  constructor(private readonly opts: LiveOptions) {}

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
    const socket = io({
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
    socket.on('vm:changed', (msg: VmChangedMsg) => this.store.applyChanged(msg));
    socket.on('vm:removed', (msg: VmRemovedMsg) => this.store.applyRemoved(msg));
    socket.on('cluster:stale', (msg: { cluster: string; stale: boolean }) => this.store.markClusterStale(msg.cluster, msg.stale));
    socket.on('server:shutdown', () => this.setState('reconnecting'));
    socket.on('access:changed', (msg: { classIds?: number[] }) => {
      if (this.opts.fullReload) void this.catchUp();
      for (const fn of this.accessListeners) fn(msg.classIds ?? []);
    });
    socket.on('sync:alert', (a: SyncAlertPush) => {
      for (const fn of this.alertListeners) fn(a);
    });
    socket.on('sync:status', (s: SyncStatus) => {
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
  get raw(): Socket | null {
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
        const since = this.opts.loadSince ?? ((rev: number) => apiGet<SinceResponse>(`/api/vms?since=${rev}`));
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
