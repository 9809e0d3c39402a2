// The Host header as an attacker sends it. Before publicUrl, labdeck built invite and projector
// links from whatever Host a request named (a link to the attacker's site, handed out by the
// teacher) and answered any name (DNS rebinding: a page on evil.example whose name resolves to
// labdeck). With publicUrl and allowedHosts in the config, other names are refused with 421 on
// HTTP, socket.io and the console socket, links always use publicUrl, and the origin check
// accepts the public origin. Without them, labdeck behaves as before (demo mode, localhost).
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connect } from 'socket.io-client';
import WebSocket from 'ws';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { hostAllowed, hostPolicy } from '../../server/hosts.js';

const PUBLIC = 'https://labdeck.example.edu';

/** One request with a Host header of our choosing (fetch does not let a caller set it). */
function raw(base: string, method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<{ status: number; body: any }> {
  const u = new URL(base);
  const text = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, method, path, headers: { ...headers, ...(text ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) } : {}) } }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { data += d; });
      res.on('end', () => {
        let parsed: unknown;
        try { parsed = JSON.parse(data); } catch { parsed = data; }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.on('error', reject);
    req.end(text);
  });
}

const handshake = (url: string, headers: Record<string, string>) => new Promise<boolean>((resolve) => {
  const s = connect(url, { path: '/socket.io', transports: ['websocket'], reconnection: false, forceNew: true, extraHeaders: headers });
  s.once('connect', () => { s.disconnect(); resolve(true); });
  s.once('connect_error', () => { s.disconnect(); resolve(false); });
});

