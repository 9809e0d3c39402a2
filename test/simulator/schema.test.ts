// Holds the simulator to the official API schema: the committed subset matches the full schema,
// every simulated response matches its endpoint's `returns`, and bad parameters get PVE's 400.
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proxmoxApi } from 'proxmox-api';
import type { Simulator } from '../../server/simulator/index.js';
import { SCHEMA, matchRoute } from '../../server/simulator/api.js';
import { DEFAULT_FULL_SCHEMA, SUBSET_FILE, extractSubset } from '../../server/simulator/schema/extract.js';
import { SERVED_ENDPOINTS } from '../../server/simulator/schema/endpoints.js';
import { checkReturns, verifyParams } from '../../server/simulator/schema/validate.js';
import { raw, startFast, testFetch, waitTask } from './helpers.js';

describe('schema subset', () => {
  it('covers every served endpoint', () => {
    for (const e of SERVED_ENDPOINTS) expect(SCHEMA[e.path]?.[e.method], `${e.method} ${e.path}`).toBeDefined();
  });

  it.runIf(existsSync(DEFAULT_FULL_SCHEMA))('is identical to what the full schema says for those paths', () => {
    const full = JSON.parse(readFileSync(DEFAULT_FULL_SCHEMA, 'utf8'));
    expect(JSON.parse(readFileSync(SUBSET_FILE, 'utf8'))).toEqual(extractSubset(full));
  });
});

describe('parameter verification', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startFast({ clusters: [{ id: 'lab-s', guests: 10 }] });
  });
  afterAll(() => sim.close());
  const form = { 'Content-Type': 'application/x-www-form-urlencoded' };

  it('rejects what the schema rejects with 400 Parameter verification failed. and per-field errors', async () => {
    const c = sim.cluster('lab-s');
    const g = c.guests().find((x) => x.type === 'qemu' && !x.template)!;
    const base = `/nodes/${g.node}/qemu/${g.vmid}`;
    const cases: [string, string, string | undefined, Record<string, string>][] = [
      ['GET', '/nodes/pve1/qemu/abc/status/current', undefined, { vmid: "type check ('integer') failed - got 'abc'" }],
      // The pve-vmid format is checked before the minimum, as in PVE::JSONSchema.
      ['GET', '/nodes/pve1/qemu/42/status/current', undefined, { vmid: 'invalid format - value does not look like a valid VM ID\n' }],
      ['GET', '/nodes/pve1/qemu/1000000000/status/current', undefined, { vmid: 'invalid format - value does not look like a valid VM ID\n' }],
      ['POST', `${base}/status/shutdown`, 'timeout=-5', { timeout: 'value must have a minimum value of 0' }],
      ['GET', '/cluster/resources?type=banana', undefined, { type: "value 'banana' does not have a value in the enumeration 'vm, storage, node, sdn'" }],
      ['GET', '/version?verbose=1', undefined, { verbose: 'property is not defined in schema and the schema does not allow additional properties' }],
      ['POST', `${base}/clone`, 'name=x', { newid: 'property is missing and it is not optional' }],
      ['POST', `${base}/clone`, 'newid=900&full=maybe', { full: "type check ('boolean') failed - got 'maybe'" }],
      ['POST', `${base}/snapshot`, 'snapname=9lives', { snapname: "invalid format - invalid configuration ID '9lives'\n" }],
      ['POST', `${base}/snapshot`, `snapname=${'a'.repeat(41)}`, { snapname: 'value may only be 40 characters long' }],
      ['GET', '/nodes/bad_node!/qemu', undefined, { node: 'invalid format - value does not look like a valid node name\n' }],
    ];
    for (const [method, path, body, errors] of cases) {
      const r = await raw(c, method, path, { headers: body ? form : {}, body });
      expect([r.status, r.statusText], `${method} ${path}`).toEqual([400, 'Parameter verification failed.']);
      expect(r.json, `${method} ${path}`).toEqual({ data: null, message: 'Parameter verification failed.\n', errors });
    }
  });

  it('checks `requires` and types like PVE::JSONSchema', () => {
    const schema = { additionalProperties: 0, properties: { path: { type: 'string', optional: 1, requires: 'privs' }, privs: { type: 'string', optional: 1 } } };
    expect(verifyParams(schema, { path: '/' })).toEqual({ privs: "missing property - 'path' requires this property" });
    expect(verifyParams({ properties: { n: { type: 'number' } } }, { n: '1.5e3' })).toBeNull();
    expect(verifyParams({ properties: { b: { type: 'boolean' } } }, { b: 'on' })).toBeNull();
  });
});

