// The delivery plan (pure): given what changed and who is watching, the messages to send, room by
// room and chunk by chunk. The hub applies the plan (emits, updates what each group sees); nothing
// here touches a socket, so who gets which change can be tested without one (test/realtime).
//   - admins get every change in one room; every other viewer group gets each VM it may see once
//   - a projector group gets each VM cut down to what the wall shows
//   - a VM whose rooms shrank (tags, pool) leaves the groups that can no longer see it
//   - a cluster's staleness flip reaches admins and every group that sees part of the cluster
import type { Vm } from '../../contract/vm.js';
import { clusterOfVmKey } from '../../contract/vm.js';
import { ADMIN_ROOM, groupRoom } from '../../contract/rooms.js';
import { toProjectorVm, type ProjectorVm } from '../classes/projector-vm.js';
import type { ClusterStalePush, ServerToClient } from './events.js';
import { chunks, lostRooms, planDelivery } from './fanout.js';

/** One socket.io message: an event of the typed map, to rooms or socket ids. */
export type Message = {
  [E in keyof ServerToClient]: { to: string | string[]; event: E; msg: Parameters<ServerToClient[E]>[0] };
}[keyof ServerToClient];

/** A viewer group as the plan sees it (server/realtime/groups.ts keeps the live ones). */
export interface ViewerGroup {
  key: string;
  rooms: readonly string[];
  admin: boolean;
  /** Projector sockets (no session): they get VMs cut down to what the wall shows. */
  projector: boolean;
  /** VM keys this group may see; null for admins (everything). */
  visible: ReadonlySet<string> | null;
}

/** One flush's worth of changes, each with the rooms that may see it now. */
export interface Batch {
  revision: number;
  /** `before`: the rooms the VM had when they differ from now (null when unchanged or first seen). */
  changed: ReadonlyArray<{ vm: Vm; rooms: readonly string[]; before: readonly string[] | null }>;
  removed: ReadonlyArray<{ id: string; rooms: readonly string[] }>;
}

/** Per group key: the VM keys it sees from now on, and those it no longer sees. */
export type SeenUpdate = Map<string, { add: string[]; remove: string[] }>;

export interface DeliveryPlan {
  messages: Message[];
  seen: SeenUpdate;
}

/** `vm:changed` messages of these VMs to one target, at most `chunkSize` VMs each. */
export function changedMessages(to: string | string[], vms: readonly Vm[], projector: boolean, revision: number, chunkSize: number): Message[] {
  if (vms.length === 0) return [];
  const list: Array<Vm | ProjectorVm> = projector ? vms.map(toProjectorVm) : (vms as Vm[]);
  return chunks(list, chunkSize).map((part) => ({ to, event: 'vm:changed', msg: { revision, vms: part } }));
}

/** Records that group `key` sees (`add`) or no longer sees these ids. */
function record(seen: SeenUpdate, key: string, side: 'add' | 'remove', ids: Iterable<string>): void {
  let s = seen.get(key);
  if (!s) seen.set(key, (s = { add: [], remove: [] }));
  const list = s[side];
  for (const id of ids) list.push(id);
}

/**
 * The messages of one batch: changed VMs to the admin room and to each group that may see them
 * (once each, in chunks), removed VMs likewise, then the VMs that left a group's sight because
 * their rooms shrank (`reason: 'access'`). `groupsByRoom` is indexGroups() of `groups`.
 */
