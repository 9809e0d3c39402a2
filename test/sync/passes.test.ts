// Full and quick passes against the simulator over HTTP: fill, no-op, outside changes, migration,
// tombstones only after a successful full pass, restart survival.
import { afterEach, describe, expect, it } from 'vitest';
import { dialects, openTestDb } from '../helpers/db.js';
import { createDb, type Db } from '../../server/db/index.js';
import { migrateToLatest } from '../../server/db/migrate.js';
import type { Simulator } from '../../server/simulator/index.js';
import type { VmChanged } from '../../server/inventory/changes.js';
import { makeManager, startSim, type Harness } from './helpers.js';

describe.each(dialects)('sync passes on %s', (kind) => {
  let sim: Simulator;
  let db: Db;
  let closeDb: () => Promise<void>;
  let h: Harness;

  async function setup(guests = 20) {
    sim = await startSim([{ id: 'lab', nodes: 3, guests, seed: 7 }]);
    ({ db, close: closeDb } = await openTestDb(kind));
    h = makeManager(db, sim);
  }
  afterEach(async () => {
    await h?.manager.stop();
    await sim?.close();
    await closeDb?.();
  });

  it('a first full pass fills the inventory with what the cluster holds', async () => {
    await setup();
    await h.manager.trigger({ kind: 'full' });
    const vms = await h.repo.list();
    const truth = sim.cluster('lab').guests();
    expect(vms.map((v) => v.vmid)).toEqual(truth.map((g) => g.vmid));
    for (const g of truth) {
      const vm = vms.find((v) => v.vmid === g.vmid)!;
      expect(vm).toMatchObject({ name: g.name, node: g.node, type: g.type, status: g.status, mac: g.mac, template: g.template, tags: [...g.tags].sort(), stale: false });
      if (g.status === 'running' && (g.agent || g.type === 'lxc')) expect(vm.ip).toBe(g.ip);
      if (g.status === 'running' && !g.agent && g.type === 'qemu') expect(vm.ipReason).toBe('no-agent');
      if (g.status === 'stopped') expect(vm.ipReason).toBe('stopped');
      expect(vm.category).toBe(g.type === 'lxc' ? 'lxc' : g.ostype.startsWith('win') ? 'windows' : 'linux');
    }
    expect(h.logs.some((l) => l.cluster === 'lab' && /^Full sync completed: 20 VMs in \d+\.\ds$/.test(String(l.msg)))).toBe(true);
  });

  it('a first pass over many guests shows the list at once and the details right after', async () => {
    await setup(60);
    const changes: VmChanged[] = [];
    h.feed.on('vm:changed', (e) => changes.push(e));
    await h.manager.trigger({ kind: 'full' });
    expect(changes[0].vms).toHaveLength(60);
    expect(changes[0].vms.every((v) => v.mac === null && v.name !== '')).toBe(true);
    expect((await h.repo.list()).every((v) => v.mac !== null)).toBe(true);
    const [run] = await db.selectFrom('sync_runs').select(['rows_changed', 'guests_seen']).execute();
    expect(run).toEqual({ rows_changed: 60, guests_seen: 60 });
  });

  it('a quick pass with nothing changed writes nothing and announces nothing', async () => {
    await setup();
    await h.manager.trigger({ kind: 'full' });
    const rev = await h.repo.currentRevision();
    const events: unknown[] = [];
    h.feed.on('vm:changed', (e) => events.push(e));
    h.feed.on('vm:removed', (e) => events.push(e));
    sim.cluster('lab').resetStats();
    await h.manager.trigger({ kind: 'quick' });
    await h.manager.trigger({ kind: 'full' });
    expect(await h.repo.currentRevision()).toBe(rev);
    expect(events).toEqual([]);
    expect(sim.cluster('lab').stats().byPath['/cluster/resources']).toBe(2);
    const runs = await db.selectFrom('sync_runs').select(['kind', 'rows_changed', 'error']).orderBy('id').execute();
    expect(runs).toEqual([
      { kind: 'full', rows_changed: 20, error: null }, { kind: 'quick', rows_changed: 0, error: null }, { kind: 'full', rows_changed: 0, error: null },
    ]);
  });

  it('a guest started outside labdeck gets a new revision and nothing else changes', async () => {
    await setup();
    await h.manager.trigger({ kind: 'full' });
    const rev = await h.repo.currentRevision();
    const stopped = sim.cluster('lab').guests().find((g) => g.status === 'stopped' && !g.template)!;
    const seen: VmChanged[] = [];
    h.feed.on('vm:changed', (e) => seen.push(e));
    sim.cluster('lab').powerOutside(stopped.vmid, 'start');
    await h.manager.trigger({ kind: 'quick' });
    const since = await h.repo.since(rev);
    expect(since.vms.map((v) => v.vmid)).toEqual([stopped.vmid]);
    expect(since.vms[0]).toMatchObject({ status: 'running' });
    expect(since.removed).toEqual([]);
    // The status is written and announced at once, before the guest's details (its agent is still
    // booting); the details follow as one more revision of the same row, and no other row moves.
    expect(seen[0]).toEqual({ revision: rev + 1, vms: [expect.objectContaining({ vmid: stopped.vmid, status: 'running' })] });
    expect(seen.flatMap((e) => e.vms.map((v) => v.vmid))).toEqual(seen.map(() => stopped.vmid));
    expect(seen.length).toBeLessThanOrEqual(2);
    const events = await db.selectFrom('vm_events').selectAll().where('kind', '=', 'status').execute();
    expect(events).toEqual([expect.objectContaining({ vmid: stopped.vmid, from_value: 'stopped', to_value: 'running' })]);
  });

  it('a migration changes only the node', async () => {
    await setup();
    await h.manager.trigger({ kind: 'full' });
    const rev = await h.repo.currentRevision();
    const g = sim.cluster('lab').guests()[3];
    const before = await h.repo.get('lab', g.vmid);
    const to = sim.cluster('lab').nodes.find((n) => n !== g.node)!;
    sim.cluster('lab').migrate(g.vmid, to);
    await h.manager.trigger({ kind: 'full' });
    const since = await h.repo.since(rev);
    expect(since.removed).toEqual([]);
    expect(since.vms).toHaveLength(1);
    const after = since.vms[0];
    const strip = (v: typeof after) => ({ ...v, node: '', revision: 0, lastUpdated: 0, lastSeen: 0 });
    expect(strip(after)).toEqual(strip(before!));
    expect([before!.node, after.node]).toEqual([g.node, to]);
  });

  it('a destroyed guest is kept after a failed full pass and tombstoned after a successful one', async () => {
    await setup();
    await h.manager.trigger({ kind: 'full' });
    const c = sim.cluster('lab');
    const victim = c.guests().find((g) => g.status === 'stopped')!;
    c.destroyGuest(victim.vmid);
    await h.manager.trigger({ kind: 'quick' });
    expect(await h.repo.get('lab', victim.vmid)).not.toBeNull();
    await c.setFault({ mode: 'down' });
    await h.manager.trigger({ kind: 'full' });
    expect(await h.repo.get('lab', victim.vmid)).not.toBeNull();
    expect(h.manager.status().clusters[0]).toMatchObject({ consecutiveFailures: 1, health: 'degraded' });
    expect(h.logs.some((l) => l.cluster === 'lab' && String(l.msg).startsWith('Full sync failed: '))).toBe(true);
    await c.setFault({});
    const removed: unknown[] = [];
    h.feed.on('vm:removed', (e) => removed.push(e));
    await h.manager.trigger({ kind: 'full' });
    expect(await h.repo.get('lab', victim.vmid)).toBeNull();
    expect(removed).toEqual([{ revision: await h.repo.currentRevision(), ids: [`lab:${victim.vmid}`] }]);
    expect(h.manager.status().clusters[0]).toMatchObject({ consecutiveFailures: 0, health: 'healthy', errorCount: 1 });
  });

  it('a guest created outside shows up, first as a stub, then complete', async () => {
    sim = await startSim([{ id: 'lab', nodes: 2, guests: 5 }], { pvestatdIntervalMs: 60_000 });
    ({ db, close: closeDb } = await openTestDb(kind));
    h = makeManager(db, sim);
    await h.manager.trigger({ kind: 'full' });
    const vmid = sim.cluster('lab').createGuest({ name: 'fresh-one', running: true });
    await h.manager.trigger({ kind: 'quick' });
    expect(await h.repo.get('lab', vmid)).toMatchObject({ status: 'unknown', name: '' });
    sim.cluster('lab').refreshNow();
    await h.manager.trigger({ kind: 'quick' });
    expect(await h.repo.get('lab', vmid)).toMatchObject({ status: 'running', name: 'fresh-one' });
  });

  it('data and sync state survive a restart', async () => {
    sim = await startSim([{ id: 'lab', nodes: 2, guests: 15 }]);
    let url: string;
    ({ db, url, close: closeDb } = await openTestDb(kind));
    h = makeManager(db, sim);
    await h.manager.trigger({ kind: 'full' });
    const rev = await h.repo.currentRevision();
    const list = await h.repo.list();
    await h.manager.stop();
    // The same database through a fresh connection, as after a process restart.
    const db2 = createDb(url);
    try {
      await migrateToLatest(db2);
      const h2 = makeManager(db2, sim);
      await h2.manager.start();
      expect(h2.manager.status().clusters[0].lastSuccessAt).not.toBeNull();
      expect(await h2.repo.list()).toEqual(list);
      await h2.manager.trigger({ kind: 'quick' });
      expect(await h2.repo.currentRevision()).toBe(rev);
      await h2.manager.stop();
    } finally {
      await db2.destroy();
    }
  });
});
