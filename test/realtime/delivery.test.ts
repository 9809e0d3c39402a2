// The delivery plan: who gets which change, in how many messages, and that a viewer without access
// gets nothing — planned without a socket, the way the hub sends it.
import { describe, it, expect } from 'vitest';
import { planBatch, planAccessChange, planStaleness, stalenessFor, type Batch, type Message, type ViewerGroup } from '../../server/realtime/delivery.js';
import { groupKey, indexGroups } from '../../server/realtime/fanout.js';
import { ADMIN_ROOM, PROJECTOR_ROOM, classRoom, groupRoom, userRoom } from '../../contract/rooms.js';
import type { Vm } from '../../contract/vm.js';

function vm(cluster: string, vmid: number, over: Partial<Vm> = {}): Vm {
  return {
    id: `${cluster}:${vmid}`, cluster, vmid, name: `vm-${vmid}`, node: 'pve1', type: 'qemu', status: 'running', startedAt: null,
    cpu: 0.1, memory: 0.2, ip: `10.0.0.${vmid % 250}`, ipReason: null, mac: 'aa:bb:cc:dd:ee:ff', rdpAvailable: null, sshAvailable: true,
    maxMemory: 2 ** 31, cores: 2, diskSize: null, template: false, tags: ['lab'], category: 'linux', pool: 'pool-a', lock: null,
    lastUpdated: 1, lastSeen: 1, syncError: null, revision: 10, stale: false, ...over,
  };
}

function group(rooms: string[], visible: string[] | null, projector = false): ViewerGroup {
  return { key: groupKey(rooms), rooms, admin: rooms.includes(ADMIN_ROOM), projector, visible: visible ? new Set(visible) : null };
}

// A class (1) with a teacher (user 9), two students (1, 2, one VM each), its projector, an admin,
// and a teacher of another class (user 8, class 2).
const student1 = group([userRoom(1)], ['a:101']);
const student2 = group([userRoom(2)], ['a:102']);
const teacher = group([userRoom(9), classRoom(1)], ['a:101', 'a:102']);
const projector = group([classRoom(1), PROJECTOR_ROOM], ['a:101', 'a:102'], true);
const admin = group([userRoom(5), ADMIN_ROOM], null);
const other = group([userRoom(8), classRoom(2)], ['b:300']);
const all = [student1, student2, teacher, projector, admin, other];
const groups = new Map(all.map((g) => [g.key, g]));
const index = indexGroups(all);

const roomsOf: Record<string, string[]> = {
  'a:101': [ADMIN_ROOM, classRoom(1), userRoom(1)],
  'a:102': [ADMIN_ROOM, classRoom(1), userRoom(2)],
  'a:103': [ADMIN_ROOM],
  'b:300': [ADMIN_ROOM, classRoom(2)],
};
const changed = (...vms: Vm[]): Batch['changed'] => vms.map((v) => ({ vm: v, rooms: roomsOf[v.id], before: null }));

/** Target → the VM ids it was sent in `vm:changed` messages (in order, repeats kept). */
function changedTo(messages: Message[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const m of messages) {
    if (m.event !== 'vm:changed') continue;
    const key = String(m.to);
    out.set(key, [...(out.get(key) ?? []), ...m.msg.vms.map((v) => v.id)]);
  }
  return out;
}
const removedTo = (messages: Message[]) => messages.filter((m) => m.event === 'vm:removed').map((m) => ({ to: m.to, ...(m.msg as object) }));

