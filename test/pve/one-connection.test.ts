// The live signals' reads go over one keep-alive connection spoken directly on the socket
// (server/pve/one-connection.ts). Against real servers: every answer whole and its own, however it
// is framed or split; one connection reused, replaced when either side closed it; timeouts,
// cut connections and refused connections as the typed errors the sync acts on.
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { PveHttp } from '../../server/pve/http.js';
import { BodyScratch, OneConnection } from '../../server/pve/one-connection.js';
import { PveError } from '../../server/pve/errors.js';
import { freePort } from '../helpers/labdeck-child.js';

const servers: Array<HttpServer | NetServer> = [];
const clients: PveHttp[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const s of servers.splice(0)) {
    if ('closeAllConnections' in s) s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

async function listen<S extends HttpServer | NetServer>(server: S): Promise<{ server: S; url: string; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  server.on('connection', (s: Socket) => sockets.push(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  servers.push(server);
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, sockets };
}

const reader = (url: string, timeoutMs = 5_000) => {
  const http = new PveHttp({ cluster: 'c', url, auth: { kind: 'token', tokenId: 'sync@pve!labdeck', tokenSecret: '00000000-0000-0000-0000-000000000000' }, timeoutMs, verifyTls: true, oneConnection: true });
  clients.push(http);
  return http;
};

const json = (n: number) => JSON.stringify({ data: Array.from({ length: n }, (_, i) => ({ vmid: 100 + i, status: 'running', name: `vm-${i}`, uptime: i })) });

/** A raw server: `answer(request head, socket)` writes whatever bytes the case needs. */
function rawServer(answer: (head: string, socket: Socket, nth: number) => void | Promise<void>): NetServer {
  let nth = 0;
  return createNetServer((socket) => {
    let buf = '';
    socket.on('data', (b) => {
      buf += b.toString('latin1');
      let end;
      while ((end = buf.indexOf('\r\n\r\n')) >= 0) {
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        void answer(head, socket, nth++);
      }
    });
    socket.on('error', () => undefined);
  });
}

/** Writes `bytes` a few at a time, letting each piece leave before the next. */
async function trickle(socket: Socket, bytes: string, piece = 3): Promise<void> {
  for (let i = 0; i < bytes.length; i += piece) {
    if (!socket.write(bytes.slice(i, i + piece), 'latin1')) await once(socket, 'drain');
    await new Promise((r) => setImmediate(r));
  }
}

describe('the live signals\' connection', () => {
  it('gives each answer whole and its own, in order, over one connection, with the headers Proxmox needs', async () => {
    const bodies = new Map<string, string>();
    const seen: string[] = [];
    const { server, url, sockets } = await listen(createHttpServer((req, res) => {
      seen.push(`${req.headers.authorization} ${req.headers.host} ${req.headers.accept}`);
      const body = bodies.get(req.url ?? '') ?? '';
      res.writeHead(200, { 'content-type': 'application/json;charset=UTF-8' });
      // Odd paths in pieces (chunked), even ones in one write (Content-Length).
      if (Number(req.url?.at(-1)) % 2) { for (let i = 0; i < body.length; i += 700) res.write(body.slice(i, i + 700)); res.end(); } else res.end(body);
    }));
    server.keepAliveTimeout = 10_000;
    const http = reader(url);
    const scratch = new BodyScratch();
    const sizes = [0, 3, 2500, 40, 6000, 1, 2, 9000];
    for (const [i, n] of sizes.entries()) bodies.set(`/api2/json/nodes/n/list${i}`, json(n));
    // All asked at once: they wait their turn on the one connection and each gets its own answer.
    const got = await Promise.all(sizes.map((_, i) => http.getRaw(`/api2/json/nodes/n/list${i}`).then((b) => b.toString('utf8'))));
    for (const [i] of sizes.entries()) expect(got[i]).toBe(bodies.get(`/api2/json/nodes/n/list${i}`));
    // Read into one reused buffer: each answer alone, bigger or smaller than the one before.
    for (const [i, n] of sizes.entries()) {
      const body = await http.getRaw(`/api2/json/nodes/n/list${i}`, undefined, scratch);
      expect(http.parse(body)).toHaveLength(n);
    }
    expect(sockets).toHaveLength(1);
    expect(new Set(seen)).toEqual(new Set([`PVEAPIToken=sync@pve!labdeck=00000000-0000-0000-0000-000000000000 ${new URL(url).host} application/json`]));
    expect(http.requests).toBe(sizes.length * 2);
  });

  it('reads chunked answers split anywhere, with extensions and trailers, and answers after a 100 Continue', async () => {
    const body = json(50);
    const chunks = [body.slice(0, 1), body.slice(1, 900), body.slice(900)];
    const framed = `${chunks.map((c, i) => `${c.length.toString(16)}${i === 1 ? ';ext=1' : ''}\r\n${c}\r\n`).join('')}0\r\nX-Trailer: yes\r\n\r\n`;
    const { url, sockets } = await listen(rawServer(async (_head, socket, nth) => {
      const lead = nth === 1 ? 'HTTP/1.1 100 Continue\r\n\r\n' : '';
      await trickle(socket, `${lead}HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${framed}`, nth === 0 ? 1 : 7);
    }));
    const http = reader(url);
    for (let i = 0; i < 3; i++) expect((await http.getRaw('/api2/json/cluster/tasks')).toString('utf8')).toBe(body);
    expect(sockets).toHaveLength(1);
  });

  it('takes a body that ends with the connection (no length given) and opens a new connection for the next read', async () => {
    const { url, sockets } = await listen(rawServer((_head, socket, nth) => {
      socket.end(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{"data":[${nth}]}`);
    }));
    const http = reader(url);
    expect(http.parse(await http.getRaw('/api2/json/cluster/tasks'))).toEqual([0]);
    expect(http.parse(await http.getRaw('/api2/json/cluster/tasks'))).toEqual([1]);
    expect(sockets).toHaveLength(2);
  });

  it('replaces a connection the server closed while it was idle', async () => {
    const { server, url, sockets } = await listen(createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":[]}');
    }));
    server.keepAliveTimeout = 30;
    const http = reader(url);
    await http.getRaw('/api2/json/cluster/tasks');
    await once(sockets[0], 'close');
    expect(http.parse(await http.getRaw('/api2/json/cluster/tasks'))).toEqual([]);
    expect(sockets).toHaveLength(2);
  });

  it('closes its connection once idle for its keep-alive time, before the server would', async () => {
    const { server, url, sockets } = await listen(createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":[]}');
    }));
    server.keepAliveTimeout = 60_000;
    const conn = new OneConnection({ url: new URL(url), verifyTls: true, headerLines: '', keepAliveMs: 50 });
    await conn.get('/api2/json/cluster/tasks', 5_000);
    // The client's FIN: the server sees the end of the connection, not a timeout of its own.
    await once(sockets[0], 'end');
    expect((await conn.get('/api2/json/cluster/tasks', 5_000)).status).toBe(200);
    expect(sockets).toHaveLength(2);
    conn.close();
  });

  it('times out a server that stops mid-answer, and the next read works on a new connection', async () => {
    const { url, sockets } = await listen(rawServer((_head, socket, nth) => {
      if (nth === 0) socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"data":');
      else socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"data":[]}');
    }));
    const http = reader(url, 300);
    const err = await http.getRaw('/api2/json/cluster/tasks').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PveError);
    expect(err).toMatchObject({ kind: 'timeout', status: 0 });
    expect(http.parse(await http.getRaw('/api2/json/cluster/tasks'))).toEqual([]);
    expect(sockets).toHaveLength(2);
  });

  it('never returns part of a body: a connection cut mid-answer is a network error (tried once more)', async () => {
    let asked = 0;
    const { url } = await listen(rawServer((_head, socket) => {
      asked++;
      socket.end('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"data":[1,2');
    }));
    const http = reader(url);
    await expect(http.getRaw('/api2/json/cluster/tasks')).rejects.toMatchObject({ name: 'PveError', kind: 'network', status: 0 });
    expect(asked).toBe(2);
  });

  it('gives Proxmox\'s status and reason, and refuses what is not JSON or not HTTP', async () => {
    const { url } = await listen(rawServer((head, socket) => {
      const path = head.split(' ')[1];
      if (path.endsWith('/denied')) socket.write('HTTP/1.1 403 Permission check failed (/vms/100, VM.Audit)\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{"data":null}');
      else if (path.endsWith('/html')) socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 4\r\n\r\n<p/>');
      else socket.end('SSH-2.0-OpenSSH_9.2\r\n\r\n');
    }));
    const http = reader(url);
    await expect(http.getRaw('/api2/json/denied')).rejects.toMatchObject({ kind: 'http', status: 403, message: expect.stringContaining('Permission check failed') });
    await expect(http.getRaw('/api2/json/html')).rejects.toMatchObject({ kind: 'invalid-response', message: expect.stringContaining('text/html') });
    await expect(http.getRaw('/api2/json/ssh')).rejects.toMatchObject({ kind: 'network', message: expect.stringContaining('not an HTTP answer') });
  });

  it('says a cluster that refuses connections could not be reached', async () => {
    const http = reader(`http://127.0.0.1:${await freePort()}`);
    const err = await http.getRaw('/api2/json/cluster/tasks').catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'PveError', kind: 'network', notConnected: true, message: expect.stringContaining('ECONNREFUSED') });
  });

  it('fails the reads waiting when closed, and refuses new ones', async () => {
    const { url } = await listen(rawServer(() => undefined));
    const http = reader(url);
    const waiting = [http.getRaw('/api2/json/a'), http.getRaw('/api2/json/b')].map((p) => p.catch((e: unknown) => e));
    await http.close();
    for (const e of await Promise.all(waiting)) expect(e).toMatchObject({ name: 'PveError', kind: 'network' });
    await expect(http.getRaw('/api2/json/c')).rejects.toMatchObject({ name: 'PveError', kind: 'network' });
  });

  it('over HTTPS checks the certificate as told, and resumes its TLS session on the next connection', async () => {
    const { generate } = await import('selfsigned');
    const pems = await generate([{ name: 'commonName', value: 'pve.test.invalid' }], { keyType: 'ec', algorithm: 'sha256' });
    const server = createHttpsServer({ key: pems.private, cert: pems.cert }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":[]}');
    });
    const resumed: boolean[] = [];
    server.on('secureConnection', (s: TLSSocket) => resumed.push(s.isSessionReused()));
    server.keepAliveTimeout = 60_000;
    const { url, sockets } = await listen(server);
    const https = url.replace('http:', 'https:');
    const strict = new OneConnection({ url: new URL(https), verifyTls: true, headerLines: '', keepAliveMs: 50 });
    await expect(strict.get('/api2/json/cluster/tasks', 5_000)).rejects.toMatchObject({ message: expect.stringMatching(/self[- ]signed/) });
    strict.close();
    const loose = new OneConnection({ url: new URL(https), verifyTls: false, headerLines: '', keepAliveMs: 50 });
    expect((await loose.get('/api2/json/cluster/tasks', 5_000)).body.toString()).toBe('{"data":[]}');
    // Closed once idle; the next read's connection resumes the session instead of a full handshake.
    await once(sockets.at(-1)!, 'close');
    expect((await loose.get('/api2/json/cluster/tasks', 5_000)).status).toBe(200);
    expect(resumed).toEqual([false, true]);
    loose.close();
  });

  it('counts a read\'s wait behind one that hung against its timeout, and never sends it once that ran out', async () => {
    const asked: string[] = [];
    const { url } = await listen(rawServer((head) => { asked.push(head.split(' ')[1]); }));
    const http = reader(url, 300);
    const [first, second] = await Promise.all(['/api2/json/nodes/n1/qemu', '/api2/json/cluster/tasks'].map((p) => http.getRaw(p).catch((e: unknown) => e)));
    expect(first).toMatchObject({ name: 'PveError', kind: 'timeout' });
    expect(second).toMatchObject({ name: 'PveError', kind: 'timeout' });
    expect(asked).toEqual(['/api2/json/nodes/n1/qemu']);
  });

  it('refuses an answer over its size limit however it is framed', async () => {
    const big = `{"data":"${'x'.repeat(5_000)}"}`;
    const { url } = await listen(rawServer((head, socket) => {
      const path = head.split(' ')[1];
      if (path === '/length') socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${big.length}\r\n\r\n${big}`);
      else if (path === '/chunked') socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${big.length.toString(16)}\r\n${big}\r\n0\r\n\r\n`);
      else socket.end(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${big}`);
    }));
    const conn = new OneConnection({ url: new URL(url), verifyTls: true, headerLines: '', keepAliveMs: 1_000, maxBodyBytes: 4_096 });
    for (const path of ['/length', '/chunked', '/close']) await expect(conn.get(path, 5_000)).rejects.toMatchObject({ message: 'answer larger than 4096 bytes' });
    const roomy = new OneConnection({ url: new URL(url), verifyTls: true, headerLines: '', keepAliveMs: 1_000, maxBodyBytes: 8_192 });
    for (const path of ['/length', '/chunked', '/close']) expect((await roomy.get(path, 5_000)).body.toString()).toBe(big);
    conn.close();
    roomy.close();
  });
});
