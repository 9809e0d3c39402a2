// Tasks as qemu-server and pve-container run them: lifecycle and status endpoint, synchronous
// refusals vs failures inside the task, clone with its lock, destroy, snapshots and rollback.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimCluster, Simulator } from '../../server/simulator/index.js';
import { FAST, raw, startFast, tokenClient, waitTask } from './helpers.js';

describe('tasks', () => {
  let sim: Simulator;
  let c: SimCluster;
  let api: ReturnType<typeof tokenClient>;
  beforeAll(async () => {
    // Shutdown runs long enough to be seen running even on a busy machine.
    sim = await startFast({ taskDurationMs: { ...FAST.taskDurationMs, shutdown: 600 }, clusters: [{ id: 'lab-t', guests: 40, seed: 11 }] });
    c = sim.cluster('lab-t');
    api = tokenClient(c);
  });
  afterAll(() => sim.close());

  const pick = (f: (g: ReturnType<SimCluster['guests']>[number]) => boolean) => {
    const g = c.guests().find((x) => f(x) && !x.lock);
    if (!g) throw new Error('no such guest in the generated set');
    return g;
  };
  const qemu = (vmid: number, node: string) => api.nodes.$(node).qemu.$(vmid);

  it('reports a task as running, then stopped with exitstatus OK, and changes the guest only then', async () => {
    const g = pick((x) => x.type === 'qemu' && x.status === 'running');
    const upid = await qemu(g.vmid, g.node).status.shutdown.$post();
    expect(upid).toContain(':qmshutdown:');
    const first = await api.nodes.$(g.node).tasks.$(upid).status.$get();
    expect(first).toMatchObject({ status: 'running', type: 'qmshutdown', id: String(g.vmid), node: g.node, user: 'root@pam!labdeck' });
    expect(first).not.toHaveProperty('exitstatus');
    expect(c.guest(g.vmid)!.status).toBe('running');
    expect(await waitTask(api, g.node, upid)).toMatchObject({ exitstatus: 'OK' });
    expect(c.guest(g.vmid)!.status).toBe('stopped');
    expect(await qemu(g.vmid, g.node).status.current.$get()).toMatchObject({ status: 'stopped', qmpstatus: 'stopped' });
  });

  it('goes through suspend, resume, reset and reboot', async () => {
    const g = pick((x) => x.type === 'qemu' && x.status === 'running');
    const vm = qemu(g.vmid, g.node);
    expect(await waitTask(api, g.node, await vm.status.suspend.$post())).toMatchObject({ exitstatus: 'OK', type: 'qmpause' });
    expect(await vm.status.current.$get()).toMatchObject({ status: 'running', qmpstatus: 'paused' });
    await expect(vm.status.shutdown.$post()).rejects.toThrow('500 VM is paused - cannot shutdown');
    await waitTask(api, g.node, await vm.status.resume.$post());
    expect(c.guest(g.vmid)!.status).toBe('running');
    expect(await waitTask(api, g.node, await vm.status.reset.$post())).toMatchObject({ type: 'qmreset', exitstatus: 'OK' });
    expect(await waitTask(api, g.node, await vm.status.reboot.$post())).toMatchObject({ type: 'qmreboot', exitstatus: 'OK' });
    expect((await vm.status.current.$get()).uptime).toBeLessThan(5);
  });

  it('fails inside the task when starting a running VM or a template', async () => {
    const running = pick((x) => x.type === 'qemu' && x.status === 'running');
    const upid = await qemu(running.vmid, running.node).status.start.$post();
    expect(await waitTask(api, running.node, upid)).toMatchObject({ exitstatus: `VM ${running.vmid} already running` });
    const tpl = pick((x) => x.type === 'qemu' && x.template);
    const t2 = await qemu(tpl.vmid, tpl.node).status.start.$post();
    expect(await waitTask(api, tpl.node, t2)).toMatchObject({ exitstatus: "you can't start a vm if it's a template" });
  });

  it('refuses synchronously: reboot/suspend/resume/reset of a stopped VM, destroy of a running one', async () => {
    const stopped = pick((x) => x.type === 'qemu' && x.status === 'stopped' && !x.template);
    for (const a of ['reboot', 'suspend', 'resume', 'reset'] as const) {
      await expect(qemu(stopped.vmid, stopped.node).status[a].$post()).rejects.toThrow(`500 VM ${stopped.vmid} not running`);
    }
    const running = pick((x) => x.type === 'qemu' && x.status === 'running');
    await expect(qemu(running.vmid, running.node).$delete()).rejects.toThrow(`500 VM ${running.vmid} is running - destroy failed`);
    const r = await raw(c, 'POST', `/nodes/${stopped.node}/qemu/${stopped.vmid}/status/reboot`);
    expect([r.status, r.statusText]).toEqual([500, `VM ${stopped.vmid} not running`]);
  });

  it('treats stopping a stopped VM as a task that ends OK', async () => {
    const stopped = pick((x) => x.type === 'qemu' && x.status === 'stopped' && !x.template);
    expect(await waitTask(api, stopped.node, await qemu(stopped.vmid, stopped.node).status.stop.$post())).toMatchObject({ exitstatus: 'OK' });
  });

  it('handles containers with vz task types and CT messages', async () => {
    const ct = pick((x) => x.type === 'lxc' && x.status === 'running');
    const lxc = api.nodes.$(ct.node).lxc.$(ct.vmid);
    await expect(lxc.status.start.$post()).rejects.toThrow(`500 CT ${ct.vmid} already running`);
    const upid = await lxc.status.stop.$post();
    expect(upid).toContain(`:vzstop:${ct.vmid}:`);
    await waitTask(api, ct.node, upid);
    expect(await lxc.interfaces.$get()).toBeNull();
    await expect(lxc.status.shutdown.$post()).rejects.toThrow(`CT ${ct.vmid} not running`);
    expect(await waitTask(api, ct.node, await lxc.status.start.$post())).toMatchObject({ type: 'vzstart', exitstatus: 'OK' });
  });

  it('clones: the new VM exists at once with lock clone, unlocked when the task ends', async () => {
    const tpl = pick((x) => x.type === 'qemu' && x.template);
    const newid = Number(await api.cluster.nextid.$get());
    await expect(qemu(tpl.vmid, tpl.node).clone.$post({ newid, pool: 'no-such-pool' })).rejects.toThrow("500 pool 'no-such-pool' does not exist");
    const upid = await qemu(tpl.vmid, tpl.node).clone.$post({ newid, name: 'lab-t-clone-1', full: true, pool: 'class-1' });
    expect(upid).toContain(`:qmclone:${tpl.vmid}:`);
    expect(c.guest(newid)).toMatchObject({ lock: 'clone', status: 'stopped', name: 'lab-t-clone-1' });
    expect(await qemu(newid, tpl.node).status.current.$get()).toMatchObject({ lock: 'clone' });
    await expect(qemu(newid, tpl.node).status.start.$post()).rejects.toThrow('500 VM is locked (clone)');
    await expect(qemu(tpl.vmid, tpl.node).clone.$post({ newid })).rejects.toThrow(/500 unable to create VM .* already exists/);
    expect(await waitTask(api, tpl.node, upid)).toMatchObject({ exitstatus: 'OK' });
    expect(c.guest(newid)).toMatchObject({ lock: null, pool: 'class-1' });
    expect(c.guest(newid)!.mac).not.toBe(tpl.mac);
    expect(Number(await api.cluster.nextid.$get())).toBeGreaterThan(newid);
  });

  it('destroys a stopped guest in a task', async () => {
    const g = pick((x) => x.type === 'qemu' && x.status === 'stopped' && !x.template);
    const upid = await qemu(g.vmid, g.node).$delete();
    expect(upid).toContain(':qmdestroy:');
    await waitTask(api, g.node, upid);
    expect(c.guest(g.vmid)).toBeUndefined();
    await expect(qemu(g.vmid, g.node).status.current.$get()).rejects.toThrow(`Configuration file 'nodes/${g.node}/qemu-server/${g.vmid}.conf' does not exist`);
  });

  it('takes snapshots, lists them with the current entry, and rolls back', async () => {
    const g = pick((x) => x.type === 'qemu' && x.status === 'running');
    const vm = qemu(g.vmid, g.node);
    expect(await vm.snapshot.$get()).toEqual([expect.objectContaining({ name: 'current', description: 'You are here!', running: 1 })]);
    expect(await waitTask(api, g.node, await vm.snapshot.$post({ snapname: 'before-exam' }))).toMatchObject({ type: 'qmsnapshot', exitstatus: 'OK' });
    const list = await vm.snapshot.$get();
    expect(list.map((s) => s.name)).toEqual(['before-exam', 'current']);
    expect(list[1]).toMatchObject({ parent: 'before-exam' });
    expect(await waitTask(api, g.node, await vm.snapshot.$post({ snapname: 'before-exam' }))).toMatchObject({ exitstatus: "snapshot name 'before-exam' already used" });
    await expect(vm.snapshot.$post({ snapname: 'current' })).rejects.toThrow("unable to use snapshot name 'current' (reserved name)");
    const rb = await vm.snapshot.$('before-exam').rollback.$post();
    expect(rb).toContain(':qmrollback:');
    expect(await waitTask(api, g.node, rb)).toMatchObject({ exitstatus: 'OK' });
    expect(c.guest(g.vmid)!.status).toBe('stopped');
    expect(await waitTask(api, g.node, await vm.snapshot.$('nope').rollback.$post())).toMatchObject({ exitstatus: "snapshot 'nope' does not exist" });
  });

  it('answers the task status endpoint with 400s for malformed or unknown UPIDs', async () => {
    const r = await raw(c, 'GET', '/nodes/pve1/tasks/garbage/status');
    expect(r.status).toBe(400);
    expect(r.json!.errors).toEqual({ upid: 'unable to parse worker upid' });
    const unknown = await raw(c, 'GET', `/nodes/pve1/tasks/${encodeURIComponent('UPID:pve1:00001234:00ABCDEF:65000000:qmstart:100:root@pam:')}/status`);
    expect(unknown.json!.errors).toEqual({ upid: 'no such task' });
  });
});
