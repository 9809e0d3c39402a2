// VM reads over real HTTP with two clusters: since (changes and tombstones after a revision),
// filters and sorting, ambiguous vmids, IP/RDP/SSH details.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import type { Vm } from '../../contract/vm.js';

describe('VM reads', () => {
  let ts: TestServer;
  let admin: string;
  beforeAll(async () => {
    ts = await startTestServer({ clusters: [{ id: 'lab-a', guests: 12, seed: 3 }, { id: 'lab-b', guests: 6, seed: 4 }] });
    await ts.synced();
    await ts.createUser('root', 'admin');
    admin = await ts.login('root');
  });
  afterAll(async () => { await ts?.close(); });

  it('since returns exactly the changes after a revision, tombstones included, scoped to the caller', async () => {
    // The truth to compare with: the rows the database holds above a revision.
    const changedAfter = async (revision: number) => {
      const rows = await ts.labdeck.db.selectFrom('vm_inventory').select(['cluster_id', 'vmid', 'deleted']).where('revision', '>', revision).execute();
      return {
        vms: rows.filter((r) => !r.deleted).map((r) => `${r.cluster_id}:${r.vmid}`).sort(),
        removed: rows.filter((r) => r.deleted).map((r) => `${r.cluster_id}:${r.vmid}`).sort(),
      };
    };
    const first = await ts.request('GET', '/api/vms', { cookie: admin });
    const rev = first.body.revision;
    const a = ts.sim.cluster('lab-a');
    const guest = a.guests().find((g) => g.status === 'running' && !g.template)!;
    a.powerOutside(guest.vmid, 'stop');
    const gone = a.guests().find((g) => g.vmid !== guest.vmid)!;
    a.destroyGuest(gone.vmid);
    await ts.labdeck.sync.trigger({ kind: 'full' });
    const since = await ts.request('GET', `/api/vms?since=${rev}`, { cookie: admin });
    const truth = await changedAfter(rev);
    // The sync loop may have noticed other changes too (addresses, load): exactly the rows above rev.
    expect(since.body.vms.map((v: Vm) => v.id).sort()).toEqual(truth.vms);
    expect([...since.body.removed].sort()).toEqual(truth.removed);
    expect(since.body.vms.find((v: Vm) => v.id === `lab-a:${guest.vmid}`)?.status).toBe('stopped');
    expect(since.body.removed).toContain(`lab-a:${gone.vmid}`);
    expect(since.body.vms.every((v: Vm) => v.revision > rev)).toBe(true);
    expect(since.body.revision).toBeGreaterThan(rev);
    // A student sees only their own VMs' changes.
    await ts.createUser('pupil', 'student');
    const pupil = await ts.login('pupil');
    const s = await ts.request('GET', `/api/vms?since=${rev}`, { cookie: pupil });
    expect(s.body).toMatchObject({ vms: [], removed: [] });
    const later = since.body.revision;
    const latest = await ts.request('GET', `/api/vms?since=${later}`, { cookie: admin });
    expect(latest.body.vms.map((v: Vm) => v.id).sort()).toEqual((await changedAfter(later)).vms);
    expect(latest.body.vms.every((v: Vm) => v.revision > later)).toBe(true);
    // A revision this server never gave out (another database) means: start over with everything.
    const future = await ts.request('GET', `/api/vms?since=${latest.body.revision + 1000}`, { cookie: admin });
    expect(future.body).toMatchObject({ revision: latest.body.revision, reset: true, removed: [] });
    expect(future.body.vms).toHaveLength(17);
  });

  it('filters and sorts, and every VM says whether its data is stale and when it was seen', async () => {
    const all = (await ts.request('GET', '/api/vms', { cookie: admin })).body.vms as Vm[];
    expect(all.length).toBe(17);
    expect(all.every((v) => v.stale === false && typeof v.lastSeen === 'number')).toBe(true);
    const b = (await ts.request('GET', '/api/vms?cluster=lab-b', { cookie: admin })).body.vms as Vm[];
    expect(b.length).toBe(6);
    expect(b.every((v) => v.cluster === 'lab-b')).toBe(true);
    const lxc = (await ts.request('GET', '/api/vms?type=lxc', { cookie: admin })).body.vms as Vm[];
    expect(lxc.every((v) => v.type === 'lxc')).toBe(true);
    const byName = (await ts.request('GET', '/api/vms?sort=name&order=desc', { cookie: admin })).body.vms as Vm[];
    const names = byName.map((v) => v.name);
    expect(names).toEqual([...names].sort((x, y) => y.localeCompare(x, undefined, { numeric: true })));
    const q = all[0].name;
    const found = (await ts.request('GET', `/api/vms?q=${encodeURIComponent(q)}`, { cookie: admin })).body.vms as Vm[];
    expect(found.map((v) => v.id)).toContain(all[0].id);
  });

  it('a vmid on two clusters is ambiguous without ?cluster= (409) and clear with it', async () => {
    const inA = new Set((await ts.labdeck.inventory.list({ cluster: 'lab-a' })).map((v) => v.vmid));
    const shared = (await ts.labdeck.inventory.list({ cluster: 'lab-b' })).find((v) => inA.has(v.vmid))!.vmid;
    expect((await ts.labdeck.inventory.findByVmid(shared)).length).toBe(2);
    const amb = await ts.request('GET', `/api/vm/${shared}/status`, { cookie: admin });
    expect(amb.status).toBe(409);
    expect(amb.body.error.message).toMatch(/cluster=/);
    const ok = await ts.request('GET', `/api/vm/${shared}/status?cluster=lab-b`, { cookie: admin });
    expect(ok.status).toBe(200);
    expect(ok.body.id).toBe(`lab-b:${shared}`);
    expect((await ts.request('POST', `/api/vm/${shared}/stop`, { cookie: admin })).status).toBe(409);
  });

  it('IP answers carry the reason when there is none; RDP and SSH give connection details', async () => {
    const vms = await ts.labdeck.inventory.list({ cluster: 'lab-a' });
    const withIp = vms.find((v) => v.ip && v.type === 'qemu')!;
    const withoutIp = vms.find((v) => !v.ip)!;
    const ip = await ts.request('GET', `/api/vm/${withIp.vmid}/ip?cluster=lab-a`, { cookie: admin });
    expect(ip.body).toMatchObject({ ip: withIp.ip, reason: null });
    const none = await ts.request('GET', `/api/vm/${withoutIp.vmid}/ip?cluster=lab-a`, { cookie: admin });
    expect(none.body.ip).toBeNull();
    expect(none.body.reason).toBeTypeOf('string');
    const rdp = await ts.request('GET', `/api/vm/${withIp.vmid}/rdp?cluster=lab-a`, { cookie: admin });
    expect(rdp.headers.get('content-type')).toMatch(/application\/x-rdp/);
    expect(rdp.headers.get('content-disposition')).toMatch(/attachment; filename=".*\.rdp"/);
    expect(rdp.text).toContain(`full address:s:${withIp.ip}:3389`);
    const noRdp = await ts.request('GET', `/api/vm/${withoutIp.vmid}/rdp?cluster=lab-a`, { cookie: admin });
    expect(noRdp.status).toBe(409);
    const ssh = await ts.request('GET', `/api/vm/${withIp.vmid}/ssh?cluster=lab-a`, { cookie: admin });
    expect(ssh.body).toMatchObject({ host: withIp.ip, port: 22, command: `ssh root@${withIp.ip}` });
  });

  it('sync summary counts by cluster and status', async () => {
    const s = await ts.request('GET', '/api/sync/inventory/summary', { cookie: admin });
    expect(s.body.total).toBe(17);
    expect(Object.keys(s.body.byCluster).sort()).toEqual(['lab-a', 'lab-b']);
  });
});