describe('delivery plan', () => {
  it('sends each student only their VM, the class\'s teacher and projector both, admins everything once', () => {
    const plan = planBatch({ revision: 11, changed: changed(vm('a', 101), vm('a', 102), vm('a', 103)), removed: [] }, groups, index, 5000);
    const got = changedTo(plan.messages);
    expect(got.get(ADMIN_ROOM)).toEqual(['a:101', 'a:102', 'a:103']);
    expect(got.get(groupRoom(student1.key))).toEqual(['a:101']);
    expect(got.get(groupRoom(student2.key))).toEqual(['a:102']);
    expect(got.get(groupRoom(teacher.key))?.sort()).toEqual(['a:101', 'a:102']);
    expect(got.get(groupRoom(projector.key))?.sort()).toEqual(['a:101', 'a:102']);
    // The admin's group is reached through the admin room only; the other class's teacher not at all.
    expect(got.has(groupRoom(admin.key))).toBe(false);
    expect(got.has(groupRoom(other.key))).toBe(false);
    expect(plan.messages.every((m) => m.event !== 'vm:changed' || m.msg.revision === 11)).toBe(true);
  });

  it('sends nothing to a viewer whose rooms do not meet the VM\'s, and nothing at all for an empty batch', () => {
    const plan = planBatch({ revision: 12, changed: changed(vm('a', 103)), removed: [{ id: 'a:103', rooms: roomsOf['a:103'] }] }, groups, index, 5000);
    expect(plan.messages.map((m) => m.to)).toEqual([ADMIN_ROOM, ADMIN_ROOM]);
    expect(planBatch({ revision: 12, changed: [], removed: [] }, groups, index, 5000).messages).toEqual([]);
  });

  it('cuts VMs down for the projector: no MAC, node, tags or pool on the wall', () => {
    const plan = planBatch({ revision: 11, changed: changed(vm('a', 101)), removed: [] }, groups, index, 5000);
    const wall = plan.messages.find((m) => m.to === groupRoom(projector.key));
    expect(wall?.event).toBe('vm:changed');
    const shown = wall?.event === 'vm:changed' ? wall.msg.vms[0] : null;
    expect(shown).toMatchObject({ id: 'a:101', name: 'vm-101', status: 'running', ip: '10.0.0.101' });
    for (const hidden of ['mac', 'node', 'tags', 'pool', 'cores']) expect(shown).not.toHaveProperty(hidden);
  });

  it('splits a large change into chunks: one message per chunk for each audience', () => {
    const many = Array.from({ length: 12 }, (_, i) => vm('a', 1000 + i));
    const rooms = [ADMIN_ROOM, classRoom(1)];
    const plan = planBatch({ revision: 20, changed: many.map((v) => ({ vm: v, rooms, before: null })), removed: [] }, groups, index, 5);
    const to = (room: string) => plan.messages.filter((m) => m.to === room && m.event === 'vm:changed');
    expect(to(ADMIN_ROOM).map((m) => m.event === 'vm:changed' && m.msg.vms.length)).toEqual([5, 5, 2]);
    expect(to(groupRoom(teacher.key))).toHaveLength(3);
    expect(to(groupRoom(projector.key))).toHaveLength(3);
    expect(to(groupRoom(student1.key))).toHaveLength(0);
    // Every chunk is a message: 3 audiences × 3 chunks.
    expect(plan.messages).toHaveLength(9);
    expect(changedTo(plan.messages).get(groupRoom(teacher.key))).toEqual(many.map((v) => v.id));
  });

  it('sends a removal to those who could see the VM, and they stop seeing it', () => {
    const plan = planBatch({ revision: 13, changed: [], removed: [{ id: 'a:101', rooms: roomsOf['a:101'] }] }, groups, index, 5000);
    expect(removedTo(plan.messages).map((m) => m.to).sort()).toEqual([ADMIN_ROOM, groupRoom(projector.key), groupRoom(student1.key), groupRoom(teacher.key)].sort());
    expect(removedTo(plan.messages).every((m) => !('reason' in m))).toBe(true);
    expect(plan.seen.get(student1.key)).toEqual({ add: [], remove: ['a:101'] });
    expect(plan.seen.has(student2.key)).toBe(false);
  });

  it('takes a VM whose tags moved it out of the class off the teacher and projector, not off its student', () => {
    const retagged = vm('a', 101, { tags: ['elsewhere'] });
    const now = [ADMIN_ROOM, userRoom(1)];
    const plan = planBatch({ revision: 14, changed: [{ vm: retagged, rooms: now, before: roomsOf['a:101'] }], removed: [] }, groups, index, 5000);
    expect(changedTo(plan.messages).get(groupRoom(student1.key))).toEqual(['a:101']);
    const left = removedTo(plan.messages);
    expect(left.map((m) => m.to).sort()).toEqual([groupRoom(projector.key), groupRoom(teacher.key)].sort());
    expect(left.every((m) => (m as { reason?: string }).reason === 'access')).toBe(true);
    expect(plan.seen.get(teacher.key)).toEqual({ add: [], remove: ['a:101'] });
    expect(plan.seen.get(student1.key)).toEqual({ add: ['a:101'], remove: [] });
  });

  it('after an access change sends what appeared (in chunks, cut for a projector) and what left', () => {
    const msgs = planAccessChange(['s1', 's2'], [vm('a', 104), vm('a', 105), vm('a', 106)], ['a:101'], true, 30, 2);
    expect(msgs.map((m) => m.event)).toEqual(['vm:changed', 'vm:changed', 'vm:removed']);
    expect(msgs.every((m) => m.to.length === 2)).toBe(true);
    const first = msgs[0].event === 'vm:changed' ? msgs[0].msg.vms[0] : null;
    expect(first).not.toHaveProperty('mac');
    expect(msgs[2].msg).toEqual({ revision: 30, ids: ['a:101'], reason: 'access' });
    expect(planAccessChange(['s1'], [], [], false, 30, 2)).toEqual([]);
  });

  it('tells admins and the viewers of a cluster when its data turns stale, once per flip', () => {
    const fresh = { id: 'a', stale: false, lastSuccessAt: 1 };
    const first = planStaleness([fresh, { id: 'b', stale: false, lastSuccessAt: 1 }], new Map(), all);
    expect(first.messages).toEqual([]);
    const flip = planStaleness([{ id: 'a', stale: true, lastSuccessAt: 1 }, { id: 'b', stale: false, lastSuccessAt: 1 }], first.known, all);
    expect(flip.messages.map((m) => m.to).sort()).toEqual([ADMIN_ROOM, groupRoom(student1.key), groupRoom(student2.key), groupRoom(teacher.key), groupRoom(projector.key)].sort());
    expect(flip.messages.every((m) => m.event === 'cluster:stale' && m.msg.cluster === 'a' && m.msg.stale)).toBe(true);
    expect(planStaleness([{ id: 'a', stale: true, lastSuccessAt: 1 }], flip.known, all).messages).toEqual([]);
  });

  it('tells a socket that connects the staleness of the clusters it sees part of (admins: all)', () => {
    const clusters = [{ id: 'a', stale: true, lastSuccessAt: 1 }, { id: 'b', stale: false, lastSuccessAt: 2 }];
    expect(stalenessFor(student1, clusters).map((c) => c.cluster)).toEqual(['a']);
    expect(stalenessFor(other, clusters).map((c) => c.cluster)).toEqual(['b']);
    expect(stalenessFor(admin, clusters).map((c) => c.cluster)).toEqual(['a', 'b']);
    expect(stalenessFor(group([userRoom(3)], []), clusters)).toEqual([]);
  });
});
