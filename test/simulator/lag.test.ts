// The pvestatd lag (cluster/resources from a periodic snapshot, new guests as stubs, while
// status/current is live) and guest networking (the address appears some time after boot).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../server/simulator/index.js';
import { raw, startFast, tokenClient, waitTask } from './helpers.js';
import { waitFor } from '../helpers/wait.js';

type Row = { vmid: number; status: string; name?: string; node: string; [k: string]: unknown };

describe('pvestatd lag', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startFast({ pvestatdIntervalMs: 1500, clusters: [{ id: 'lab-l', guests: 12, seed: 2 }] });
  });
  afterAll(() => sim.close());

  it('shows a start in cluster/resources only after the next broadcast, while status/current is live', async () => {
    const c = sim.cluster('lab-l');
    const api = tokenClient(c);
    c.refreshNow();
    const g = c.guests().find((x) => x.status === 'stopped' && !x.template && x.type === 'qemu')!;
    await waitTask(api, g.node, await api.nodes.$(g.node).qemu.$(g.vmid).status.start.$post());
    expect((await api.nodes.$(g.node).qemu.$(g.vmid).status.current.$get()).status).toBe('running');
    const lagged = (await api.cluster.resources.$get({ type: 'vm' })).find((r) => r.vmid === g.vmid)!;
    expect(lagged.status).toBe('stopped');
    await waitFor(async () => ((await api.cluster.resources.$get({ type: 'vm' })).find((r) => r.vmid === g.vmid)!.status === 'running' ? true : undefined), 4000);
  });

  it('lists a new guest as a stub {id,vmid,node,type,status:"unknown"} until the next refresh', async () => {
    const c = sim.cluster('lab-l');
    c.refreshNow();
    const vmid = c.createGuest({ name: 'fresh-one', node: 'pve2', running: true });
    const rows = (await raw(c, 'GET', '/cluster/resources?type=vm')).json!.data as Row[];
    expect(rows.find((r) => r.vmid === vmid)).toEqual({ id: `qemu/${vmid}`, vmid, node: 'pve2', type: 'qemu', status: 'unknown' });
    c.refreshNow();
    const after = (await raw(c, 'GET', '/cluster/resources?type=vm')).json!.data as Row[];
    expect(after.find((r) => r.vmid === vmid)).toMatchObject({ name: 'fresh-one', status: 'running' });
  });

  it('is always live with pvestatdIntervalMs 0', async () => {
    const live = await startFast({ pvestatdIntervalMs: 0, clusters: [{ id: 'live', guests: 5 }] });
    try {
      const c = live.cluster('live');
      const g = c.guests().find((x) => !x.template)!;
      c.powerOutside(g.vmid, g.status === 'stopped' ? 'start' : 'stop');
      const rows = (await raw(c, 'GET', '/cluster/resources?type=vm')).json!.data as Row[];
      expect(rows.find((r) => r.vmid === g.vmid)!.status).toBe(c.guest(g.vmid)!.status);
    } finally {
      await live.close();
    }
  });
});

describe('guest networking', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startFast({ ipDelayMs: 700, agentTimeoutMs: 50, clusters: [{ id: 'lab-n', guests: 30, seed: 9 }] });
  });
  afterAll(() => sim.close());

  it('answers the agent errors, then the address some time after boot', async () => {
    const c = sim.cluster('lab-n');
    const api = tokenClient(c);
    const g = c.guests().find((x) => x.type === 'qemu' && x.status === 'stopped' && !x.template && x.agent)!;
    const agent = api.nodes.$(g.node).qemu.$(g.vmid).agent['network-get-interfaces'];
    await expect(agent.$get()).rejects.toThrow(`500 VM ${g.vmid} is not running`);
    c.powerOutside(g.vmid, 'start');
    const t = Date.now();
    await expect(agent.$get()).rejects.toThrow('500 QEMU guest agent is not running');
    expect(Date.now() - t).toBeGreaterThanOrEqual(45);
    expect(c.guest(g.vmid)!.ip).toBeNull();
    const ip = await waitFor(() => c.guest(g.vmid)!.ip ?? undefined, 3000);
    expect(ip).toMatch(/^127\.\d+\.\d+\.\d+$/);
    const res = (await agent.$get()) as { result: { 'ip-addresses': { 'ip-address': string }[] }[] };
    expect(res.result.flatMap((i) => i['ip-addresses'].map((a) => a['ip-address']))).toContain(ip);
  });

  it('says when no agent is configured', async () => {
    const c = sim.cluster('lab-n');
    const g = c.guests().find((x) => x.type === 'qemu' && !x.agent)!;
    const r = await raw(c, 'GET', `/nodes/${g.node}/qemu/${g.vmid}/agent/network-get-interfaces`);
    expect([r.status, r.statusText]).toEqual([500, 'No QEMU guest agent configured']);
  });

  it('keeps every guest address inside 127.0.0.0/8 and every MAC under BC:24:11', () => {
    for (const g of sim.cluster('lab-n').guests()) {
      expect(g.mac).toMatch(/^BC:24:11(:[0-9A-F]{2}){3}$/);
      if (g.ip) expect(g.ip.startsWith('127.')).toBe(true);
    }
  });

  it('gives a running container its inet address after the delay', async () => {
    const c = sim.cluster('lab-n');
    const api = tokenClient(c);
    const ct = c.guests().find((x) => x.type === 'lxc' && x.status === 'stopped' && !x.template)!;
    c.powerOutside(ct.vmid, 'start');
    const early = await api.nodes.$(ct.node).lxc.$(ct.vmid).interfaces.$get();
    expect(early.find((i) => i.name === 'eth0')!.inet).toBeUndefined();
    await waitFor(() => c.guest(ct.vmid)!.ip ?? undefined, 3000);
    const later = await api.nodes.$(ct.node).lxc.$(ct.vmid).interfaces.$get();
    expect(later.find((i) => i.name === 'eth0')!.inet).toBe(`${c.guest(ct.vmid)!.ip}/8`);
  });
});