export function planBatch(batch: Batch, groups: ReadonlyMap<string, ViewerGroup>, groupsByRoom: ReadonlyMap<string, ReadonlySet<string>>, chunkSize: number): DeliveryPlan {
  const { revision } = batch;
  const messages: Message[] = [];
  const seen: SeenUpdate = new Map();

  const emit = (list: Message[]) => { for (const m of list) messages.push(m); };
  if (batch.changed.length) {
    const all = batch.changed.map((c) => c.vm);
    emit(changedMessages(ADMIN_ROOM, all, false, revision, chunkSize));
    const byId = new Map(all.map((vm) => [vm.id, vm]));
    for (const [key, ids] of planDelivery(batch.changed.map((c) => ({ id: c.vm.id, rooms: c.rooms })), groupsByRoom)) {
      const g = groups.get(key);
      if (!g) continue;
      if (g.visible) record(seen, key, 'add', ids);
      const vms: Vm[] = [];
      for (const id of ids) vms.push(byId.get(id)!);
      emit(changedMessages(groupRoom(key), vms, g.projector, revision, chunkSize));
    }
  }

  if (batch.removed.length) {
    messages.push({ to: ADMIN_ROOM, event: 'vm:removed', msg: { revision, ids: batch.removed.map((r) => r.id) } });
    for (const [key, ids] of planDelivery(batch.removed, groupsByRoom)) {
      const g = groups.get(key);
      if (!g) continue;
      if (g.visible) record(seen, key, 'remove', ids);
      messages.push({ to: groupRoom(key), event: 'vm:removed', msg: { revision, ids: [...ids] } });
    }
  }

  // A VM whose tags or pool changed can leave a class: its teachers must see it go.
  const shrunk: Array<{ id: string; rooms: string[]; keep: Set<string> }> = [];
  for (const c of batch.changed) {
    if (!c.before) continue;
    const lost = lostRooms(c.before, c.rooms);
    if (lost.length) shrunk.push({ id: c.vm.id, rooms: lost, keep: new Set(c.rooms) });
  }
  if (shrunk.length) {
    const keepOf = new Map(shrunk.map((s) => [s.id, s.keep]));
    for (const [key, ids] of planDelivery(shrunk, groupsByRoom)) {
      const g = groups.get(key);
      if (!g) continue;
      const left = [...ids].filter((id) => !g.rooms.some((r) => keepOf.get(id)!.has(r)));
      if (!left.length) continue;
      if (g.visible) record(seen, key, 'remove', left);
      messages.push({ to: groupRoom(key), event: 'vm:removed', msg: { revision, ids: left, reason: 'access' } });
    }
  }
  return { messages, seen };
}

/**
 * What one set of sockets (one old group, moved by an access change) is sent once its new rooms
 * are known: the VMs that appeared (`found`, read from the inventory) and the keys that left.
 */
export function planAccessChange(to: string[], found: readonly Vm[], left: readonly string[], projector: boolean, revision: number, chunkSize: number): Message[] {
  const messages = changedMessages(to, found, projector, revision, chunkSize);
  if (left.length) messages.push({ to, event: 'vm:removed', msg: { revision, ids: [...left], reason: 'access' } });
  return messages;
}

export interface ClusterFlag { id: string; stale: boolean; lastSuccessAt: number | null }

/**
 * The `cluster:stale` messages of a sync status: a cluster whose staleness flipped since `known`
 * (first sight counts as no flip) goes to admins and to each group that sees one of its VMs.
 * Returns the staleness to remember for the next status.
 */
export function planStaleness(clusters: readonly ClusterFlag[], known: ReadonlyMap<string, boolean>, groups: Iterable<ViewerGroup>): { messages: Message[]; known: Map<string, boolean> } {
  const next = new Map(known);
  const messages: Message[] = [];
  const flipped: Array<{ id: string; msg: ClusterStalePush }> = [];
  for (const c of clusters) {
    const was = next.get(c.id);
    next.set(c.id, c.stale);
    if (was === undefined || was === c.stale) continue;
    flipped.push({ id: c.id, msg: { cluster: c.id, stale: c.stale, lastSuccessAt: c.lastSuccessAt } });
  }
  if (!flipped.length) return { messages, known: next };
  const list = [...groups];
  for (const f of flipped) {
    messages.push({ to: ADMIN_ROOM, event: 'cluster:stale', msg: f.msg });
    const prefix = `${f.id}:`;
    for (const g of list) {
      if (g.admin || !g.visible) continue;
      for (const k of g.visible) {
        if (k.startsWith(prefix)) {
          messages.push({ to: groupRoom(g.key), event: 'cluster:stale', msg: f.msg });
          break;
        }
      }
    }
  }
  return { messages, known: next };
}

/** The staleness of every cluster a group sees part of (admins, or no group yet: all clusters). */
export function stalenessFor(group: ViewerGroup | undefined, clusters: readonly ClusterFlag[]): ClusterStalePush[] {
  const seen = group && !group.admin && group.visible ? new Set([...group.visible].map(clusterOfVmKey)) : null;
  return clusters.filter((c) => !seen || seen.has(c.id)).map((c) => ({ cluster: c.id, stale: c.stale, lastSuccessAt: c.lastSuccessAt }));
}
