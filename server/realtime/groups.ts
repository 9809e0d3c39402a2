// Which rooms a socket joins and which viewer group it is in. The permissions module names the
// rooms (contract/rooms.ts): a user's sockets `user:<id>`, a class's teachers and projectors
// `class:<id>`, admins `admin`. Sockets with the same set of rooms share one viewer group (its own
// room `g:<key>`), so a change is planned once per group, not once per socket. Also the rooms of
// each VM, cached until the VM's tags or pool change or the access snapshot is reloaded.
import type { Access } from '../auth/permissions.js';
import { ADMIN_ROOM, PROJECTOR_ROOM, groupRoom, isGroupRoom, parseRoom } from '../../contract/rooms.js';
import { parseVmKey, type Vm } from '../../contract/vm.js';
import type { LabSocket } from './attach.js';
import type { SeenUpdate, ViewerGroup } from './delivery.js';
import { groupKey, indexGroups } from './fanout.js';

export interface Group extends ViewerGroup {
  rooms: string[];
  sockets: Set<string>;
  /** Kept current batch by batch; null for admins (everything). */
  visible: Set<string> | null;
}

/** The live viewer groups of one hub, and which sockets each user has open. */
export class ViewerGroups {
  private readonly groups = new Map<string, Group>();
  private byRoom: Map<string, Set<string>> | null = null;
  private readonly userSockets = new Map<number, Set<string>>();

  constructor(private readonly access: Access) {}

  get size(): number { return this.groups.size; }
  get(key: string): Group | undefined { return this.groups.get(key); }
  all(): ReadonlyMap<string, Group> { return this.groups; }

  /** Room → keys of the non-admin groups in it (rebuilt when groups come or go). */
  index(): Map<string, Set<string>> {
    return (this.byRoom ??= indexGroups(this.groups.values()));
  }

  /** The rooms this socket's principal may be in now (none: it may see nothing). */
  roomsFor(socket: LabSocket): string[] {
    const d = socket.data;
    if (d.user) return this.access.roomsForUser(d.user);
    const rooms = d.projectorToken ? this.access.roomsForProjector(d.projectorToken) : [];
    return rooms.length ? [...rooms, PROJECTOR_ROOM] : [];
  }

  /** The VM keys this socket may see in these rooms; null for everything (admins). */
  visibleFor(socket: LabSocket, rooms: string[]): Set<string> | null {
    const user = socket.data.user;
    if (user) {
      const keys = this.access.visibleVmKeys(user);
      return keys === 'all' ? null : keys;
    }
    const cls = rooms.map(parseRoom).find((r) => r?.kind === 'class');
    return cls?.kind === 'class' ? this.access.vmKeysOfClass(cls.id) : new Set();
  }

  /** A new socket: into its group and rooms, counted among its user's sockets. */
  join(socket: LabSocket, rooms: string[]): void {
    this.place(socket, rooms, this.visibleFor(socket, rooms));
    const uid = socket.data.user?.id;
    if (uid === undefined) return;
    let set = this.userSockets.get(uid);
    if (!set) this.userSockets.set(uid, (set = new Set()));
    set.add(socket.id);
  }

  /** Moves a socket to the group of `rooms` (leaving rooms it no longer has); `visible` replaces the group's set. */
  place(socket: LabSocket, rooms: string[], visible: Set<string> | null): void {
    const key = groupKey(rooms);
    const oldKey = socket.data.group;
    if (oldKey && oldKey !== key) {
      const old = this.groups.get(oldKey);
      if (old) {
        old.sockets.delete(socket.id);
        if (old.sockets.size === 0) this.groups.delete(oldKey);
      }
      void socket.leave(groupRoom(oldKey));
      for (const r of socket.rooms) if (r !== socket.id && !isGroupRoom(r) && !rooms.includes(r)) void socket.leave(r);
      this.byRoom = null;
    }
    let g = this.groups.get(key);
    if (!g) {
      g = { key, rooms, admin: rooms.includes(ADMIN_ROOM), projector: !socket.data.user, sockets: new Set(), visible };
      this.groups.set(key, g);
      this.byRoom = null;
    } else if (visible) {
      g.visible = visible;
    }
    g.sockets.add(socket.id);
    socket.data.group = key;
    socket.join([...rooms, groupRoom(key)]);
  }

  /** A socket that disconnected. */
  leave(socket: LabSocket): void {
    const g = this.groups.get(socket.data.group);
    if (g) {
      g.sockets.delete(socket.id);
      if (g.sockets.size === 0) {
        this.groups.delete(g.key);
        this.byRoom = null;
      }
    }
    const uid = socket.data.user?.id;
    if (uid !== undefined) {
      const set = this.userSockets.get(uid);
      set?.delete(socket.id);
      if (set && set.size === 0) this.userSockets.delete(uid);
    }
  }

  /** Ids of this user's open sockets. */
  socketsOf(userId: number): ReadonlySet<string> {
    return this.userSockets.get(userId) ?? new Set();
  }

  /** Applies what a delivery plan says each group sees now. */
  see(update: SeenUpdate): void {
    for (const [key, { add, remove }] of update) {
      const visible = this.groups.get(key)?.visible;
      if (!visible) continue;
      for (const id of add) visible.add(id);
      for (const id of remove) visible.delete(id);
    }
  }
}

/** The rooms of each VM, cached per VM; any reload of the access snapshot voids the cache. */
export class VmRooms {
  private readonly cache = new Map<string, { sig: string; rooms: string[] }>();
  private cachedFor: unknown;

  constructor(private readonly access: Access) {
    this.cachedFor = access.snapshot();
  }

  /** Drops the cache when the access snapshot was reloaded since it was filled. */
  check(): void {
    const now = this.access.snapshot();
    if (now !== this.cachedFor) this.clear();
  }

  clear(): void {
    this.cache.clear();
    this.cachedFor = this.access.snapshot();
  }

  /** The VM's rooms now; `before` is what they were when its tags, pool or template flag changed since. */
  of(vm: Vm): { rooms: string[]; before: string[] | null } {
    const s = `${vm.tags.join(';')}|${vm.pool ?? ''}|${vm.template ? 't' : ''}`;
    const cached = this.cache.get(vm.id);
    if (cached && cached.sig === s) return { rooms: cached.rooms, before: null };
    const rooms = this.access.roomsForVm(vm.cluster, vm.vmid);
    this.cache.set(vm.id, { sig: s, rooms });
    return { rooms, before: cached ? cached.rooms : null };
  }

  /** The rooms of a VM known only by its key (a removal). */
  ofKey(id: string): string[] {
    const cached = this.cache.get(id);
    if (cached) return cached.rooms;
    const p = parseVmKey(id);
    return p ? this.access.roomsForVm(p.cluster, p.vmid) : [ADMIN_ROOM];
  }

  forget(id: string): void {
    this.cache.delete(id);
  }
}
