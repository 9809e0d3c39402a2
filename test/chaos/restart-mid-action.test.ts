// Fault 2 of the chaos run: labdeck killed (-9) during a start, and stopped (SIGTERM) during a
// shutdown. The next process must settle the audit entries from the Proxmox tasks' real outcome
// and show the VMs' real state within seconds, not after the 90 s pending hold; the SIGTERM must
// record "outcome unknown: labdeck stopped" (not a failure made up by closed sockets), keep
// /readyz answering 503 while it winds down, and not count the cut-off pass against the cluster.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../server/simulator/index.js';
import type { Db } from '../../server/db/index.js';
import { api, chaosSimulator } from './harness.js';
import { prepareDatabase, spawnLabdeck, type LabdeckProcess } from '../helpers/labdeck-child.js';
import { waitFor } from '../helpers/wait.js';

describe('chaos: a restart in the middle of a power action', { timeout: 300_000 }, () => {
  let sim: Simulator;
  let dir: string;
  let db: Db;
  let cookie: string;
  let dbUrl: string;
  const procs: LabdeckProcess[] = [];

  beforeAll(async () => {
    // Tasks take 2.5 s: long enough to kill labdeck while one runs.
    sim = await chaosSimulator([{ id: 'lab-a', guests: 30, seed: 5 }], { taskDurationMs: { start: 2_500, shutdown: 2_500, stop: 300, reboot: 300 } });
    dir = mkdtempSync(join(tmpdir(), 'labdeck-chaos-restart-'));
    dbUrl = join(dir, 'labdeck.db');
    ({ db, cookie } = await prepareDatabase(dbUrl));
  }, 180_000);
  afterAll(async () => {
    for (const p of procs) p.kill();
    await db?.destroy();
    await sim?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const start = async () => {
    const p = await spawnLabdeck({ dir, sim, databaseUrl: dbUrl, sync: { quickIntervalSeconds: 30, fullIntervalSeconds: 3600 } });
    procs.push(p);
    return p;
  };
  const auditOf = (vmid: number, action: string) => db.selectFrom('audit_log').selectAll()
    .where('vmid', '=', vmid).where('action', '=', action).orderBy('id', 'desc').executeTakeFirst();
  const statusIn = async (p: LabdeckProcess, vmid: number) =>
    (await api<{ vms: Array<{ vmid: number; status: string }> }>(`${p.url}/api/vms`, cookie)).body.vms.find((v) => v.vmid === vmid)?.status;

  it('kill -9 during a start: after the restart the VM shows running at once and the audit entry is settled ok', async () => {
    const a = await start();
    const cluster = sim.cluster('lab-a');
    const target = cluster.guests().find((g) => g.status === 'stopped' && !g.template && g.type === 'qemu')!;
    const res = await api(`${a.url}/api/vm/${target.vmid}/start?cluster=lab-a`, cookie, 'POST');
    expect(res.status).toBe(202);
    // The task's UPID is on the audit entry before the kill.
    await waitFor(async () => (await auditOf(target.vmid, 'vm.start'))?.task, 15_000, 'the audit entry to name its task');
    a.kill();
    await a.exited;
    expect((await auditOf(target.vmid, 'vm.start'))?.outcome).toBe('pending');
    expect(await db.selectFrom('vm_inventory').select('status').where('vmid', '=', target.vmid).executeTakeFirstOrThrow()).toEqual({ status: 'starting' });

    const b = await start();
    const t0 = Date.now();
    // Proxmox finishes the task ~2.5 s after it began; labdeck must follow within seconds, not
    // after the 90 s pending hold (30 s leaves room for a loaded machine).
    await waitFor(async () => (await statusIn(b, target.vmid)) === 'running', 30_000, 'the VM to show running');
    expect(Date.now() - t0).toBeLessThan(30_000);
    const audit = await waitFor(async () => {
      const e = await auditOf(target.vmid, 'vm.start');
      return e && e.outcome !== 'pending' ? e : undefined;
    }, 15_000, 'the audit entry to be settled');
    expect(audit).toMatchObject({ outcome: 'ok' });
    expect(audit.detail).toContain(audit.task!);
    await b.waitForLog(/Settled what the previous run left open/, 5_000, true);
    b.child.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);
  });

  it('SIGTERM during a shutdown: "outcome unknown", /readyz 503 while winding down, no cluster failure; the restart settles it', async () => {
    const a = await start();
    const cluster = sim.cluster('lab-a');
    const target = cluster.guests().find((g) => g.status === 'running' && !g.template && g.type === 'qemu')!;
    const res = await api(`${a.url}/api/vm/${target.vmid}/shutdown?cluster=lab-a`, cookie, 'POST');
    expect(res.status).toBe(202);
    await waitFor(async () => (await auditOf(target.vmid, 'vm.shutdown'))?.task, 15_000, 'the audit entry to name its task');
    // A pass under way when the signal comes (cut off by the shutdown, not a cluster failure).
    void api(`${a.url}/api/sync/trigger`, cookie, 'POST', { kind: 'full' }).catch(() => undefined);
    a.child.kill('SIGTERM');
    // Readiness keeps answering 503 during the grace period instead of the listener vanishing.
    const during = await waitFor(async () => {
      const r = await fetch(`${a.url}/readyz`).catch(() => null);
      return r?.status === 503 ? (await r.json()) as { status: string } : undefined;
    }, 3_000, '/readyz to answer 503 while shutting down');
    expect(during.status).toBe('shutting_down');
    expect((await a.exited).code).toBe(0);
    const audit = await auditOf(target.vmid, 'vm.shutdown');
    expect(audit).toMatchObject({ outcome: 'pending', detail: 'outcome unknown: labdeck stopped' });
    expect(a.output()).not.toMatch(/UND_ERR_DESTROYED|task not finished/);
    const state = await db.selectFrom('cluster_state').selectAll().where('cluster_id', '=', 'lab-a').executeTakeFirstOrThrow();
    expect(state.consecutive_failures).toBe(0);

    const b = await start();
    await waitFor(async () => (await statusIn(b, target.vmid)) === 'stopped', 30_000, 'the VM to show stopped');
    const settled = await waitFor(async () => {
      const e = await auditOf(target.vmid, 'vm.shutdown');
      return e && e.outcome !== 'pending' ? e : undefined;
    }, 15_000, 'the audit entry to be settled');
    expect(settled.outcome).toBe('ok');
    expect(cluster.guest(target.vmid)!.status).toBe('stopped');
    b.child.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);
  });
});