describe('responses match the returns schema', () => {
  let sim: Simulator;
  const seen: { method: string; path: string; body: string }[] = [];
  beforeAll(async () => {
    sim = await startFast({ ipDelayMs: 0, clusters: [{ id: 'lab-r', guests: 40, seed: 21, users: [{ userid: 'alice@pve', password: 'pw', groups: ['students'] }] }] });
  });
  afterAll(() => sim.close());

  it('validates every 200 answer of a tour over all served endpoints', async () => {
    const c = sim.cluster('lab-r');
    const fetch = testFetch((method, url, status, body) => {
      if (status === 200) seen.push({ method, path: new URL(url).pathname.replace('/api2/json', ''), body });
    });
    const api = proxmoxApi({ host: c.host, port: c.port, schema: 'http', tokenID: c.tokenId, tokenSecret: c.tokenSecret, fetch: fetch as never });
    await api.version.$get();
    await api.cluster.status.$get();
    await api.cluster.resources.$get();
    await api.cluster.resources.$get({ type: 'vm' });
    await api.cluster.nextid.$get();
    await api.nodes.$get();
    await api.access.users.$get({ full: true });
    await api.access.users.$('alice@pve').$get();
    await api.access.permissions.$get();
    await api.access.ticket.$get();
    await proxmoxApi({ host: c.host, port: c.port, schema: 'http', username: 'alice@pve', password: 'pw', fetch: fetch as never }).version.$get();
    for (const kind of ['qemu', 'lxc'] as const) {
      const running = c.guests().find((g) => g.type === kind && g.status === 'running' && (kind === 'lxc' || g.agent))!;
      const tpl = c.guests().find((g) => g.type === kind && g.template) ?? c.guests().find((g) => g.type === kind && g.status === 'stopped')!;
      const node = api.nodes.$(running.node);
      await node[kind].$get();
      const g = node[kind].$(running.vmid);
      await g.status.current.$get();
      await g.config.$get();
      await g.snapshot.$get();
      if (kind === 'qemu') await node.qemu.$(running.vmid).agent['network-get-interfaces'].$get();
      else await node.lxc.$(running.vmid).interfaces.$get();
      // Consoles: the proxy call, then vncwebsocket as a plain GET (the upgrade is in console.test.ts).
      const proxy = kind === 'qemu' ? await node.qemu.$(running.vmid).vncproxy.$post({ websocket: true }) : await node.lxc.$(running.vmid).termproxy.$post();
      await g.vncwebsocket.$get({ port: proxy.port, vncticket: proxy.ticket });
      const actions = kind === 'qemu' ? (['suspend', 'resume', 'reset', 'reboot', 'shutdown', 'start', 'stop'] as const) : (['suspend', 'resume', 'reboot', 'shutdown', 'start', 'stop'] as const);
      for (const a of actions) await waitTask(api, running.node, await (g.status as unknown as Record<string, { $post: () => Promise<string> }>)[a].$post());
      await waitTask(api, running.node, await g.snapshot.$post({ snapname: 'snap1' }));
      await g.snapshot.$get();
      await waitTask(api, running.node, await g.snapshot.$('snap1').rollback.$post());
      const newid = Number(await api.cluster.nextid.$get());
      await waitTask(api, tpl.node, await api.nodes.$(tpl.node)[kind].$(tpl.vmid).clone.$post({ newid }));
      const copy = api.nodes.$(tpl.node)[kind].$(newid);
      await copy.config.$put({ tags: 'labdeck;class-1', description: 'made by a test' });
      if (kind === 'qemu') await waitTask(api, tpl.node, await api.nodes.$(tpl.node).qemu.$(newid).config.$post({ tags: 'labdeck' }) as string);
      await waitTask(api, tpl.node, await copy.$delete({ purge: true }));
    }
    // Running and finished entries both (a task still running when the list is read).
    const busy = c.guests().find((g) => g.type === 'qemu' && g.status === 'running')!;
    const upid = await api.nodes.$(busy.node).qemu.$(busy.vmid).status.reboot.$post();
    await api.cluster.tasks.$get();
    await waitTask(api, busy.node, upid);

    const covered = new Set<string>();
    const problems: string[] = [];
    for (const r of seen) {
      const route = matchRoute(r.method, r.path);
      expect(route, `${r.method} ${r.path}`).not.toBeNull();
      covered.add(`${r.method} ${route!.template}`);
      const returns = SCHEMA[route!.template][r.method].returns!;
      const data = (JSON.parse(r.body) as { data: unknown }).data;
      problems.push(...checkReturns(returns, data).map((p) => `${r.method} ${r.path}: ${p}`));
    }
    expect(problems).toEqual([]);
    const missing = SERVED_ENDPOINTS.map((e) => `${e.method} ${e.path}`).filter((k) => !covered.has(k));
    expect(missing).toEqual([]);
  });

  it('the checker itself catches a wrong shape', () => {
    const returns = SCHEMA['/nodes/{node}/tasks/{upid}/status'].GET.returns!;
    expect(checkReturns(returns, { upid: 'x', status: 'done' }).length).toBeGreaterThan(0);
    expect(checkReturns(SCHEMA['/cluster/nextid'].GET.returns!, '100')).toEqual([]);
  });
});
