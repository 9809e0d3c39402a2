// A re-created VM never gets the id of the VM it replaces, even when the inventory has already
// seen the old one go before the runner asks Proxmox for a free id (the runner follows its destroy
// task slowly here, as it does on a busy machine): nextid then offers that very id, and reusing it
// would show the student's new VM under the old one's id, its history and its card.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';
import { FAST_TASKS, classWithStudents, jobEnd, progressSocket, template } from './helpers.js';

describe('re-create a VM: a new vmid', () => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer({
      clusters: [{ id: 'lab-z', nodes: 1, guests: 3, storage: 'local-zfs' }],
      sim: { taskDurationMs: FAST_TASKS },
      // The runner looks at its tasks every 1.5 s; the inventory notices a removed VM within ~1 s.
      config: { provision: { perNode: 2, retryBaseMs: 20, pollMs: 1500 }, sync: { quickIntervalSeconds: 1 } },
    });
  });
  afterAll(() => ts?.close());

  it('the new clone does not reuse the removed VM\'s id when the inventory already dropped it', async () => {
    const { classId, teacher, students } = await classWithStudents(ts, 'rv', 1);
    const tpl = await template(ts, { name: 'tpl-rv' });
    const live = progressSocket(ts.url, teacher);
    await live.ready;
    try {
      const made = await ts.request('POST', `/api/classes/${classId}/provision`, { cookie: teacher, body: { cluster: 'lab-z', templateVmid: tpl, count: 1, assign: true } });
      const end = await jobEnd(live.socket, made.body.job.id);
      expect(end.state).toBe('done');
      await ts.synced();
      const old = end.vms[0].vmid!;
      // The removed VM's id is the lowest free one once it is gone: what nextid offers.
      expect(ts.cluster.guests().every((g) => g.vmid <= old)).toBe(true);

      const res = await ts.request('POST', `/api/vm/${old}/reclone?cluster=lab-z`, { cookie: students[0].cookie });
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      // The inventory sees the old VM go while the runner has not looked at its destroy task yet.
      await waitFor(async () => (await ts.labdeck.inventory.get('lab-z', old) as { deleted?: boolean } | undefined)?.deleted === true || !(await ts.labdeck.inventory.get('lab-z', old)), 10_000, 'the inventory to drop the old VM');
      const redone = await jobEnd(live.socket, res.body.job.id);
      expect(redone).toMatchObject({ state: 'done', done: 1 });
      const fresh = redone.vms[0].vmid!;
      expect(fresh).not.toBe(old);
      expect(ts.cluster.guest(old)).toBeUndefined();
      expect(ts.cluster.guest(fresh)).toMatchObject({ name: 'rv-01', snapshots: ['labdeck-baseline'], lock: null });
    } finally {
      live.socket.disconnect();
    }
  });
});
