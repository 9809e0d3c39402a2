// The pure diff: noise is not change, quick passes never remove, migrations only move, pending states hold.
import { describe, expect, it } from 'vitest';
import { diffInventory, diffLive, guestsNeedingDetails, mergeLive, PENDING_HOLD_MS } from '../../server/inventory/diff.js';
import { quantiseCpu, quantiseUsage, startedAtFrom } from '../../server/inventory/noise.js';
import type { InventoryRow } from '../../server/inventory/row.js';
import type { ResourceRow } from '../../server/pve/normalise.js';

const T0 = 1_800_000_000_000;

function res(vmid: number, over: Partial<ResourceRow> = {}): ResourceRow {
  return {
    vmid, type: 'qemu', node: 'pve1', name: `ws-${vmid}`, status: 'running', template: false, uptime: 3600,
    cpu: 0.2, maxcpu: 2, mem: 512, maxmem: 1024, maxdisk: 10e9, tags: ['class-1'], pool: null, lock: null, ...over,
  };
}

/** Runs a first pass and returns the rows as they would be stored. */
function store(rows: ResourceRow[], now = T0): InventoryRow[] {
  const d = diffInventory({ cluster: 'a', stored: [], fetched: rows, kind: 'full', now });
  return d.upserts.map((r, i) => ({ ...r, revision: i + 1 }));
}

