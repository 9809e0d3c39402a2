// The inventory repository on every dialect: revisions, filters, since(), tombstones, setStatus, staleness.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dialects, openTestDb } from '../helpers/db.js';
import { InventoryRepo } from '../../server/inventory/repository.js';
import { SyncStateStore } from '../../server/inventory/sync-state.js';
import { ChangeFeed, type VmChanged, type VmRemoved } from '../../server/inventory/changes.js';
import { diffInventory } from '../../server/inventory/diff.js';
import type { ResourceRow } from '../../server/pve/normalise.js';
import type { Db } from '../../server/db/index.js';

const NOW = 1_800_000_000_000;
const res = (vmid: number, over: Partial<ResourceRow> = {}): ResourceRow => ({
  vmid, type: 'qemu', node: 'pve1', name: `ws-${vmid}`, status: 'running', template: false, uptime: 60, cpu: 0.1,
  maxcpu: 2, mem: 100, maxmem: 1000, maxdisk: 1e9, tags: ['class-1', 'linux'], pool: 'class-1', lock: null, ...over,
});

describe.each(dialects)('InventoryRepo on %s', (kind) => {
  let db: Db;
  let close: () => Promise<void>;
  let feed: ChangeFeed;
  let repo: InventoryRepo;
  let states: SyncStateStore;
  let now = NOW;
  const pass = (cluster: string, fetched: ResourceRow[], k: 'full' | 'quick' = 'full') =>
    repo.apply(cluster, (stored) => diffInventory({ cluster, stored, fetched, kind: k, now }));

  beforeEach(async () => {
    ({ db, close } = await openTestDb(kind));
    feed = new ChangeFeed();
    now = NOW;
    states = new SyncStateStore(db, { now: () => now, staleAfterMs: 60_000 });
    repo = new InventoryRepo(db, { feed, now: () => now, states });
  });
  afterEach(async () => close());

  it('writes distinct increasing revisions and announces after commit', async () => {
    const changed: VmChanged[] = [];
    feed.on('vm:changed', (e) => changed.push(e));
    const r = await pass('a', [res(100), res(101), res(102)]);
    expect(r.revision).toBe(3);
    expect(r.changed.map((v) => v.revision)).toEqual([1, 2, 3]);
    expect(changed).toHaveLength(1);
    expect(changed[0].revision).toBe(3);
    expect(await repo.currentRevision()).toBe(3);
    const again = await pass('a', [res(100), res(101), res(102)]);
    expect(again.revision).toBeNull();
    expect(changed).toHaveLength(1);
    expect(await repo.currentRevision()).toBe(3);
  });

  it('filters by cluster, node, status, type, category, tag, text and keys', async () => {
    await pass('a', [res(100), res(101, { status: 'stopped', node: 'pve2', tags: ['class-2'] }), res(102, { type: 'lxc', name: 'Web_Server' })]);
    await pass('b', [res(100, { name: 'other' })]);
    const ids = (vms: { id: string }[]) => vms.map((v) => v.id);
    expect(ids(await repo.list())).toEqual(['a:100', 'a:101', 'a:102', 'b:100']);
    expect(ids(await repo.list({ cluster: 'b' }))).toEqual(['b:100']);
    expect(ids(await repo.list({ node: 'pve2' }))).toEqual(['a:101']);
    expect(ids(await repo.list({ status: 'stopped' }))).toEqual(['a:101']);
    expect(ids(await repo.list({ type: 'lxc' }))).toEqual(['a:102']);
    expect(ids(await repo.list({ category: 'lxc' }))).toEqual(['a:102']);
    expect(ids(await repo.list({ tag: 'class-2' }))).toEqual(['a:101']);
    expect(ids(await repo.list({ tag: 'class' }))).toEqual([]);
    expect(ids(await repo.list({ q: 'web_s' }))).toEqual(['a:102']);
    expect(ids(await repo.list({ q: 'web%' }))).toEqual([]);
    expect(ids(await repo.list({ q: '100' }))).toEqual(['a:100', 'b:100']);
    // One meaning of free text everywhere (contract/vm-search.ts): node, tag and pool parts, vmid and IP starts.
    expect(ids(await repo.list({ q: 'PVE2' }))).toEqual(['a:101']);
    expect(ids(await repo.list({ q: 'ss-2' }))).toEqual(['a:101']);
    expect(ids(await repo.list({ q: '10' }))).toEqual(['a:100', 'a:101', 'a:102', 'b:100']);
    expect(ids(await repo.list({ q: '00' }))).toEqual(['a:100']); // the name ws-100; no vmid starts with 00
    expect(ids(await repo.list({ keys: ['a:101', 'b:100', 'junk'] }))).toEqual(['a:101', 'b:100']);
    expect(await repo.list({ keys: [] })).toEqual([]);
    expect((await repo.findByVmid(100)).map((v) => v.cluster)).toEqual(['a', 'b']);
    expect(await repo.summary()).toEqual({ byCluster: { a: { running: 2, stopped: 1 }, b: { running: 1 } }, total: 4 });
  });

  it('tombstones keep a revision and since() reports them as removed', async () => {
    const removed: VmRemoved[] = [];
    feed.on('vm:removed', (e) => removed.push(e));
    await pass('a', [res(100), res(101)]);
    const rev = await repo.currentRevision();
    await pass('a', [res(100, { status: 'stopped', uptime: 0 })], 'quick');
    await pass('a', [res(100, { status: 'stopped', uptime: 0 })], 'full');
    expect(removed).toEqual([{ revision: rev + 2, ids: ['a:101'] }]);
    const s = await repo.since(rev);
    expect(s.revision).toBe(rev + 2);
    expect(s.vms.map((v) => [v.id, v.status])).toEqual([['a:100', 'stopped']]);
    expect(s.removed).toEqual(['a:101']);
    expect(await repo.get('a', 101)).toBeNull();
    const events = await db.selectFrom('vm_events').select(['vmid', 'kind']).orderBy('id').execute();
    expect(events.filter((e) => e.kind !== 'created')).toEqual([{ vmid: 100, kind: 'status' }, { vmid: 101, kind: 'removed' }]);
  });

  it('setStatus takes the next revision, logs an event and announces', async () => {
    await pass('a', [res(100, { status: 'stopped', uptime: 0 })]);
    const seen: VmChanged[] = [];
    feed.on('vm:changed', (e) => seen.push(e));
    const vm = await repo.setStatus('a', 100, 'starting');
    expect(vm).toMatchObject({ id: 'a:100', status: 'starting', revision: 2 });
    expect(seen[0].vms[0].status).toBe('starting');
    await expect(repo.setStatus('a', 999, 'starting')).rejects.toThrow(/not in the inventory/);
  });

  it('marks data stale from the persisted cluster state', async () => {
    await pass('a', [res(100)]);
    expect((await repo.get('a', 100))?.stale).toBe(true);
    await states.recordPass({ cluster: 'a', kind: 'full', startedAt: now, durationMs: 10, guests: 1, changed: 1, requests: 1, error: null });
    expect((await repo.get('a', 100))?.stale).toBe(false);
    await states.recordPass({ cluster: 'a', kind: 'quick', startedAt: now, durationMs: 10, guests: 0, changed: 0, requests: 1, error: 'boom' });
    now += 61_000;
    expect((await repo.get('a', 100))?.stale).toBe(true);
    const [state] = await states.clusterStates();
    expect(state).toMatchObject({ cluster_id: 'a', consecutive_failures: 1, error_count: 1, last_error: 'boom', last_full_at: NOW + 10 });
    expect(await db.selectFrom('sync_runs').select(['kind', 'error']).orderBy('id').execute()).toEqual([{ kind: 'full', error: null }, { kind: 'quick', error: 'boom' }]);
  });

  it('concurrent writers never reuse a revision', async () => {
    await pass('a', [res(100), res(101)]);
    await Promise.all([
      repo.setStatus('a', 100, 'starting'), repo.setStatus('a', 101, 'stopping'),
      pass('b', [res(200), res(201)]), repo.setStatus('a', 100, 'rebooting'),
    ]);
    const revs = (await db.selectFrom('vm_inventory').select('revision').execute()).map((r) => r.revision).sort((x, y) => x - y);
    expect(new Set(revs).size).toBe(revs.length);
    expect(await repo.currentRevision()).toBe(7);
  });
});
