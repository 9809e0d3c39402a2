// Keeps open sockets in step with permissions: an access change moves the affected sockets to their
// new rooms and sends what appeared or left their sight; a revoked session or projector link loses
// its sockets at once; sessions and links that expire while a socket stays open are re-checked now
// and then. Changes are applied one at a time, in the order they were announced.
import type { Access } from '../auth/permissions.js';
import type { AccessChanged, ProjectorRevoked, SessionRevoked } from '../auth/access-feed.js';
import type { InventoryReader } from '../inventory/reader.js';
import { classRoom } from '../../contract/rooms.js';
import type { Logger } from '../log.js';
import type { LabServer, LabSocket, SessionCheck } from './attach.js';
import { planAccessChange, type Message } from './delivery.js';
import { diffVisible } from './fanout.js';
import type { VmRooms, ViewerGroups } from './groups.js';

export interface AccessSyncDeps {
  io: LabServer;
  access: Access;
  sessions: SessionCheck;
  inventory: Pick<InventoryReader, 'list'>;
  groups: ViewerGroups;
  vmRooms: VmRooms;
  /** Sends what the hub's batch holds (before sockets change rooms). */
  flush(): void;
  /** Emits to this instance's sockets. */
  deliver(messages: Message[]): void;
  revision(): number;
  chunkSize: number;
  revalidateMs: number;
  logger: Logger;
}

/** Follows the access feed; close() stops and waits for the change being applied. */
export function syncAccess(d: AccessSyncDeps): { close(): Promise<void> } {
  const { io, access, groups } = d;
  let chain: Promise<void> = Promise.resolve();

  async function apply(change: AccessChanged): Promise<void> {
    d.flush();
    d.vmRooms.clear();
    const ids = new Set<string>();
    for (const uid of change.userIds) for (const id of groups.socketsOf(uid)) ids.add(id);
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
      const rooms = groups.roomsFor(sockets[0]);
      if (rooms.length === 0) {
        for (const s of sockets) s.disconnect(true);
        continue;
      }
      const after = groups.visibleFor(sockets[0], rooms);
      for (const s of sockets) groups.place(s, rooms, after);
      const targets = sockets.map((s) => s.id);
      d.deliver([{ to: targets, event: 'access:changed', msg: { classIds: change.classIds } }]);
      if (!before || !after) continue;
      const { appeared, left } = diffVisible(before, after);
      const found = appeared.length ? await d.inventory.list({ keys: appeared }) : [];
      d.deliver(planAccessChange(targets, found, left, !sockets[0].data.user, d.revision(), d.chunkSize));
    }
  }

  const onAccessChanged = (change: AccessChanged) => {
    chain = chain.then(() => apply(change)).catch((err) => d.logger.error({ err }, 'access change fan-out failed'));
  };
  const onSessionRevoked = ({ userId }: SessionRevoked) => {
    for (const id of [...groups.socketsOf(userId)]) io.sockets.sockets.get(id)?.disconnect(true);
  };
  const onProjectorRevoked = ({ tokenHash }: ProjectorRevoked) => {
    for (const s of io.sockets.sockets.values()) if (s.data.projectorHash === tokenHash) s.disconnect(true);
  };
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
      void d.sessions.getSessionUser(s.data.cookie).then((u) => { if (!u) s.disconnect(true); }, () => undefined);
    }
  }, d.revalidateMs);
  revalidate.unref();

  return {
    async close() {
      clearInterval(revalidate);
      access.feed.off('access:changed', onAccessChanged);
      access.feed.off('session:revoked', onSessionRevoked);
      access.feed.off('projector:revoked', onProjectorRevoked);
      await chain;
    },
  };
}
