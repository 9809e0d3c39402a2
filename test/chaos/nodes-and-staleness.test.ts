// Faults 3 and 4 of the chaos run. A node goes offline: Proxmox lists its guests as nameless
// "unknown" stubs, and labdeck must show them unknown with the reason "node offline" (the list,
// the projector's cut, the sync status' node list), then their real state once the node is back.
// A cluster goes down: the `cluster:stale` push must come when the API starts saying stale (not
// after the next, backed-off pass), and a client that connects or catches up with `?since=`
// must be told each cluster's staleness.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../server/simulator/index.js';
import type { Db } from '../../server/db/index.js';
import type { Vm } from '../../contract/vm.js';
import { toProjectorVm } from '../../server/classes/projector-vm.js';
import { adminSocket, api, chaosSimulator } from './harness.js';
import { prepareDatabase, spawnLabdeck, type LabdeckProcess } from '../helpers/labdeck-child.js';
import { waitFor } from '../helpers/wait.js';

describe('chaos: an offline node and a stale cluster', { timeout: 300_000 }, () => {
  let sim: Simulator;
  let dir: string;
  let db: Db;
  let cookie: string;
  let proc: LabdeckProcess;

  beforeAll(async () => {
    sim = await chaosSimulator([{ id: 'lab-a', nodes: 2, guests: 40, seed: 8 }]);
    dir = mkdtempSync(join(tmpdir(), 'labdeck-chaos-nodes-'));
    const dbUrl = join(dir, 'labdeck.db');
    ({ db, cookie } = await prepareDatabase(dbUrl));
    // Quick passes every second, stale after 3 s, and a backoff that spaces failed passes far apart.
    proc = await spawnLabdeck({ dir, sim, databaseUrl: dbUrl, sync: { quickIntervalSeconds: 1, staleAfterSeconds: 3, maxBackoffSeconds: 60 } });
  }, 180_000);
  afterAll(async () => {
    proc?.kill();
    await db?.destroy();
    await sim?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const vms = async () => (await api<{ vms: Vm[] }>(`${proc.url}/api/vms`, cookie)).body.vms;

  it('guests of an offline node read "unknown", reason "node offline", everywhere; back to their real state after', async () => {
    const cluster = sim.cluster('lab-a');
    const node = cluster.nodes[1];
    const onNode = cluster.guests().filter((g) => g.node === node && !g.template);
    expect(onNode.some((g) => g.status === 'running')).toBe(true);
    cluster.setNodeOnline(node, false);
    const offline = await waitFor(async () => {
      const list = (await vms()).filter((v) => v.node === node && !v.template);
      return list.length === onNode.length && list.every((v) => v.status === 'unknown') ? list : undefined;
    }, 15_000, 'every guest of the node to read unknown');
    for (const vm of offline) {
      expect(vm.syncError).toBe('node offline');
      expect(toProjectorVm(vm)).toMatchObject({ status: 'unknown', syncError: 'node offline' });
    }
    // Guests of the other node are untouched.
    expect((await vms()).filter((v) => v.node !== node).every((v) => v.status !== 'unknown' && v.syncError !== 'node offline')).toBe(true);
    const status = (await api(`${proc.url}/api/sync/status`, cookie)).body;
    expect(status.clusters[0].nodes).toEqual(expect.arrayContaining([{ name: node, online: false }, { name: cluster.nodes[0], online: true }]));
    await proc.waitForLog(/Nodes offline/, 5_000, true);

    cluster.setNodeOnline(node, true);
    await waitFor(async () => {
      const list = (await vms()).filter((v) => v.node === node && !v.template);
      return list.every((v) => v.status === cluster.guest(v.vmid)!.status && v.syncError === null);
    }, 15_000, 'the guests to show their real state again');
  });

  it('the stale push comes when the API says stale; connect and ?since= carry each cluster\'s staleness', async () => {
    const cluster = sim.cluster('lab-a');
    const live = adminSocket(proc.url, cookie);
    try {
      // On connect: the cluster's staleness now.
      const first = await waitFor(() => live.events.find((e) => e.event === 'cluster:stale'), 15_000, 'cluster:stale on connect');
      expect(first.msg).toMatchObject({ cluster: 'lab-a', stale: false });
      const { body: before } = await api<{ revision: number }>(`${proc.url}/api/vms`, cookie);

      await cluster.setFault({ mode: 'down' });
      const apiStaleAt = await waitFor(async () => {
        const s = (await api(`${proc.url}/api/sync/status`, cookie)).body;
        return s.clusters[0].stale ? Date.now() : undefined;
      }, 15_000, 'the API to say stale');
      const push = await waitFor(() => live.events.find((e) => e.event === 'cluster:stale' && e.msg.stale === true), 5_000, 'the cluster:stale push');
      // Pushed on time (the chaos run saw 11.6 s late), not after the next backed-off pass.
      expect(Math.abs(push.at - apiStaleAt)).toBeLessThan(1_500);

      // A client that catches up with ?since= learns it too (no VM changed to carry it).
      const since = (await api<{ clusters: Array<{ cluster: string; stale: boolean }> }>(`${proc.url}/api/vms?since=${before.revision}`, cookie)).body;
      expect(since.clusters).toEqual([expect.objectContaining({ cluster: 'lab-a', stale: true })]);

      // The outage clears while this client is away; on reconnecting it is told the cluster is fresh.
      live.socket.disconnect();
      await cluster.setFault({});
      await api(`${proc.url}/api/sync/trigger`, cookie, 'POST', { kind: 'quick' });
      // Recovered: readiness no longer shows the outage's error beside "ok".
      const ready = (await api(`${proc.url}/readyz`, cookie)).body;
      expect(ready.checks.clusters[0]).toMatchObject({ state: 'ok', lastError: null });
      const mark = live.events.length;
      live.socket.connect();
      const fresh = await waitFor(() => live.events.slice(mark).find((e) => e.event === 'cluster:stale'), 15_000, 'cluster:stale false on reconnect');
      expect(fresh.msg).toMatchObject({ cluster: 'lab-a', stale: false });
      const caughtUp = (await api<{ clusters: Array<{ cluster: string; stale: boolean }>; vms: Vm[] }>(`${proc.url}/api/vms?since=${before.revision}`, cookie)).body;
      expect(caughtUp.clusters).toEqual([expect.objectContaining({ cluster: 'lab-a', stale: false })]);
      expect(caughtUp.vms.every((v) => !v.stale)).toBe(true);
    } finally {
      live.close();
    }
  });
});