describe('with publicUrl and allowedHosts', () => {
  let ts: TestServer;
  let cookie: string;
  let classId: number;
  beforeAll(async () => {
    ts = await startTestServer({ clusters: [{ id: 'lab-a', guests: 3 }], config: { publicUrl: `${PUBLIC}/`, allowedHosts: ['labdeck', 'labdeck.lan:8443'] } });
    await ts.createUser('tess', 'teacher');
    cookie = await ts.login('tess');
    classId = (await ts.request('POST', '/api/classes', { cookie, body: { name: 'Hosts' } })).body.class.id;
  });
  afterAll(async () => { await ts?.close(); });

  it('refuses a request naming another host (DNS rebinding), on pages and the API, with a clear 421', async () => {
    for (const path of ['/', '/api/auth/me', '/api/vms']) {
      const r = await raw(ts.url, 'GET', path, { host: 'evil.example', cookie });
      expect(r.status).toBe(421);
      expect(r.body.error.message).toBe(`this labdeck does not answer for host "evil.example": use ${PUBLIC} (publicUrl and allowedHosts in the config)`);
    }
    // A port the list does not give is another host too.
    expect((await raw(ts.url, 'GET', '/api/auth/me', { host: 'labdeck.lan:9999' })).status).toBe(421);
    // A long Host is not echoed back whole.
    const long = await raw(ts.url, 'GET', '/api/auth/me', { host: `${'a'.repeat(5000)}.example` });
    expect(long.status).toBe(421);
    expect(JSON.stringify(long.body).length).toBeLessThan(400);
  });

  it('answers the public name, the listed names, loopback and the probes', async () => {
    for (const host of ['labdeck.example.edu', 'LABDECK.example.edu:443', 'labdeck', 'labdeck:8080', 'labdeck.lan:8443', 'localhost:1234', '127.0.0.1']) {
      expect((await raw(ts.url, 'GET', '/api/auth/me', { host, cookie })).status, host).toBe(200);
    }
    // A monitor asks by whatever name it knows the machine by.
    expect((await raw(ts.url, 'GET', '/healthz', { host: '10.1.2.3:8080' })).status).toBe(200);
  });

  it('behind a trusted proxy the forwarded host is checked as well', async () => {
    const proxied = await startTestServer({ clusters: [{ id: 'lab-a', guests: 1 }], config: { publicUrl: PUBLIC, auth: { trustProxy: true } } });
    try {
      expect((await raw(proxied.url, 'GET', '/api/auth/me', { host: 'labdeck.example.edu', 'x-forwarded-host': 'evil.example' })).status).toBe(421);
      expect((await raw(proxied.url, 'GET', '/api/auth/me', { host: 'upstream:8080', 'x-forwarded-host': 'labdeck.example.edu' })).status).toBe(401);
    } finally {
      await proxied.close();
    }
  });

  it('invite and projector links point at publicUrl, whatever Host the teacher\'s request named', async () => {
    const invite = await raw(ts.url, 'POST', `/api/classes/${classId}/invites`, { host: 'labdeck:8080', cookie }, {});
    expect(invite.status).toBe(201);
    expect(invite.body.url).toBe(`${PUBLIC}/invite/${invite.body.token}`);
    const proj = await ts.request('POST', `/api/classes/${classId}/projector-links`, { cookie, body: {} });
    expect(proj.body.url).toBe(`${PUBLIC}/projector/${proj.body.token}`);
    const list = await raw(ts.url, 'GET', `/api/classes/${classId}/invites`, { host: 'labdeck', cookie });
    for (const i of list.body.invites) expect(i.url).toMatch(new RegExp(`^${PUBLIC}/invite/`));
    const links = await ts.request('GET', `/api/classes/${classId}/projector-links`, { cookie });
    for (const l of links.body.links) expect(l.url).toMatch(new RegExp(`^${PUBLIC}/projector/`));
  });

  it('the origin check takes the public origin and refuses others', async () => {
    // A TLS proxy in front (no trustProxy): the browser's Origin is the public URL, the Host ours.
    const ok = await ts.request('POST', '/api/classes', { cookie, body: { name: 'Via proxy' }, headers: { origin: PUBLIC } });
    expect(ok.status).toBe(201);
    const evil = await ts.request('POST', '/api/classes', { cookie, body: { name: 'Evil' }, headers: { origin: 'https://evil.example' } });
    expect(evil.status).toBe(403);
    const lookalike = await ts.request('POST', '/api/classes', { cookie, body: { name: 'Evil' }, headers: { origin: 'http://labdeck.example.edu' } });
    expect(lookalike.status).toBe(403);
  });

  it('socket.io and the console socket refuse another host too', async () => {
    expect(await handshake(ts.url, { cookie, host: 'evil.example' })).toBe(false);
    expect(await handshake(ts.url, { cookie, host: 'labdeck.example.edu', origin: PUBLIC })).toBe(true);
    expect(await handshake(ts.url, { cookie })).toBe(true);
    const refused = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${ts.url.replace('http', 'ws')}/api/console/socket?token=${'a'.repeat(43)}`, { headers: { host: 'evil.example', origin: 'http://evil.example', cookie } });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => { ws.close(); resolve(101); });
      ws.on('error', () => resolve(-1));
    });
    expect(refused).toBe(421);
  });
});

describe('the host policy (pure)', () => {
  it('lets the CLI reach the one address labdeck listens on (HOST), not every address', () => {
    const p = hostPolicy({ publicUrl: PUBLIC, allowedHosts: [], host: '10.0.0.5' });
    expect(hostAllowed(p, '10.0.0.5:8080')).toBe(true);
    expect(hostAllowed(p, '10.0.0.6:8080')).toBe(false);
    expect(hostAllowed(hostPolicy({ publicUrl: PUBLIC, host: '0.0.0.0' }), '0.0.0.0:8080')).toBe(false);
    expect(hostAllowed(hostPolicy({ publicUrl: PUBLIC, host: 'fd00::5' }), '[fd00::5]:8080')).toBe(true);
    // Nothing configured: every host, as before.
    expect(hostAllowed(hostPolicy({ host: '10.0.0.5' }), 'anything.example')).toBe(true);
  });
});

describe('without publicUrl (demo mode, a first try on localhost)', () => {
  let ts: TestServer;
  afterAll(async () => { await ts?.close(); });

  it('answers any host and builds links from the request, as before', async () => {
    ts = await startTestServer({ clusters: [{ id: 'lab-a', guests: 1 }] });
    await ts.createUser('tess', 'teacher');
    const cookie = await ts.login('tess');
    expect((await raw(ts.url, 'GET', '/api/auth/me', { host: 'whatever.lan:8080', cookie })).status).toBe(200);
    const id = (await ts.request('POST', '/api/classes', { cookie, body: { name: 'Local' } })).body.class.id;
    const invite = await ts.request('POST', `/api/classes/${id}/invites`, { cookie, body: {} });
    expect(invite.body.url).toBe(`${ts.url}/invite/${invite.body.token}`);
  });
});
