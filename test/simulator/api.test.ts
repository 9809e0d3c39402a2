// The simulated endpoints through the real proxmox-api client, over HTTP and HTTPS, and the
// wire details a client meets (content type, reason phrases, 0/1 booleans, string nextid, 501).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../server/simulator/index.js';
import { raw, startFast, tokenClient, waitTask } from './helpers.js';
import { waitFor } from '../helpers/wait.js';

describe.each(['http', 'https'] as const)('simulated API over %s', (protocol) => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startFast({ tls: protocol === 'https', clusters: [{ id: 'lab-a', guests: 30, nodes: 3, seed: 5 }] });
  });
  afterAll(() => sim.close());

  it('answers version, cluster status, nodes and resources with the documented shapes', async () => {
    const c = sim.cluster('lab-a');
    expect(c.url.startsWith(`${protocol}://127.0.0.1:`)).toBe(true);
    expect(c.fingerprint === null).toBe(protocol === 'http');
    const api = tokenClient(c);
    expect(await api.version.$get()).toMatchObject({ release: '9.0' });
    const status = await api.cluster.status.$get();
    expect(status[0]).toMatchObject({ type: 'cluster', nodes: 3, quorate: 1 });
    expect(status.filter((s) => s.type === 'node').map((s) => s.online)).toEqual([1, 1, 1]);
    const nodes = await api.nodes.$get();
    expect(nodes.map((n) => n.node).sort()).toEqual(['pve1', 'pve2', 'pve3']);
    expect(nodes[0].ssl_fingerprint).toBe(c.fingerprint ?? '');
    const vms = await api.cluster.resources.$get({ type: 'vm' });
    expect(vms).toHaveLength(30);
    for (const v of vms) {
      expect(v.id).toBe(`${v.type}/${v.vmid}`);
      expect([0, 1]).toContain(v.template);
    }
    const all = await api.cluster.resources.$get();
    expect(all.some((r) => r.type === 'node')).toBe(true);
    expect(all.some((r) => r.type === 'storage')).toBe(true);
    expect((await api.cluster.resources.$get({ type: 'node' })).every((r) => r.type === 'node')).toBe(true);
  });

  it('lists guests per node and serves status, config and interfaces of qemu and lxc guests', async () => {
    const c = sim.cluster('lab-a');
    const api = tokenClient(c);
    const vm = c.guests().find((g) => g.type === 'qemu' && g.status === 'running' && g.agent)!;
    const ct = c.guests().find((g) => g.type === 'lxc' && g.status === 'running')!;
    const qemuList = await api.nodes.$(vm.node).qemu.$get();
    expect(qemuList.map((g) => g.vmid)).toContain(vm.vmid);
    expect((await api.nodes.$(ct.node).lxc.$get()).map((g) => Number(g.vmid))).toContain(ct.vmid);

    const st = await api.nodes.$(vm.node).qemu.$(vm.vmid).status.current.$get();
    expect(st).toMatchObject({ status: 'running', qmpstatus: 'running', agent: 1, name: vm.name, ha: { managed: 0 } });
    expect(st.pid).toBeGreaterThan(0);
    const cfg = await api.nodes.$(vm.node).qemu.$(vm.vmid).config.$get();
    expect(cfg.net0).toMatch(/^virtio=BC:24:11:[0-9A-F]{2}:[0-9A-F]{2}:[0-9A-F]{2},bridge=vmbr0/);
    expect(cfg.memory).toBe(String(vm.memory / 1024 / 1024));
    expect(cfg.tags).toBe(vm.tags.join(';'));
    const agent = (await api.nodes.$(vm.node).qemu.$(vm.vmid).agent['network-get-interfaces'].$get()) as { result: { name: string; 'hardware-address'?: string; 'ip-addresses': { 'ip-address': string }[] }[] };
    const nic = agent.result.find((i) => i['hardware-address'] === vm.mac.toLowerCase())!;
    expect(nic['ip-addresses'].map((a) => a['ip-address'])).toContain(vm.ip);
    expect(vm.ip).toMatch(/^127\./);

    const cst = await api.nodes.$(ct.node).lxc.$(ct.vmid).status.current.$get();
    expect(cst).toMatchObject({ status: 'running', type: 'lxc' });
    const ccfg = await api.nodes.$(ct.node).lxc.$(ct.vmid).config.$get();
    expect(ccfg.hostname).toBe(ct.name);
    const ifs = await api.nodes.$(ct.node).lxc.$(ct.vmid).interfaces.$get();
    expect(ifs.find((i) => i.name === 'eth0')).toMatchObject({ hwaddr: ct.mac.toLowerCase(), inet: `${ct.ip}/8` });
  });

  it('runs a power action as a task through the client', async () => {
    const c = sim.cluster('lab-a');
    const api = tokenClient(c);
    const g = c.guests().find((x) => x.type === 'qemu' && x.status === 'stopped' && !x.template)!;
    const upid = await api.nodes.$(g.node).qemu.$(g.vmid).status.start.$post();
    expect(upid).toMatch(new RegExp(`^UPID:${g.node}:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:qmstart:${g.vmid}:root@pam!labdeck:$`));
    expect(await waitTask(api, g.node, upid)).toMatchObject({ exitstatus: 'OK' });
    expect(c.guest(g.vmid)!.status).toBe('running');
  });
});

