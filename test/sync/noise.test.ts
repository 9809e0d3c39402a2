// Load noise is not change: idle guests whose cpu and memory jitter between pvestatd samples make
// quick passes write nothing, while a guest that gets busy is written at once.
import { afterEach, describe, expect, it } from 'vitest';
import { openTestDb } from '../helpers/db.js';
import type { Db } from '../../server/db/index.js';
import type { Simulator } from '../../server/simulator/index.js';
import type { VmChanged } from '../../server/inventory/changes.js';
import { parseFileConfig } from '../../server/config.js';
import { createPveClient } from '../../server/pve/client.js';
import { makeManager, startSim, type Harness } from './helpers.js';

describe('load noise', () => {
  let sim: Simulator;
  let db: Db;
  let closeDb: () => Promise<void>;
  let h: Harness;

  afterEach(async () => {
    await h?.manager.stop();
    await sim?.close();
    await closeDb?.();
  });

  /** A live cluster (every read shows fresh load) whose running guests all idle, fully synced. */
  async function idleCluster() {
    sim = await startSim([{ id: 'lab', nodes: 2, guests: 60, seed: 11 }]);
    const lab = sim.cluster('lab');
    for (const g of lab.guests()) lab.setLoad(g.vmid, 'idle');
    ({ db, close: closeDb } = await openTestDb('sqlite'));
    h = makeManager(db, sim);
    await h.manager.trigger({ kind: 'full' });
    return lab;
  }

  /** cpu and mem per vmid as /cluster/resources answers them now. */
  async function readLoad(): Promise<Map<number, string>> {
    const c = sim.cluster('lab');
    const client = createPveClient(parseFileConfig({ clusters: [{ id: 'lab', url: c.url, tokenId: c.tokenId, tokenSecret: c.tokenSecret }] }).clusters[0]);
    try {
      return new Map((await client.resources()).filter((r) => r.status === 'running').map((r) => [r.vmid, `${r.cpu}/${r.mem}`]));
    } finally {
      await client.close();
    }
  }

  it('quick passes over idle running guests with wandering load write no row across several refreshes', async () => {
    await idleCluster();
    const changed: VmChanged[] = [];
    h.feed.on('vm:changed', (e) => changed.push(e));
    const revision = await h.repo.currentRevision();
    let before = await readLoad();
    expect(before.size).toBeGreaterThan(20);
    for (let i = 0; i < 3; i++) {
      // Load samples change every second: take the next one now, so each quick pass below sees a fresh snapshot.
      sim.cluster('lab').nextLoadSample();
      const now = await readLoad();
      expect([...now].filter(([vmid, load]) => before.get(vmid) !== load).length).toBeGreaterThan(before.size / 2);
      before = now;
      await h.manager.trigger({ kind: 'quick' });
    }
    expect(await h.repo.currentRevision()).toBe(revision);
    expect(changed).toEqual([]);
    const runs = await db.selectFrom('sync_runs').select(['kind', 'rows_changed']).where('kind', '=', 'quick').execute();
    expect(runs).toEqual([{ kind: 'quick', rows_changed: 0 }, { kind: 'quick', rows_changed: 0 }, { kind: 'quick', rows_changed: 0 }]);
  });

  it('a guest that gets busy is written by the next quick pass, and only that guest', async () => {
    const lab = await idleCluster();
    const target = lab.guests().find((g) => g.status === 'running')!;
    const idleCpu = (await h.repo.get('lab', target.vmid))!.cpu;
    expect(idleCpu).toBe(0);
    const changed: VmChanged[] = [];
    h.feed.on('vm:changed', (e) => changed.push(e));
    lab.setLoad(target.vmid, 'busy');
    lab.nextLoadSample();
    await h.manager.trigger({ kind: 'quick' });
    expect(changed.flatMap((e) => e.vms.map((v) => v.vmid))).toEqual([target.vmid]);
    expect((await h.repo.get('lab', target.vmid))!.cpu).toBeGreaterThanOrEqual(0.3);
  });
});
