// Things that happen outside labdeck (someone in the Proxmox UI, a migration, a node going
// away), driven through the programmatic API and through the HTTP control API; demo activity.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../server/simulator/index.js';
import { raw, startFast, tokenClient } from './helpers.js';
import { waitFor } from '../helpers/wait.js';

type Row = { vmid: number; status: string; node: string; [k: string]: unknown };

describe('outside events', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startFast({ pvestatdIntervalMs: 0, clusters: [{ id: 'lab-e', guests: 15, seed: 4 }] });
  });
  afterAll(() => sim.close());

  it('powers guests on and off at once, without a task', async () => {
    const c = sim.cluster('lab-e');
    const api = tokenClient(c);
    const g = c.guests().find((x) => x.type === 'qemu' && x.status === 'stopped' && !x.template)!;
    c.powerOutside(g.vmid, 'start');
    expect((await api.nodes.$(g.node).qemu.$(g.vmid).status.current.$get()).status).toBe('running');
    c.powerOutside(g.vmid, 'suspend');
    expect((await api.nodes.$(g.node).qemu.$(g.vmid).status.current.$get()).qmpstatus).toBe('paused');
    expect(((await raw(c, 'GET', '/cluster/resources?type=vm')).json!.data as Row[]).find((r) => r.vmid === g.vmid)!.status).toBe('paused');
    c.powerOutside(g.vmid, 'resume');
    c.powerOutside(g.vmid, 'shutdown');
    expect(c.guest(g.vmid)!.status).toBe('stopped');
    const tpl = c.guests().find((x) => x.template);
    if (tpl) expect(() => c.powerOutside(tpl.vmid, 'start')).toThrow(/template/);
  });

  it('migrates a guest: same vmid, new node; the old node no longer has its config', async () => {
    const c = sim.cluster('lab-e');
    const api = tokenClient(c);
    const g = c.guests().find((x) => x.type === 'qemu' && x.status === 'running')!;
    const to = c.nodes.find((n) => n !== g.node)!;
    c.migrate(g.vmid, to);
    const row = ((await raw(c, 'GET', '/cluster/resources?type=vm')).json!.data as Row[]).find((r) => r.vmid === g.vmid)!;
    expect(row).toMatchObject({ node: to, status: 'running' });
    expect((await api.nodes.$(to).qemu.$(g.vmid).status.current.$get()).status).toBe('running');
    await expect(api.nodes.$(g.node).qemu.$(g.vmid).status.current.$get()).rejects.toThrow(`nodes/${g.node}/qemu-server/${g.vmid}.conf' does not exist`);
    expect(() => c.migrate(g.vmid, 'pve99')).toThrow();
  });

  it('creates and destroys guests', async () => {
    const c = sim.cluster('lab-e');
    const vmid = c.createGuest({ type: 'lxc', name: 'late-joiner', tags: ['class-2'], pool: 'class-2', ostype: 'debian' });
    expect(c.guest(vmid)).toMatchObject({ type: 'lxc', name: 'late-joiner', status: 'stopped', pool: 'class-2', tags: ['class-2'] });
    const rows = (await raw(c, 'GET', '/cluster/resources?type=vm')).json!.data as Row[];
    expect(rows.find((r) => r.vmid === vmid)).toMatchObject({ type: 'lxc', pool: 'class-2', tags: 'class-2' });
    c.destroyGuest(vmid);
    expect(c.guest(vmid)).toBeUndefined();
    expect(((await raw(c, 'GET', '/cluster/resources?type=vm')).json!.data as Row[]).some((r) => r.vmid === vmid)).toBe(false);
  });

  it('takes a node offline: status shows it, calls proxied to it fail, its guests go unknown', async () => {
    const c = sim.cluster('lab-e');
    const api = tokenClient(c);
    const g = c.guests().find((x) => x.node === 'pve3')!;
    c.setNodeOnline('pve3', false);
    expect((await api.cluster.status.$get()).find((n) => n.name === 'pve3')!.online).toBe(0);
    expect((await api.nodes.$get()).find((n) => n.node === 'pve3')!.status).toBe('offline');
    const r = await raw(c, 'GET', `/nodes/pve3/${g.type}/${g.vmid}/status/current`);
    expect([r.status, r.statusText]).toEqual([595, 'No route to host']);
    const rows = (await raw(c, 'GET', '/cluster/resources?type=vm')).json!.data as Row[];
    expect(rows.find((x) => x.vmid === g.vmid)!.status).toBe('unknown');
    c.setNodeOnline('pve3', true);
    expect((await raw(c, 'GET', `/nodes/pve3/${g.type}/${g.vmid}/status/current`)).status).toBe(200);
  });

  it('answers a node name that does not exist like PVE', async () => {
    const r = await raw(sim.cluster('lab-e'), 'GET', '/nodes/pve42/qemu');
    expect(r.status).toBe(500);
    expect(r.statusText).toMatch(/^hostname lookup 'pve42' failed/);
  });
});

