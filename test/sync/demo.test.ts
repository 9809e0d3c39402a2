// Demo mode: the in-process simulator's two clusters, synced by the real loop over HTTP.
import { afterAll, describe, expect, it } from 'vitest';
import { startDemoClusters } from '../../server/demo.js';
import { openTestDb } from '../helpers/db.js';
import { ChangeFeed } from '../../server/inventory/changes.js';
import { parseFileConfig } from '../../server/config.js';
import { captureLogger, wireManager } from './helpers.js';

describe('demo clusters', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterAll(async () => { for (const f of cleanup.reverse()) await f(); });

  it('are two clusters (120 guests plus 3 templates to provision from, and 40) the real sync loop fills the inventory from', async () => {
    const demo = await startDemoClusters({
      activity: false, unauthorizedDelayMs: 0,
      users: [{ userid: 'teacher1@pve', password: 'demo-pass', groups: ['teachers'] }],
    });
    cleanup.push(() => demo.simulator.close());
    expect(demo.clusters.map((c) => [c.id, c.name])).toEqual([['lab-a', 'Lab A'], ['lab-b', 'Lab B']]);
    expect(demo.clusters[0].login).toMatchObject({ enabled: true, groupRoles: { teachers: 'teacher' } });
    const { db, close } = await openTestDb('sqlite');
    cleanup.push(close);
    const { manager, repo } = wireManager(db, new ChangeFeed(), { clusters: demo.clusters, sync: parseFileConfig({}).sync }, captureLogger().logger);
    cleanup.push(() => manager.stop());
    await manager.trigger({ kind: 'full' });
    expect(await repo.summary()).toMatchObject({ total: 163 });
    const templates = (await repo.list({ cluster: 'lab-a' })).filter((v) => v.name.startsWith('tpl-'));
    expect(templates.map((v) => [v.name, v.template, v.type])).toEqual([
      ['tpl-ubuntu-24-04', true, 'qemu'], ['tpl-windows-11', true, 'qemu'], ['tpl-debian-12-ct', true, 'lxc'],
    ]);
    expect(Object.values((await repo.summary()).byCluster['lab-b']).reduce((a, b) => a + b, 0)).toBe(40);
    expect(await manager.client('lab-a')!.verifyLogin('teacher1', 'demo-pass', 'pve')).toEqual({ userid: 'teacher1@pve', groups: ['teachers'] });
    expect(manager.status().clusters.map((c) => c.health)).toEqual(['healthy', 'healthy']);
  });
});
