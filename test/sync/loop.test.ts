// The background loops: one cluster hanging or down never delays another, data stays, recovery
// after backoff; the fast lane shows a power action's result long before pvestatd would.
import { afterEach, describe, expect, it } from 'vitest';
import { openTestDb } from '../helpers/db.js';
import type { Db } from '../../server/db/index.js';
import type { Simulator } from '../../server/simulator/index.js';
import { makeManager, startSim, type Harness } from './helpers.js';
import { waitFor } from '../helpers/wait.js';

describe('sync loops', () => {
  let sim: Simulator;
  let db: Db;
  let closeDb: () => Promise<void>;
  let h: Harness;
  afterEach(async () => {
    await h?.manager.stop();
    await sim?.close();
    await closeDb?.();
  });

  it.each(['hang', 'down'] as const)('a %s cluster leaves the other on time and its own data intact, and recovers', async (mode) => {
    sim = await startSim([{ id: 'good', guests: 10 }, { id: 'bad', guests: 10, seed: 3 }]);
    ({ db, close: closeDb } = await openTestDb('sqlite'));
    h = makeManager(db, sim, { quickIntervalSeconds: 0.2, fullIntervalSeconds: 60, maxBackoffSeconds: 1 }, { timeoutMs: 400 });
    await h.manager.start();
    expect(h.logs.some((l) => l.msg === 'Background VM inventory sync started')).toBe(true);
    await waitFor(() => h.manager.status().clusters.every((c) => c.lastFullAt !== null));
    const badBefore = await h.repo.list({ cluster: 'bad' });
    await sim.cluster('bad').setFault({ mode });
    sim.cluster('bad').destroyGuest(badBefore[0].vmid);
    const t0 = Date.now();
    const goodRuns = () => db.selectFrom('sync_runs').select(['cluster_id', 'started_at', 'error'])
      .where('started_at', '>=', t0).where('cluster_id', '=', 'good').orderBy('started_at').execute();
    // Barrier: the bad cluster has failed a pass (it hung or refused for its whole timeout), and
    // the good one ran six passes meanwhile; the gaps below show none of them waited for it.
    await waitFor(async () => h.manager.status().clusters.find((c) => c.id === 'bad')!.consecutiveFailures >= 1 && (await goodRuns()).length >= 6,
      10_000, 'a failed bad pass and six good ones');
    const good = await goodRuns();
    expect(good.every((r) => r.error === null)).toBe(true);
    // 0.2 s quick interval: a pass every ~0.2 s; a loop blocked by the other cluster would leave a gap.
    expect(good.length).toBeGreaterThanOrEqual(6);
    const gaps = good.slice(1).map((r, i) => r.started_at - good[i].started_at);
    expect(Math.max(...gaps)).toBeLessThan(700);
    const bad = h.manager.status().clusters.find((c) => c.id === 'bad')!;
    expect(bad.consecutiveFailures).toBeGreaterThanOrEqual(1);
    expect(bad.lastError).toBeTruthy();
    expect(await h.repo.list({ cluster: 'bad' })).toHaveLength(10);
    await sim.cluster('bad').setFault({});
    await waitFor(() => h.manager.status().clusters.find((c) => c.id === 'bad')!.consecutiveFailures === 0, 5000);
    expect(h.manager.status().clusters.find((c) => c.id === 'bad')).toMatchObject({ health: 'healthy', backoffMs: 0 });
    // The destroyed guest goes only with the next successful *full* pass.
    await h.manager.trigger({ cluster: 'bad', kind: 'full' });
    expect(await h.repo.list({ cluster: 'bad' })).toHaveLength(9);
  });

  it('a trigger joins a running pass instead of starting another', async () => {
    sim = await startSim([{ id: 'lab', guests: 5 }]);
    ({ db, close: closeDb } = await openTestDb('sqlite'));
    h = makeManager(db, sim);
    await sim.cluster('lab').setFault({ latencyMs: 150 });
    sim.cluster('lab').resetStats();
    await Promise.all([h.manager.trigger({ kind: 'quick' }), h.manager.trigger({ kind: 'quick' }), h.manager.trigger()]);
    expect(sim.cluster('lab').stats().byPath['/cluster/resources']).toBe(1);
  });

  it('the fast lane shows a power action within a couple of seconds despite the pvestatd lag', async () => {
    sim = await startSim([{ id: 'lab', guests: 6 }], { pvestatdIntervalMs: 30_000, ipDelayMs: 300, taskDurationMs: { start: 300 } });
    ({ db, close: closeDb } = await openTestDb('sqlite'));
    h = makeManager(db, sim, { fastIntervalMs: 100, quickIntervalSeconds: 0.2 });
    await h.manager.start();
    await waitFor(() => h.manager.status().clusters[0].lastFullAt !== null);
    const c = sim.cluster('lab');
    const vmid = c.createGuest({ name: 'fast-one', running: false });
    c.refreshNow();
    await h.manager.trigger({ kind: 'full' });
    const g = c.guest(vmid)!;
    const client = h.manager.client('lab')!;
    const t0 = Date.now();
    await client.power(g.node, g.type, vmid, 'start');
    await h.repo.setStatus('lab', vmid, 'starting');
    h.manager.watch('lab', vmid);
    // Quick passes keep running with a 30 s old snapshot saying "stopped": they must not undo it.
    const vm = await waitFor(async () => {
      const v = await h.repo.get('lab', vmid);
      return v?.status === 'running' && v.ip ? v : null;
    }, 5000);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(vm.ip).toBe(c.guest(vmid)!.ip);
    // Barrier: two more quick passes over the lagging snapshot.
    await h.manager.trigger({ kind: 'quick' });
    await h.manager.trigger({ kind: 'quick' });
    expect((await h.repo.get('lab', vmid))?.status).toBe('running');
    const statuses = (await db.selectFrom('vm_events').select('to_value').where('vmid', '=', vmid).where('kind', '=', 'status').orderBy('id').execute()).map((e) => e.to_value);
    expect(statuses).toEqual(['starting', 'running']);
  });

  it('after the outcome of an action is written, the fast lane fetches the address and lagging passes keep the status', async () => {
    sim = await startSim([{ id: 'lab', guests: 4 }], { pvestatdIntervalMs: 30_000, ipDelayMs: 200, taskDurationMs: { start: 50 } });
    ({ db, close: closeDb } = await openTestDb('sqlite'));
    h = makeManager(db, sim, { fastIntervalMs: 100, quickIntervalSeconds: 0.2 });
    const c = sim.cluster('lab');
    const vmid = c.createGuest({ name: 'agent-vm', running: false, type: 'qemu' });
    c.refreshNow();
    await h.manager.start();
    await waitFor(async () => (await h.repo.get('lab', vmid))?.status === 'stopped');
    const g = c.guest(vmid)!;
    await h.manager.client('lab')!.power(g.node, 'qemu', vmid, 'start');
    await waitFor(() => c.guest(vmid)!.status === 'running', 3000, 'the start task to end');
    // What the power action does once its task ended: write the outcome, then hand over to the fast lane.
    const vm = await h.repo.setStatus('lab', vmid, 'running');
    expect(vm).toMatchObject({ status: 'running', ip: null, ipReason: 'not-checked' });
    h.manager.watch('lab', vmid);
    const withIp = await waitFor(async () => (await h.repo.get('lab', vmid))?.ip ?? null, 4000);
    expect(withIp).toBe(c.guest(vmid)!.ip);
    expect((await h.repo.get('lab', vmid))?.status).toBe('running');
  });
});

describe('stopping', () => {
  it('does not wait for a hanging cluster beyond its timeout', async () => {
    const sim = await startSim([{ id: 'stuck', guests: 3 }]);
    const { db, close } = await openTestDb('sqlite');
    const h = makeManager(db, sim, {}, { timeoutMs: 20_000 });
    await sim.cluster('stuck').setFault({ mode: 'hang' });
    await h.manager.start();
    // Barrier: the first pass is in flight (its request reached the hanging cluster).
    await waitFor(() => (sim.cluster('stuck').stats().byPath['/cluster/resources'] ?? 0) > 0, 3000, 'a hanging request');
    const t0 = Date.now();
    await h.manager.stop(300);
    expect(Date.now() - t0).toBeLessThan(2000);
    await sim.cluster('stuck').setFault({});
    await sim.close();
    await close();
  });
});
