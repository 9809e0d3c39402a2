// A Proxmox write is sent exactly once, except when it provably never left: no connection could
// be made (then one more try cannot make it happen twice).
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PveHttp } from '../../server/pve/http.js';
import { PveError } from '../../server/pve/errors.js';
import { freePort } from '../helpers/labdeck-child.js';

describe('Proxmox writes and connections', () => {
  let server: Server;
  let url: string;
  let received = 0;

  beforeAll(async () => {
    // Takes the request, then drops the connection without answering (a crash mid-request).
    server = createServer((req) => { received++; req.socket.destroy(); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const client = (u: string) => new PveHttp({ cluster: 'c', url: u, auth: { kind: 'none' }, timeoutMs: 2_000, verifyTls: true });

  it('a write that could not connect is tried once more', async () => {
    const http = client(`http://127.0.0.1:${await freePort()}`);
    const err = await http.doRequest('POST', '/api2/json/nodes/n/qemu/100/status/start', '').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PveError);
    expect((err as PveError).notConnected).toBe(true);
    expect(http.requests).toBe(2);
    await http.close();
  });

  it('a write that reached Proxmox is never sent again, even when the answer is lost', async () => {
    const http = client(url);
    const err = await http.doRequest('POST', '/api2/json/nodes/n/qemu/100/status/start', '').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PveError);
    expect((err as PveError).notConnected).toBe(false);
    expect(received).toBe(1);
    expect(http.requests).toBe(1);
    await http.close();
  });

});