describe('diffInventory', () => {
  it('a first pass creates every guest with a created event', () => {
    const d = diffInventory({ cluster: 'a', stored: [], fetched: [res(100), res(101, { status: 'stopped', uptime: 0 })], kind: 'full', now: T0 });
    expect(d.upserts.map((r) => r.vmid)).toEqual([100, 101]);
    expect(d.events.map((e) => e.kind)).toEqual(['created', 'created']);
    expect(d.upserts[0]).toMatchObject({ status: 'running', started_at: T0 - 3600_000, cpu_usage: 0.2, memory_usage: 0.5, ip_reason: 'not-checked' });
    expect(d.upserts[1]).toMatchObject({ status: 'stopped', started_at: null, cpu_usage: null, ip: null, ip_reason: 'stopped' });
  });

  it('uptime ticking and cpu/memory jitter change nothing', () => {
    const stored = store([res(100)]);
    const later = T0 + 30_000;
    const d = diffInventory({ cluster: 'a', stored, fetched: [res(100, { uptime: 3630 + 7, cpu: 0.22, mem: 530 })], kind: 'quick', now: later });
    expect(d.upserts).toEqual([]);
    expect(d.events).toEqual([]);
  });

  it('a real status change is one upsert with a status event', () => {
    const stored = store([res(100), res(101)]);
    const d = diffInventory({ cluster: 'a', stored, fetched: [res(100, { status: 'stopped', uptime: 0, cpu: 0, mem: 0 }), res(101)], kind: 'quick', now: T0 + 1000 });
    expect(d.upserts.map((r) => r.vmid)).toEqual([100]);
    expect(d.upserts[0]).toMatchObject({ status: 'stopped', started_at: null, ip: null, ip_reason: 'stopped' });
    expect(d.events).toEqual([expect.objectContaining({ kind: 'status', from_value: 'running', to_value: 'stopped' })]);
    expect(d.statusChanged).toEqual([100]);
  });

  it('a migration changes only the node', () => {
    const stored = store([res(100)]);
    const d = diffInventory({ cluster: 'a', stored, fetched: [res(100, { node: 'pve2' })], kind: 'full', now: T0 + 1000 });
    expect(d.tombstones).toEqual([]);
    expect(d.upserts).toHaveLength(1);
    const { node, last_updated, last_seen, ...rest } = d.upserts[0];
    const { node: oldNode, last_updated: lu, last_seen: ls, ...oldRest } = stored[0];
    expect([oldNode, node]).toEqual(['pve1', 'pve2']);
    expect(rest).toEqual(oldRest);
    expect(d.events).toEqual([expect.objectContaining({ kind: 'migrated', from_value: 'pve1', to_value: 'pve2' })]);
    void last_updated; void last_seen; void lu; void ls;
  });

  it('a full pass keeps a guest whose entry Proxmox listed but could not be read', () => {
    const stored = store([res(100), res(101)]);
    const d = diffInventory({ cluster: 'a', stored, fetched: [res(100)], kind: 'full', now: T0, listedUnreadable: [101] });
    expect(d.tombstones).toEqual([]);
  });

  it('quick passes never tombstone; full passes tombstone the missing', () => {
    const stored = store([res(100), res(101)]);
    expect(diffInventory({ cluster: 'a', stored, fetched: [res(100)], kind: 'quick', now: T0 }).tombstones).toEqual([]);
    const d = diffInventory({ cluster: 'a', stored, fetched: [res(100)], kind: 'full', now: T0 });
    expect(d.tombstones).toEqual([expect.objectContaining({ vmid: 101, deleted: 1 })]);
    expect(d.events).toEqual([expect.objectContaining({ kind: 'removed', vmid: 101 })]);
    expect(diffInventory({ cluster: 'a', stored, fetched: [], kind: 'full', now: T0 }).tombstones).toEqual([]);
  });

  it('a stub for a known guest keeps its data; a vmid coming back is created again', () => {
    const stored = store([res(100)]);
    const stub: ResourceRow = { ...res(100), name: null, status: 'unknown', uptime: null, cpu: null, mem: null, maxmem: null, maxcpu: null, maxdisk: null, tags: [] };
    expect(diffInventory({ cluster: 'a', stored, fetched: [stub], kind: 'full', now: T0 }).upserts).toEqual([]);
    const dead = stored.map((r) => ({ ...r, deleted: 1 }));
    const d = diffInventory({ cluster: 'a', stored: dead, fetched: [res(100, { name: 'new-one' })], kind: 'quick', now: T0 });
    expect(d.upserts[0]).toMatchObject({ deleted: 0, name: 'new-one' });
    expect(d.events[0].kind).toBe('created');
  });

  it('a young pending state and a held status survive a lagging snapshot', () => {
    const [row] = store([res(100, { status: 'stopped', uptime: 0 })]);
    const pending = { ...row, status: 'starting', last_updated: T0 + 1000 };
    const lagging = res(100, { status: 'stopped', uptime: 0 });
    expect(diffInventory({ cluster: 'a', stored: [pending], fetched: [lagging], kind: 'quick', now: T0 + 5000 }).upserts).toEqual([]);
    const old = diffInventory({ cluster: 'a', stored: [pending], fetched: [lagging], kind: 'quick', now: T0 + 1000 + PENDING_HOLD_MS + 1 });
    expect(old.upserts[0].status).toBe('stopped');
    const live = { ...row, status: 'running' };
    expect(diffInventory({ cluster: 'a', stored: [live], fetched: [lagging], kind: 'quick', now: T0, holdStatus: new Set([100]) }).upserts).toEqual([]);
  });

  it('a held status the snapshot contradicts is neither written nor ignored: it is sent to a live check', () => {
    const [row] = store([res(100, { status: 'stopped', uptime: 0 }), res(101)]);
    const running = { ...row, status: 'running', last_status_check: T0 };
    const says = (status: string, vmid = 100) => res(vmid, status === 'running' ? {} : { status: status as ResourceRow['status'], uptime: 0 });
    const d = diffInventory({ cluster: 'a', stored: [running], fetched: [says('stopped')], kind: 'quick', now: T0 + 3000 });
    expect(d.upserts).toEqual([]);
    expect(d.verify).toEqual([100]);
    // Agreement, an up-to-up difference, a stub and a pending state (its action follows it) need no check.
    expect(diffInventory({ cluster: 'a', stored: [running], fetched: [says('running')], kind: 'quick', now: T0 + 3000 }).verify).toEqual([]);
    expect(diffInventory({ cluster: 'a', stored: [running], fetched: [says('paused')], kind: 'quick', now: T0 + 3000 }).verify).toEqual([]);
    expect(diffInventory({ cluster: 'a', stored: [running], fetched: [res(100, { name: null, status: 'unknown' })], kind: 'quick', now: T0 + 3000 }).verify).toEqual([]);
    const starting = { ...row, status: 'starting', last_updated: T0 };
    expect(diffInventory({ cluster: 'a', stored: [starting], fetched: [says('stopped')], kind: 'quick', now: T0 + 3000 }).verify).toEqual([]);
    // Once the hold is over the snapshot is simply applied.
    const late = diffInventory({ cluster: 'a', stored: [running], fetched: [says('stopped')], kind: 'quick', now: T0 + 60_000 });
    expect(late.verify).toEqual([]);
    expect(late.upserts[0].status).toBe('stopped');
  });

  it('a status read live (or written by labdeck) moments ago survives a lagging snapshot', () => {
    const [row] = store([res(100, { status: 'stopped', uptime: 0 })]);
    const live = { ...row, status: 'running', last_status_check: T0 };
    const lagging = res(100, { status: 'stopped', uptime: 0 });
    expect(diffInventory({ cluster: 'a', stored: [live], fetched: [lagging], kind: 'quick', now: T0 + 10_000 }).upserts).toEqual([]);
    expect(diffInventory({ cluster: 'a', stored: [live], fetched: [lagging], kind: 'quick', now: T0 + 16_000 }).upserts[0].status).toBe('stopped');
  });

  it('details set MAC, category, address and probes', () => {
    const d = diffInventory({
      cluster: 'a', stored: [], fetched: [res(100)], kind: 'full', now: T0,
      details: new Map([[100, { config: { mac: 'BC:24:11:00:00:01', ostype: 'win11', agent: true, cores: 2, memory: 1024, name: 'x' }, address: { ip: '127.20.0.1', reason: null }, rdp: true, ssh: false, error: null }]]),
    });
    expect(d.upserts[0]).toMatchObject({ mac_address: 'BC:24:11:00:00:01', category: 'windows', ostype: 'win11', ip: '127.20.0.1', ip_reason: null, rdp_available: 1, ssh_available: 0 });
  });

  it('asks for details only for new or up/down-changed guests in quick passes', () => {
    const stored = store([res(100), res(101)]).map((r) => ({ ...r, ostype: 'l26', mac_address: 'X', ip: '127.0.0.9', ip_reason: null }));
    const fetched = [res(100), res(101, { status: 'stopped' }), res(102)];
    expect(guestsNeedingDetails(stored, fetched, 'quick', T0).map((r) => r.vmid)).toEqual([101, 102]);
  });

  it('a live reading (fast lane) writes the live status and marks the check time', () => {
    const [row] = store([res(100, { status: 'stopped', uptime: 0 })]);
    const next = mergeLive({ ...row, status: 'starting' }, { status: 'running', uptime: 3, cpu: 0.5, cpus: 2, mem: 100, maxmem: 1000, name: null, agent: true, lock: null }, T0 + 5000);
    expect(next).toMatchObject({ status: 'running', started_at: T0 + 2000 - ((T0 + 2000) % 10_000), cpu_usage: 0.5, memory_usage: 0.1, last_status_check: T0 + 5000 });
  });

  it('a live reading is one upsert with a live status event; its address follows while the status holds; the same reading again, a gone row, or an address for an older status write nothing', () => {
    const [row] = store([res(100, { status: 'stopped', uptime: 0 })]);
    const live = { status: 'running' as const, uptime: 3, cpu: 0.5, cpus: 2, mem: 100, maxmem: 1000, name: null, agent: true, lock: null };
    const d = diffLive('a', row, live, T0 + 5000);
    expect(d.upserts).toHaveLength(1);
    expect(d.upserts[0]).toMatchObject({ status: 'running', last_updated: T0 + 5000 });
    expect(d.events).toEqual([{ cluster_id: 'a', vmid: 100, at: T0 + 5000, kind: 'status', from_value: 'stopped', to_value: 'running', detail: 'live' }]);
    const none = { upserts: [], tombstones: [], events: [] };
    expect(diffLive('a', d.upserts[0], live, T0 + 6000)).toEqual(none);
    expect(diffLive('a', undefined, live, T0 + 6000)).toEqual(none);
    expect(diffLive('a', { ...row, deleted: 1 }, live, T0 + 6000)).toEqual(none);
    expect(diffLive('a', row, live, T0 + 6000, { address: { ip: '10.0.0.5', reason: null } })).toEqual(none);
    expect(diffLive('a', d.upserts[0], live, T0 + 6000, { address: { ip: '10.0.0.5', reason: null } }).upserts).toMatchObject([{ status: 'running', ip: '10.0.0.5' }]);
  });
});

