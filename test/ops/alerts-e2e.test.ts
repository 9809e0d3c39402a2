// Alerts end to end: a real labdeck syncing a simulated cluster that goes down and comes back.
// One alert when it fails, none while it stays down, one when it recovers — over a real local
// SMTP server and a real webhook receiver.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SMTPServer } from 'smtp-server';
import { io as connect, type Socket } from 'socket.io-client';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';
import { signBody } from '../../server/ops/alert-channels.js';

describe('alerts from a real sync loop', () => {
  let smtp: SMTPServer;
  let hook: Server;
  let t: TestServer;
  const mails: string[] = [];
  const hooks: Array<{ body: string; signature?: string }> = [];

  beforeAll(async () => {
    smtp = new SMTPServer({
      authOptional: true, disabledCommands: ['STARTTLS'],
      onData(stream, _s, cb) {
        let body = '';
        stream.on('data', (d: Buffer) => { body += d.toString(); });
        stream.on('end', () => { mails.push(body); cb(); });
      },
    });
    await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', () => r()));
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => { body += d.toString(); });
      req.on('end', () => { hooks.push({ body, signature: req.headers['x-labdeck-signature'] as string | undefined }); res.end(); });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', () => r()));
    t = await startTestServer({
      config: {
        sync: { fullIntervalSeconds: 1, quickIntervalSeconds: 0.2, maxBackoffSeconds: 1, fastIntervalMs: 100 },
        alerts: {
          failures: 3, staleMinutes: 60,
          webhook: { url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/labdeck`, secret: 'webhook-secret' },
          email: { host: '127.0.0.1', port: (smtp.server.address() as AddressInfo).port, from: 'labdeck@school.test', to: ['it@school.test'] },
        },
      },
    });
    await t.synced();
  });

  afterAll(async () => {
    await t?.close();
    await new Promise<void>((r) => smtp.close(() => r()));
    await new Promise<void>((r) => hook.close(() => r()));
  });

  it('sends one "down", nothing more while down, then one "recovered", and lists them for admins', async () => {
    const status = () => t.labdeck.sync.status().clusters[0];
    // An admin's open sync monitor hears each alert live; a teacher's socket hears none.
    await t.createUser('boss', 'admin');
    await t.createUser('miss', 'teacher');
    const live: Record<string, string[]> = { boss: [], miss: [] };
    const sockets: Socket[] = [];
    for (const who of ['boss', 'miss'] as const) {
      const socket = connect(t.url, { path: '/socket.io', transports: ['websocket'], reconnection: false, forceNew: true, extraHeaders: { cookie: await t.login(who) } });
      socket.on('sync:alert', (a: { kind: string; cluster: string }) => live[who].push(`${a.cluster} ${a.kind}`));
      await new Promise<void>((resolve, reject) => { socket.once('connect', () => resolve()); socket.once('connect_error', reject); });
      sockets.push(socket);
    }
    await t.cluster.setFault({ mode: 'down' });
    await waitFor(() => hooks.length >= 1 && mails.length >= 1, 15_000, 'an alert');
    const failuresAtAlert = status().consecutiveFailures;
    // Stay down for several more failed passes: no second alert.
    await waitFor(() => status().consecutiveFailures >= failuresAtAlert + 3, 15_000, 'more failed passes');
    await t.labdeck.ops.alerts!.idle();
    expect(hooks).toHaveLength(1);
    expect(mails).toHaveLength(1);
    const down = JSON.parse(hooks[0].body);
    expect(down).toMatchObject({ event: 'cluster.down', cluster: 'lab-a' });
    expect(down.reason).toMatch(/sync passes in a row failed/);
    expect(hooks[0].signature).toBe(signBody('webhook-secret', hooks[0].body));
    expect(mails[0]).toMatch(/Subject: \[labdeck\] Cluster lab-a is DOWN/);

    await t.cluster.setFault({});
    await waitFor(() => hooks.length >= 2 && mails.length >= 2, 15_000, 'recovery alert');
    await waitFor(async () => status().consecutiveFailures === 0 && status().recentPasses.length > 3, 15_000, 'a few good passes');
    // Barrier: one more pass after recovery, and every alert it may have caused sent.
    await t.labdeck.sync.trigger({ kind: 'quick' });
    await t.labdeck.ops.alerts!.idle();
    expect(hooks.map((h) => JSON.parse(h.body).event)).toEqual(['cluster.down', 'cluster.recovered']);
    expect(mails).toHaveLength(2);
    expect(mails[1]).toMatch(/Subject: \[labdeck\] Cluster lab-a recovered/);

    const res = await t.request('GET', '/api/sync/alerts', { cookie: await t.login('boss') });
    expect(res.body.alerts.map((a: { kind: string }) => a.kind)).toEqual(['recovered', 'down']);
    expect(res.body.alerts[1].deliveries).toEqual({ webhook: 'ok', email: 'ok' });

    // Barrier for the sockets: an ack round trip on each comes back after every earlier push (socket.io keeps order).
    for (const socket of sockets) await socket.timeout(5000).emitWithAck('hello', {});
    expect(live.boss).toEqual(['lab-a down', 'lab-a recovered']);
    expect(live.miss).toEqual([]);
    for (const socket of sockets) socket.disconnect();
  });
});
