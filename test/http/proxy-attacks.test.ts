// Forwarded headers as an attacker sends them: a spoofed X-Forwarded-For behind a trusted proxy
// (nginx's $proxy_add_x_forwarded_for keeps the client's own entries on the left), and a
// socket.io handshake naming its own site in X-Forwarded-Host while no proxy is trusted.
import { afterAll, describe, expect, it } from 'vitest';
import { io as connect } from 'socket.io-client';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe('forwarded headers under attack', () => {
  const servers: TestServer[] = [];
  afterAll(async () => { for (const s of servers) await s.close(); });

  it('behind a trusted proxy, rotating the left X-Forwarded-For entries does not escape the throttle', async () => {
    const ts = await startTestServer({ clusters: [{ id: 'lab-a', guests: 2 }], config: { auth: { trustProxy: true } } });
    servers.push(ts);
    await ts.createUser('vic', 'student');
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      // The proxy appended 10.0.0.7 (the real peer); everything before it came from the client.
      const r = await ts.request('POST', '/api/auth/login', { body: { username: 'vic', password: `guess${i}` }, headers: { 'x-forwarded-for': `203.0.113.${i}, 10.0.0.7` } });
      statuses.push(r.status);
    }
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5)).toEqual([429, 429]);
    // The owner behind another real peer still gets in.
    const ok = await ts.request('POST', '/api/auth/login', { body: { username: 'vic', password: 'password-1234' }, headers: { 'x-forwarded-for': '203.0.113.1, 10.0.0.8' } });
    expect(ok.status).toBe(200);
  });

  it('without trustProxy, a socket.io handshake cannot vouch for its own origin with X-Forwarded-Host', async () => {
    const ts = await startTestServer({ clusters: [{ id: 'lab-a', guests: 2 }] });
    servers.push(ts);
    await ts.createUser('sue', 'student');
    const cookie = await ts.login('sue');
    const tryOrigin = (headers: Record<string, string>) => new Promise<boolean>((resolve) => {
      const s = connect(ts.url, { path: '/socket.io', transports: ['websocket'], reconnection: false, forceNew: true, extraHeaders: { cookie, ...headers } });
      s.once('connect', () => { s.disconnect(); resolve(true); });
      s.once('connect_error', () => { s.disconnect(); resolve(false); });
    });
    expect(await tryOrigin({ origin: 'http://evil.example', 'x-forwarded-host': 'evil.example' })).toBe(false);
    expect(await tryOrigin({ origin: ts.url })).toBe(true);
  });
});
