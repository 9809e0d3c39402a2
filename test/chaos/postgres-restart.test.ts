// Fault 1 of the chaos run: PostgreSQL restarts under labdeck. A real server restart would break
// every other suite sharing this PostgreSQL, so the test does to its own database what a restart
// does to labdeck: it terminates labdeck's backends (57P01, what the chaos run's restart produced),
// refuses new connections for a while (ALLOW_CONNECTIONS false), terminates again, then lets them
// in. labdeck must stay up, say it is not ready while the database is away, keep answering reads
// from memory, and store what Proxmox changed meanwhile once the database is back: whole, every
// row as Proxmox has it, revisions unique.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../server/simulator/index.js';
import { api, chaosSimulator } from './harness.js';
import { prepareDatabase, spawnLabdeck, type LabdeckProcess } from '../helpers/labdeck-child.js';
import { waitFor } from '../helpers/wait.js';

const admin = process.env.TEST_DATABASE_URL;

describe.skipIf(!admin)('chaos: PostgreSQL goes away and comes back', { timeout: 300_000 }, () => {
  let sim: Simulator;
  let dir: string;
  let proc: LabdeckProcess;
  let cookie: string;
  let control: pg.Client;
  const name = `labdeck_chaos_${randomBytes(5).toString('hex')}`;
  let url: string;

  beforeAll(async () => {
    sim = await chaosSimulator([{ id: 'lab-a', guests: 80, seed: 9 }]);
    dir = mkdtempSync(join(tmpdir(), 'labdeck-chaos-pg-'));
    control = new pg.Client({ connectionString: admin });
    await control.connect();
    await control.query(`CREATE DATABASE ${name}`);
    const u = new URL(admin!);
    u.pathname = `/${name}`;
    url = u.toString();
    const prepared = await prepareDatabase(url);
    cookie = prepared.cookie;
    await prepared.db.destroy();
    proc = await spawnLabdeck({ dir, sim, databaseUrl: url, sync: { quickIntervalSeconds: 0.5 } });
  }, 180_000);
  afterAll(async () => {
    proc?.kill();
    await proc?.exited;
    await control?.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`).catch(() => undefined);
    await control?.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
    await control?.end();
    await sim?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Ends every backend of this test's own database (never another database's). */
  const terminate = () => control.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);

  it('rides out terminated connections and a refusing database: alive, not ready, reads from memory, nothing lost', async () => {
    const before = (await api<{ vms: unknown[] }>(`${proc.url}/api/vms`, cookie)).body.vms.length;
    expect(before).toBe(sim.cluster('lab-a').guests().length);
    const cluster = sim.cluster('lab-a');
    const changed = cluster.guests().filter((g) => !g.template).slice(0, 12);

    // The "restart": connections cut, new ones refused, cut again.
    await control.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
    await terminate();
    await proc.waitForLog(/Database unavailable|Database connection lost/, 10_000, true);
    for (const g of changed) cluster.powerOutside(g.vmid, g.status === 'running' ? 'stop' : 'start');
    const notReady = await waitFor(async () => {
      const r = await api(`${proc.url}/readyz`, cookie);
      return r.status === 503 ? r.body : undefined;
    }, 15_000, '/readyz to say the database is away');
    expect(notReady.checks.database.ok).toBe(false);
    await terminate();
    // Passes meet the refusing database (and are not counted against the cluster).
    await proc.waitForLog(/sync not stored: database error/, 15_000, true);
    expect(proc.child.exitCode).toBeNull();
    // Reads keep coming from memory, for a user signed in before.
    const during = await api<{ vms: unknown[] }>(`${proc.url}/api/vms`, cookie);
    expect(during.status).toBe(200);
    expect(during.body.vms.length).toBe(before);
    const status = (await api(`${proc.url}/api/sync/status`, cookie)).body;
    expect(status.clusters[0]).toMatchObject({ consecutiveFailures: 0, health: 'healthy' });

    await control.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
    await waitFor(async () => (await api(`${proc.url}/readyz`, cookie)).status === 200, 30_000, '/readyz 200 again');
    expect(proc.child.exitCode).toBeNull();
    expect(proc.output()).not.toMatch(/Unhandled 'error' event/);

    // The passes that failed were redone: the database holds every guest as Proxmox has it.
    const check = new pg.Client({ connectionString: url });
    await check.connect();
    try {
      const rows = await waitFor(async () => {
        const r = await check.query('SELECT vmid, status, revision FROM vm_inventory WHERE deleted = 0');
        const ok = changed.every((g) => r.rows.find((x) => x.vmid === g.vmid)?.status === cluster.guest(g.vmid)!.status);
        return ok ? r.rows : undefined;
      }, 20_000, 'the outage\'s changes to be stored');
      expect(rows.length).toBe(before);
      for (const g of cluster.guests()) expect(rows.find((x) => x.vmid === g.vmid)?.status).toBe(g.status);
      const revisions = rows.map((r) => Number(r.revision));
      expect(new Set(revisions).size).toBe(revisions.length);
      const counter = await check.query('SELECT value FROM revision_counter WHERE id = 1');
      expect(Math.max(...revisions)).toBeLessThanOrEqual(Number(counter.rows[0].value));
    } finally {
      await check.end();
    }
    const reads = (await api<{ vms: Array<{ vmid: number; status: string }> }>(`${proc.url}/api/vms`, cookie)).body.vms;
    for (const g of changed) expect(reads.find((v) => v.vmid === g.vmid)?.status).toBe(cluster.guest(g.vmid)!.status);
  });
});
