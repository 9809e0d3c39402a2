// Re-creating a VM from its template when its storage (ZFS) cannot roll back past a newer
// snapshot: the refused revert says so, the student owner (or the teacher) asks for a re-clone,
// the runner removes the VM and clones the template again with the same name, tags, baseline and
// student; someone else may not, a VM labdeck did not make cannot be, and one at a time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';
import { FAST_TASKS, classWithStudents, jobEnd, progressSocket, template } from './helpers.js';

describe('re-create a VM from its template', () => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer({
      clusters: [{ id: 'lab-z', nodes: 1, guests: 3, storage: 'local-zfs' }],
      sim: { taskDurationMs: FAST_TASKS },
      config: { provision: { perNode: 2, retryBaseMs: 20, pollMs: 25 } },
    });
  });
  afterAll(() => ts?.close());

  const snapshotInProxmox = async (vmid: number, name: string) => {
    const z = ts.cluster;
    const r = await fetch(`${z.url}/api2/json/nodes/${z.guest(vmid)!.node}/qemu/${vmid}/snapshot`, {
      method: 'POST', headers: { Authorization: `PVEAPIToken=${z.tokenId}=${z.tokenSecret}`, 'content-type': 'application/x-www-form-urlencoded' }, body: `snapname=${name}`,
    });
    expect(r.status).toBe(200);
    await waitFor(() => z.guest(vmid)!.snapshots.includes(name) && z.guest(vmid)!.lock === null, 5000, 'the snapshot');
  };

  it('after a refused revert, the student re-creates their VM: same name, tags, baseline and owner, a new vmid, and revert works again', async () => {
    const { classId, teacher, students } = await classWithStudents(ts, 'rc1', 2);
    const tpl = await template(ts, { name: 'tpl-rc' });
    const live = progressSocket(ts.url, teacher);
    await live.ready;
    const made = await ts.request('POST', `/api/classes/${classId}/provision`, { cookie: teacher, body: { cluster: 'lab-z', templateVmid: tpl, count: 2, assign: true } });
    const end = await jobEnd(live.socket, made.body.job.id);
    expect(end.state).toBe('done');
    await ts.synced();
    const [mine, theirs] = end.vms;
    const old = mine.vmid!;
    expect((await ts.request('POST', `/api/vm/${old}/start`, { cookie: students[0].cookie })).status).toBeLessThan(300);
    await snapshotInProxmox(old, 'my-work');

    const refused = await ts.request('POST', `/api/vm/${old}/revert`, { cookie: students[0].cookie });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'not_most_recent', reclone: true });

    // Not the other student, and not a VM labdeck did not make.
    expect((await ts.request('POST', `/api/vm/${old}/reclone`, { cookie: students[1].cookie })).status).toBe(403);
    const plain = ts.cluster.guests().find((g) => !g.template && !g.name.startsWith('rc1-'))!;
    await ts.request('POST', `/api/classes/${classId}/pool`, { cookie: teacher, body: { vmid: plain.vmid, cluster: 'lab-z' } });
    const foreign = await ts.request('POST', `/api/vm/${plain.vmid}/reclone`, { cookie: teacher });
    expect(foreign.status).toBe(409);
    expect(foreign.body.error.message).toContain('labdeck did not make');
    expect((await ts.request('POST', `/api/vm/${old}/reclone`, { cookie: students[0].cookie, body: { now: true } })).status).toBe(400);

    const res = await ts.request('POST', `/api/vm/${old}/reclone`, { cookie: students[0].cookie });
    expect(res.status).toBe(202);
    expect(res.body.job).toMatchObject({ total: 1, vms: [{ name: 'rc1-01' }] });
    // A second click while it runs is refused.
    const twice = await ts.request('POST', `/api/vm/${old}/reclone`, { cookie: students[0].cookie });
    expect(twice.status).toBe(409);
    const redone = await jobEnd(live.socket, res.body.job.id);
    live.socket.disconnect();
    expect(redone).toMatchObject({ state: 'done', done: 1 });
    const fresh = redone.vms[0].vmid!;
    expect(fresh).not.toBe(old);
    expect(ts.cluster.guest(old)).toBeUndefined();
    expect(ts.cluster.guest(fresh)).toMatchObject({ name: 'rc1-01', snapshots: ['labdeck-baseline'], lock: null });
    expect(ts.cluster.guest(fresh)!.tags).toEqual(expect.arrayContaining(['labdeck', `class-${classId}`]));
    expect(ts.cluster.guest(theirs.vmid!)).toBeDefined();

    // The student has the new VM in place of the old one, and its revert works.
    await ts.synced();
    await waitFor(async () => {
      const r = await ts.request('GET', '/api/vms', { cookie: students[0].cookie });
      return r.body.vms.map((v: { vmid: number }) => v.vmid).join() === String(fresh);
    }, 10_000, "the student's new VM");
    expect((await ts.request('POST', `/api/vm/${fresh}/revert`, { cookie: students[0].cookie })).status).toBe(200);
    const listed = await ts.request('GET', `/api/classes/${classId}/provisioned`, { cookie: teacher });
    expect(listed.body.vms.map((v: { vmid: number; name: string }) => [v.name, v.vmid])).toEqual([['rc1-01', fresh], ['rc1-02', theirs.vmid]].sort((a, b) => Number(a[1]) - Number(b[1])));
    const audit = await ts.request('GET', `/api/audit?vmid=${old}`, { cookie: teacher });
    expect(audit.body.entries.map((e: { action: string }) => e.action)).toContain('vm.reclone');
  });

  it('the teacher is told when the template the VM came from is gone, and nothing is removed', async () => {
    const { classId, teacher } = await classWithStudents(ts, 'rc2', 1);
    const tpl = await template(ts, { name: 'tpl-rc2' });
    const live = progressSocket(ts.url, teacher);
    await live.ready;
    const made = await ts.request('POST', `/api/classes/${classId}/provision`, { cookie: teacher, body: { cluster: 'lab-z', templateVmid: tpl, count: 1, assign: true } });
    const vmid = (await jobEnd(live.socket, made.body.job.id)).vms[0].vmid!;
    live.socket.disconnect();
    ts.cluster.destroyGuest(tpl);
    await ts.synced();
    await waitFor(async () => !(await ts.labdeck.inventory.list()).some((v) => v.vmid === tpl && !(v as { deleted?: boolean }).deleted), 5000, 'the template gone from the inventory');
    const res = await ts.request('POST', `/api/vm/${vmid}/reclone?cluster=lab-z`, { cookie: teacher });
    expect(res.status).toBe(409);
    expect(res.body.error.message).toMatch(/template tpl-rc2 \(\d+\) that rc2-01 was made from is gone/);
    expect(ts.cluster.guest(vmid)).toBeDefined();
  });
});
