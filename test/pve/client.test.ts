// The Proxmox client against the simulator over real HTTP(S): TLS per cluster, timeouts, typed
// errors, writes never sent twice, ticket login with groups.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { startSimulator, type Simulator } from '../../server/simulator/index.js';
import { createPveClient } from '../../server/pve/client.js';
import { PveError } from '../../server/pve/errors.js';
import { parseFileConfig, type ClusterConfig } from '../../server/config.js';

function configFor(sim: Simulator, id: string, over: Record<string, unknown> = {}): ClusterConfig {
  const c = sim.cluster(id);
  return parseFileConfig({ clusters: [{ id, url: c.url, tokenId: c.tokenId, tokenSecret: c.tokenSecret, ...over }] }).clusters[0];
}

describe('PVE client over HTTPS', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({
      clusters: [{ id: 'tls', guests: 5, users: [{ userid: 'alice@pve', password: 'pw-alice', groups: ['teachers'] }] }],
      tls: true, unauthorizedDelayMs: 0, pvestatdIntervalMs: 0, taskDurationMs: { start: 50 },
    });
  });
  afterAll(async () => sim?.close());

  it('works with verifyTls:false for that cluster only, and refuses a self-signed certificate otherwise', async () => {
    const loose = createPveClient(configFor(sim, 'tls', { verifyTls: false }));
    const strict = createPveClient(configFor(sim, 'tls', { verifyTls: true }));
    expect((await loose.resources()).length).toBe(5);
    await expect(strict.resources()).rejects.toMatchObject({ name: 'PveError', status: 0, kind: 'network' });
    // The live signals' reads have a connection of their own: the same rule holds there.
    const node = sim.cluster('tls').guests()[0].node;
    expect(Array.isArray((await loose.tasks()).tasks)).toBe(true);
    expect((await loose.nodeGuests(node, 'qemu')).length).toBe(sim.cluster('tls').guests().filter((g) => g.node === node && g.type === 'qemu').length);
    await expect(strict.tasks()).rejects.toMatchObject({ name: 'PveError', status: 0, kind: 'network' });
    await expect(strict.nodeGuests(node, 'qemu')).rejects.toMatchObject({ name: 'PveError', status: 0, kind: 'network' });
    expect(process.env.NODE_TLS_REJECT_UNAUTHORIZED).toBeUndefined();
    await loose.close();
    await strict.close();
  });

  it('checks Proxmox credentials by ticket and reads the groups', async () => {
    const client = createPveClient(configFor(sim, 'tls', { verifyTls: false }));
    expect(await client.verifyLogin('alice', 'pw-alice', 'pve')).toEqual({ userid: 'alice@pve', groups: ['teachers'] });
    expect(await client.verifyLogin('alice', 'wrong', 'pve')).toBeNull();
    await client.close();
  });

  it('starts a guest with one POST and follows its task', async () => {
    const client = createPveClient(configFor(sim, 'tls', { verifyTls: false }));
    const stopped = sim.cluster('tls').guests().find((g) => g.status === 'stopped' && !g.template)!;
    const upid = await client.power(stopped.node, stopped.type, stopped.vmid, 'start');
    expect(upid).toMatch(/^UPID:/);
    const task = await waitFor(async () => {
      const t = await client.taskStatus(stopped.node, upid);
      return t.status === 'running' ? null : t;
    }, 3000, 'the start task to end');
    expect(task).toEqual({ status: 'stopped', exitstatus: 'OK' });
    expect((await client.statusCurrent(stopped.node, stopped.type, stopped.vmid)).status).toBe('running');
    await client.close();
  });
});

