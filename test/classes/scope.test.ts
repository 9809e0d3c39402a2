// The pure scope decision: which VMs, tags and pools a class may take, and the words of a refusal.
import { describe, expect, it } from 'vitest';
import { decideScope, describeScope, scopeHoldsVm, type ScopeRule } from '../../server/auth/scope.js';
import { buildSnapshot, canSeeVmIn, type VmAttrs } from '../../server/auth/permissions.js';

const rules: ScopeRule[] = [
  { cluster: 'lab-a', kind: 'range', min: 200, max: 299 },
  { cluster: 'lab-a', kind: 'pool', pool: 'net1' },
  { cluster: 'lab-b', kind: 'tag', tag: 'linux' },
];

describe('decideScope', () => {
  it('lets a class take a VM by range, Proxmox pool or tag, only on the rule\'s cluster', () => {
    expect(decideScope(rules, { cluster: 'lab-a', vmid: 250 })).toEqual({ allowed: true });
    expect(decideScope(rules, { cluster: 'lab-a', vmid: 120, pool: 'net1' })).toEqual({ allowed: true });
    expect(decideScope(rules, { cluster: 'lab-b', vmid: 120, tags: ['linux', 'web'] })).toEqual({ allowed: true });
    expect(decideScope(rules, { cluster: 'lab-b', vmid: 250 }).allowed).toBe(false);
    expect(decideScope(rules, { cluster: 'lab-a', vmid: 120, tags: ['linux'] }).allowed).toBe(false);
  });

  it('takes a tag or pool entry only when the scope covers that tag, that pool or the whole cluster', () => {
    expect(decideScope(rules, { cluster: 'lab-b', tag: 'linux' }).allowed).toBe(true);
    expect(decideScope(rules, { cluster: 'lab-a', tag: 'linux' }).allowed).toBe(false);
    expect(decideScope(rules, { cluster: 'lab-a', pool: 'net1' }).allowed).toBe(true);
    expect(decideScope([{ cluster: 'lab-c', kind: 'cluster' }], { cluster: 'lab-c', tag: 'anything' }).allowed).toBe(true);
  });

  it('never hands out a template, but lets provisioning clone one inside the scope', () => {
    const d = decideScope(rules, { cluster: 'lab-a', vmid: 250, template: true });
    expect(d).toEqual({ allowed: false, reason: expect.stringMatching(/template/) });
    expect(decideScope(rules, { cluster: 'lab-a', vmid: 250, template: true, use: 'clone-source' })).toEqual({ allowed: true });
    expect(decideScope(rules, { cluster: 'lab-b', vmid: 250, template: true, use: 'clone-source' }).allowed).toBe(false);
  });

  it('says what the scope allows when it refuses, and that an empty scope allows nothing', () => {
    const d = decideScope(rules, { cluster: 'lab-b', vmid: 100 });
    expect(d.allowed ? '' : d.reason).toBe('VM lab-b:100 is outside this class\'s scope; this class may use: lab-a vmids 200-299; lab-a pool net1; lab-b tag linux');
    expect(describeScope([])).toMatch(/no scope yet: an admin must give it/);
    expect(decideScope([], { cluster: 'lab-a', vmid: 200 }).allowed).toBe(false);
  });
});

describe('scope in the permission checks', () => {
  // Class 1: scope lab-a 200-299; a teacher's (unapproved) entries for a:250, a:300, tag web on a;
  // an admin's (approved) entry for b:100. Teacher 2 teaches it.
  const snap = buildSnapshot({
    classes: [{ id: 1, name: 'One' }],
    teachers: [{ class_id: 1, user_id: 2, is_owner: 1 }],
    members: [],
    pool: [
      { id: 1, class_id: 1, kind: 'vm', cluster_id: 'a', vmid: 250, value: null, approved: 0 },
      { id: 2, class_id: 1, kind: 'vm', cluster_id: 'a', vmid: 300, value: null, approved: 0 },
      { id: 3, class_id: 1, kind: 'tag', cluster_id: 'a', vmid: null, value: 'web', approved: 0 },
      { id: 4, class_id: 1, kind: 'vm', cluster_id: 'b', vmid: 100, value: null, approved: 1 },
    ],
    assignments: [],
    projectors: [],
    scope: [{ class_id: 1, cluster_id: 'a', kind: 'range', value: null, vmid_min: 200, vmid_max: 299 }],
  });
  const teacher = { id: 2, role: 'teacher' as const };
  const attrs: Record<string, VmAttrs> = {
    'a:250': { tags: [], pool: null }, 'a:300': { tags: [], pool: null }, 'a:260': { tags: ['web'], pool: null },
    'a:270': { tags: ['web'], pool: null, template: true }, 'a:900': { tags: ['web'], pool: null }, 'b:100': { tags: [], pool: null },
  };
  const sees = (key: string) => canSeeVmIn(snap, attrs[key], teacher, key.split(':')[0], Number(key.split(':')[1]));

  it('a teacher\'s entries hold only VMs inside the scope; an admin\'s hold whatever the scope', () => {
    expect(sees('a:250')).toBe(true);
    expect(sees('a:300')).toBe(false);
    expect(sees('a:260')).toBe(true);
    expect(sees('a:900')).toBe(false);
    expect(sees('b:100')).toBe(true);
  });

  it('a tag entry never brings in a template', () => {
    expect(sees('a:270')).toBe(false);
    expect(scopeHoldsVm([{ cluster: 'a', kind: 'cluster' }], 'a', 270, attrs['a:270'])).toBe(false);
  });
});
