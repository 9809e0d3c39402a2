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
import { api, chaosSimulator, until } from './harness.js';
import { prepareDatabase, spawnLabdeck, type LabdeckProcess } from '../helpers/labdeck-child.js';

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
    await until('the audit entry to name its task', async () => ((await auditOf(target.vmid, 'vm.start'))?.task ? true : undefined));
    a.kill();
    await a.exited;
    expect((await auditOf(target.vmid, 'vm.start'))?.outcome).toBe('pending');
    expect(await db.selectFrom('vm_inventory').select('status').where('vmid', '=', target.vmid).executeTakeFirstOrThrow()).toEqual({ status: 'starting' });

    const b = await start();
    const t0 = Date.now();
    // Proxmox finishes the task ~2.5 s after it began; labdeck must follow within seconds, not
    // after the 90 s pending hold (30 s leaves room for a loaded machine).
    await until('the VM to show running', async () => ((await statusIn(b, target.vmid)) === 'running' ? true : undefined), 30_000);
    expect(Date.now() - t0).toBeLessThan(30_000);
    const audit = await until('the audit entry to be settled', async () => {
      const e = await auditOf(target.vmid, 'vm.start');
      return e && e.outcome !== 'pending' ? e : undefined;
    });
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
    await until('the audit entry to name its task', async () => ((await auditOf(target.vmid, 'vm.shutdown'))?.task ? true : undefined));
    // A pass under way when the signal comes (cut off by the shutdown, not a cluster failure).
    void api(`${a.url}/api/sync/trigger`, cookie, 'POST', { kind: 'full' }).catch(() => undefined);
    a.child.kill('SIGTERM');
    // Readiness keeps answering 503 during the grace period instead of the listener vanishing.
    const during = await until('/readyz to answer 503 while shutting down', async () => {
      const r = await fetch(`${a.url}/readyz`).catch(() => null);
      return r?.status === 503 ? (await r.json()) as { status: string } : undefined;
    }, 3_000, 50);
    expect(during.status).toBe('shutting_down');
    expect((await a.exited).code).toBe(0);
    const audit = await auditOf(target.vmid, 'vm.shutdown');
    expect(audit).toMatchObject({ outcome: 'pending', detail: 'outcome unknown: labdeck stopped' });
    expect(a.output()).not.toMatch(/UND_ERR_DESTROYED|task not finished/);
    const state = await db.selectFrom('cluster_state').selectAll().where('cluster_id', '=', 'lab-a').executeTakeFirstOrThrow();
    expect(state.consecutive_failures).toBe(0);

    const b = await start();
    await until('the VM to show stopped', async () => ((await statusIn(b, target.vmid)) === 'stopped' ? true : undefined), 30_000);
    const settled = await until('the audit entry to be settled', async () => {
      const e = await auditOf(target.vmid, 'vm.shutdown');
      return e && e.outcome !== 'pending' ? e : undefined;
    });
    expect(settled.outcome).toBe('ok');
    expect(cluster.guest(target.vmid)!.status).toBe('stopped');
    b.child.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);
  });
});
