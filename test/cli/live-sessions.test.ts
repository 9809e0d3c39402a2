// The admin CLI writes the database directly, beside a running server. What it changes about a
// user (disable, passwd, role) must reach that user's open sockets within about a second (the
// server checks the users table every second), not at the hub's periodic re-check: the real CLI
// as a child process, a real socket.io client, the server at its default poll period.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { dialects } from '../helpers/db.js';
import { runCli } from './run-cli.js';

describe.each(dialects)('CLI changes reach open sockets (%s)', { timeout: 120_000 }, (dialect) => {
  let ts: TestServer;
  let dir: string;
  let env: Record<string, string>;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    // No userPollMs: the server's own default (1 s) is what is under test.
    ts = await startTestServer({ dialect, clusters: [{ id: 'lab-a', guests: 3 }] });
    dir = mkdtempSync(join(tmpdir(), 'labdeck-cli-live-'));
    writeFileSync(join(dir, 'pw'), 'a-new-password-7\n');
    env = { DATABASE_URL: ts.labdeck.config.databaseUrl };
  }, 60_000);
  afterAll(async () => {
    for (const s of sockets) s.close();
    await ts?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A signed-in user with an open socket; resolves with when the server closed it. */
  async function openSocket(username: string, role: 'student' | 'teacher') {
    await ts.createUser(username, role);
    const cookie = await ts.login(username);
    const socket = connect(ts.url, { path: '/socket.io', transports: ['websocket'], reconnection: false, forceNew: true, extraHeaders: { cookie } });
    sockets.push(socket);
    await new Promise<void>((resolve, reject) => { socket.once('connect', () => resolve()); socket.once('connect_error', reject); });
    const closedAt = new Promise<{ at: number; reason: string }>((resolve) => socket.once('disconnect', (reason) => resolve({ at: Date.now(), reason })));
    return { cookie, closedAt };
  }

  for (const [what, args] of [
    ['user disable', (u: string) => ['user', 'disable', u]],
    ['user role', (u: string) => ['user', 'role', u, 'teacher']],
    ['user passwd', (u: string) => ['user', 'passwd', u, '--password-file', join(dir, 'pw')]],
  ] as const) {
    it(`${what}: the user's socket is closed within about a second of the command`, async () => {
      const name = `u${what.replace(/\W/g, '')}`;
      const bystander = await openSocket(`${name}b`, 'student');
      const { cookie, closedAt } = await openSocket(name, 'student');
      const r = await runCli(args(name), env);
      const done = Date.now();
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const closed = await closedAt;
      expect(closed.reason).toBe('io server disconnect');
      // The users table is checked every second; the socket may even close before the CLI has exited.
      expect(closed.at - done).toBeLessThan(1_500);
      expect((await ts.request('GET', '/api/auth/me', { cookie })).status).toBe(401);
      // Nobody else's socket was touched.
      expect((await ts.request('GET', '/api/auth/me', { cookie: bystander.cookie })).status).toBe(200);
      expect(await Promise.race([bystander.closedAt.then(() => 'closed'), Promise.resolve('open')])).toBe('open');
    });
  }
});
