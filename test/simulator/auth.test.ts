// Authentication as real PVE does it: token and ticket logins, CSRF, the 401 reason phrases with
// empty bodies and their delay, and the 403 privilege errors with /access/permissions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../server/simulator/index.js';
import { passwordClient, raw, startFast, tokenClient } from './helpers.js';

const SECRET = '0b6a3c4e-1f2d-4a5b-8c9d-0e1f2a3b4c5d';

describe('authentication', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startFast({
      clusters: [
        { id: 'lab-a', guests: 6, tokenSecret: SECRET, users: [{ userid: 'alice@pve', password: 'wonderland', groups: ['students', 'class-1'] }, { userid: 'root@pam', password: 'toor' }] },
        { id: 'lab-ro', guests: 6, tokenId: 'monitor@pve!ro', tokenPrivileges: ['VM.Audit', 'Sys.Audit'] },
      ],
    });
  });
  afterAll(() => sim.close());

  it('uses the given token, and a fresh lowercase UUID when none is given', () => {
    expect(sim.cluster('lab-a').tokenSecret).toBe(SECRET);
    expect(sim.cluster('lab-ro').tokenSecret).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  it('answers 401 No ticket without credentials, with an empty body and no content type', async () => {
    const r = await raw(sim.cluster('lab-a'), 'GET', '/version', { token: false });
    expect(r.status).toBe(401);
    expect(r.statusText).toBe('No ticket');
    expect(r.text).toBe('');
    expect(r.contentType).toBeNull();
  });

  it('answers 401 Authentication failed! for a wrong token secret, also through the client', async () => {
    const c = sim.cluster('lab-a');
    const r = await raw(c, 'GET', '/version', { token: false, headers: { Authorization: `PVEAPIToken=${c.tokenId}=00000000-0000-0000-0000-000000000000` } });
    expect([r.status, r.statusText, r.text]).toEqual([401, 'Authentication failed!', '']);
    const bad = tokenClient(c, { tokenSecret: '00000000-0000-0000-0000-000000000000' });
    await expect(bad.version.$get()).rejects.toThrow(/401 Authentication failed!/);
  });

  it('checks the token id too (the server splits on the last "=")', async () => {
    const c = sim.cluster('lab-a');
    const r = await raw(c, 'GET', '/version', { token: false, headers: { Authorization: `PVEAPIToken=root@pam!other=${SECRET}` } });
    expect(r.status).toBe(401);
  });

  it('logs in with a password: ticket and CSRF token, then reads and acts through the client', async () => {
    const c = sim.cluster('lab-a');
    const r = await raw(c, 'POST', '/access/ticket', { token: false, headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'username=alice&realm=pve&password=wonderland' });
    expect(r.status).toBe(200);
    const d = r.json!.data as { username: string; ticket: string; CSRFPreventionToken: string; cap: Record<string, unknown> };
    expect(d.username).toBe('alice@pve');
    expect(d.ticket).toMatch(/^PVE:alice@pve:[0-9A-F]{8}::.+$/);
    expect(d.CSRFPreventionToken).toMatch(/^[0-9A-F]{8}:.+$/);
    expect(d.cap).toHaveProperty('vms');

    const api = passwordClient(c, 'alice@pve', 'wonderland');
    expect((await api.cluster.resources.$get({ type: 'vm' })).length).toBe(6);
    const g = c.guests().find((x) => x.status === 'running')!;
    const upid = await api.nodes.$(g.node)[g.type].$(g.vmid).status.suspend.$post();
    expect(upid).toContain(':alice@pve:');
  });

  it('refuses a wrong password with 401 authentication failure', async () => {
    const c = sim.cluster('lab-a');
    const r = await raw(c, 'POST', '/access/ticket', { token: false, headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'username=alice@pve&password=nope' });
    expect([r.status, r.statusText, r.text]).toEqual([401, 'authentication failure', '']);
    await expect(passwordClient(c, 'alice@pve', 'nope').version.$get()).rejects.toThrow(/Auth .* Failed!/);
  });

  it('needs the CSRF token for writes with a ticket, not for reads', async () => {
    const c = sim.cluster('lab-a');
    const login = await raw(c, 'POST', '/access/ticket', { token: false, headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'username=root@pam&password=toor' });
    const { ticket, CSRFPreventionToken } = login.json!.data as { ticket: string; CSRFPreventionToken: string };
    const cookie = `PVEAuthCookie=${encodeURIComponent(ticket)}`;
    expect((await raw(c, 'GET', '/version', { token: false, headers: { Cookie: cookie } })).status).toBe(200);
    const g = c.guests().find((x) => x.status === 'stopped' && !x.template)!;
    const path = `/nodes/${g.node}/${g.type}/${g.vmid}/snapshot`;
    const form = { 'Content-Type': 'application/x-www-form-urlencoded' };
    const noCsrf = await raw(c, 'POST', path, { token: false, headers: { Cookie: cookie, ...form }, body: 'snapname=s1' });
    expect([noCsrf.status, noCsrf.statusText]).toEqual([401, 'Permission denied - invalid csrf token']);
    const ok = await raw(c, 'POST', path, { token: false, headers: { Cookie: cookie, CSRFPreventionToken, ...form }, body: 'snapname=s1' });
    expect(ok.status).toBe(200);
    const forged = await raw(c, 'GET', '/version', { token: false, headers: { Cookie: `PVEAuthCookie=${ticket.replace(/::.*/, '::AAAA')}` } });
    expect([forged.status, forged.statusText]).toEqual([401, 'Authentication failed!']);
  });

  it('lists users with their groups', async () => {
    const api = tokenClient(sim.cluster('lab-a'));
    const users = await api.access.users.$get({ full: true });
    expect(users.find((u) => u.userid === 'alice@pve')).toMatchObject({ groups: 'students,class-1', enable: 1 });
    expect(await api.access.users.$('alice@pve').$get()).toMatchObject({ groups: ['students', 'class-1'] });
  });

  it('answers 403 Permission check failed for a missing privilege, and lists privileges like PVE', async () => {
    const c = sim.cluster('lab-ro');
    const api = tokenClient(c);
    const g = c.guests().find((x) => x.status === 'stopped' && !x.template)!;
    await expect(api.nodes.$(g.node)[g.type].$(g.vmid).status.start.$post()).rejects.toThrow(
      `403 Permission check failed (/vms/${g.vmid}, VM.PowerMgmt)`,
    );
    const r = await raw(c, 'POST', `/nodes/${g.node}/${g.type}/${g.vmid}/status/start`);
    expect(r.json).toEqual({ data: null, message: `Permission check failed (/vms/${g.vmid}, VM.PowerMgmt)\n` });
    expect(await api.nodes.$(g.node)[g.type].$(g.vmid).status.current.$get()).toHaveProperty('status');
    const perms = (await api.access.permissions.$get()) as Record<string, Record<string, number>>;
    expect(Object.keys(perms['/']).sort()).toEqual(['Sys.Audit', 'VM.Audit']);
    expect(perms['/vms']).toEqual({ 'Sys.Audit': 1, 'VM.Audit': 1 });
    expect(await api.access.permissions.$get({ path: '/vms/100' })).toEqual({ '/vms/100': { 'Sys.Audit': 1, 'VM.Audit': 1 } });
  });

  it('lists effective permissions as get_effective_permissions does: top-level paths, each pool and its members; and the map of another user for a caller with Sys.Audit', async () => {
    const c = sim.cluster('lab-ro');
    const member = c.createGuest({ pool: 'lab-pool', node: c.nodes[0] });
    const perms = (await tokenClient(c).access.permissions.$get()) as Record<string, Record<string, number>>;
    const pooled = c.guests().filter((g) => g.pool);
    const expected = ['/', '/access', '/access/groups', '/nodes', '/pool', '/sdn', '/storage', '/vms', ...pooled.map((g) => `/pool/${g.pool}`), ...pooled.map((g) => `/vms/${g.vmid}`)];
    expect(Object.keys(perms).sort()).toEqual([...new Set(expected)].sort());
    expect(perms['/pool/lab-pool']).toEqual({ 'Sys.Audit': 1, 'VM.Audit': 1 });
    expect(perms).toHaveProperty(`/vms/${member}`);
    // Another user's map: alice has every privilege by default on lab-a (the token may look: Sys.Audit).
    const a = sim.cluster('lab-a');
    const hers = (await tokenClient(a).access.permissions.$get({ userid: 'alice@pve', path: '/pool/x' })) as Record<string, Record<string, number>>;
    expect(hers['/pool/x']['Pool.Allocate']).toBe(1);
    // A user without any privilege has an empty map, as PVE leaves such paths out.
    expect(await tokenClient(a).access.permissions.$get({ userid: 'nobody@pve' })).toEqual({});
  });

  it('lists no guests in cluster/resources for a token without VM.Audit', async () => {
    const s2 = await startFast({ clusters: [{ id: 'blind', guests: 4, tokenPrivileges: ['Sys.Audit'] }] });
    try {
      const api = tokenClient(s2.cluster('blind'));
      expect(await api.cluster.resources.$get({ type: 'vm' })).toEqual([]);
      const g = s2.cluster('blind').guests()[0];
      await expect(api.nodes.$(g.node)[g.type].$(g.vmid).status.current.$get()).rejects.toThrow(`Permission check failed (/vms/${g.vmid}, VM.Audit)`);
    } finally {
      await s2.close();
    }
  });
});

describe('401 delay', () => {
  it('delays every 401 answer by the configured time, and nothing else', async () => {
    const sim = await startFast({ unauthorizedDelayMs: 300, clusters: [{ id: 'slow', guests: 1 }] });
    try {
      const c = sim.cluster('slow');
      let t = Date.now();
      expect((await raw(c, 'GET', '/version', { token: false })).status).toBe(401);
      expect(Date.now() - t).toBeGreaterThanOrEqual(290);
      t = Date.now();
      expect((await raw(c, 'GET', '/version')).status).toBe(200);
      expect(Date.now() - t).toBeLessThan(250);
    } finally {
      await sim.close();
    }
  });
});
