// Demo mode seeds its people and class once (a restart duplicates nothing) and prints how to sign
// in; the built client is served for non-API paths with index.html as the fallback.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { parseFileConfig, type AppConfig } from '../../server/config.js';
import { startLabdeck } from '../../server/server.js';
import { demoBanner } from '../../server/classes/demo-seed.js';
import { cookieFrom, startTestServer } from '../helpers/server.js';

describe('demo mode', () => {
  const dir = mkdtempSync(join(tmpdir(), 'labdeck-demo-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const config: AppConfig = {
    ...parseFileConfig({}), port: 0, host: '127.0.0.1', databaseUrl: join(dir, 'demo.db'),
    sessionSecret: randomBytes(32).toString('hex'), demo: true, configPath: null,
  };
  const demoOpts = { guests: [60, 5] as [number, number], unauthorizedDelayMs: 0, activity: false, pvestatdIntervalMs: 0, ipDelayMs: 0 };

  it('seeds admin, teacher, 24 students and the demo class with one VM each; a restart duplicates nothing', async () => {
    const counts = async (l: Awaited<ReturnType<typeof startLabdeck>>) => ({
      users: (await l.users.list()).length,
      classes: (await l.classesRepo.list()).length,
      members: (await l.classesRepo.members(l.demo!.classId)).length,
      assignments: (await l.classesRepo.assignments(l.demo!.classId)).length,
      pool: (await l.classesRepo.pool(l.demo!.classId)).length,
    });
    const first = await startLabdeck(config, { quiet: true, staticRoot: null, demo: demoOpts });
    let before;
    try {
      expect(first.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      before = await counts(first);
      expect(before).toEqual({ users: 26, classes: 1, members: 24, assignments: 24, pool: 24 });
      const banner = demoBanner(first.url, first.demo!.password);
      expect(banner).toContain(first.url);
      expect(banner).toContain('student01');
      expect(banner).toContain('"demo"');
      // The sign-in page names the seeded accounts too, so nobody has to find the terminal.
      const methods = await (await fetch(`${first.url}/api/auth/methods`)).json();
      expect(methods.demo).toEqual({ users: ['admin', 'teacher', 'student01', 'student24'], password: 'demo' });
      await first.sync.trigger({ kind: 'full' });
      const login = await fetch(`${first.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'student07', password: 'demo' }) });
      expect(login.status).toBe(200);
      const mine = await (await fetch(`${first.url}/api/vms`, { headers: { cookie: cookieFrom(login.headers)! } })).json();
      expect(mine.vms).toHaveLength(1);
      expect(mine.vms[0].cluster).toBe('lab-a');
      // The demo class may draw from all of lab-a and nothing of lab-b.
      const t = await fetch(`${first.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'teacher', password: 'demo' }) });
      const headers = { cookie: cookieFrom(t.headers)!, 'content-type': 'application/json' };
      const inv = await first.inventory.list();
      const free = (c: string) => inv.find((v) => v.cluster === c && !v.template && first.access.poolClassesOf(v.cluster, v.vmid).size === 0)!;
      const add = (vm: { cluster: string; vmid: number }) => fetch(`${first.url}/api/classes/${first.demo!.classId}/pool`, { method: 'POST', headers, body: JSON.stringify({ vmid: vm.vmid, cluster: vm.cluster }) });
      const added = await add(free('lab-a'));
      expect(added.status).toBe(201);
      const { entry } = await added.json();
      await fetch(`${first.url}/api/classes/${first.demo!.classId}/pool/${entry.id}`, { method: 'DELETE', headers });
      const refused = await add(free('lab-b'));
      expect(refused.status).toBe(403);
      expect((await refused.json()).error.message).toContain('this class may use: all of lab-a');
    } finally {
      await first.close();
    }
    const second = await startLabdeck(config, { quiet: true, staticRoot: null, demo: demoOpts });
    try {
      expect(await counts(second)).toEqual(before);
    } finally {
      await second.close();
    }
  }, 90_000); // two demo starts (160 guests each) on a shared machine
});

describe('serving the client', () => {
  const root = mkdtempSync(join(tmpdir(), 'labdeck-client-'));
  mkdirSync(join(root, 'assets'));
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>labdeck</title>');
  writeFileSync(join(root, 'assets', 'app-1234.js'), 'console.log(1)');
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('serves files, falls back to index.html for app routes, and keeps /api answers JSON', async () => {
    const ts = await startTestServer({ clusters: [{ id: 'lab-a', guests: 2 }], start: { staticRoot: root } });
    try {
      const index = await ts.request('GET', '/');
      expect(index.status).toBe(200);
      expect(index.headers.get('content-type')).toMatch(/text\/html/);
      expect(index.text).toContain('<title>labdeck</title>');
      const route = await ts.request('GET', '/projector/abc');
      expect(route.text).toContain('<title>labdeck</title>');
      const asset = await ts.request('GET', '/assets/app-1234.js');
      expect(asset.headers.get('content-type')).toMatch(/javascript/);
      expect(asset.headers.get('cache-control')).toContain('immutable');
      expect((await ts.request('GET', '/assets/missing.js')).status).toBe(404);
      for (const sneaky of ['/%2e%2e/%2e%2e/etc/passwd', '/..%2f..%2f..%2fetc%2fpasswd', '/assets/..%2f..%2f..%2fetc%2fhostname']) {
        const r = await ts.request('GET', sneaky);
        expect(r.text).not.toMatch(/root:|^[a-z0-9-]+\n$/);
      }
      const api = await ts.request('GET', '/api/nope');
      expect(api.status).toBe(404);
      expect(api.body.error.code).toBe('not_found');
    } finally {
      await ts.close();
    }
  });

  it('tells a browser how to build the client when a checkout has none, and keeps JSON for everything else', async () => {
    const ts = await startTestServer({ clusters: [{ id: 'lab-a', guests: 2 }], start: { staticRoot: null } });
    try {
      const page = await ts.request('GET', '/', { headers: { accept: 'text/html,application/xhtml+xml' } });
      expect(page.status).toBe(503);
      expect(page.headers.get('content-type')).toMatch(/text\/html/);
      expect(page.text).toContain('npm run build');
      const json = await ts.request('GET', '/');
      expect(json.status).toBe(404);
      expect(json.body.error.code).toBe('not_found');
      expect((await ts.request('GET', '/assets/app.js', { headers: { accept: 'text/html' } })).status).toBe(404);
    } finally {
      await ts.close();
    }
  });
});