describe('wire format', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startFast({ clusters: [{ id: 'lab-w', guests: 1200, seed: 3 }] });
  });
  afterAll(() => sim.close());

  it('answers with the exact content type and a {"data":...} body', async () => {
    const r = await raw(sim.cluster('lab-w'), 'GET', '/version');
    expect(r.status).toBe(200);
    expect(r.contentType).toBe('application/json;charset=UTF-8');
    expect(r.json).toHaveProperty('data.version');
  });

  it('gives nextid as a string and rejects a taken vmid with a 400', async () => {
    const c = sim.cluster('lab-w');
    expect((await raw(c, 'GET', '/cluster/nextid')).json!.data).toBe('1300');
    const taken = await raw(c, 'GET', '/cluster/nextid?vmid=100');
    expect(taken.status).toBe(400);
    expect(taken.json!.errors).toEqual({ vmid: 'VM 100 already exists' });
    expect((await raw(c, 'GET', '/cluster/nextid?vmid=5000')).json!.data).toBe('5000');
  });

  it('sorts guests by vmid compared as strings', async () => {
    const r = await raw(sim.cluster('lab-w'), 'GET', '/cluster/resources?type=vm');
    const ids = (r.json!.data as { vmid: number }[]).map((x) => x.vmid);
    expect(ids.indexOf(1000)).toBeLessThan(ids.indexOf(200));
    expect(ids.map(String)).toEqual(ids.map(String).sort());
  });

  it('answers unknown paths and methods with the real 501 and reason phrase', async () => {
    const c = sim.cluster('lab-w');
    const r = await raw(c, 'GET', '/foo');
    expect(r.status).toBe(501);
    expect(r.statusText).toBe("Method 'GET /foo' not implemented");
    const m = await raw(c, 'PUT', '/version');
    expect(m.statusText).toBe("Method 'PUT /version' not implemented");
  });

  it('puts the first line of the error into the reason phrase and the message into the body', async () => {
    const c = sim.cluster('lab-w');
    const r = await raw(c, 'GET', '/nodes/pve1/qemu/99999/status/current');
    expect(r.status).toBe(500);
    expect(r.statusText).toBe("Configuration file 'nodes/pve1/qemu-server/99999.conf' does not exist");
    expect(r.json).toEqual({ data: null, message: "Configuration file 'nodes/pve1/qemu-server/99999.conf' does not exist\n" });
  });

  it('sends booleans as 0/1', async () => {
    const c = sim.cluster('lab-w');
    const r = await raw(c, 'GET', '/cluster/status');
    expect(r.text).not.toMatch(/true|false/);
    const res = await raw(c, 'GET', '/cluster/resources?type=vm');
    expect(res.text).not.toMatch(/true|false/);
  });

  it('accepts form-encoded and JSON bodies', async () => {
    const c = sim.cluster('lab-w');
    const g = c.guests().find((x) => x.status === 'stopped' && !x.template && x.type === 'qemu')!;
    const form = await raw(c, 'POST', `/nodes/${g.node}/qemu/${g.vmid}/snapshot`, { headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'snapname=first' });
    expect(form.status).toBe(200);
    const json = await raw(c, 'POST', `/nodes/${g.node}/qemu/${g.vmid}/status/stop`, { headers: { 'Content-Type': 'application/json' }, body: '{"skiplock":true}' });
    expect(json.status).toBe(200);
    const badJson = await raw(c, 'POST', `/nodes/${g.node}/qemu/${g.vmid}/status/stop`, { headers: { 'Content-Type': 'application/json' }, body: '{' });
    expect(badJson.status).toBe(400);
    await waitFor(() => (c.guest(g.vmid)!.lock === null ? true : undefined));
  });
});