describe('control API', () => {
  let sim: Simulator;
  let base: string;
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, { method, headers: { 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> & { error?: { code: string; message: string } } };
  };
  beforeAll(async () => {
    sim = await startFast({ controlPort: 0, pvestatdIntervalMs: 60_000, clusters: [{ id: 'lab-c', guests: 10 }, { id: 'lab-d', guests: 3 }] });
    base = sim.controlUrl!;
  });
  afterAll(() => sim.close());

  it('lists clusters with URL and token, and guests', async () => {
    const r = await call('GET', '/clusters');
    expect(r.body).toEqual([
      expect.objectContaining({ id: 'lab-c', url: sim.cluster('lab-c').url, tokenId: 'root@pam!labdeck', guests: 10 }),
      expect.objectContaining({ id: 'lab-d', guests: 3 }),
    ]);
    expect((await call('GET', '/clusters/lab-c/guests')).body).toHaveLength(10);
    expect((await call('GET', '/clusters/nope/guests')).status).toBe(404);
  });

  it('drives power, migrate, create, delete, nodes, refresh and stats', async () => {
    const c = sim.cluster('lab-c');
    const g = c.guests().find((x) => x.status === 'stopped' && !x.template)!;
    // By default a power change is a task as the Proxmox UI runs it: the guest changes when it ends.
    const started = await call('POST', `/clusters/lab-c/guests/${g.vmid}/power`, { action: 'start' });
    expect(started.body).toMatchObject({ status: 'stopped', upid: expect.stringMatching(/^UPID:.*:(qmstart|vzstart):/) });
    expect(await c.taskDone(started.body.upid as string)).toMatchObject({ exitstatus: 'OK' });
    expect(c.guest(g.vmid)!.status).toBe('running');
    const to = c.nodes.find((n) => n !== g.node)!;
    const moving = await call('POST', `/clusters/lab-c/guests/${g.vmid}/migrate`, { node: to });
    expect(moving.body).toMatchObject({ node: g.node, lock: 'migrate', upid: expect.stringMatching(/:(qmigrate|vzmigrate):/) });
    await c.taskDone(moving.body.upid as string);
    expect(c.guest(g.vmid)).toMatchObject({ node: to, lock: null });
    expect((await call('POST', `/clusters/lab-c/guests/${g.vmid}/migrate`, { node: g.node, via: 'instant' })).body).toMatchObject({ node: g.node, upid: null });
    const created = await call('POST', '/clusters/lab-c/guests', { type: 'qemu', name: 'ctl-made', running: true });
    expect(created.status).toBe(201);
    const vmid = created.body.vmid as number;
    expect(c.guest(vmid)).toMatchObject({ name: 'ctl-made', status: 'running' });
    // The Proxmox UI refuses to destroy a running guest; from inside, it shuts down without a task.
    expect((await call('DELETE', `/clusters/lab-c/guests/${vmid}`)).body.error!.message).toMatch(/is running - destroy failed/);
    expect((await call('POST', `/clusters/lab-c/guests/${vmid}/power`, { action: 'shutdown', via: 'guest' })).body).toMatchObject({ status: 'stopped', upid: null });
    const destroyed = await call('DELETE', `/clusters/lab-c/guests/${vmid}`);
    expect(destroyed.status).toBe(200);
    await c.taskDone(destroyed.body.upid as string);
    expect(c.guest(vmid)).toBeUndefined();
    const clone = await call('POST', `/clusters/lab-c/guests/${g.vmid}/clone`, { name: 'ctl-copy' });
    expect(clone.status).toBe(201);
    expect(c.guest(clone.body.newid as number)).toMatchObject({ name: 'ctl-copy', lock: 'clone' });
    await c.taskDone(clone.body.upid as string);
    expect(c.guest(clone.body.newid as number)!.lock).toBeNull();
    expect((await call('DELETE', `/clusters/lab-c/guests/${clone.body.newid}`, { via: 'instant' })).body).toEqual({ ok: true, upid: null });
    const types = ((await call('GET', '/clusters/lab-c/tasks')).body as unknown as Array<{ type: string }>).map((t) => t.type);
    expect(types).toEqual(expect.arrayContaining([expect.stringMatching(/start$/), expect.stringMatching(/migrate$/), 'qmdestroy', expect.stringMatching(/clone$/)]));
    expect((await call('POST', '/clusters/lab-c/nodes/pve2', { online: false })).status).toBe(200);
    expect((await raw(c, 'GET', '/nodes')).json!.data).toContainEqual(expect.objectContaining({ node: 'pve2', status: 'offline' }));
    await call('POST', '/clusters/lab-c/nodes/pve2', { online: true });
    expect((await call('POST', '/clusters/lab-c/refresh')).status).toBe(200);
    await call('POST', '/clusters/lab-c/stats/reset');
    await raw(c, 'GET', '/cluster/resources?type=vm');
    const stats = (await call('GET', '/clusters/lab-c/stats')).body as { requests: number; byPath: Record<string, number>; bytesOut: number };
    expect(stats.requests).toBe(1);
    expect(stats.byPath).toEqual({ '/cluster/resources': 1 });
    expect(stats.bytesOut).toBeGreaterThan(100);
  });

  it('sets faults', async () => {
    const c = sim.cluster('lab-d');
    expect((await call('POST', '/clusters/lab-d/fault', { tokenRevoked: true })).status).toBe(200);
    expect((await raw(c, 'GET', '/version')).status).toBe(401);
    await call('POST', '/clusters/lab-d/fault', {});
    expect((await raw(c, 'GET', '/version')).status).toBe(200);
  });

  it('rejects bad input with a clear 4xx', async () => {
    const g = sim.cluster('lab-c').guests()[0];
    const bad = await call('POST', `/clusters/lab-c/guests/${g.vmid}/power`, { action: 'explode' });
    expect(bad.status).toBe(400);
    expect(bad.body.error!.code).toBe('bad_request');
    expect(bad.body.error!.message).toMatch(/^action: /);
    expect((await call('POST', '/clusters/lab-c/fault', { errorRate: 2 })).status).toBe(400);
    expect((await call('POST', '/clusters/lab-c/fault', { mode: 'on-fire' })).status).toBe(400);
    expect((await call('POST', '/clusters/lab-c/guests', { vmid: 5, surprise: 1 })).status).toBe(400);
    expect((await call('POST', `/clusters/lab-c/guests/abc/power`, { action: 'start' })).status).toBe(400);
    expect((await call('POST', `/clusters/lab-c/guests/99999/power`, { action: 'start' })).status).toBe(404);
    expect((await call('POST', `/clusters/lab-c/guests/${g.vmid}/migrate`, { node: 'pve77' })).status).toBe(409);
    expect((await call('POST', `/clusters/lab-c/guests/${g.vmid}/power`, { action: 'start', via: 'guest' })).status).toBe(409);
    expect((await call('POST', `/clusters/lab-c/guests/${g.vmid}/power`, { action: 'stop', via: 'phone' })).body.error!.message).toMatch(/^via: /);
    expect((await call('POST', `/clusters/lab-c/guests/${g.vmid}/clone`, { newid: 7 })).status).toBe(400);
    const res = await fetch(`${base}/clusters/lab-c/refresh`, { method: 'POST', body: '{oops' });
    expect(res.status).toBe(400);
    expect((await call('GET', '/whatever')).status).toBe(404);
  });
});

describe('demo activity', () => {
  it('starts and stops guests now and then by itself', async () => {
    const sim = await startFast({ activity: { intervalMs: 20 }, clusters: [{ id: 'demo', guests: 10 }] });
    try {
      const c = sim.cluster('demo');
      const before = JSON.stringify(c.guests().map((g) => g.status));
      await waitFor(() => (JSON.stringify(c.guests().map((g) => g.status)) !== before ? true : undefined), 3000);
    } finally {
      await sim.close();
    }
  });
});