describe('PVE client failures', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({ clusters: [{ id: 'f', guests: 4 }], unauthorizedDelayMs: 0, pvestatdIntervalMs: 0 });
  });
  afterAll(async () => sim?.close());

  it('gives typed errors with the status and reason phrase', async () => {
    const client = createPveClient(configFor(sim, 'f'));
    const err = await client.statusCurrent('pve1', 'qemu', 9999).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PveError);
    expect(err).toMatchObject({ cluster: 'f', status: 500 });
    expect((err as PveError).reason).toMatch(/does not exist/);
    await sim.cluster('f').setFault({ tokenRevoked: true });
    await expect(client.resources()).rejects.toMatchObject({ status: 401 });
    await sim.cluster('f').setFault({});
    await client.close();
  });

  it('times out on a hanging cluster and never re-sends a POST', async () => {
    const c = sim.cluster('f');
    const client = createPveClient(configFor(sim, 'f', { timeoutMs: 300 }));
    const g = c.guest(c.createGuest({ running: false, name: 'hang-target' }))!;
    await c.setFault({ mode: 'hang' });
    c.resetStats();
    const t0 = Date.now();
    await expect(client.resources()).rejects.toMatchObject({ kind: 'timeout' });
    expect(Date.now() - t0).toBeLessThan(1500);
    await expect(client.power(g.node, g.type, g.vmid, 'start')).rejects.toMatchObject({ kind: 'timeout' });
    const posts = Object.entries(c.stats().byPath).filter(([p]) => p.includes('/status/start'));
    expect(posts.reduce((a, [, n]) => a + n, 0)).toBe(1);
    expect(c.stats().byPath['/cluster/resources']).toBe(1);
    await c.setFault({ mode: 'down' });
    await expect(client.resources()).rejects.toMatchObject({ kind: 'network', status: 0 });
    await c.setFault({});
    expect((await client.resources()).length).toBe(5);
    await client.close();
  });

  it('refuses an identical write while the first is still in flight', async () => {
    const c = sim.cluster('f');
    const client = createPveClient(configFor(sim, 'f', { timeoutMs: 2000 }));
    const g = c.guest(c.createGuest({ running: false, name: 'twice' }))!;
    await c.setFault({ latencyMs: 200 });
    const [a, b] = await Promise.allSettled([client.power(g.node, g.type, g.vmid, 'start'), client.power(g.node, g.type, g.vmid, 'start')]);
    await c.setFault({});
    expect(a.status).toBe('fulfilled');
    expect(b).toMatchObject({ status: 'rejected', reason: { kind: 'refused' } });
    expect(client.latency().count).toBeGreaterThan(0);
    await client.close();
  });
});

describe('PVE client, reads compared with the last answer', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({ clusters: [{ id: 'c', guests: 6 }], unauthorizedDelayMs: 0, pvestatdIntervalMs: 0, taskDurationMs: { start: 30, stop: 30 } });
  });
  afterAll(async () => sim?.close());

  it('says when the snapshot and the task list are unchanged, and never mistakes a changed answer for the last one', async () => {
    const c = sim.cluster('c');
    const client = createPveClient(configFor(sim, 'c'));
    const guest = c.guests().find((g) => !g.template && g.status === 'stopped')!;
    const statusOf = async () => (await client.resourceSnapshot()).rows.find((r) => r.vmid === guest.vmid)?.status;
    // Changed and unchanged answers in turn, so each buffer is read into after holding either kind.
    for (const action of ['start', 'stop', 'start', 'stop'] as const) {
      const before = await client.resourceSnapshot();
      expect((await client.resourceSnapshot()).unchanged).toBe(true);
      const tasksBefore = await client.tasks();
      expect((await client.tasks()).unchanged).toBe(true);
      c.powerOutside(guest.vmid, action);
      c.refreshNow();
      const after = await client.resourceSnapshot();
      expect(after.unchanged).toBe(false);
      expect(await statusOf()).toBe(action === 'start' ? 'running' : 'stopped');
      expect(before.rows.find((r) => r.vmid === guest.vmid)?.status).toBe(action === 'start' ? 'stopped' : 'running');
      const upid = c.powerOutside(guest.vmid, action === 'start' ? 'stop' : 'start', 'ui')!;
      const withTask = await client.tasks();
      expect(withTask.unchanged).toBe(false);
      expect(withTask.tasks.map((t) => t.upid)).toContain(upid);
      expect(tasksBefore.tasks.map((t) => t.upid)).not.toContain(upid);
      await c.taskDone(upid);
      c.powerOutside(guest.vmid, action);
    }
    // Reads asked at once are answered one after the other, each compared with the one before.
    const together = await Promise.all([client.resourceSnapshot(), client.resourceSnapshot(), client.resourceSnapshot()]);
    expect(together.map((s) => s.unchanged).slice(1)).toEqual([true, true]);
    expect(together[2].rows).toEqual(together[0].rows);
    await client.close();
  });
});
