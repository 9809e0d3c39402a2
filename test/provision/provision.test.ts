// A teacher provisions a class's VMs from a template over the real HTTP API against the
// simulator: live progress, tags, baseline, class pool and assignments; lock timeouts retried
// under the per-node bound; who may start a job; failures that leave nothing unrecorded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { FAST_TASKS, classWithStudents, jobEnd, progressSocket, setScope, template } from './helpers.js';

describe('provisioning a class from a template', () => {
  let ts: TestServer;
  const sockets: Array<{ disconnect(): void }> = [];
  beforeAll(async () => {
    ts = await startTestServer({
      clusters: [{ id: 'lab-a', nodes: 2, guests: 6 }, { id: 'lab-n', nodes: 1, guests: 2, storage: 'nfs' }, { id: 'lab-p', nodes: 1, guests: 2, tokenPrivileges: ['VM.Audit', 'Sys.Audit', 'VM.PowerMgmt', 'VM.Clone', 'VM.Allocate', 'VM.Config.Options', 'Datastore.AllocateSpace'] }],
      // Older qemu-server releases lock a stopped template exclusively: parallel clones time out.
      sim: { taskDurationMs: FAST_TASKS, locks: { cloneSource: 'exclusive', cloneTimeoutMs: 40 } },
      config: { provision: { perNode: 3, retries: 12, retryBaseMs: 20, pollMs: 25 } },
    });
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await ts?.close();
  });

  it('makes the VMs, pushes progress live, tags them, takes a baseline and hands them to the students', async () => {
    const { classId, teacher, students } = await classWithStudents(ts, 'net1', 4);
    const tpl = await template(ts, { name: 'tpl-net' });
    const live = progressSocket(ts.url, teacher);
    sockets.push(live.socket);
    await live.ready;
    const student = progressSocket(ts.url, students[0].cookie);
    sockets.push(student.socket);
    await student.ready;

    const res = await ts.request('POST', `/api/classes/${classId}/provision`, { cookie: teacher, body: { cluster: 'lab-a', templateVmid: tpl, count: 6, assign: true } });
    expect(res.status).toBe(202);
    expect(res.body.job).toMatchObject({ total: 6, state: expect.stringMatching(/queued|running/), template: { vmid: tpl, name: 'tpl-net' } });
    const end = await jobEnd(live.socket, res.body.job.id);
    expect(end).toMatchObject({ state: 'done', total: 6, done: 6, failed: 0 });
    // Progress came as it happened, not only at the end.
    const dones = live.seen.filter((j) => j.id === end.id).map((j) => j.done);
    expect(dones.some((d) => d > 0 && d < 6)).toBe(true);
    expect(dones).toEqual([...dones].sort((a, b) => a - b));
    expect(student.seen).toEqual([]);

    // Parallel clones of one template hit the source lock; they were retried, never more than 3 at once on the node.
    expect(end.vms.some((v) => v.attempts > 1)).toBe(true);
    expect(ts.labdeck.provisioning.runner.limiter.peak.get(`lab-a/${ts.cluster.guest(tpl)!.node}`)).toBeLessThanOrEqual(3);

    const made = end.vms.map((v) => ts.cluster.guest(v.vmid!)!);
    expect(made.map((g) => g.name)).toEqual(['net1-01', 'net1-02', 'net1-03', 'net1-04', 'net1-05', 'net1-06']);
    for (const g of made) {
      expect(g.tags).toEqual(expect.arrayContaining(['labdeck', `class-${classId}`]));
      expect(g.snapshots).toEqual(['labdeck-baseline']);
      expect(g.lock).toBeNull();
      expect(g.template).toBe(false);
    }
    expect(new Set(made.map((g) => g.mac)).size).toBe(6);

    // In the class (pool and assignments), seen by the teacher and by each student.
    await ts.synced();
    const detail = await ts.request('GET', `/api/classes/${classId}`, { cookie: teacher });
    const classVmids = detail.body.class?.vms?.map((v: { vmid: number }) => v.vmid) ?? detail.body.vms.map((v: { vmid: number }) => v.vmid);
    expect(classVmids).toEqual(expect.arrayContaining(made.map((g) => g.vmid)));
    for (const s of students) {
      const mine = await ts.request('GET', '/api/vms', { cookie: s.cookie });
      expect(mine.body.vms.map((v: { name: string }) => v.name)).toEqual([expect.stringMatching(/^net1-0[1-4]$/)]);
    }
    const again = await ts.request('GET', `/api/classes/${classId}/provision/${end.id}`, { cookie: teacher });
    expect(again.body).toMatchObject({ state: 'done', done: 6 });
  });

  it('refuses students, other teachers, non-templates and bad input with clear answers', async () => {
    const { classId, teacher, students } = await classWithStudents(ts, 'net2', 1);
    const other = await classWithStudents(ts, 'net3', 0);
    const tpl = await template(ts, { name: 'tpl-net2' });
    const vm = ts.cluster.guests().find((g) => !g.template)!;
    const post = (cookie: string, body: unknown) => ts.request('POST', `/api/classes/${classId}/provision`, { cookie, body });
    expect((await post(students[0].cookie, { cluster: 'lab-a', templateVmid: tpl, count: 1 })).status).toBe(403);
    expect((await post(other.teacher, { cluster: 'lab-a', templateVmid: tpl, count: 1 })).status).toBe(403);
    const notTpl = await post(teacher, { cluster: 'lab-a', templateVmid: vm.vmid, count: 1 });
    expect(notTpl.status).toBe(409);
    expect(notTpl.body.error.message).toContain('is not a template');
    const bad = await post(teacher, { cluster: 'lab-a', templateVmid: tpl, count: 0 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe('count');
    const badPrefix = await post(teacher, { cluster: 'lab-a', templateVmid: tpl, count: 1, namePrefix: 'no spaces!' });
    expect(badPrefix.body.error.field).toBe('namePrefix');
    expect((await post(teacher, { cluster: 'nowhere', templateVmid: tpl, count: 1 })).status).toBe(400);
    expect((await post(teacher, { cluster: 'lab-a', templateVmid: 99999, count: 1 })).status).toBe(404);
    expect((await post(teacher, { cluster: 'lab-a', templateVmid: tpl, count: 1000 })).body.error.field).toBe('count');
    expect((await ts.request('GET', `/api/classes/${classId}/provision/424242`, { cookie: teacher })).status).toBe(404);
    expect(ts.cluster.guests().filter((g) => g.name.startsWith('net2-'))).toEqual([]);
  });

  it('provisions only inside the class scope, and puts the new VMs where the scope holds them', async () => {
    const inPool = await template(ts, { name: 'tpl-pooled', pool: 'net-lab' });
    const outside = await template(ts, { name: 'tpl-other' });
    const { classId, teacher } = await classWithStudents(ts, 'sc1', 0, [{ kind: 'pool', cluster: 'lab-a', pool: 'net-lab' }]);
    const refused = await ts.request('POST', `/api/classes/${classId}/provision`, { cookie: teacher, body: { cluster: 'lab-a', templateVmid: outside, count: 1 } });
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toContain("outside this class's scope");
    expect(ts.cluster.guests().filter((g) => g.name.startsWith('sc1-'))).toEqual([]);
    // The picker offers only what the scope holds.
    const picked = await ts.request('GET', `/api/classes/${classId}/inventory?kind=template&q=tpl`, { cookie: teacher });
    expect(picked.body.vms.map((v: { vmid: number }) => v.vmid)).toEqual([inPool]);
    const live = progressSocket(ts.url, teacher);
    sockets.push(live.socket);
    await live.ready;
    const ok = await ts.request('POST', `/api/classes/${classId}/provision`, { cookie: teacher, body: { cluster: 'lab-a', templateVmid: inPool, count: 2 } });
    const end = await jobEnd(live.socket, ok.body.job.id);
    expect(end.state).toBe('done');
    for (const v of end.vms) expect(ts.cluster.guest(v.vmid!)!.pool).toBe('net-lab');

    // A vmid range: the new ids come from it.
    const ranged = await template(ts, { name: 'tpl-ranged', vmid: 7000 });
    const r = await classWithStudents(ts, 'sc2', 0, [{ kind: 'range', cluster: 'lab-a', min: 7000, max: 7009 }]);
    const live2 = progressSocket(ts.url, r.teacher);
    sockets.push(live2.socket);
    await live2.ready;
    const job = await ts.request('POST', `/api/classes/${r.classId}/provision`, { cookie: r.teacher, body: { cluster: 'lab-a', templateVmid: ranged, count: 2 } });
    const end2 = await jobEnd(live2.socket, job.body.job.id);
    expect(end2.vms.map((v) => v.vmid)).toEqual([7001, 7002]);
  });

  it('fails clearly when the storage cannot make linked clones, and leaves no VM behind', async () => {
    const { classId, teacher } = await classWithStudents(ts, 'nfs1', 0);
    const tpl = await template(ts, { cluster: 'lab-n', name: 'tpl-nfs' });
    const live = progressSocket(ts.url, teacher);
    sockets.push(live.socket);
    await live.ready;
    const before = ts.sim.cluster('lab-n').guests().length;
    const res = await ts.request('POST', `/api/classes/${classId}/provision`, { cookie: teacher, body: { cluster: 'lab-n', templateVmid: tpl, count: 2 } });
    const end = await jobEnd(live.socket, res.body.job.id);
    expect(end).toMatchObject({ state: 'failed', failed: 2, done: 0 });
    for (const v of end.vms) {
      expect(v.error).toContain('cannot make linked clones');
      expect(v.vmid).toBeNull();
    }
    expect(ts.sim.cluster('lab-n').guests().length).toBe(before);
    // A full clone works on that storage.
    const full = await ts.request('POST', `/api/classes/${classId}/provision`, { cookie: teacher, body: { cluster: 'lab-n', templateVmid: tpl, count: 1, full: true, namePrefix: 'nfs-full' } });
    expect(await jobEnd(live.socket, full.body.job.id)).toMatchObject({ state: 'done', done: 1 });
  });

  it('shows a VM whose baseline failed as failed, with its id, and removes it on request', async () => {
    const { classId, teacher } = await classWithStudents(ts, 'priv1', 0);
    const tpl = await template(ts, { cluster: 'lab-p', name: 'tpl-priv' });
    const live = progressSocket(ts.url, teacher);
    sockets.push(live.socket);
    await live.ready;
    const res = await ts.request('POST', `/api/classes/${classId}/provision`, { cookie: teacher, body: { cluster: 'lab-p', templateVmid: tpl, count: 1 } });
    const end = await jobEnd(live.socket, res.body.job.id);
    expect(end).toMatchObject({ state: 'failed', failed: 1 });
    const [vm] = end.vms;
    expect(vm.error).toMatch(/baseline snapshot failed.*VM\.Snapshot/);
    expect(vm.vmid).not.toBeNull();
    expect(ts.sim.cluster('lab-p').guest(vm.vmid!)).toBeDefined();
    const listed = await ts.request('GET', `/api/classes/${classId}/provisioned`, { cookie: teacher });
    expect(listed.body.vms).toEqual([expect.objectContaining({ vmid: vm.vmid, state: 'failed', hasBaseline: false })]);
    const removed = await ts.request('POST', `/api/classes/${classId}/remove-vms`, { cookie: teacher, body: { vms: [{ cluster: 'lab-p', vmid: vm.vmid }] } });
    expect(removed.body).toMatchObject({ removed: 1, failed: 0 });
    expect(ts.sim.cluster('lab-p').guest(vm.vmid!)).toBeUndefined();
    expect((await ts.request('GET', `/api/classes/${classId}/provisioned`, { cookie: teacher })).body.vms).toEqual([]);
  });
});