describe('noise rules', () => {
  it('quantises with hysteresis', () => {
    expect(quantiseUsage(0.126, null)).toBe(0.15);
    expect(quantiseUsage(0.124, 0.15)).toBe(0.15);
    expect(quantiseUsage(0.30, 0.15)).toBe(0.3);
    expect(quantiseUsage(null, 0.2)).toBeNull();
  });

  it('keeps an idle guest\'s cpu jitter at one value and moves with real load, in 10 % steps', () => {
    let stored = quantiseCpu(0.012, null);
    expect(stored).toBe(0);
    for (const raw of [0.005, 0.04, 0.021, 0.038, 0.009]) {
      stored = quantiseCpu(raw, stored);
      expect(stored).toBe(0);
    }
    expect(quantiseCpu(0.43, stored)).toBe(0.4);
    expect(quantiseCpu(0.47, 0.4)).toBe(0.4);
    expect(quantiseCpu(0.52, 0.4)).toBe(0.5);
  });
  it('keeps the stored start time within tolerance and rounds a new one', () => {
    expect(startedAtFrom(100, T0, T0 - 95_000)).toBe(T0 - 95_000);
    expect(startedAtFrom(100, T0, T0 - 500_000)).toBe(T0 - 100_000);
    expect(startedAtFrom(0, T0, T0 - 1)).toBeNull();
  });
});
