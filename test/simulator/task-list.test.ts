// The live signals of a simulated cluster, as PVE's sources define them: /cluster/tasks lists a task
// the moment it starts and changes it when it ends (bounded per node, running first), filtered by
// Sys.Audit; node-local guest lists are live while /cluster/resources lags; a guest that shuts
// down from inside leaves no task.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TASKS_KEPT_PER_NODE, type Simulator, type TaskListEntry } from '../../server/simulator/index.js';
import { passwordClient, raw, startFast, tokenClient, waitTask } from './helpers.js';

describe('/cluster/tasks', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startFast({
      // Long enough for the list to be read while a start still runs, even on a loaded machine.
      taskDurationMs: { start: 1500, stop: 30, shutdown: 1500, reboot: 60, migrate: 80 },
      clusters: [
        { id: 'lab-t', guests: 40, seed: 4, users: [{ userid: 'bob@pve', password: 'pw', privileges: ['VM.Audit', 'VM.PowerMgmt'] }] },
        { id: 'lab-q', guests: 4, tokenId: 'monitor@pve!ro', tokenPrivileges: ['VM.Audit', 'VM.PowerMgmt'] },
      ],
    });
  });
  afterAll(() => sim.close());
  const tasks = async (id = 'lab-t') => (await raw(sim.cluster(id), 'GET', '/cluster/tasks')).json!.data as TaskListEntry[];

  it('lists a Proxmox UI task at its start and shows its end time and status when it ends', async () => {
    const c = sim.cluster('lab-t');
    const g = c.guests().find((x) => x.type === 'qemu' && x.status === 'stopped' && !x.template)!;
    const upid = c.powerOutside(g.vmid, 'start', 'ui')!;
    // Nothing changed yet: the task is running.
    expect(c.guest(g.vmid)!.status).toBe('stopped');
    const running = (await tasks()).find((t) => t.upid === upid)!;
    expect(running).toEqual({ upid, node: g.node, pid: expect.any(Number), starttime: expect.any(Number), type: 'qmstart', id: String(g.vmid), user: 'root@pam' });
    await c.taskDone(upid);
    expect(c.guest(g.vmid)!.status).toBe('running');
    const done = (await tasks()).find((t) => t.upid === upid)!;
    expect(done).toEqual({ upid, node: g.node, starttime: running.starttime, type: 'qmstart', id: String(g.vmid), user: 'root@pam', endtime: expect.any(Number), status: 'OK', saved: '1' });
    expect(done.endtime).toBeGreaterThanOrEqual(done.starttime);
  });

  it('shows a failed task with its error, and an API token as user plus tokenid', async () => {
    const c = sim.cluster('lab-t');
    const g = c.guests().find((x) => x.type === 'qemu' && x.status === 'running' && !x.template)!;
    const api = tokenClient(c);
    const upid = await api.nodes.$(g.node).qemu.$(g.vmid).status.start.$post();
    await waitTask(api, g.node, upid);
    expect((await tasks()).find((t) => t.upid === upid)).toMatchObject({ user: 'root@pam', tokenid: 'labdeck', status: `VM ${g.vmid} already running` });
  });

  it('keeps 25 entries per node: running ones first, then the newest finished, older ones roll out', async () => {
    const c = sim.cluster('lab-t');
    const node = c.nodes[0];
    const mine = c.guests().filter((g) => g.node === node && g.type === 'qemu' && !g.template && g.status === 'stopped');
    const first = c.powerOutside(mine[0].vmid, 'stop', 'ui')!;
    await c.taskDone(first);
    // A long task keeps running while many short ones finish after it.
    const longOne = c.guests().find((g) => g.node === node && g.status === 'running' && !g.template)!;
    const long = c.powerOutside(longOne.vmid, 'shutdown', 'ui')!;
    const shorts: string[] = [];
    for (let i = 0; i < TASKS_KEPT_PER_NODE + 5; i++) shorts.push(c.powerOutside(mine[i % mine.length].vmid, 'stop', 'ui')!);
    await Promise.all(shorts.map((u) => c.taskDone(u)));
    const onNode = (await tasks()).filter((t) => t.node === node);
    expect(onNode).toHaveLength(TASKS_KEPT_PER_NODE);
    expect(onNode[0]).toMatchObject({ upid: long, pid: expect.any(Number) });
    expect(onNode[0].endtime).toBeUndefined();
    const finished = onNode.slice(1);
    expect(finished.every((t) => t.status === 'OK' && t.pid === undefined)).toBe(true);
    expect(finished.map((t) => t.starttime)).toEqual([...finished.map((t) => t.starttime)].sort((a, b) => b - a));
    expect(onNode.some((t) => t.upid === first)).toBe(false);
    await c.taskDone(long);
    // Ended and older than every kept entry: the long task's end drops it from the list at once.
    const after = (await tasks()).filter((t) => t.node === node);
    expect(after).toHaveLength(TASKS_KEPT_PER_NODE);
    const kept = after.find((t) => t.upid === long);
    if (kept) expect(kept.status).toBe('OK');
    else expect(Math.min(...after.map((t) => t.starttime))).toBeGreaterThanOrEqual(Number.parseInt(long.split(':')[4], 16));
  });

  it("shows others' tasks only with Sys.Audit (a token without it does not even see its own)", async () => {
    const c = sim.cluster('lab-t');
    const bob = passwordClient(c, 'bob@pve', 'pw');
    const g = c.guests().find((x) => x.status === 'running' && !x.template && x.type === 'qemu')!;
    const upid = await bob.nodes.$(g.node).qemu.$(g.vmid).status.reboot.$post();
    const seen = (await bob.cluster.tasks.$get()) as TaskListEntry[];
    expect(seen.map((t) => t.upid)).toEqual([upid]);
    expect((await tasks()).some((t) => t.upid === upid)).toBe(true);
    const q = sim.cluster('lab-q');
    const h = q.guests().find((x) => x.status === 'running' && !x.template)!;
    const own = await tokenClient(q).nodes.$(h.node)[h.type].$(h.vmid).status.reboot.$post();
    expect(q.tasks().some((t) => t.upid === own)).toBe(true);
    expect(await tasks('lab-q')).toEqual([]);
  });
});

