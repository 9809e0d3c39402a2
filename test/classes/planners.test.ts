// The pure planners behind auto-assign and the mappings.json import.
import { describe, expect, it } from 'vitest';
import { planAutoAssign } from '../../server/classes/auto-assign.js';
import { planMappingsImport, type MappingsContext } from '../../server/classes/mappings-import.js';

describe('auto-assign plan', () => {
  it('serves unassigned students in order with free VMs until one side runs out', () => {
    const plan = planAutoAssign({
      poolVms: [{ cluster: 'a', vmid: 1 }, { cluster: 'a', vmid: 2 }, { cluster: 'a', vmid: 3 }],
      students: [{ id: 10 }, { id: 11 }, { id: 12 }, { id: 13 }],
      assignments: [{ cluster: 'a', vmid: 2, userId: 11 }],
    });
    expect(plan).toEqual([{ cluster: 'a', vmid: 1, userId: 10 }, { cluster: 'a', vmid: 3, userId: 12 }]);
  });
});

describe('mappings import plan', () => {
  const ctx = (over: Partial<MappingsContext> = {}): MappingsContext => ({
    users: new Map([['ann', { id: 1, role: 'student' }], ['bob', { id: 2, role: 'student' }], ['tess', { id: 3, role: 'teacher' }]]),
    clustersOfVmid: new Map([[100, ['a']], [101, ['a', 'b']], [102, ['b']]]),
    members: new Set([1]),
    assignments: new Map(),
    inPool: () => false,
    usernameOf: (id) => ['', 'ann', 'bob', 'tess'][id],
    ...over,
  });

  it('reports matches, unknown users and VMs, ambiguity and non-students; enrols and pools what it assigns', () => {
    const p = planMappingsImport({ ann: [100, 101], bob: [102, 555], tess: [100], zed: [100] }, ctx());
    expect(p.report.assigned).toEqual([{ username: 'ann', cluster: 'a', vmid: 100 }, { username: 'bob', cluster: 'b', vmid: 102 }]);
    expect(p.report.ambiguous).toEqual([{ username: 'ann', vmid: 101, clusters: ['a', 'b'] }]);
    expect(p.report.unknownVms).toEqual([{ username: 'bob', vmid: 555 }]);
    expect(p.report.unknownUsers).toEqual(['zed']);
    expect(p.report.notStudents).toEqual(['tess']);
    expect(p.enrol).toEqual([2]);
    expect(p.pool).toEqual([{ cluster: 'a', vmid: 100 }, { cluster: 'b', vmid: 102 }]);
  });

  it('a cluster resolves ambiguity; existing assignments are kept and reported', () => {
    const p = planMappingsImport({ ann: [101], bob: [100] }, ctx({ cluster: 'a', assignments: new Map([['a:101', 1], ['a:100', 1]]) }));
    expect(p.report.alreadyAssigned).toEqual([{ username: 'ann', cluster: 'a', vmid: 101 }]);
    expect(p.report.takenByOther).toEqual([{ username: 'bob', cluster: 'a', vmid: 100, assignedTo: 'ann' }]);
    expect(p.assign).toEqual([]);
  });
});
