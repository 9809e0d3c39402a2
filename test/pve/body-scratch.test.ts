// Node lists are read into a buffer reused from one answer to the next (BodyScratch): each answer
// must come back whole and alone, whether it is bigger than the last (the buffer grows), smaller
// (nothing of the last one shows) or sent in many pieces.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PveHttp } from '../../server/pve/http.js';
import { BodyScratch } from '../../server/pve/one-connection.js';

describe('answers read into a reused buffer', () => {
  let server: Server;
  let http: PveHttp;
  const bodies = new Map<string, string>();

  beforeAll(async () => {
    // Writes the body in 1,000-byte pieces, so a read is assembled from many chunks.
    server = createServer((req, res) => {
      const body = bodies.get(req.url ?? '') ?? '';
      res.writeHead(200, { 'content-type': 'application/json;charset=UTF-8' });
      for (let i = 0; i < body.length; i += 1000) res.write(body.slice(i, i + 1000));
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    http = new PveHttp({ cluster: 'c', url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, auth: { kind: 'none' }, timeoutMs: 5_000, verifyTls: true });
  });
  afterAll(async () => {
    await http.close();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const list = (n: number, status: string) =>
    JSON.stringify({ data: Array.from({ length: n }, (_, i) => ({ vmid: 100 + i, status, name: `vm-${i}`, uptime: i * 7 })) });

  it('gives each answer whole, bigger or smaller than the one before', async () => {
    const scratch = new BodyScratch();
    const sizes = [3, 2500, 40, 6000, 1, 0];
    for (const [i, n] of sizes.entries()) {
      const path = `/api2/json/nodes/n${i}/qemu`;
      bodies.set(path, list(n, i % 2 ? 'running' : 'stopped'));
      const body = await http.getRaw(path, undefined, scratch);
      expect(body.toString('utf8')).toBe(bodies.get(path));
      expect(http.parse(body)).toHaveLength(n);
    }
  });
});