describe('node-local guest lists', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startFast({ pvestatdIntervalMs: 60_000, clusters: [{ id: 'lab-n', guests: 30, seed: 9, users: [{ userid: 'eve@pve', password: 'pw', privileges: ['Sys.Audit'] }] }] });
  });
  afterAll(() => sim.close());

  it('show a shutdown from inside the guest at once, with no task, while cluster/resources lags', async () => {
    const c = sim.cluster('lab-n');
    for (const kind of ['qemu', 'lxc'] as const) {
      const g = c.guests().find((x) => x.type === kind && x.status === 'running' && !x.template)!;
      const before = c.tasks().length;
      expect(c.powerOutside(g.vmid, 'shutdown', 'guest')).toBeNull();
      const list = (await raw(c, 'GET', `/nodes/${g.node}/${kind}`)).json!.data as Array<Record<string, unknown>>;
      const entry = list.find((e) => Number(e.vmid) === g.vmid)!;
      expect(entry).toMatchObject({ status: 'stopped', uptime: 0, name: g.name });
      expect(entry.pid).toBeUndefined();
      // vmstatus without full=1 asks no QMP: no qmpstatus.
      expect(entry.qmpstatus).toBeUndefined();
      expect(list.every((e) => c.guest(Number(e.vmid))!.node === g.node && c.guest(Number(e.vmid))!.type === kind)).toBe(true);
      const resources = (await raw(c, 'GET', '/cluster/resources?type=vm')).json!.data as Array<{ vmid: number; status: string }>;
      expect(resources.find((r) => r.vmid === g.vmid)!.status).toBe('running');
      expect(c.tasks()).toHaveLength(before);
    }
    const up = c.guests().find((x) => x.type === 'qemu' && x.status === 'running' && !x.template)!;
    const full = (await raw(c, 'GET', `/nodes/${up.node}/qemu?full=1`)).json!.data as Array<Record<string, unknown>>;
    expect(full.find((e) => e.vmid === up.vmid)).toMatchObject({ status: 'running', qmpstatus: 'running', pid: expect.any(Number) });
  });

  it('a reboot from inside restarts the guest without a task; a stopped guest cannot do either', async () => {
    const c = sim.cluster('lab-n');
    const g = c.guests().find((x) => x.status === 'running' && !x.template)!;
    const before = c.tasks().length;
    c.powerOutside(g.vmid, 'reboot', 'guest');
    const list = (await raw(c, 'GET', `/nodes/${g.node}/${g.type}`)).json!.data as Array<Record<string, unknown>>;
    expect(list.find((e) => Number(e.vmid) === g.vmid)).toMatchObject({ status: 'running', uptime: 0 });
    expect(c.tasks()).toHaveLength(before);
    const stopped = c.guests().find((x) => x.status === 'stopped' && !x.template)!;
    expect(() => c.powerOutside(stopped.vmid, 'shutdown', 'guest')).toThrow(/not running/);
    expect(() => c.powerOutside(g.vmid, 'start', 'guest')).toThrow(/only shut down or reboot/);
  });

  it('list only guests the caller may audit', async () => {
    const c = sim.cluster('lab-n');
    const eve = passwordClient(c, 'eve@pve', 'pw');
    expect(await eve.nodes.$(c.nodes[0]).qemu.$get()).toEqual([]);
  });
});
