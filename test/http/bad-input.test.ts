// A table of bad inputs against the real server: each gets the expected 4xx with a JSON error
// (naming the field where there is one) — never a 500, never a stack trace.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

interface Case {
  name: string;
  method: string;
  path: string | ((c: { classId: number }) => string);
  body?: unknown;
  raw?: string;
  headers?: Record<string, string>;
  anonymous?: boolean;
  status: number;
  field?: string;
}

describe('bad input', () => {
  let ts: TestServer;
  let admin: string;
  let classId: number;
  beforeAll(async () => {
    ts = await startTestServer({ clusters: [{ id: 'lab-a', guests: 5 }] });
    await ts.synced();
    await ts.createUser('root', 'admin');
    admin = await ts.login('root');
    classId = (await ts.request('POST', '/api/classes', { cookie: admin, body: { name: 'C' } })).body.class.id;
  });
  afterAll(async () => { await ts?.close(); });

  const cases: Case[] = [
    { name: 'login body not JSON', method: 'POST', path: '/api/auth/login', raw: '{nope', anonymous: true, status: 400, field: 'body' },
    { name: 'login body as text/plain', method: 'POST', path: '/api/auth/login', raw: '{"username":"a","password":"b"}', headers: { 'content-type': 'text/plain' }, anonymous: true, status: 400 },
    { name: 'login without username', method: 'POST', path: '/api/auth/login', body: { password: 'x' }, anonymous: true, status: 400, field: 'username' },
    { name: 'login with empty password', method: 'POST', path: '/api/auth/login', body: { username: 'root', password: '' }, anonymous: true, status: 400, field: 'password' },
    { name: 'login with an unknown field', method: 'POST', path: '/api/auth/login', body: { username: 'a', password: 'b', admin: true }, anonymous: true, status: 400, field: 'admin' },
    { name: 'login with a number as username', method: 'POST', path: '/api/auth/login', body: { username: 5, password: 'b' }, anonymous: true, status: 400, field: 'username' },
    { name: 'login body is an array', method: 'POST', path: '/api/auth/login', body: [1, 2], anonymous: true, status: 400 },
    { name: 'list with unknown status', method: 'GET', path: '/api/vms?status=exploded', status: 400, field: 'status' },
    { name: 'list with negative since', method: 'GET', path: '/api/vms?since=-1', status: 400, field: 'since' },
    { name: 'list with non-numeric class', method: 'GET', path: '/api/vms?class=abc', status: 400, field: 'class' },
    { name: 'list with an unknown parameter', method: 'GET', path: '/api/vms?colour=red', status: 400, field: 'colour' },
    { name: 'list with a bad sort', method: 'GET', path: '/api/vms?sort=password', status: 400, field: 'sort' },
    { name: 'list of a class that does not exist', method: 'GET', path: '/api/vms?class=999', status: 404 },
    { name: 'status of vmid "abc"', method: 'GET', path: '/api/vm/abc/status', status: 400, field: 'vmid' },
    { name: 'status of vmid 99 (below range)', method: 'GET', path: '/api/vm/99/status', status: 400, field: 'vmid' },
    { name: 'status with a malformed cluster', method: 'GET', path: '/api/vm/100/status?cluster=Bad%20One', status: 400, field: 'cluster' },
    { name: 'status of an unknown VM', method: 'GET', path: '/api/vm/424242/status', status: 404 },
    { name: 'status on an unknown cluster', method: 'GET', path: '/api/vm/100/status?cluster=lab-z', status: 404 },
    { name: 'an unknown power action', method: 'POST', path: '/api/vm/100/explode', status: 404 },
    { name: 'an unknown API route', method: 'GET', path: '/api/nothing/here', status: 404 },
    { name: 'a wrong method on a route', method: 'DELETE', path: '/api/vms', status: 404 },
    { name: 'bulk with an unknown action', method: 'POST', path: '/api/vms/actions', body: { action: 'explode', vms: [{ cluster: 'lab-a', vmid: 100 }] }, status: 400, field: 'action' },
    { name: 'bulk with neither vms nor classId', method: 'POST', path: '/api/vms/actions', body: { action: 'start' }, status: 400 },
    { name: 'bulk with an empty selection', method: 'POST', path: '/api/vms/actions', body: { action: 'start', vms: [] }, status: 400, field: 'vms' },
    { name: 'bulk with a string vmid', method: 'POST', path: '/api/vms/actions', body: { action: 'start', vms: [{ cluster: 'lab-a', vmid: '100' }] }, status: 400, field: 'vms.0.vmid' },
    { name: 'class with an empty name', method: 'POST', path: '/api/classes', body: { name: '   ' }, status: 400, field: 'name' },
    { name: 'class with a too long name', method: 'POST', path: '/api/classes', body: { name: 'x'.repeat(101) }, status: 400, field: 'name' },
    { name: 'class id that is not a number', method: 'GET', path: '/api/classes/abc', status: 400, field: 'id' },
    { name: 'class that does not exist', method: 'GET', path: '/api/classes/9999', status: 404 },
    { name: 'pool entry with a string vmid', method: 'POST', path: (c) => `/api/classes/${c.classId}/pool`, body: { vmid: '100' }, status: 400 },
    { name: 'pool entry with both vmid and tag', method: 'POST', path: (c) => `/api/classes/${c.classId}/pool`, body: { vmid: 100, tag: 'x' }, status: 400 },
    { name: 'pool entry of an unknown VM', method: 'POST', path: (c) => `/api/classes/${c.classId}/pool`, body: { vmid: 424242 }, status: 404 },
    { name: 'assignment with userId and username', method: 'POST', path: (c) => `/api/classes/${c.classId}/assignments`, body: { vmid: 100, userId: 1, username: 'x' }, status: 400 },
    { name: 'invite with a negative lifetime', method: 'POST', path: (c) => `/api/classes/${c.classId}/invites`, body: { ttlHours: -1 }, status: 400, field: 'ttlHours' },
    { name: 'invite token too short', method: 'GET', path: '/api/invites/short', status: 400, field: 'token' },
    { name: 'projector token with bad characters', method: 'GET', path: '/api/projector/%3Cscript%3Ealert(1)%3C%2Fscript%3Exxxxxxxx', anonymous: true, status: 400, field: 'token' },
    { name: 'unknown projector token', method: 'GET', path: `/api/projector/${'a'.repeat(43)}`, anonymous: true, status: 404 },
    { name: 'mappings with a string vmid', method: 'POST', path: (c) => `/api/classes/${c.classId}/import-mappings`, body: { alice: ['100'] }, status: 400 },
    { name: 'mappings that are a list', method: 'POST', path: (c) => `/api/classes/${c.classId}/import-mappings`, body: [['alice', 100]], status: 400 },
    { name: 'user with a short password', method: 'POST', path: '/api/users', body: { username: 'newbie', password: 'short', role: 'student' }, status: 400, field: 'password' },
    { name: 'user with an unknown role', method: 'POST', path: '/api/users', body: { username: 'newbie', password: 'long-enough', role: 'god' }, status: 400, field: 'role' },
    { name: 'user name with an @ (reserved for Proxmox users)', method: 'POST', path: '/api/users', body: { username: 'a@pve', password: 'long-enough', role: 'student' }, status: 400, field: 'username' },
    { name: 'duplicate user', method: 'POST', path: '/api/users', body: { username: 'root', password: 'long-enough', role: 'student' }, status: 409 },
    { name: 'audit with limit 0', method: 'GET', path: '/api/audit?limit=0', status: 400, field: 'limit' },
    { name: 'audit with limit 501', method: 'GET', path: '/api/audit?limit=501', status: 400, field: 'limit' },
    { name: 'sync trigger of an unknown cluster', method: 'POST', path: '/api/sync/trigger', body: { cluster: 'lab-z' }, status: 404 },
    { name: 'sync trigger with a bad kind', method: 'POST', path: '/api/sync/trigger', body: { kind: 'slow' }, status: 400, field: 'kind' },
    { name: 'a body over 1 MiB', method: 'POST', path: (c) => `/api/classes/${c.classId}/import-mappings`, raw: JSON.stringify({ x: 'y'.repeat(1_100_000) }), status: 413 },
    { name: 'a POST from another origin', method: 'POST', path: '/api/classes', body: { name: 'x' }, headers: { origin: 'http://evil.example' }, status: 403 },
    { name: 'a POST a browser marks cross-site', method: 'POST', path: '/api/classes', body: { name: 'x' }, headers: { 'sec-fetch-site': 'cross-site' }, status: 403 },
    { name: 'password change with a short new password', method: 'POST', path: '/api/auth/password', body: { currentPassword: 'password-1234', newPassword: 'x' }, status: 400, field: 'newPassword' },
  ];

  for (const c of cases) {
    it(`${c.name} → ${c.status}`, async () => {
      const path = typeof c.path === 'function' ? c.path({ classId }) : c.path;
      const r = await ts.request(c.method, path, { cookie: c.anonymous ? null : admin, body: c.body, raw: c.raw, headers: c.headers });
      expect(r.status, r.text.slice(0, 300)).toBe(c.status);
      expect(r.body?.error?.code).toBeTypeOf('string');
      expect(r.body.error.message).toBeTypeOf('string');
      expect(r.text).not.toMatch(/\n\s+at /);
      if (c.field) expect(r.body.error.field ?? r.body.error.message).toContain(c.field);
    });
  }

  it('a class name with NUL or a lone surrogate is refused; real Unicode is kept', async () => {
    for (const name of ['Net\u0000works', 'Line\nbreak', 'Half \ud83e', '\udc00 tail']) {
      const r = await ts.request('POST', '/api/classes', { cookie: admin, raw: JSON.stringify({ name }) });
      expect(r.status, JSON.stringify(name)).toBe(400);
      expect(r.body.error).toMatchObject({ code: 'bad_request', field: 'name', message: expect.stringMatching(/must be plain text/) });
    }
    const rename = await ts.request('PATCH', `/api/classes/${classId}`, { cookie: admin, raw: JSON.stringify({ name: 'C\u0000' }) });
    expect(rename.status).toBe(400);
    const ok = await ts.request('POST', '/api/classes', { cookie: admin, body: { name: 'Netzwerke 🧪 Ü' } });
    expect(ok.status).toBe(201);
    expect(ok.body.class.name).toBe('Netzwerke 🧪 Ü');
  });

  it('a 500 KB value or key is not echoed back in the 400', async () => {
    const big = 'x'.repeat(500_000);
    const cases = [
      { path: '/api/vms/actions', body: { action: big, vms: [{ cluster: 'lab-a', vmid: 100 }] } },
      { path: '/api/auth/login', body: { username: 'root', password: 'x', [big]: 1 } },
      { path: '/api/classes', body: { name: big } },
      { path: `/api/classes/${classId}/pool`, body: { tag: big, cluster: 'lab-a' } },
    ];
    for (const c of cases) {
      const r = await ts.request('POST', c.path, { cookie: admin, body: c.body });
      expect(r.status, c.path).toBe(400);
      expect(r.text.length, c.path).toBeLessThan(600);
    }
  });

  it('an upload the client gives up on half-way (a cancelled mappings.json import) is no server error', async () => {
    const u = new URL(ts.url);
    const sock = connect(Number(u.port), u.hostname);
    await new Promise((r) => sock.once('connect', r));
    const answered = new Promise<void>((resolve) => sock.once('close', () => resolve()));
    // "100 Continue" says the server has the headers and is reading the body: then the client hangs up.
    const continued = new Promise<void>((resolve) => sock.once('data', () => resolve()));
    sock.write(`POST /api/classes/${classId}/import-mappings HTTP/1.1\r\nHost: ${u.host}\r\nCookie: ${admin}\r\nContent-Type: application/json\r\nContent-Length: 500000\r\nExpect: 100-continue\r\n\r\n`);
    await continued;
    sock.write('{"s1":[');
    sock.destroy();
    await answered;
    const line = await waitFor(async () => (await ts.request('GET', '/metrics')).text.split('\n')
      .find((l) => l.startsWith('labdeck_http_request_duration_seconds_count{') && l.includes('route="/api/classes/:id/import-mappings"')), 5000, 'the aborted request in the metrics');
    expect(line).toContain('status="400"');
    // The server answers as before.
    expect((await ts.request('GET', '/api/auth/me', { cookie: admin })).status).toBe(200);
  });

  it('a POST from our own origin passes the origin check', async () => {
    const r = await ts.request('POST', '/api/classes', { cookie: admin, body: { name: 'Mine' }, headers: { origin: ts.url } });
    expect(r.status).toBe(201);
  });

  it('answers carry security headers', async () => {
    const r = await ts.request('GET', '/api/auth/me', { cookie: admin });
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(r.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(r.headers.get('cache-control')).toBe('no-store');
  });
});
