// The rest of a class's VM lifecycle end to end: a job survives a labdeck restart mid-run,
// a student reverts their VM (not another's), the teacher resets the class, ZFS's "not most
// recent snapshot" comes back as a re-clone offer, and removal takes only labdeck's class VMs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLabdeck } from '../../server/server.js';
import { startTestServer, cookieFrom, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';
import { FAST_TASKS, classWithStudents, jobEnd, progressSocket, template } from './helpers.js';

describe('a job survives a restart of labdeck', () => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer({
      clusters: [{ id: 'lab-a', nodes: 1, guests: 4 }],
      sim: { taskDurationMs: { ...FAST_TASKS, linkedClone: 500 } },
      config: { provision: { perNode: 2, retryBaseMs: 20, pollMs: 25 } },
    });
  });
  afterAll(() => ts?.close());

  it('resumes where it stopped and makes each VM exactly once', async () => {
    const { classId, teacher } = await classWithStudents(ts, 'rs1', 0);
    const tpl = await template(ts, { name: 'tpl-rs' });
    const live = progressSocket(ts.url, teacher);
    await live.ready;
    const res = await ts.request('POST', `/api/classes/${classId}/provision`, { cookie: teacher, body: { cluster: 'lab-a', templateVmid: tpl, count: 6 } });
    const jobId = res.body.job.id as number;
    // Stop labdeck once two VMs are done and others are being cloned.
    await new Promise<void>((resolve) => live.socket.on('provision:progress', (m: { job: { id: number; done: number; vms: Array<{ state: string }> } }) => {
      if (m.job.id === jobId && m.job.done >= 2 && m.job.vms.some((v) => v.state === 'cloning')) resolve();
    }));
    live.socket.disconnect();
    const config = ts.labdeck.config;
    await ts.labdeck.close();

    const again = await startLabdeck(config, { quiet: true, staticRoot: null });
    try {
      expect(again.provisioning.runner.isRunning(jobId)).toBe(true);
      await again.provisioning.runner.settled(jobId);
      const job = await again.provisioning.service.view(jobId);
      expect(job).toMatchObject({ state: 'done', done: 6, failed: 0 });
      const made = ts.cluster.guests().filter((g) => /^rs1-\d\d$/.test(g.name));
      expect(made.map((g) => g.name).sort()).toEqual(['rs1-01', 'rs1-02', 'rs1-03', 'rs1-04', 'rs1-05', 'rs1-06']);
      expect(made.map((g) => g.vmid).sort()).toEqual(job!.vms.map((v) => v.vmid).sort());
      for (const g of made) expect(g).toMatchObject({ lock: null, snapshots: ['labdeck-baseline'] });
      // A browser signed in to the restarted server sees the finished job.
      const login = await fetch(`${again.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 't-rs1', password: 'password-1234' }) });
      const cookie = cookieFrom(login.headers)!;
      const view = await fetch(`${again.url}/api/classes/${classId}/provision/${jobId}`, { headers: { cookie } });
      expect(await view.json()).toMatchObject({ state: 'done', total: 6 });
    } finally {
      await again.close();
    }
  });
});

describe('revert, reset and remove', () => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer({
      clusters: [{ id: 'lab-a', nodes: 1, guests: 4 }, { id: 'lab-z', nodes: 1, guests: 2, storage: 'local-zfs' }],
      sim: { taskDurationMs: FAST_TASKS },
      config: { provision: { perNode: 4, retryBaseMs: 20, pollMs: 25 } },
    });
  });
  afterAll(() => ts?.close());

  it('lets a student revert their own VM, the teacher reset all and remove only what labdeck made', async () => {
    const { classId, teacher, students } = await classWithStudents(ts, 'rv1', 2);
    const tpl = await template(ts, { name: 'tpl-rv' });
    const live = progressSocket(ts.url, teacher);
    // The class's projector and a student share none of the teachers' progress.
    const link = await ts.request('POST', `/api/classes/${classId}/projector-links`, { cookie: teacher, body: {} });
    const wall = progressSocket(ts.url, '', { projector: link.body.token as string });
    const student = progressSocket(ts.url, students[0].cookie);
    await Promise.all([live.ready, wall.ready, student.ready]);
    const res = await ts.request('POST', `/api/classes/${classId}/provision`, { cookie: teacher, body: { cluster: 'lab-a', templateVmid: tpl, count: 3, assign: true } });
    const end = await jobEnd(live.socket, res.body.job.id);
    live.socket.disconnect();
    expect(end.state).toBe('done');
    // An ack round trip: whatever the end push sent these sockets is in by then (socket.io keeps order per socket).
    await Promise.all([wall.socket.emitWithAck('hello', {}), student.socket.emitWithAck('hello', {})]);
    expect(wall.seen).toEqual([]);
    expect(student.seen).toEqual([]);
    wall.socket.disconnect();
    student.socket.disconnect();
    await ts.synced();
    const [mine, theirs, spare] = end.vms;

    // The student works on the VM: it runs.
    expect((await ts.request('POST', `/api/vm/${mine.vmid}/start`, { cookie: students[0].cookie })).status).toBeLessThan(300);
    const bootedBefore = ts.cluster.guest(mine.vmid!)!.status;
    expect(bootedBefore).toBe('running');
    const revert = await ts.request('POST', `/api/vm/${mine.vmid}/revert`, { cookie: students[0].cookie });
    expect(revert.status).toBe(200);
    expect(revert.body).toMatchObject({ started: true });
    expect(ts.cluster.guest(mine.vmid!)!.status).toBe('running');
    const audit = await ts.request('GET', `/api/audit?vmid=${mine.vmid}`, { cookie: teacher });
    expect(audit.body.entries?.map((e: { action: string }) => e.action) ?? JSON.stringify(audit.body)).toContain('vm.revert');
    // Not someone else's VM, and not a VM without a baseline.
    expect((await ts.request('POST', `/api/vm/${theirs.vmid}/revert`, { cookie: students[0].cookie })).status).toBe(403);
    const plain = ts.cluster.guests().find((g) => !g.template && !g.name.startsWith('rv1-'))!;
    await ts.request('POST', `/api/classes/${classId}/pool`, { cookie: teacher, body: { vmid: plain.vmid, cluster: 'lab-a' } });
    const noBase = await ts.request('POST', `/api/vm/${plain.vmid}/revert?cluster=lab-a`, { cookie: teacher });
    expect(noBase.status).toBe(409);
    expect(noBase.body.error.message).toContain('has no baseline');

    const reset = await ts.request('POST', `/api/classes/${classId}/reset`, { cookie: teacher });
    expect(reset.body).toMatchObject({ reverted: 3, failed: 0 });
    expect((await ts.request('POST', `/api/classes/${classId}/reset`, { cookie: students[0].cookie })).status).toBe(403);

    // Removal: labdeck's VMs of this class only; the confirmation list names them.
    const listed = await ts.request('GET', `/api/classes/${classId}/provisioned`, { cookie: teacher });
    expect(listed.body.vms.map((v: { name: string }) => v.name)).toEqual(['rv1-01', 'rv1-02', 'rv1-03']);
    const foreign = await ts.request('POST', `/api/classes/${classId}/remove-vms`, { cookie: teacher, body: { vms: [{ cluster: 'lab-a', vmid: plain.vmid }] } });
    expect(foreign.status).toBe(403);
    expect(ts.cluster.guest(plain.vmid)).toBeDefined();
    const removed = await ts.request('POST', `/api/classes/${classId}/remove-vms`, { cookie: teacher, body: {} });
    expect(removed.body).toMatchObject({ removed: 3, failed: 0 });
    for (const v of [mine, theirs, spare]) expect(ts.cluster.guest(v.vmid!)).toBeUndefined();
    expect(ts.cluster.guest(plain.vmid)).toBeDefined();
    expect(ts.cluster.guest(tpl)).toBeDefined();
    await ts.synced();
    const after = await ts.request('GET', `/api/vms`, { cookie: students[0].cookie });
    expect(after.body.vms).toEqual([]);
  });

  it('offers a re-clone when ZFS cannot roll back past a newer snapshot', async () => {
    const { classId, teacher, students } = await classWithStudents(ts, 'zf1', 1);
    const tpl = await template(ts, { cluster: 'lab-z', name: 'tpl-zfs' });
    const live = progressSocket(ts.url, teacher);
    await live.ready;
    const res = await ts.request('POST', `/api/classes/${classId}/provision`, { cookie: teacher, body: { cluster: 'lab-z', templateVmid: tpl, count: 1, assign: true } });
    const end = await jobEnd(live.socket, res.body.job.id);
    live.socket.disconnect();
    await ts.synced();
    const vmid = end.vms[0].vmid!;
    // The student took a snapshot of their own in Proxmox after the baseline.
    const z = ts.sim.cluster('lab-z');
    await fetch(`${z.url}/api2/json/nodes/pve1/qemu/${vmid}/snapshot`, {
      method: 'POST', headers: { Authorization: `PVEAPIToken=${z.tokenId}=${z.tokenSecret}`, 'content-type': 'application/x-www-form-urlencoded' }, body: 'snapname=my-work',
    });
    await waitFor(() => z.guest(vmid)!.snapshots.length === 2, 5000, 'the student snapshot');
    const r = await ts.request('POST', `/api/vm/${vmid}/revert`, { cookie: students[0].cookie });
    expect(r.status).toBe(409);
    expect(r.body.error).toMatchObject({ code: 'not_most_recent', reclone: true });
    expect(r.body.error.message).toContain('re-clone');
  });
});
