// The socket.io hub, composed of one module per job: attach.ts lets sockets in (origin, session
// cookie or projector token), groups.ts puts them in rooms chosen by the permissions module,
// batch.ts collects ChangeFeed events (≤100 ms), delivery.ts plans what each room gets, status.ts
// pushes the sync status and staleness, access-sync.ts follows access changes and revocations.
// Here: each batch is planned and sent, and `send()` is the one way other modules push.
// Every instance fans out to its own sockets from its own feed (which follows the other instances'
// commits), so the fan-out's emits are local: with an adapter that links instances (several on one
// database) they would otherwise reach the others' sockets twice.
import type { Server as HttpServer } from 'node:http';
import type { HostPolicy } from '../hosts.js';
import type { ChangeFeed, VmChanged, VmRemoved } from '../inventory/changes.js';
import type { InventoryReader } from '../inventory/reader.js';
import type { SyncStatus } from '../../contract/sync.js';
import type { Access } from '../auth/permissions.js';
import { log as rootLog, type Logger } from '../log.js';
import type { ServerToClient } from './events.js';
import { admitSockets, createServer, type LabServer, type SessionCheck } from './attach.js';
import { planBatch, type Message } from './delivery.js';
import { ViewerGroups, VmRooms } from './groups.js';
import { StatusPush } from './status.js';
import { Batcher } from './batch.js';
import { syncAccess } from './access-sync.js';

export { ackFor } from './attach.js';

/** What the hub needs from the running server (a `Labdeck` fits). */
export interface RealtimeHost {
  httpServer: HttpServer;
  feed: ChangeFeed;
  access: Access;
  sessions: SessionCheck;
  /** Read-only: the VMs a socket gains when its access grows. */
  inventory: Pick<InventoryReader, 'list'>;
  /** `status` (when there): each cluster's staleness for sockets that connect. */
  sync: { status?(): SyncStatus };
}

export interface RealtimeOptions {
  /** Batch window for pushes; capped at 100 ms. */
  batchMs?: number;
  /** Minimum gap between two `sync:status` pushes. */
  syncStatusMs?: number;
  /** How often open sockets' sessions and projector links are re-checked (expiry). */
  revalidateMs?: number;
  /** Honour X-Forwarded-Host in the origin check (config auth.trustProxy). */
  trustProxy?: boolean;
  /** The host names handshakes may name and the public origin (config publicUrl, allowedHosts). */
  hosts?: HostPolicy;
  /** Largest number of VMs in one frame. */
  chunkSize?: number;
  /** Engine.io transports (several instances without sticky sessions: websocket only). */
  transports?: Array<'polling' | 'websocket'>;
  logger?: Logger;
}

export interface RealtimeStats {
  sockets: number;
  groups: number;
  flushes: number;
  vmsPushed: number;
  messages: number;
  lastFlushMs: number;
  maxFlushMs: number;
  revision: number;
}

/**
 * Who a `send()` reaches: rooms (contract/rooms.ts) on every instance's sockets when several run;
 * `except` leaves out sockets in those rooms; `local` keeps to this instance's sockets (no `to`: all of them).
 */
export type Audience = string | string[] | { to?: string | string[]; except?: string | string[]; local?: boolean };

export interface Realtime {
  io: LabServer;
  /** The one way other modules push: an event of the typed map to an audience. */
  send<E extends keyof ServerToClient>(audience: Audience, event: E, ...args: Parameters<ServerToClient[E]>): void;
  /** Sends whatever is pending now (tests, shutdown). */
  flush(): void;
  stats(): RealtimeStats;
  close(): Promise<void>;
}

/** Attaches socket.io to the server's HTTP server and starts the fan-out. */
export function attachRealtime(host: RealtimeHost, opts: RealtimeOptions = {}): Realtime {
  const logger = (opts.logger ?? rootLog).child({ module: 'realtime' });
  const batchMs = Math.min(100, Math.max(0, opts.batchMs ?? 50));
  const chunkSize = opts.chunkSize ?? 5000;
  const { access, feed } = host;
  const io = createServer(host.httpServer, opts);
  const groups = new ViewerGroups(access);
  const vmRooms = new VmRooms(access);
  const counters = { flushes: 0, vmsPushed: 0, messages: 0, lastFlushMs: 0, maxFlushMs: 0 };
  let revision = 0;
  let closed = false;

  /** Emits a plan's messages to this instance's sockets. */
  const deliver = (messages: Message[]) => {
    for (const m of messages) io.local.to(m.to).emit(m.event, m.msg as never);
    counters.messages += messages.length;
  };

  function flush(): void {
    const taken = batch.take();
    if (!taken) return;
    const t0 = performance.now();
    vmRooms.check();
    const changed = taken.changed.map((vm) => ({ vm, ...vmRooms.of(vm) }));
    const removed = taken.removed.map((id) => ({ id, rooms: vmRooms.ofKey(id) }));
    revision = Math.max(revision, taken.revision);
    const plan = planBatch({ revision, changed, removed }, groups.all(), groups.index(), chunkSize);
    groups.see(plan.seen);
    deliver(plan.messages);
    for (const r of removed) vmRooms.forget(r.id);
    counters.flushes++;
    counters.vmsPushed += changed.length;
    counters.lastFlushMs = performance.now() - t0;
    counters.maxFlushMs = Math.max(counters.maxFlushMs, counters.lastFlushMs);
  }
  const batch = new Batcher(batchMs, flush);

  // ---- sockets, status, access ----------------------------------------------------------------

  const status = new StatusPush({ groups, deliver, current: host.sync.status?.bind(host.sync), syncStatusMs: opts.syncStatusMs ?? 1000 });
  admitSockets(io, {
    access, sessions: host.sessions, logger, revision: () => revision,
    connected(socket) {
      const rooms = groups.roomsFor(socket);
      if (rooms.length === 0) return false;
      groups.join(socket, rooms);
      deliver(status.welcome(socket));
      return true;
    },
    disconnected: (socket) => groups.leave(socket),
  });
  const accessSync = syncAccess({
    io, access, sessions: host.sessions, inventory: host.inventory, groups, vmRooms, flush, deliver,
    revision: () => revision, chunkSize, revalidateMs: opts.revalidateMs ?? 60_000, logger,
  });

  feed.on('vm:changed', batch.onChanged);
  feed.on('vm:removed', batch.onRemoved);
  feed.on('sync:status', status.onStatus);

  return {
    io,
    send(audience, event, ...args) {
      const a = typeof audience === 'string' || Array.isArray(audience) ? { to: audience } : audience;
      let target = a.local ? io.local : io;
      if (a.to !== undefined) target = target.to(a.to);
      if (a.except !== undefined) target = target.except(a.except);
      target.emit(event, ...args);
      counters.messages++;
    },
    flush,
    stats: () => ({ sockets: io.sockets.sockets.size, groups: groups.size, revision, ...counters }),
    async close() {
      if (closed) return;
      flush();
      closed = true;
      batch.close();
      status.close();
      feed.off('vm:changed', batch.onChanged);
      feed.off('vm:removed', batch.onRemoved);
      feed.off('sync:status', status.onStatus);
      await accessSync.close();
      // Closing transports (not a socket.io disconnect) lets browsers reconnect when the server is back.
      io.engine.close();
    },
  };
}
