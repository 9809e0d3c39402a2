// The CLI against addresses and answers it should not trust. It signs a fresh admin session for
// commands that go through the server; before, `--url` sent that session to any address, and an
// answer it did not expect (an HTML page, `{}`) crashed it with a stack trace. Now it sends the
// session only to loopback or the config's publicUrl (unless --insecure-url), never follows a
// redirect with it, and reports any unexpected answer in one plain line with a non-zero exit.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '../../server/db/index.js';
import { migrateToLatest } from '../../server/db/migrate.js';
import { UsersRepo } from '../../server/auth/users.js';
import { checkTargetUrl } from '../../server/cli/server-api.js';
import { runCli } from './run-cli.js';

describe('the CLI and a server it should not trust', { timeout: 120_000 }, () => {
  let dir: string;
  let env: Record<string, string>;
  let fake: Server;
  let port: number;
  /** What the fake server answers, by path; every request it got (with its cookie). */
  let answer: (req: IncomingMessage) => { status: number; type?: string; body: string; headers?: Record<string, string> };
  const seen: Array<{ url: string; cookie: string | undefined }> = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'labdeck-cli-hostile-'));
    const dbUrl = join(dir, 'labdeck.db');
    const db = createDb(dbUrl);
    await migrateToLatest(db);
    await new UsersRepo(db).create({ username: 'root', role: 'admin', password: 'password-1234' });
    await db.destroy();
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ clusters: [], publicUrl: 'https://labdeck.example.edu' }));
    env = { LABDECK_CONFIG: join(dir, 'config.json'), SESSION_SECRET: 's'.repeat(40), DATABASE_URL: dbUrl };
    fake = createServer((req, res) => {
      seen.push({ url: req.url ?? '', cookie: req.headers.cookie });
      const a = answer(req);
      res.writeHead(a.status, { ...(a.type ? { 'content-type': a.type } : {}), ...a.headers });
      res.end(a.body);
    });
    // Both stacks, so an IPv4-mapped address reaches it too.
    await new Promise<void>((r) => fake.listen(0, '::', () => r()));
    port = (fake.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((r) => fake?.close(() => r()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('sends no admin session to an address that is neither loopback nor publicUrl', async () => {
    answer = () => ({ status: 200, type: 'application/json', body: '{}' });
    seen.length = 0;
    // ::ffff:127.0.0.1 lands on this machine, but is not a loopback name the CLI knows: refused before any request.
    const r = await runCli(['sync', 'trigger', '--url', `http://[::ffff:127.0.0.1]:${port}`], env);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/--url http:\/\/\[::ffff:7f00:1\]:\d+ is neither this machine \(loopback\) nor labdeck's publicUrl \(https:\/\/labdeck\.example\.edu\)/);
    expect(r.stdout).toMatch(/--insecure-url/);
    expect(seen).toEqual([]);
    // With --insecure-url the admin vouches for the address: the session goes there.
    const forced = await runCli(['sync', 'trigger', '--url', `http://[::ffff:127.0.0.1]:${port}`, '--insecure-url'], env);
    expect(seen).toHaveLength(1);
    expect(seen[0].cookie).toMatch(/^labdeck_session=/);
    expect(forced.code).toBe(2);
    expect(forced.stdout).toMatch(/answered 200 with JSON the CLI does not know/);
  });

  it('the publicUrl itself passes the check; a look-alike does not (pure)', () => {
    const cfg = { publicUrl: 'https://labdeck.example.edu' };
    expect(() => checkTargetUrl(cfg, 'https://labdeck.example.edu/')).not.toThrow();
    expect(() => checkTargetUrl(cfg, 'http://localhost:8080')).not.toThrow();
    expect(() => checkTargetUrl(cfg, 'http://127.0.0.2:8080')).not.toThrow();
    expect(() => checkTargetUrl(cfg, 'https://labdeck.example.edu.evil.example')).toThrow(/neither this machine/);
    expect(() => checkTargetUrl(cfg, 'http://labdeck.example.edu')).toThrow(/neither this machine/);
    expect(() => checkTargetUrl(cfg, 'https://root:pw@localhost')).toThrow(/must not carry a user/);
    expect(() => checkTargetUrl(cfg, 'file:///etc/passwd')).toThrow(/must start with http/);
    expect(() => checkTargetUrl(cfg, 'not a url')).toThrow(/is not a URL/);
    expect(() => checkTargetUrl({}, 'https://labdeck.example.edu')).toThrow(/publicUrl \(not set\)/);
  });

  it('reports every answer it did not expect in one plain line and exits non-zero, never with a stack trace', async () => {
    const answers: Record<string, ReturnType<typeof answer>> = {
      '/html': { status: 200, type: 'text/html', body: '<!doctype html><title>Router login</title>' },
      '/empty-json': { status: 200, type: 'application/json', body: '{}' },
      '/half-shape': { status: 200, type: 'application/json', body: '{"finished":true,"status":{}}' },
      '/redirect': { status: 302, body: '', headers: { location: 'https://evil.example/steal' } },
      '/error-page': { status: 500, type: 'text/html', body: '<h1>Internal Server Error</h1>' },
      '/nothing': { status: 204, body: '' },
    };
    answer = (req) => answers[(req.url ?? '').replace(/\/api\/.*$/, '')] ?? { status: 404, body: 'no' };
    seen.length = 0;
    const results = await Promise.all(Object.keys(answers).map(async (prefix) =>
      [prefix, await runCli(['sync', 'trigger', '--url', `http://127.0.0.1:${port}${prefix}`], env)] as const));
    for (const [prefix, r] of results) {
      expect(r.code, prefix).not.toBe(0);
      expect(r.stdout.trim().split('\n'), prefix).toHaveLength(1);
      expect(r.stdout, prefix).toMatch(/^labdeck: /);
      expect(`${r.stdout}${r.stderr}`, prefix).not.toMatch(/\n\s+at /);
    }
    const text = Object.fromEntries(results.map(([p, r]) => [p, r.stdout]));
    expect(text['/html']).toMatch(/answered 200 with something that is not JSON \(text\/html: <!doctype html><title>Router login/);
    expect(text['/redirect']).toMatch(/answered a redirect \(302 to https:\/\/evil\.example\/steal\); the CLI does not follow it/);
    expect(text['/error-page']).toMatch(/answered 500 with an error that is not labdeck's/);
    // The redirect was not followed: nothing reached evil.example (it would have needed a second request here).
    expect(seen.filter((s) => s.url.startsWith('/redirect'))).toHaveLength(1);
  });
});
