// Fan-out planning: every viewer group gets each VM it may see exactly once, and nothing else.
import { describe, it, expect } from 'vitest';
import { groupKey, indexGroups, planDelivery, diffVisible, lostRooms, chunks } from '../../server/realtime/fanout.js';

describe('fan-out planning', () => {
  const groups = [
    { key: groupKey(['user:1']), rooms: ['user:1'], admin: false },
    { key: groupKey(['user:2']), rooms: ['user:2'], admin: false },
    { key: groupKey(['user:9', 'class:1', 'class:2']), rooms: ['user:9', 'class:1', 'class:2'], admin: false },
    { key: groupKey(['admin', 'user:5']), rooms: ['admin', 'user:5'], admin: true },
  ];
  const index = indexGroups(groups);

  it('sends a VM in several of a teacher\'s rooms to that teacher once', () => {
    const plan = planDelivery([{ id: 'a:100', rooms: ['admin', 'class:1', 'class:2', 'user:1'] }], index);
    expect([...plan.get(groupKey(['user:9', 'class:1', 'class:2']))!]).toEqual(['a:100']);
    expect([...plan.get('user:1')!]).toEqual(['a:100']);
  });

  it('never sends a student another student\'s VM', () => {
    const plan = planDelivery([{ id: 'a:100', rooms: ['admin', 'user:1'] }, { id: 'a:101', rooms: ['admin', 'user:2'] }], index);
    expect([...plan.get('user:1')!]).toEqual(['a:100']);
    expect([...plan.get('user:2')!]).toEqual(['a:101']);
  });

  it('leaves admin groups to the admin room', () => {
    const plan = planDelivery([{ id: 'a:100', rooms: ['admin', 'user:5'] }], index);
    expect(plan.size).toBe(0);
  });

  it('orders room sets so the same rooms make the same group', () => {
    expect(groupKey(['b', 'a', 'b'])).toBe(groupKey(['a', 'b']));
  });

  it('diffs visible sets and rooms', () => {
    expect(diffVisible(new Set(['a', 'b']), new Set(['b', 'c']))).toEqual({ appeared: ['c'], left: ['a'] });
    expect(lostRooms(['admin', 'class:1'], ['admin'])).toEqual(['class:1']);
    expect(chunks([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
  });
});
