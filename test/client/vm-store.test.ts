// The client store: pushes and catch-up answers in any order end in the newest state, and
// nothing is lost or resurrected.
import { describe, it, expect } from 'vitest';
import { VmStore } from '../../client/src/lib/vm-store.js';
import { queryVms, visibleWindow } from '../../client/src/lib/vm-query.js';
import type { Vm } from '../../contract/vm.js';

function vm(vmid: number, revision: number, over: Partial<Vm> = {}): Vm {
  return {
    id: `a:${vmid}`, cluster: 'a', vmid, name: `ws-${vmid}`, node: 'pve1', type: 'qemu', status: 'stopped',
    startedAt: null, cpu: null, memory: null, ip: null, ipReason: 'stopped', mac: null, rdpAvailable: null,
    sshAvailable: null, maxMemory: null, cores: 2, diskSize: null, template: false, tags: [], category: 'linux',
    pool: null, lock: null, lastUpdated: revision, lastSeen: revision, syncError: null, revision, stale: false, ...over,
  };
}

describe('VmStore', () => {
  it('keeps the newer copy whatever the arrival order', () => {
    const s = new VmStore();
    s.applyChanged({ revision: 12, vms: [vm(100, 12, { status: 'running' })] });
    s.applySnapshot(10, [vm(100, 10), vm(101, 9)]);
    expect(s.vms.get('a:100')!.status).toBe('running');
    expect(s.vms.size).toBe(2);
    expect(s.revision).toBe(12);
  });

  it('does not resurrect a removed VM from an older catch-up answer', () => {
    const s = new VmStore();
    s.applySnapshot(5, [vm(100, 5)]);
    s.applyRemoved({ revision: 8, ids: ['a:100'] });
    s.applySince({ revision: 7, vms: [vm(100, 7)] });
    expect(s.vms.has('a:100')).toBe(false);
  });

  it('lets a VM that left by access come back with its old revision', () => {
    const s = new VmStore();
    s.applySnapshot(5, [vm(100, 5)]);
    s.applyRemoved({ revision: 9, ids: ['a:100'], reason: 'access' });
    expect(s.vms.has('a:100')).toBe(false);
    s.applyChanged({ revision: 9, vms: [vm(100, 5)] });
    expect(s.vms.has('a:100')).toBe(true);
  });

  it('catches up with since: changes and removals', () => {
    const s = new VmStore();
    s.applySnapshot(5, [vm(100, 5), vm(101, 4)]);
    const seen: string[] = [];
    s.subscribe((ch) => ch.forEach((c) => seen.push(`${c.before?.status ?? '-'}>${c.after?.status ?? '-'}`)));
    s.applySince({ revision: 20, vms: [vm(100, 15, { status: 'running' })], removed: ['a:101'] });
    expect(s.revision).toBe(20);
    expect(seen).toEqual(['stopped>running', 'stopped>-']);
  });

  it('marks a cluster stale and fresh again', () => {
    const s = new VmStore();
    s.applySnapshot(5, [vm(100, 5)]);
    s.markClusterStale('a', true);
    expect(s.vms.get('a:100')!.stale).toBe(true);
  });
});

describe('VM queries', () => {
  const list = [vm(100, 1, { name: 'web-10', ip: '10.0.0.5' }), vm(101, 1, { name: 'web-9', status: 'running' }), vm(102, 1, { name: 'db-1' })];
  it('sorts names naturally and filters by status and text', () => {
    expect(queryVms(list, { sort: 'name' }).map((v) => v.name)).toEqual(['db-1', 'web-9', 'web-10']);
    expect(queryVms(list, { status: 'running' }).map((v) => v.vmid)).toEqual([101]);
    expect(queryVms(list, { q: '10.0.0' }).map((v) => v.vmid)).toEqual([100]);
    expect(queryVms(list, { sort: 'vmid', dir: 'desc' }).map((v) => v.vmid)).toEqual([102, 101, 100]);
  });
  it('renders only the rows in view of a long list', () => {
    expect(visibleWindow(20_000, 36 * 1000, 720, 36, 5)).toEqual({ start: 995, end: 1025 });
  });
});
