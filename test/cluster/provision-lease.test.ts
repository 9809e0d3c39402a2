// Two labdeck processes on one PostgreSQL database and one simulator: a provisioning job running
// on one instance is not resumed by another that starts meanwhile (its owner's lease is renewed),
// and once its owner is killed (kill -9) the other takes it over when the lease runs out and
// finishes it, with exactly as many clones in Proxmox as the job asked for. Likewise a power action
// another instance is following is left to it, while one an instance let go of when it stopped is
// settled by another from the task's outcome. Needs TEST_DATABASE_URL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../server/simulator/index.js';
import type { Db } from '../../server/db/index.js';
import { waitFor } from '../helpers/wait.js';
import { api, chaosSimulator } from '../chaos/harness.js';
import type { LabdeckProcess } from '../helpers/labdeck-child.js';
import { instanceRig, type InstanceRig } from './rig.js';

const pgUrl = process.env.TEST_DATABASE_URL;
if (!pgUrl) console.warn('TEST_DATABASE_URL is not set: the provisioning lease test between instances is skipped.');

const RENEW_MS = 300;
const COUNT = 4;

describe.skipIf(!pgUrl)('provisioning jobs among instances on one PostgreSQL database', () => {
  let rig: InstanceRig;
  let sim: Simulator;
  let db: Db;
  let cookie: string;
  const procs: LabdeckProcess[] = [];

  const spawn = (name: string, instance: Record<string, unknown> = {}) => rig.spawn(name, {
    instance: { recoverySweepMs: 300, ...instance },
    config: { provision: { perNode: 1, pollMs: 100, retryBaseMs: 50, leaseRenewMs: RENEW_MS } },
  }).then((p) => { procs.push(p); return p; });
  const jobRow = (id: number) => db.selectFrom('provision_jobs').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const vmRows = (id: number) => db.selectFrom('provision_vms').selectAll().where('job_id', '=', id).orderBy('idx').execute();

  beforeAll(async () => {
    // Clones slow enough that the job is still running when the second instance has started.
    rig = await instanceRig(await chaosSimulator([{ id: 'lab-a', guests: 6, seed: 7 }], { taskDurationMs: { start: 200, stop: 200, reboot: 15000, clone: 2500, linkedClone: 2500, config: 20, snapshot: 50, destroy: 50 } }), 'lease');
    ({ sim, db, cookie } = rig);
  }, 60_000);

  afterAll(async () => {
    await rig?.close();
  }, 30_000);

  it('a running job stays with its live owner; after kill -9 the other instance takes it over and makes no VM twice', async () => {
    const a = await spawn('inst-a');
    const cl = sim.cluster('lab-a');
    const tpl = cl.createGuest({ template: true, node: cl.nodes[0], type: 'qemu', name: 'tpl-lease', tags: ['labdeck-template'] });
    const created = await api(`${a.url}/api/classes`, cookie, 'POST', { name: 'lease-class' });
    expect(created.status).toBe(201);
    const classId = created.body.class.id as number;
    expect((await api(`${a.url}/api/classes/${classId}/scope`, cookie, 'PUT', { rules: [{ kind: 'cluster', cluster: 'lab-a' }] })).status).toBe(200);
    // The template reaches the inventory with the next pass.
    const started = await waitFor(async () => {
      const r = await api(`${a.url}/api/classes/${classId}/provision`, cookie, 'POST', { cluster: 'lab-a', templateVmid: tpl, count: COUNT, namePrefix: 'lease', baseline: false });
      return r.status === 202 ? r.body.job : null;
    }, 15_000, 'the job accepted');
    const jobId = started.id as number;
    await waitFor(async () => (await jobRow(jobId)).owner === 'inst-a' && (await vmRows(jobId)).some((v) => v.state === 'cloning'), 10_000, 'inst-a cloning');

    // B starts while A runs the job: it looks at unfinished jobs at start and every 2 renewals, and leaves this one alone.
    const b = await spawn('inst-b');
    const bReadyAt = Date.now();
    await waitFor(async () => {
      const j = await jobRow(jobId);
      expect(j.owner).toBe('inst-a');
      // Renewed well after B's start: B saw a live lease for more than one lease length.
      return (j.renewed_at ?? 0) > bReadyAt + 4 * RENEW_MS;
    }, 10_000, 'inst-a renewing while inst-b runs');
    const midway = await jobRow(jobId);
    expect(midway.state).toBe('running');
    expect(b.output()).not.toMatch(/resuming a provisioning job/);
    expect((await vmRows(jobId)).filter((v) => v.state === 'done').length).toBeLessThan(COUNT);

    // A dies mid-job: B takes it over once the lease is 3 renewals old, and finishes it.
    a.kill();
    await a.exited;
    const killedAt = Date.now();
    await waitFor(async () => (await jobRow(jobId)).owner === 'inst-b', 10_000, 'inst-b took the job over');
    expect(Date.now() - killedAt).toBeLessThan(3 * RENEW_MS + 2 * RENEW_MS + 3000);
    await b.waitForLog(/resuming a provisioning job/, 5000, true);
    const end = await waitFor(async () => {
      const j = await jobRow(jobId);
      return j.state === 'running' || j.state === 'queued' ? null : j;
    }, 30_000, 'the job ended');
    expect(end.state).toBe('done');
    const vms = await vmRows(jobId);
    expect(vms.map((v) => v.state)).toEqual(Array(COUNT).fill('done'));
    expect(new Set(vms.map((v) => v.vmid)).size).toBe(COUNT);
    // Exactly one clone per VM in Proxmox: none made twice, none left behind.
    const clones = cl.guests().filter((g) => !g.template && g.name.startsWith('lease-'));
    expect(clones.map((g) => g.vmid).sort()).toEqual(vms.map((v) => v.vmid).sort());
  }, 60_000);

  it('a power action another instance follows is left to it, also by one that starts meanwhile; one let go of at a clean stop is settled by another', async () => {
    const entry = (id: number) => db.selectFrom('audit_log').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    const entryOf = async (vmid: number) => (await db.selectFrom('audit_log').selectAll().where('action', '=', 'vm.reboot').where('vmid', '=', vmid).orderBy('id', 'desc').executeTakeFirst())!.id;
    const others = () => procs.filter((p) => p !== e && p !== g && p.child.exitCode === null && p.child.signalCode === null);
    const takenUp = (p: LabdeckProcess, id: number) => p.output().split('\n').some((l) => l.includes('Taking up a power action left open') && l.includes(`"audit":${id},`));
    const [e, g] = await Promise.all([spawn('inst-e'), spawn('inst-g')]);
    const running = sim.cluster('lab-a').guests().filter((x) => !x.template && x.status === 'running' && !x.name.startsWith('lease-'));
    const [followed, abandoned] = running;
    // Reboots of 15 s: each answers while its instance still follows the task.
    const [r1, r2] = await Promise.all([
      api(`${e.url}/api/vm/${followed.vmid}/reboot?cluster=lab-a`, cookie, 'POST'),
      api(`${g.url}/api/vm/${abandoned.vmid}/reboot?cluster=lab-a`, cookie, 'POST'),
    ]);
    expect([r1.status, r2.status]).toEqual([202, 202]);
    const followedId = await entryOf(followed.vmid);
    const abandonedId = await entryOf(abandoned.vmid);
    // inst-g stops cleanly while its task runs: its entry stays pending, marked as let go.
    g.child.kill('SIGTERM');
    await g.exited;
    expect((await entry(abandonedId)).outcome).toBe('pending');
    expect((await entry(abandonedId)).detail).toBe('outcome unknown: labdeck stopped');
    // An instance starting now finds inst-e's entry pending and leaves it: inst-e follows it.
    const h = await spawn('inst-h');
    expect((await entry(followedId)).outcome).toBe('pending');
    // The others (sweeping every 300 ms) take it up and settle it from the task's real outcome.
    await waitFor(async () => (await entry(abandonedId)).outcome === 'ok', 25_000, 'the let-go entry settled');
    await waitFor(() => others().some((p) => takenUp(p, abandonedId)), 5000, 'another instance took the let-go entry up');
    // inst-e settles its own once the task ends; nobody else took it up meanwhile (inst-h neither at its start).
    await waitFor(async () => (await entry(followedId)).outcome === 'ok', 25_000, 'inst-e settled its entry');
    expect(others()).toContain(h);
    expect(others().filter((p) => takenUp(p, followedId)).map((p) => p.url)).toEqual([]);
  }, 60_000);
});
