// The permission rules as pure functions over a snapshot: who sees which VM, which rooms a VM's
// change goes to, which rooms a user joins.
import { describe, expect, it } from 'vitest';
import {
  buildSnapshot, canSeeVmIn, canManageClassIn, canSeeClassIn, roomsForUserIn, roomsForVmIn, visibleVmKeysIn, vmKeysOfClassIn, type VmAttrs,
} from '../../server/auth/permissions.js';
import { roleForGroups } from '../../server/http/routes/auth.js';
import { failureFor, taskSucceeded } from '../../server/actions/power.js';
import { proxmoxError, shownTo, statusOf } from '../../server/http/errors.js';

// Users: 1 admin, 2 teacher of class 10 (owner), 3 co-teacher of 10, 4 teacher of 20, 5 student in 10 with a:100,
// 6 student in 20 with a:200. Class 10 pool: a:100, a:101, tag "web" on b; class 20 pool: Proxmox pool "p2" on a.
// All entries admin-approved (they hold whatever the scope); the scope cases are further down.
const snap = buildSnapshot({
  classes: [{ id: 10, name: 'Ten' }, { id: 20, name: 'Twenty' }],
  teachers: [{ class_id: 10, user_id: 2, is_owner: 1 }, { class_id: 10, user_id: 3, is_owner: 0 }, { class_id: 20, user_id: 4, is_owner: 1 }],
  members: [{ class_id: 10, user_id: 5 }, { class_id: 20, user_id: 6 }],
  pool: [
    { id: 1, class_id: 10, kind: 'vm', cluster_id: 'a', vmid: 100, value: null, approved: 1 },
    { id: 2, class_id: 10, kind: 'vm', cluster_id: 'a', vmid: 101, value: null, approved: 1 },
    { id: 3, class_id: 10, kind: 'tag', cluster_id: 'b', vmid: null, value: 'web', approved: 1 },
    { id: 4, class_id: 20, kind: 'pool', cluster_id: 'a', vmid: null, value: 'p2', approved: 1 },
  ],
  assignments: [{ class_id: 10, cluster_id: 'a', vmid: 100, user_id: 5 }, { class_id: 20, cluster_id: 'a', vmid: 200, user_id: 6 }],
  projectors: [],
});
const attrs = new Map<string, VmAttrs>([
  ['a:100', { tags: [], pool: null }], ['a:101', { tags: [], pool: null }], ['b:300', { tags: ['web'], pool: null }],
  ['a:200', { tags: [], pool: 'p2' }], ['b:201', { tags: [], pool: 'p2' }], ['a:999', { tags: ['other'], pool: null }],
]);
const admin = { id: 1, role: 'admin' as const }, owner = { id: 2, role: 'teacher' as const }, co = { id: 3, role: 'teacher' as const };
const other = { id: 4, role: 'teacher' as const }, s5 = { id: 5, role: 'student' as const }, s6 = { id: 6, role: 'student' as const };
const see = (u: typeof admin | typeof owner | typeof s5, key: string) => {
  const [c, v] = key.split(':');
  return canSeeVmIn(snap, attrs.get(key), u, c, Number(v));
};

