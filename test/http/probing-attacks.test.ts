// Attacks that used to work against a configured labdeck, tried again: probing which cluster/vmid
// pairs exist (every VM route, bulk actions, the provisioning picker), flooding the audit log with
// 500-VM bulk requests, reading Proxmox hosts and error texts from /readyz, and reading raw
// Proxmox errors from 502s. Each must now fail.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';
import type { Vm } from '../../contract/vm.js';

/** An answer with the vmid and cluster it named taken out, so two probes can be compared. */
const shape = (r: { status: number; body: any }, vmid: number, cluster?: string) => ({
  status: r.status,
  code: r.body?.error?.code,
  message: String(r.body?.error?.message ?? '').replaceAll(String(vmid), '<vmid>').replaceAll(cluster ?? '\u0000', '<cluster>'),
});

describe('probing, flooding and reading what is not yours', () => {
  let ts: TestServer;
  let admin: string, teacher: string, student: string;
  let mine: Vm, theirs: Vm, template: Vm;
  let classId: number;

  beforeAll(async () => {
    ts = await startTestServer();
    await ts.synced();
    await ts.createUser('root', 'admin');
    await ts.createUser('tess', 'teacher');
    await ts.createUser('sam', 'student');
    [admin, teacher, student] = await Promise.all([ts.login('root'), ts.login('tess'), ts.login('sam')]);
    const vms = (await ts.labdeck.inventory.list()).filter((v) => !v.template).sort((a, b) => a.vmid - b.vmid);
    [mine, theirs] = [vms[0], vms[vms.length - 1]];
    template = (await ts.labdeck.inventory.list()).find((v) => v.template)!;
    expect(template).toBeDefined();
    classId = (await ts.request('POST', '/api/classes', { cookie: teacher, body: { name: 'Probing' } })).body.class.id;
    await ts.grantScope(classId, [{ cluster: 'lab-a', kind: 'range', min: mine.vmid, max: mine.vmid }]);
    await ts.request('POST', `/api/classes/${classId}/students`, { cookie: teacher, body: { username: 'sam' } });
    expect((await ts.request('POST', `/api/classes/${classId}/pool`, { cookie: teacher, body: { vmid: mine.vmid } })).status).toBe(201);
    expect((await ts.request('POST', `/api/classes/${classId}/assignments`, { cookie: teacher, body: { vmid: mine.vmid, username: 'sam' } })).status).toBe(200);
  });
  afterAll(async () => { await ts?.close(); });

  const probes: Array<[string, string, (vmid: number, q: string) => string]> = [
    ['status', 'GET', (id, q) => `/api/vm/${id}/status${q}`],
    ['ip', 'GET', (id, q) => `/api/vm/${id}/ip${q}`],
    ['rdp', 'GET', (id, q) => `/api/vm/${id}/rdp${q}`],
    ['ssh', 'GET', (id, q) => `/api/vm/${id}/ssh${q}`],
    ['history', 'GET', (id, q) => `/api/vm/${id}/history${q}`],
    ['start', 'POST', (id, q) => `/api/vm/${id}/start${q}`],
    ['console', 'POST', (id, q) => `/api/vm/${id}/console${q}`],
    ['revert', 'POST', (id, q) => `/api/vm/${id}/revert${q}`],
  ];

  for (const [name, method, path] of probes) {
    it(`${name}: a student or teacher gets the same answer for someone else's VM and for one that does not exist`, async () => {
      const unknown = 987_654;
      for (const cookie of [student, teacher]) {
        for (const [q, cluster] of [['', undefined], ['?cluster=lab-a', 'lab-a'], ['?cluster=lab-zz', 'lab-zz']] as const) {
          const existing = await ts.request(method, path(theirs.vmid, q), { cookie });
          const missing = await ts.request(method, path(unknown, q), { cookie });
          expect(existing.status).toBe(403);
          expect(shape(missing, unknown, cluster)).toEqual(shape(existing, theirs.vmid, cluster));
        }
      }
      // Admins may see everything, so telling them what does not exist gives nothing away.
      expect((await ts.request(method, path(unknown, ''), { cookie: admin })).status).toBe(404);
    });
  }

  it('the provisioning picker does not tell a teacher which templates exist outside the class scope', async () => {
    const post = (templateVmid: number) => ts.request('POST', `/api/classes/${classId}/provision`, { cookie: teacher, body: { cluster: 'lab-a', templateVmid, count: 1 } });
    const existing = await post(template.vmid);
    const missing = await post(987_654);
    expect(existing.status).toBe(403);
    expect(shape(missing, 987_654)).toEqual(shape(existing, template.vmid));
    expect(existing.body.error.message).toContain(`this class may use: lab-a vmid ${mine.vmid}`);
  });

  it('a 500-VM bulk request from a student writes one denied audit entry with the count, and answers unknown and forbidden VMs alike', async () => {
    const targets = Array.from({ length: 501 }, (_, i) => ({ cluster: 'lab-a', vmid: 100 + i * 3 })).filter((t) => t.vmid !== mine.vmid).slice(0, 500);
    // Among them: VMs that exist (other people's) and many that do not.
    expect(targets.filter((t) => ts.cluster.guest(t.vmid)).length).toBeGreaterThan(3);
    const before = (await ts.request('GET', '/api/audit?limit=200', { cookie: admin })).body.entries.filter((e: any) => e.username === 'sam').length;
    for (let round = 0; round < 3; round++) {
      const r = await ts.request('POST', '/api/vms/actions', { cookie: student, body: { action: 'stop', vms: targets } });
      expect(r.status).toBe(200);
      expect(r.body.results).toHaveLength(500);
      const shapes = new Set(r.body.results.map((x: any) => `${x.httpStatus} ${x.error.code} ${x.error.message.replace(String(x.vmid), '<vmid>')}`));
      expect([...shapes]).toEqual(['403 forbidden you may not stop VM lab-a:<vmid>']);
    }
    const entries = (await ts.request('GET', '/api/audit?limit=200', { cookie: admin })).body.entries.filter((e: any) => e.username === 'sam');
    const fresh = entries.slice(0, entries.length - before);
    expect(fresh).toHaveLength(3);
    for (const e of fresh) expect(e).toMatchObject({ action: 'vm.stop', outcome: 'denied', count: 500, detail: `refused 500 VMs: ${targets.slice(0, 20).map((t) => `lab-a:${t.vmid}`).join(', ')} and 480 more` });
  });

  it('/readyz tells anonymous callers and students only states; admins get the Proxmox error', async () => {
    await ts.cluster.setFault({ mode: 'down' });
    try {
      await ts.labdeck.sync.trigger({ kind: 'quick' }).catch(() => undefined);
      const full = await waitFor(async () => {
        const r = await ts.request('GET', '/readyz', { cookie: admin });
        return r.body.checks.clusters[0].state === 'failing' ? r : null;
      }, 10_000, 'the cluster to fail');
      expect(full.body.checks.clusters[0].lastError).toMatch(/ECONNREFUSED|connect|unreachable/i);
      expect(full.body.checks.database).toHaveProperty('ms');
      for (const cookie of [undefined, student, teacher]) {
        const r = await ts.request('GET', '/readyz', { cookie });
        expect(r.body).toEqual({
          ready: full.body.ready, status: full.body.status,
          checks: { database: { ok: true }, migrations: { ok: true }, clusters: [{ id: 'lab-a', state: 'failing' }] },
        });
        expect(r.text).not.toContain(String(ts.cluster.port));
        expect(r.text).not.toContain('127.0.0.1');
      }

      // The same outage behind a power action: the student is told Proxmox is unreachable, not where it is.
      const s = await ts.request('POST', `/api/vm/${mine.vmid}/reboot`, { cookie: student });
      expect(s.status).toBe(502);
      expect(s.body.error.message).toMatch(/^Proxmox is unreachable right now/);
      expect(s.text).not.toContain(String(ts.cluster.port));
      expect(s.body.error).not.toHaveProperty('proxmox');
      const a = await ts.request('POST', `/api/vm/${mine.vmid}/reboot`, { cookie: admin });
      expect(a.status).toBe(502);
      expect(a.body.error.proxmox).toBeTypeOf('string');
    } finally {
      await ts.cluster.setFault({});
    }
  });

  it('a Proxmox failure answers students and teachers in plain words; only admins see Proxmox\'s text', async () => {
    await ts.cluster.setFault({ errorRate: 1 });
    try {
      for (const cookie of [student, teacher]) {
        const r = await ts.request('POST', `/api/vm/${mine.vmid}/reboot`, { cookie });
        expect(r.status).toBe(502);
        expect(r.body.error).toEqual({ code: 'proxmox_error', message: expect.stringMatching(/^Proxmox could not do this/) });
        expect(r.text).not.toContain('ipcc_send_rec');
        const bulk = await ts.request('POST', '/api/vms/actions', { cookie, body: { action: 'reboot', vms: [{ cluster: 'lab-a', vmid: mine.vmid }] } });
        expect(bulk.body.results[0]).toMatchObject({ httpStatus: 502, error: { code: 'proxmox_error' } });
        expect(bulk.text).not.toContain('ipcc_send_rec');
      }
      const a = await ts.request('POST', `/api/vm/${mine.vmid}/reboot`, { cookie: admin });
      expect(a.status).toBe(502);
      expect(a.body.error.message).toContain('ipcc_send_rec');
    } finally {
      await ts.cluster.setFault({});
    }
  });

  it('a VM whose name carries CR/LF cannot inject directives into the .rdp file; the stored name is clean', async () => {
    const evil = 'ws\r\nalternate shell:s:cmd.exe /c calc\r\nfull address:s:evil.example\u0000\u202e';
    const vmid = ts.cluster.createGuest({ type: 'qemu', name: evil, running: true, ostype: 'win11' });
    const vm = await waitFor(async () => {
      await ts.labdeck.sync.trigger({ kind: 'full' });
      const got = await ts.labdeck.inventory.get('lab-a', vmid);
      return got?.ip ? got : null;
    }, 10_000, 'the new VM with an address');
    expect(vm.name).toBe('ws alternate shell:s:cmd.exe /c calc full address:s:evil.example');
    expect((await ts.request('POST', `/api/classes/${classId}/pool`, { cookie: admin, body: { vmid } })).status).toBe(201);
    expect((await ts.request('POST', `/api/classes/${classId}/assignments`, { cookie: admin, body: { vmid, username: 'sam' } })).status).toBe(200);
    const rdp = await ts.request('GET', `/api/vm/${vmid}/rdp`, { cookie: student });
    expect(rdp.status).toBe(200);
    const lines = rdp.text.split('\r\n');
    expect(lines.filter((l) => l.startsWith('alternate shell:'))).toEqual(['alternate shell:s:']);
    expect(lines.filter((l) => l.startsWith('full address:'))).toEqual([`full address:s:${vm.ip}:3389`]);
    expect(rdp.text.replace(/\r\n/g, '')).not.toMatch(/[\u0000-\u001f\u202e]/);
  });
});
