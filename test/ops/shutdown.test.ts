// SIGTERM against a real labdeck process (server/main.ts as a child): during a sync pass and
// during a power action, nothing is lost and the process exits within 10 seconds.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../server/simulator/index.js';
import type { Db } from '../../server/db/index.js';
import { waitFor } from '../helpers/wait.js';
import { prepareDatabase, spawnLabdeck, type LabdeckProcess } from '../helpers/labdeck-child.js';

// Each test starts a labdeck child process (tsx) and lets it shut down: seconds each, more on a busy machine.
describe('graceful shutdown of the labdeck process', { timeout: 60_000 }, () => {
  let sim: Simulator;
  let dir: string;
  let db: Db;
  let cookie: string;
  let proc: LabdeckProcess | null = null;
  /** labdeck on the test's SQLite file, quick passes off (a pass runs when the test triggers one). */
  const start = () => spawnLabdeck({ dir, sim, databaseUrl: join(dir, 'labdeck.db'), sync: { quickIntervalSeconds: 3600 } });

  beforeAll(async () => {
    sim = await startSimulator({
      clusters: [{ id: 'lab-a', nodes: 1, guests: 20, seed: 3, tokenSecret: randomUUID() }],
      pvestatdIntervalMs: 0, unauthorizedDelayMs: 0, ipDelayMs: 0, activity: false,
      taskDurationMs: { start: 3_000, stop: 3_000 },
    });
    dir = mkdtempSync(join(tmpdir(), 'labdeck-shutdown-'));
    ({ db, cookie } = await prepareDatabase(join(dir, 'labdeck.db')));
  });
  afterEach(async () => {
    proc?.kill();
    proc = null;
    await sim.cluster('lab-a').setFault({});
  });
  afterAll(async () => {
    await db?.destroy();
    await sim?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('SIGTERM during a sync pass: the pass finishes and is stored, the process exits in time', async () => {
    proc = await start();
    const cluster = sim.cluster('lab-a');
    const target = cluster.guests().find((g) => g.status === 'stopped' && !g.template)!;
    cluster.powerOutside(target.vmid, 'start');
    await cluster.setFault({ latencyMs: 1_500 });
    cluster.resetStats();
    const runsBefore = (await db.selectFrom('sync_runs').select('id').execute()).length;
    const trigger = fetch(`${proc.url}/api/sync/trigger`, {
      method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'full' }),
    }).then(async (r) => ({ status: r.status, body: await r.json() as { finished: boolean } }), (err: Error) => ({ status: 0, error: err.message }));
    // The signal comes once the pass has asked Proxmox for the guest list (a slow answer).
    await waitFor(() => (cluster.stats().byPath['/cluster/resources'] ?? 0) > 0, 20_000);
    const sentAt = Date.now();
    proc.child.kill('SIGTERM');
    const { code, at } = await proc.exited;
    expect(code, proc.output()).toBe(0);
    expect(at - sentAt).toBeLessThan(10_000);
    expect(proc.output()).toMatch(/Shutdown complete/);
    // The request under way got its answer, and the pass it started was stored.
    expect(await trigger).toMatchObject({ status: 200, body: { finished: true } });
    const row = await db.selectFrom('vm_inventory').select(['status']).where('cluster_id', '=', 'lab-a').where('vmid', '=', target.vmid).executeTakeFirstOrThrow();
    expect(row.status).toBe('running');
    expect((await db.selectFrom('sync_runs').select('id').execute()).length).toBeGreaterThan(runsBefore);
  });

  it('SIGTERM during a power action: the action reaches Proxmox and is recorded, the caller gets an answer', async () => {
    proc = await start();
    const cluster = sim.cluster('lab-a');
    const target = cluster.guests().find((g) => g.status === 'stopped' && !g.template)!;
    cluster.resetStats();
    const action = fetch(`${proc.url}/api/vm/${target.vmid}/start?cluster=lab-a`, { method: 'POST', headers: { cookie } })
      .then((r) => r.status, () => 0);
    // The signal comes once labdeck has sent the start to Proxmox (the task then runs 3 s).
    await waitFor(() => Object.keys(cluster.stats().byPath).some((p) => p.endsWith(`/${target.vmid}/status/start`)), 20_000);
    const sentAt = Date.now();
    proc.child.kill('SIGTERM');
    const { code, at } = await proc.exited;
    expect(code, proc.output()).toBe(0);
    expect(at - sentAt).toBeLessThan(10_000);
    expect([200, 202]).toContain(await action);
    // Proxmox got the start (its task runs on), and labdeck's database says so.
    await waitFor(() => cluster.guest(target.vmid)!.status === 'running', 10_000);
    expect(cluster.guest(target.vmid)!.status).toBe('running');
    const row = await db.selectFrom('vm_inventory').select(['status']).where('cluster_id', '=', 'lab-a').where('vmid', '=', target.vmid).executeTakeFirstOrThrow();
    expect(['starting', 'running']).toContain(row.status);
    const audit = await db.selectFrom('audit_log').select(['action', 'outcome']).where('vmid', '=', target.vmid).execute();
    expect(audit.length).toBeGreaterThan(0);
  });

  it('a second labdeck start after the shutdown finds everything and is ready again', async () => {
    proc = await start();
    const ready = await (await fetch(`${proc.url}/readyz`)).json() as { checks: { clusters: Array<{ state: string }> } };
    expect(ready.checks.clusters[0].state).toBe('ok');
    proc.child.kill('SIGINT');
    expect((await proc.exited).code).toBe(0);
  });
});