describe('permissions', () => {
  it('admins see everything; teachers the VMs of their classes (by id, tag, pool); students their assigned VMs', () => {
    expect(visibleVmKeysIn(snap, attrs, admin)).toBe('all');
    expect([...(visibleVmKeysIn(snap, attrs, owner) as Set<string>)].sort()).toEqual(['a:100', 'a:101', 'b:300']);
    expect([...(visibleVmKeysIn(snap, attrs, co) as Set<string>)].sort()).toEqual(['a:100', 'a:101', 'b:300']);
    expect([...(visibleVmKeysIn(snap, attrs, other) as Set<string>)].sort()).toEqual(['a:200']);
    expect([...(visibleVmKeysIn(snap, attrs, s5) as Set<string>)]).toEqual(['a:100']);
    for (const key of attrs.keys()) {
      const visible = visibleVmKeysIn(snap, attrs, s6) as Set<string>;
      expect(see(s6, key)).toBe(visible.has(key));
    }
    expect(see(owner, 'a:999')).toBe(false);
    expect(see(s5, 'a:101')).toBe(false);
    // A pool entry bound to cluster a does not match the same pool name on cluster b.
    expect(see(other, 'b:201')).toBe(false);
  });

  it('a VM change goes to admin, the classes that hold it and its student', () => {
    expect(roomsForVmIn(snap, attrs.get('a:100'), 'a', 100).sort()).toEqual(['admin', 'class:10', 'user:5']);
    expect(roomsForVmIn(snap, attrs.get('b:300'), 'b', 300).sort()).toEqual(['admin', 'class:10']);
    expect(roomsForVmIn(snap, attrs.get('a:999'), 'a', 999)).toEqual(['admin']);
  });

  it('users join their own room, their classes, and admin', () => {
    expect(roomsForUserIn(snap, admin)).toEqual(['user:1', 'admin']);
    expect(roomsForUserIn(snap, co)).toEqual(['user:3', 'class:10']);
    expect(roomsForUserIn(snap, s5)).toEqual(['user:5']);
  });

  it('class rights: teachers manage, students only see, others neither', () => {
    expect(canManageClassIn(snap, co, 10)).toBe(true);
    expect(canManageClassIn(snap, other, 10)).toBe(false);
    expect(canManageClassIn(snap, s5, 10)).toBe(false);
    expect(canSeeClassIn(snap, s5, 10)).toBe(true);
    expect(canSeeClassIn(snap, s6, 10)).toBe(false);
    expect(canManageClassIn(snap, admin, 20)).toBe(true);
    expect([...vmKeysOfClassIn(snap, attrs, 20)].sort()).toEqual(['a:200']);
  });
});

describe('Proxmox groups → role', () => {
  const login = { enabled: true, realm: 'pve', groupRoles: { staff: 'teacher', ops: 'admin', kids: 'student' } as Record<string, 'admin' | 'teacher' | 'student'>, defaultRole: null };
  it('takes the highest role of the groups, else the default', () => {
    expect(roleForGroups(['kids', 'staff'], login)).toBe('teacher');
    expect(roleForGroups(['ops', 'kids'], login)).toBe('admin');
    expect(roleForGroups(['x'], login)).toBeNull();
    expect(roleForGroups([], { ...login, defaultRole: 'student' })).toBe('student');
  });
});

describe('Proxmox errors as each caller sees them', () => {
  it("gives Proxmox's words to admins only; labdeck's own words pass to everyone", () => {
    const raw = failureFor('connect ECONNREFUSED 10.0.0.5:8006', true);
    expect(shownTo(raw, true)).toBe(raw);
    const plain = shownTo(raw, false);
    expect(plain.message).toBe('Proxmox is unreachable right now; try again in a minute (an admin can see the details)');
    expect(JSON.stringify({ m: plain.message, d: plain.details })).not.toMatch(/10\.0\.0\.5|8006|ECONNREFUSED/);
    expect(shownTo(failureFor('storage local-lvm full'), false).message).toMatch(/^Proxmox could not do this/);
    const own = proxmoxError('cannot check credentials with cluster lab-a');
    expect(shownTo(own, false)).toBe(own);
    // A conflict keeps Proxmox's reason: "already running" is what a student needs to know.
    const busy = failureFor('VM 100 already running');
    expect(shownTo(busy, false)).toBe(busy);
  });
});

describe('power action outcomes', () => {
  it('tells a state conflict (409) from another Proxmox failure (502)', () => {
    expect(statusOf(failureFor('VM 100 already running'))).toBe(409);
    expect(statusOf(failureFor("you can't start a vm if it's a template"))).toBe(409);
    expect(statusOf(failureFor('VM is locked (backup)'))).toBe(409);
    expect(statusOf(failureFor('storage local-lvm full'))).toBe(502);
    expect(statusOf(failureFor('VM 100 already running', true))).toBe(502);
    expect(taskSucceeded('OK')).toBe(true);
    expect(taskSucceeded('WARNINGS: 2')).toBe(true);
    expect(taskSucceeded('command failed')).toBe(false);
  });
});
