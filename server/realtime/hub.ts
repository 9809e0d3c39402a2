// The socket.io hub: sockets on the same HTTP server as Hono, authenticated from the session
// cookie (or a projector token), in rooms chosen by the permissions module; ChangeFeed events are
// batched (≤100 ms) and fanned out so each socket gets each VM it may see at most once; access
// changes move sockets between rooms and send what appeared or left; revoked sessions and
// projector links lose their sockets. Every instance fans out to its own sockets from its own feed
// (which follows the other instances' commits), so these emits are local: with an adapter that
// links instances (several on one database) they would otherwise reach the others' sockets twice.
import { hostAllowed, nodeRequestOrigin, type HostPolicy } from '../http/hosts.js';
import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { Server, type Socket } from 'socket.io';
import * as v from 'valibot';
import type { ChangeFeed, VmChanged, VmRemoved } from '../inventory/changes.js';
import type { InventoryReader } from '../inventory/reader.js';
import { clusterOfVmKey, parseVmKey, type Vm } from '../../contract/vm.js';
import type { SyncStatus } from '../../contract/sync.js';
import type { Access } from '../auth/permissions.js';
import type { AccessChanged, ProjectorRevoked, SessionRevoked } from '../auth/access-feed.js';
import type { SessionUser } from '../auth/session.js';
import { hashToken } from '../auth/tokens.js';
import { toProjectorVm, type ProjectorVm } from '../classes/projector-vm.js';
import { log as rootLog, type Logger } from '../log.js';
import type { ServerToClient, ClientToServer, SocketData, Ack } from './events.js';
import { DomainError, badRequest, notFound } from '../../contract/errors.js';
import { ADMIN_ROOM, classRoom, groupRoom, isGroupRoom, parseRoom } from '../../contract/rooms.js';
import { groupKey, indexGroups, planDelivery, diffVisible, lostRooms, chunks } from './fanout.js';

/** What the hub needs from the running server (a `Labdeck` fits). */
export interface RealtimeHost {
  httpServer: HttpServer;
  feed: ChangeFeed;
  access: Access;
  sessions: { getSessionUser(cookieHeader: string | undefined): Promise<SessionUser | null> };
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

export interface Realtime {
  io: Server<ClientToServer, ServerToClient, Record<string, never>, SocketData>;
  /**
   * The one way other modules push: an event of the typed map to rooms (contract/rooms.ts), on
   * every instance's sockets when several run. The hub's own VM fan-out does not go through it.
   */
  send<E extends keyof ServerToClient>(rooms: string | string[], event: E, ...args: Parameters<ServerToClient[E]>): void;
  /** Sends whatever is pending now (tests, shutdown). */
  flush(): void;
  stats(): RealtimeStats;
  close(): Promise<void>;
}

type LabSocket = Socket<ClientToServer, ServerToClient, Record<string, never>, SocketData>;

interface Group {
  key: string;
  rooms: string[];
  admin: boolean;
  /** Projector sockets (no session): they get VMs cut down to what the wall shows. */
  projector: boolean;
  sockets: Set<string>;
  /** VM keys this group may see (kept current batch by batch); null for admins (everything). */
  visible: Set<string> | null;
}

const HandshakeAuth = v.object({
  projector: v.optional(v.pipe(v.string(), v.minLength(16), v.maxLength(256), v.regex(/^[A-Za-z0-9_-]+$/))),
});
const HelloPayload = v.optional(v.nullable(v.object({})));

/** A refusal as a socket ack: the same codes the HTTP layer maps to statuses. */
export function ackFor(err: DomainError): Ack {
  return { ok: false, msg: err.message, code: err.code };
}

function refuse(reason: string, code: string): Error {
  const err = new Error(code) as Error & { data: { code: string; reason: string } };
  err.data = { code, reason };
  return err;
}

/**
 * Refuses cross-origin browser handshakes (a cookie-authenticated socket is a CSRF target).
 * X-Forwarded-Host counts only behind a trusted proxy: otherwise anyone could name their own site.
 */
function sameOrigin(req: IncomingMessage, trustProxy: boolean, hosts: HostPolicy): boolean {
  if (!hostAllowed(hosts, nodeRequestOrigin(req, trustProxy).host)) return false;
  const origin = req.headers.origin;
  if (!origin) return true;
  if (hosts.publicOrigin !== null && origin === hosts.publicOrigin) return true;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return false;
  }
  const forwarded = trustProxy ? req.headers['x-forwarded-host'] : undefined;
  return host === req.headers.host || (typeof forwarded === 'string' && forwarded.split(',')[0].trim() === host);
}

