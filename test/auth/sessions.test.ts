// Sign-in, cookies and revocation over real HTTP: sign-out ends all of a user's sessions, so do a
// password change and disabling; unknown user and wrong password look the same; throttling.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connect } from 'socket.io-client';
import { cookieFrom, startTestServer, type TestServer } from '../helpers/server.js';

describe('sessions', () => {
  let ts: TestServer;
  let admin: string;
  beforeAll(async () => {
    ts = await startTestServer({

      clusters: [{ id: 'lab-a', guests: 5, users: [{ userid: 'alice@pve', password: 'pve-secret', groups: ['teachers'] }, { userid: 'bob@pve', password: 'pve-secret', groups: ['nobody'] },
        { userid: 'zoe@pve', password: 'pve-secret', groups: ['lab-staff'] }],
        login: { enabled: true, realm: 'pve', groupRoles: { teachers: 'teacher', admins: 'admin', 'lab-staff': 'student' } } }],
      config: { auth: { trustProxy: true, sessionTtlHours: 12 } },
      start: { throttle: { perAccountAddress: 3, perAddress: 1000, windowMs: 60_000 } },
    });
    await ts.createUser('root', 'admin');
    admin = await ts.login('root');
  });
  afterAll(async () => { await ts?.close(); });

  it('sets an HttpOnly, SameSite=Lax cookie with a lifetime; Secure only over HTTPS (trusted proxy)', async () => {
    await ts.createUser('carol', 'teacher');
    const plain = await ts.request('POST', '/api/auth/login', { body: { username: 'carol', password: 'password-1234' } });
    const c = plain.headers.getSetCookie().find((x) => x.startsWith('labdeck_session='))!;
    expect(c).toMatch(/HttpOnly/);
    expect(c).toMatch(/SameSite=Lax/);
    expect(c).toMatch(/Max-Age=43200/);
    expect(c).not.toMatch(/Secure/);
    const https = await ts.request('POST', '/api/auth/login', { body: { username: 'carol', password: 'password-1234' }, headers: { 'x-forwarded-proto': 'https' } });
    expect(https.headers.getSetCookie().find((x) => x.startsWith('labdeck_session='))).toMatch(/Secure/);
    expect(cookieFrom(https.headers)).not.toBe(cookieFrom(plain.headers));
  });

  it('unknown user and wrong password get the same answer', async () => {
    const a = await ts.request('POST', '/api/auth/login', { body: { username: 'nobody-here', password: 'x' } });
    const b = await ts.request('POST', '/api/auth/login', { body: { username: 'root', password: 'wrong' } });
    expect(a.status).toBe(401);
    expect(b.status).toBe(401);
    expect(a.text).toBe(b.text);
  });

  it('signing out ends this and every other session of that user', async () => {
    await ts.createUser('dave', 'student');
    const one = await ts.login('dave');
    const two = await ts.login('dave');
    const revoked: number[] = [];
    ts.labdeck.accessFeed.on('session:revoked', (e) => revoked.push(e.userId));
    expect((await ts.request('GET', '/api/auth/me', { cookie: two })).status).toBe(200);
    const out = await ts.request('POST', '/api/auth/logout', { cookie: one });
    expect(out.status).toBe(204);
    expect(out.headers.getSetCookie().join()).toMatch(/labdeck_session=;/);
    expect((await ts.request('GET', '/api/auth/me', { cookie: one })).status).toBe(401);
    expect((await ts.request('GET', '/api/auth/me', { cookie: two })).status).toBe(401);
    expect(revoked).toContain((await ts.labdeck.users.getByUsername('dave'))!.id);
    expect((await ts.request('GET', '/api/auth/me', { cookie: await ts.login('dave') })).status).toBe(200);
  });

  it('a password change ends the other sessions and keeps this one', async () => {
    await ts.createUser('erin', 'student');
    const here = await ts.login('erin');
    const elsewhere = await ts.login('erin');
    const wrong = await ts.request('POST', '/api/auth/password', { cookie: here, body: { currentPassword: 'nope', newPassword: 'brand-new-pass' } });
    expect(wrong.status).toBe(403);
    const r = await ts.request('POST', '/api/auth/password', { cookie: here, body: { currentPassword: 'password-1234', newPassword: 'brand-new-pass' } });
    expect(r.status).toBe(204);
    const renewed = cookieFrom(r.headers)!;
    expect((await ts.request('GET', '/api/auth/me', { cookie: renewed })).status).toBe(200);
    expect((await ts.request('GET', '/api/auth/me', { cookie: here })).status).toBe(401);
    expect((await ts.request('GET', '/api/auth/me', { cookie: elsewhere })).status).toBe(401);
    expect((await ts.request('POST', '/api/auth/login', { body: { username: 'erin', password: 'password-1234' } })).status).toBe(401);
    expect(await ts.login('erin', 'brand-new-pass')).toBeTruthy();
  });

  it('disabling a user ends their sessions and refuses sign-in like a wrong password', async () => {
    const u = await ts.createUser('frank', 'student');
    const s = await ts.login('frank');
    const r = await ts.request('PATCH', `/api/users/${u.id}`, { cookie: admin, body: { disabled: true } });
    expect(r.status).toBe(200);
    expect((await ts.request('GET', '/api/vms', { cookie: s })).status).toBe(401);
    const again = await ts.request('POST', '/api/auth/login', { body: { username: 'frank', password: 'password-1234' } });
    expect(again.status).toBe(401);
    expect(again.body.error.message).toBe('wrong username or password');
  });

  it('a tampered or foreign cookie is no session', async () => {
    const good = await ts.login('root');
    const bad = good.slice(0, -4) + (good.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    expect((await ts.request('GET', '/api/auth/me', { cookie: bad })).status).toBe(401);
    expect((await ts.request('GET', '/api/auth/me', { cookie: 'labdeck_session=garbage' })).status).toBe(401);
  });

  it('throttles failed sign-ins per account, even with the right password afterwards', async () => {
    await ts.createUser('gina', 'student');
    for (let i = 0; i < 3; i++) expect((await ts.request('POST', '/api/auth/login', { body: { username: 'gina', password: 'bad' } })).status).toBe(401);
    const blocked = await ts.request('POST', '/api/auth/login', { body: { username: 'gina', password: 'password-1234' } });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await ts.request('POST', '/api/auth/login', { body: { username: 'root', password: 'password-1234' } })).status).toBe(200);
  });

  it('signs in with Proxmox credentials where the cluster allows it; groups give the role', async () => {
    const r = await ts.request('POST', '/api/auth/login', { body: { username: 'alice', password: 'pve-secret', cluster: 'lab-a' } });
    expect(r.status).toBe(200);
    expect(r.body.user).toMatchObject({ username: 'alice@pve', role: 'teacher' });
    const wrong = await ts.request('POST', '/api/auth/login', { body: { username: 'alice', password: 'nope', cluster: 'lab-a' } });
    expect(wrong.status).toBe(401);
    const noRole = await ts.request('POST', '/api/auth/login', { body: { username: 'bob', password: 'pve-secret', cluster: 'lab-a' } });
    expect(noRole.status).toBe(403);
    const unknownCluster = await ts.request('POST', '/api/auth/login', { body: { username: 'alice', password: 'pve-secret', cluster: 'lab-z' } });
    expect(unknownCluster.status).toBe(403);
  });

  it('tells the sign-in page which clusters take Proxmox credentials (no session needed)', async () => {
    const r = await ts.request('GET', '/api/auth/methods');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ local: true, proxmox: [{ cluster: 'lab-a', name: 'lab-a', realm: 'pve' }], demo: null });
  });

  it('a role change from a Proxmox sign-in ends the other sessions and closes their sockets at once', async () => {
    const pveLogin = async () => {
      const r = await ts.request('POST', '/api/auth/login', { body: { username: 'zoe', password: 'pve-secret', cluster: 'lab-a' } });
      expect(r.status).toBe(200);
      return { cookie: cookieFrom(r.headers)!, role: r.body.user.role as string };
    };
    const first = await pveLogin();
    expect(first.role).toBe('student');
    const socket = connect(ts.url, { path: '/socket.io', transports: ['websocket'], reconnection: false, forceNew: true, extraHeaders: { cookie: first.cookie } });
    try {
      await new Promise<void>((resolve, reject) => { socket.once('connect', () => resolve()); socket.once('connect_error', reject); });
      const closed = new Promise<string>((resolve) => socket.once('disconnect', (reason) => resolve(reason)));
      // The Proxmox admin moves the group up: the next sign-in carries the new role.
      ts.labdeck.config.clusters[0].login!.groupRoles['lab-staff'] = 'teacher';
      const t0 = Date.now();
      const second = await pveLogin();
      expect(second.role).toBe('teacher');
      expect(await closed).toBe('io server disconnect');
      expect(Date.now() - t0).toBeLessThan(5000);
      expect((await ts.request('GET', '/api/auth/me', { cookie: first.cookie })).status).toBe(401);
      expect((await ts.request('GET', '/api/auth/me', { cookie: second.cookie })).body.user.role).toBe('teacher');
      const audit = await ts.request('GET', '/api/audit?limit=20', { cookie: admin });
      expect(JSON.stringify(audit.body)).toMatch(/student → teacher/);
      // Signing in again with unchanged groups ends nothing.
      const third = await pveLogin();
      expect((await ts.request('GET', '/api/auth/me', { cookie: second.cookie })).status).toBe(200);
      expect(third.role).toBe('teacher');
    } finally {
      socket.close();
    }
  });
});