/** Attaches socket.io to the server's HTTP server and starts the fan-out. */
export function attachRealtime(host: RealtimeHost, opts: RealtimeOptions = {}): Realtime {
  const logger = (opts.logger ?? rootLog).child({ module: 'realtime' });
  const batchMs = Math.min(100, Math.max(0, opts.batchMs ?? 50));
  const syncStatusMs = opts.syncStatusMs ?? 1000;
  const chunkSize = opts.chunkSize ?? 5000;
  const { access, feed } = host;
  const repo = host.inventory;

  const io = new Server<ClientToServer, ServerToClient, Record<string, never>, SocketData>(host.httpServer, {
    path: '/socket.io',
    serveClient: false,
    ...(opts.transports ? { transports: opts.transports } : {}),
    maxHttpBufferSize: 16 * 1024,
    // Other upgrades on this server (the console relay, server/console) are answered by their owners.
    destroyUpgrade: false,
    allowRequest: (req, cb) => {
      const ok = sameOrigin(req, opts.trustProxy ?? false, opts.hosts ?? { publicOrigin: null, allowed: null });
      cb(ok ? null : 'origin not allowed', ok);
    },
  });

  const groups = new Map<string, Group>();
  let groupsByRoom: Map<string, Set<string>> | null = null;
  const userSockets = new Map<number, Set<string>>();
  const roomCache = new Map<string, { sig: string; rooms: string[] }>();
  const staleByCluster = new Map<string, boolean>();
  let pendingChanged = new Map<string, Vm>();
  let pendingRemoved = new Map<string, number>();
  let pendingRevision = 0;
  let batchTimer: ReturnType<typeof setTimeout> | null = null;
  let revision = 0;
  const counters = { flushes: 0, vmsPushed: 0, messages: 0, lastFlushMs: 0, maxFlushMs: 0 };
  let accessChain: Promise<void> = Promise.resolve();
  let closed = false;

  const index = () => (groupsByRoom ??= indexGroups(groups.values()));

  const sig = (vm: Vm) => `${vm.tags.join(';')}|${vm.pool ?? ''}|${vm.template ? 't' : ''}`;
  // Rooms are cached per VM; any reload of the access snapshot makes a new one and voids the cache.
  let cachedFor = access.snapshot();
  function checkSnapshot(): void {
    const now = access.snapshot();
    if (now !== cachedFor) {
      roomCache.clear();
      cachedFor = now;
    }
  }
  function roomsOfVm(vm: Vm): { rooms: string[]; before: string[] | null } {
    const s = sig(vm);
    const cached = roomCache.get(vm.id);
    if (cached && cached.sig === s) return { rooms: cached.rooms, before: null };
    const rooms = access.roomsForVm(vm.cluster, vm.vmid);
    roomCache.set(vm.id, { sig: s, rooms });
    return { rooms, before: cached ? cached.rooms : null };
  }
  function roomsOfKey(id: string): string[] {
    const cached = roomCache.get(id);
    if (cached) return cached.rooms;
    const p = parseVmKey(id);
    return p ? access.roomsForVm(p.cluster, p.vmid) : [ADMIN_ROOM];
  }

  function emitChanged(target: string, all: Vm[], projector = false): void {
    const vms: Array<Vm | ProjectorVm> = projector ? all.map(toProjectorVm) : all;
    for (const part of chunks(vms, chunkSize)) {
      io.local.to(target).emit('vm:changed', { revision, vms: part });
      counters.messages++;
    }
  }

  // ---- batching -------------------------------------------------------------------------------

  function schedule(): void {
    if (batchTimer || closed) return;
    batchTimer = setTimeout(flush, batchMs);
  }

  const onChanged = (e: VmChanged) => {
    for (const vm of e.vms) {
      pendingChanged.set(vm.id, vm);
      pendingRemoved.delete(vm.id);
    }
    pendingRevision = Math.max(pendingRevision, e.revision);
    schedule();
  };
  const onRemoved = (e: VmRemoved) => {
    for (const id of e.ids) {
      pendingChanged.delete(id);
      pendingRemoved.set(id, e.revision);
    }
    pendingRevision = Math.max(pendingRevision, e.revision);
    schedule();
  };

  function flush(): void {
    if (batchTimer) clearTimeout(batchTimer);
    batchTimer = null;
    if (pendingChanged.size === 0 && pendingRemoved.size === 0) return;
    const t0 = performance.now();
    checkSnapshot();
    const changed = [...pendingChanged.values()];
    const removed = [...pendingRemoved.keys()];
    revision = Math.max(revision, pendingRevision);
    pendingChanged = new Map();
    pendingRemoved = new Map();

    const items: Array<{ id: string; rooms: string[] }> = [];
    const shrunk: Array<{ id: string; rooms: string[]; keep: Set<string> }> = [];
    for (const vm of changed) {
      const { rooms, before } = roomsOfVm(vm);
      items.push({ id: vm.id, rooms });
      if (before) {
        const lost = lostRooms(before, rooms);
        if (lost.length) shrunk.push({ id: vm.id, rooms: lost, keep: new Set(rooms) });
      }
    }

    if (changed.length) {
      emitChanged(ADMIN_ROOM, changed);
      const byId = new Map(changed.map((vm) => [vm.id, vm]));
      for (const [key, ids] of planDelivery(items, index())) {
        const g = groups.get(key);
        if (!g) continue;
        for (const id of ids) g.visible?.add(id);
        emitChanged(groupRoom(key), [...ids].map((id) => byId.get(id)!), g.projector);
      }
    }

    if (removed.length) {
      const gone = removed.map((id) => ({ id, rooms: roomsOfKey(id) }));
      io.local.to(ADMIN_ROOM).emit('vm:removed', { revision, ids: removed });
      counters.messages++;
      for (const [key, ids] of planDelivery(gone, index())) {
        const g = groups.get(key);
        if (!g) continue;
        for (const id of ids) g.visible?.delete(id);
        io.local.to(groupRoom(key)).emit('vm:removed', { revision, ids: [...ids] });
        counters.messages++;
      }
      for (const id of removed) roomCache.delete(id);
    }

    // A VM whose tags or pool changed can leave a class: its teachers must see it go.
    if (shrunk.length) {
      const keepOf = new Map(shrunk.map((s) => [s.id, s.keep]));
      for (const [key, ids] of planDelivery(shrunk, index())) {
        const g = groups.get(key);
        if (!g) continue;
        const left = [...ids].filter((id) => !g.rooms.some((r) => keepOf.get(id)!.has(r)));
        if (!left.length) continue;
        for (const id of left) g.visible?.delete(id);
        io.local.to(groupRoom(key)).emit('vm:removed', { revision, ids: left, reason: 'access' });
        counters.messages++;
      }
    }

    counters.flushes++;
    counters.vmsPushed += changed.length;
    counters.lastFlushMs = performance.now() - t0;
    counters.maxFlushMs = Math.max(counters.maxFlushMs, counters.lastFlushMs);
  }

  // ---- sync status (admins, throttled) and staleness (everyone who sees the cluster) ------------

  let statusTimer: ReturnType<typeof setTimeout> | null = null;
  let statusPending: SyncStatus | null = null;
  const sendStatus = () => {
    statusTimer = null;
    if (!statusPending || closed) return;
    io.local.to(ADMIN_ROOM).emit('sync:status', statusPending);
    counters.messages++;
    statusPending = null;
    statusTimer = setTimeout(sendStatus, syncStatusMs);
  };
  const onStatus = (s: SyncStatus) => {
    statusPending = s;
    if (!statusTimer) sendStatus();
    for (const c of s.clusters) {
      const was = staleByCluster.get(c.id);
      staleByCluster.set(c.id, c.stale);
      if (was === undefined || was === c.stale) continue;
      const msg = { cluster: c.id, stale: c.stale, lastSuccessAt: c.lastSuccessAt };
      io.local.to(ADMIN_ROOM).emit('cluster:stale', msg);
      const prefix = `${c.id}:`;
      for (const g of groups.values()) {
        if (g.admin || !g.visible) continue;
        for (const k of g.visible) {
          if (k.startsWith(prefix)) {
            io.local.to(groupRoom(g.key)).emit('cluster:stale', msg);
            break;
          }
        }
      }
    }
  };

  /** The staleness of every cluster this socket sees part of (admins: all). */
  function sendStaleness(socket: LabSocket): void {
    const group = groups.get(socket.data.group);
    const prefixes = group && !group.admin && group.visible ? [...group.visible].map(clusterOfVmKey) : null;
    const seen = prefixes ? new Set(prefixes) : null;
    for (const c of host.sync.status?.().clusters ?? []) {
      if (seen && !seen.has(c.id)) continue;
      socket.emit('cluster:stale', { cluster: c.id, stale: c.stale, lastSuccessAt: c.lastSuccessAt });
    }
  }

  // ---- sockets and groups -----------------------------------------------------------------------

  function visibleFor(socket: LabSocket, rooms: string[]): Set<string> | null {
    const user = socket.data.user;
    if (user) {
      const keys = access.visibleVmKeys(user);
      return keys === 'all' ? null : keys;
    }
    const cls = rooms.map(parseRoom).find((r) => r?.kind === 'class');
    return cls?.kind === 'class' ? access.vmKeysOfClass(cls.id) : new Set();
  }

  function roomsFor(socket: LabSocket): string[] {
    const d = socket.data;
    if (d.user) return access.roomsForUser(d.user);
    return d.projectorToken ? access.roomsForProjector(d.projectorToken) : [];
  }

  function placeSocket(socket: LabSocket, rooms: string[], visible: Set<string> | null): void {
    const key = groupKey(rooms);
    const oldKey = socket.data.group;
    if (oldKey && oldKey !== key) {
      const old = groups.get(oldKey);
      if (old) {
        old.sockets.delete(socket.id);
        if (old.sockets.size === 0) groups.delete(oldKey);
      }
      void socket.leave(groupRoom(oldKey));
      for (const r of socket.rooms) if (r !== socket.id && !isGroupRoom(r) && !rooms.includes(r)) void socket.leave(r);
      groupsByRoom = null;
    }
    let g = groups.get(key);
    if (!g) {
      g = { key, rooms, admin: rooms.includes(ADMIN_ROOM), projector: !socket.data.user, sockets: new Set(), visible };
      groups.set(key, g);
      groupsByRoom = null;
    } else if (visible) {
      g.visible = visible;
    }
    g.sockets.add(socket.id);
    socket.data.group = key;
    socket.join([...rooms, groupRoom(key)]);
  }

  function unplace(socket: LabSocket): void {
    const g = groups.get(socket.data.group);
    if (g) {
      g.sockets.delete(socket.id);
      if (g.sockets.size === 0) {
        groups.delete(g.key);
        groupsByRoom = null;
      }
    }
    const uid = socket.data.user?.id;
    if (uid !== undefined) {
      const set = userSockets.get(uid);
      set?.delete(socket.id);
      if (set && set.size === 0) userSockets.delete(uid);
    }
  }

  io.use(async (socket, next) => {
    try {
      const parsed = v.safeParse(HandshakeAuth, socket.handshake.auth ?? {});
      if (!parsed.success) return next(refuse('The handshake carries a malformed projector token.', 'bad_request'));
      const token = parsed.output.projector;
      socket.data.group = '';
      socket.data.cookie = undefined;
      if (token) {
        if (access.roomsForProjector(token).length === 0) return next(refuse('This projector link is not valid: it may have expired or been revoked.', 'forbidden'));
        socket.data.user = null;
        socket.data.projectorToken = token;
        socket.data.projectorHash = hashToken(token);
        return next();
      }
      const cookie = socket.request.headers.cookie;
      const user = await host.sessions.getSessionUser(cookie);
      if (!user) return next(refuse('Not signed in, or the session has ended.', 'unauthorized'));
      socket.data.user = user;
      socket.data.cookie = cookie;
      socket.data.projectorToken = null;
      socket.data.projectorHash = null;
      next();
    } catch (err) {
      logger.error({ err }, 'socket handshake failed');
      next(refuse('The server could not check this connection.', 'internal'));
    }
  });

  io.on('connection', (socket) => {
    const rooms = roomsFor(socket);
    if (rooms.length === 0) {
      socket.disconnect(true);
      return;
    }
    placeSocket(socket, rooms, visibleFor(socket, rooms));
    const uid = socket.data.user?.id;
    if (uid !== undefined) {
      let set = userSockets.get(uid);
      if (!set) userSockets.set(uid, (set = new Set()));
      set.add(socket.id);
    }
    if (socket.data.user?.role === 'admin' && statusPending) socket.emit('sync:status', statusPending);
    // Each cluster's staleness now: a browser that reconnects after an outage cleared (or began)
    // has no changed VM to tell it, and its catch-up may come before the next status push.
    sendStaleness(socket);
    socket.on('hello', (payload, ack) => {
      if (typeof ack !== 'function') return;
      const ok = v.is(HelloPayload, payload);
      ack(ok ? { ok: true, msg: 'hello', revision } : ackFor(badRequest('hello takes no payload or an empty object')));
    });
    socket.onAny((event: string, ...args: unknown[]) => {
      if (event === 'hello') return;
      const ack = args[args.length - 1];
      if (typeof ack === 'function') (ack as (a: Ack) => void)(ackFor(notFound(`unknown event "${event}"`)));
    });
    socket.on('disconnect', () => unplace(socket));
  });

  // ---- access changes, revocations ------------------------------------------------------------

  async function applyAccessChange(change: AccessChanged): Promise<void> {
    flush();
    roomCache.clear();
    cachedFor = access.snapshot();
    const ids = new Set<string>();
    for (const uid of change.userIds) for (const id of userSockets.get(uid) ?? []) ids.add(id);
    for (const cid of change.classIds) for (const id of io.sockets.adapter.rooms.get(classRoom(cid)) ?? []) ids.add(id);
    if (change.userIds.length === 0 && change.classIds.length === 0) for (const id of io.sockets.sockets.keys()) ids.add(id);

    // Sockets of one old group share a principal: compute once per group.
    const byGroup = new Map<string, LabSocket[]>();
    for (const id of ids) {
      const s = io.sockets.sockets.get(id);
      if (!s) continue;
      const list = byGroup.get(s.data.group) ?? [];
      list.push(s);
      byGroup.set(s.data.group, list);
    }
    for (const [oldKey, sockets] of byGroup) {
      const before = groups.get(oldKey)?.visible ?? null;
      const rooms = roomsFor(sockets[0]);
      if (rooms.length === 0) {
        for (const s of sockets) s.disconnect(true);
        continue;
      }
      const after = visibleFor(sockets[0], rooms);
      for (const s of sockets) placeSocket(s, rooms, after);
      const targets = sockets.map((s) => s.id);
      io.local.to(targets).emit('access:changed', { classIds: change.classIds });
      if (!before || !after) continue;
      const { appeared, left } = diffVisible(before, after);
      if (appeared.length) {
        const found = await repo.list({ keys: appeared });
        const vms: Array<Vm | ProjectorVm> = sockets[0].data.user ? found : found.map(toProjectorVm);
        if (vms.length) {
          for (const part of chunks(vms, chunkSize)) {
            io.local.to(targets).emit('vm:changed', { revision, vms: part });
            counters.messages++;
          }
        }
      }
      if (left.length) {
        io.local.to(targets).emit('vm:removed', { revision, ids: left, reason: 'access' });
        counters.messages++;
      }
    }
  }

  const onAccessChanged = (change: AccessChanged) => {
    accessChain = accessChain.then(() => applyAccessChange(change)).catch((err) => logger.error({ err }, 'access change fan-out failed'));
  };
  const onSessionRevoked = ({ userId }: SessionRevoked) => {
    for (const id of [...(userSockets.get(userId) ?? [])]) io.sockets.sockets.get(id)?.disconnect(true);
  };
  const onProjectorRevoked = ({ tokenHash }: ProjectorRevoked) => {
    for (const s of io.sockets.sockets.values()) if (s.data.projectorHash === tokenHash) s.disconnect(true);
  };

  feed.on('vm:changed', onChanged);
  feed.on('vm:removed', onRemoved);
  feed.on('sync:status', onStatus);
  access.feed.on('access:changed', onAccessChanged);
  access.feed.on('session:revoked', onSessionRevoked);
  access.feed.on('projector:revoked', onProjectorRevoked);

  // Sessions and projector links expire while sockets stay open: re-check them now and then.
  const revalidate = setInterval(() => {
    for (const s of io.sockets.sockets.values()) {
      if (s.data.projectorToken) {
        if (access.roomsForProjector(s.data.projectorToken).length === 0) s.disconnect(true);
        continue;
      }
      void host.sessions.getSessionUser(s.data.cookie).then((u) => { if (!u) s.disconnect(true); }, () => undefined);
    }
  }, opts.revalidateMs ?? 60_000);
  revalidate.unref();

  return {
    io,
    send(rooms, event, ...args) {
      io.to(rooms).emit(event, ...args);
      counters.messages++;
    },
    flush,
    stats: () => ({ sockets: io.sockets.sockets.size, groups: groups.size, revision, ...counters }),
    async close() {
      if (closed) return;
      flush();
      closed = true;
      clearInterval(revalidate);
      if (statusTimer) clearTimeout(statusTimer);
      feed.off('vm:changed', onChanged);
      feed.off('vm:removed', onRemoved);
      feed.off('sync:status', onStatus);
      access.feed.off('access:changed', onAccessChanged);
      access.feed.off('session:revoked', onSessionRevoked);
      access.feed.off('projector:revoked', onProjectorRevoked);
      await accessChain;
      // Closing transports (not a socket.io disconnect) lets browsers reconnect when the server is back.
      io.engine.close();
    },
  };
}
