// Every route × admin / teacher of the class / other teacher / assigned student / other student /
// anonymous, against the real server and simulator, with the expected answer in every cell.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

type Who = 'admin' | 'teacher' | 'otherTeacher' | 'student' | 'otherStudent' | 'anonymous';
const who: Who[] = ['admin', 'teacher', 'otherTeacher', 'student', 'otherStudent', 'anonymous'];

interface Ctx {
  A: number; B: number; X: number; X2: number; W: number; Z: number;
  ids: Record<string, number>;
  /** Values made by a row's setup. */
  s: Record<string, any>;
}

interface Row {
  name: string;
  method: string;
  path: (c: Ctx) => string;
  body?: (c: Ctx) => unknown;
  /** Runs (as admin, over HTTP) before each cell; its result is ctx.s. */
  setup?: (c: Ctx) => Promise<Record<string, any>>;
  expect: Record<Who, number | number[]>;
  /** Extra check of a cell's answer. */
  check?: (w: Who, body: any) => void;
}

const all = (signedIn: number, anon = 401) => ({ admin: signedIn, teacher: signedIn, otherTeacher: signedIn, student: signedIn, otherStudent: signedIn, anonymous: anon });
const adminOnly = (ok: number) => ({ admin: ok, teacher: 403, otherTeacher: 403, student: 403, otherStudent: 403, anonymous: 401 });
const classManagers = (ok: number) => ({ admin: ok, teacher: ok, otherTeacher: 403, student: 403, otherStudent: 403, anonymous: 401 });
const vmUsers = (ok: number | number[]) => ({ admin: ok, teacher: ok, otherTeacher: 403, student: ok, otherStudent: 403, anonymous: 401 });

describe('authorisation matrix', () => {
  let ts: TestServer;
  const cookies: Partial<Record<Who, string>> = {};
  const ctx: Ctx = { A: 0, B: 0, X: 0, X2: 0, W: 0, Z: 0, ids: {}, s: {} };
  let n = 0;
  const asAdmin = async (method: string, path: string, body?: unknown) => {
    const r = await ts.request(method, path, { cookie: cookies.admin, body });
    if (r.status >= 300) throw new Error(`setup ${method} ${path}: ${r.status} ${r.text}`);
    return r.body;
  };

  beforeAll(async () => {
    ts = await startTestServer();
    await ts.synced();
    for (const [name, role] of [['admin', 'admin'], ['teacher', 'teacher'], ['otherTeacher', 'teacher'], ['student', 'student'],
      ['otherStudent', 'student'], ['spareTeacher', 'teacher'], ['spareStudent', 'student']] as const) {
      ctx.ids[name] = (await ts.createUser(name.toLowerCase(), role)).id;
    }
    for (const w of who) if (w !== 'anonymous') cookies[w] = await ts.login(w.toLowerCase());
    const vms = (await ts.labdeck.inventory.list()).filter((v) => v.type === 'qemu' && !v.template && v.status === 'running' && v.ip)
      .sort((a, b) => a.vmid - b.vmid);
    [ctx.X, ctx.X2, ctx.W, ctx.Z] = vms.slice(0, 4).map((v) => v.vmid);
    const tc = await ts.login('teacher');
    const oc = await ts.login('otherteacher');
    ctx.A = (await ts.request('POST', '/api/classes', { cookie: tc, body: { name: 'Class A' } })).body.class.id;
    ctx.B = (await ts.request('POST', '/api/classes', { cookie: oc, body: { name: 'Class B' } })).body.class.id;
    await asAdmin('POST', `/api/classes/${ctx.A}/students`, { username: 'student' });
    await asAdmin('POST', `/api/classes/${ctx.B}/students`, { username: 'otherstudent' });
    for (const vmid of [ctx.X, ctx.X2]) await asAdmin('POST', `/api/classes/${ctx.A}/pool`, { vmid });
    await asAdmin('POST', `/api/classes/${ctx.B}/pool`, { vmid: ctx.Z });
    await asAdmin('POST', `/api/classes/${ctx.A}/assignments`, { vmid: ctx.X, username: 'student' });
    await asAdmin('POST', `/api/classes/${ctx.B}/assignments`, { vmid: ctx.Z, username: 'otherstudent' });
  });
  afterAll(async () => { await ts?.close(); });

  it('a student lists exactly their VMs; the other student only theirs', async () => {
    const mine = await ts.request('GET', '/api/vms', { cookie: await ts.login('student') });
    expect(mine.body.vms.map((v: any) => v.vmid).sort()).toEqual([ctx.X]);
    const other = await ts.request('GET', '/api/vms', { cookie: await ts.login('otherstudent') });
    expect(other.body.vms.map((v: any) => v.vmid)).toEqual([ctx.Z]);
    const teacher = await ts.request('GET', '/api/vms', { cookie: await ts.login('teacher') });
    expect(teacher.body.vms.map((v: any) => v.vmid)).not.toContain(ctx.Z);
    expect(teacher.body.vms.map((v: any) => v.vmid)).toEqual(expect.arrayContaining([ctx.X, ctx.X2]));
    const admin = await ts.request('GET', '/api/vms', { cookie: cookies.admin });
    expect(admin.body.vms).toHaveLength(30);
  });

  const rows: Row[] = [
    { name: 'GET /api/auth/me', method: 'GET', path: () => '/api/auth/me', expect: all(200) },
    { name: 'GET /api/vms', method: 'GET', path: () => '/api/vms', expect: all(200) },
    { name: 'GET /api/vms?class=A', method: 'GET', path: (c) => `/api/vms?class=${c.A}`, expect: { ...classManagers(200), student: 200 } },
    { name: 'GET /api/vms?since=0', method: 'GET', path: () => '/api/vms?since=0', expect: all(200) },
    { name: 'GET /api/vm/X/status', method: 'GET', path: (c) => `/api/vm/${c.X}/status`, expect: vmUsers(200) },
    { name: 'GET /api/vm/X/ip', method: 'GET', path: (c) => `/api/vm/${c.X}/ip`, expect: vmUsers(200) },
    { name: 'GET /api/vm/X/rdp', method: 'GET', path: (c) => `/api/vm/${c.X}/rdp`, expect: vmUsers(200) },
    { name: 'GET /api/vm/X/ssh', method: 'GET', path: (c) => `/api/vm/${c.X}/ssh`, expect: vmUsers(200) },
    { name: 'GET /api/classes', method: 'GET', path: () => '/api/classes', expect: all(200) },
    { name: 'POST /api/classes', method: 'POST', path: () => '/api/classes', body: () => ({ name: `New ${++n}` }),
      expect: { admin: 201, teacher: 201, otherTeacher: 201, student: 403, otherStudent: 403, anonymous: 401 } },
    { name: 'GET /api/classes/A', method: 'GET', path: (c) => `/api/classes/${c.A}`, expect: classManagers(200) },
    { name: 'PATCH /api/classes/A', method: 'PATCH', path: (c) => `/api/classes/${c.A}`, body: () => ({ name: 'Class A' }), expect: classManagers(200) },
    { name: 'DELETE /api/classes/:id', method: 'DELETE', path: (c) => `/api/classes/${c.s.id}`,
      setup: async () => ({ id: (await ts.request('POST', '/api/classes', { cookie: await ts.login('teacher'), body: { name: 'Doomed' } })).body.class.id }),
      expect: classManagers(204) },
    { name: 'POST /api/classes/A/teachers', method: 'POST', path: (c) => `/api/classes/${c.A}/teachers`, body: () => ({ username: 'spareteacher' }), expect: classManagers(200) },
    { name: 'DELETE /api/classes/A/teachers/:id', method: 'DELETE', path: (c) => `/api/classes/${c.A}/teachers/${c.ids.spareTeacher}`,
      setup: async (c) => { await asAdmin('POST', `/api/classes/${c.A}/teachers`, { username: 'spareteacher' }); return {}; }, expect: classManagers(200) },
    { name: 'POST /api/classes/A/students', method: 'POST', path: (c) => `/api/classes/${c.A}/students`, body: () => ({ username: 'sparestudent' }), expect: classManagers(204) },
    { name: 'DELETE /api/classes/A/students/:id', method: 'DELETE', path: (c) => `/api/classes/${c.A}/students/${c.ids.spareStudent}`,
      setup: async (c) => { await asAdmin('POST', `/api/classes/${c.A}/students`, { username: 'sparestudent' }); return {}; }, expect: classManagers(204) },
    { name: 'GET /api/classes/A/invites', method: 'GET', path: (c) => `/api/classes/${c.A}/invites`, expect: classManagers(200) },
    { name: 'POST /api/classes/A/invites', method: 'POST', path: (c) => `/api/classes/${c.A}/invites`, expect: classManagers(201) },
    { name: 'DELETE /api/classes/A/invites/:id', method: 'DELETE', path: (c) => `/api/classes/${c.A}/invites/${c.s.id}`,
      setup: async (c) => ({ id: (await asAdmin('POST', `/api/classes/${c.A}/invites`)).id }), expect: classManagers(204) },
    { name: 'GET /api/invites/:token', method: 'GET', path: (c) => `/api/invites/${c.s.token}`,
      setup: async (c) => ({ token: (await asAdmin('POST', `/api/classes/${c.A}/invites`)).token }), expect: all(200) },
    { name: 'POST /api/classes/A/pool', method: 'POST', path: (c) => `/api/classes/${c.A}/pool`, body: (c) => ({ vmid: c.X2 }), expect: classManagers(201) },
    { name: 'DELETE /api/classes/A/pool/:id', method: 'DELETE', path: (c) => `/api/classes/${c.A}/pool/${c.s.id}`,
      setup: async (c) => ({ id: (await asAdmin('POST', `/api/classes/${c.A}/pool`, { vmid: c.W })).entry.id }), expect: classManagers(204) },
    { name: 'POST /api/classes/A/assignments', method: 'POST', path: (c) => `/api/classes/${c.A}/assignments`, body: (c) => ({ vmid: c.X, username: 'student' }), expect: classManagers(200) },
    { name: 'DELETE /api/classes/A/assignments/:cluster/:vmid', method: 'DELETE', path: (c) => `/api/classes/${c.A}/assignments/lab-a/${c.W}`,
      setup: async (c) => {
        await asAdmin('POST', `/api/classes/${c.A}/pool`, { vmid: c.W });
        await asAdmin('POST', `/api/classes/${c.A}/assignments`, { vmid: c.W, username: 'student' });
        return {};
      }, expect: classManagers(200) },
    { name: 'POST /api/classes/A/auto-assign', method: 'POST', path: (c) => `/api/classes/${c.A}/auto-assign`, expect: classManagers(200) },
    { name: 'POST /api/classes/A/import-mappings', method: 'POST', path: (c) => `/api/classes/${c.A}/import-mappings`, body: (c) => ({ student: [c.X] }), expect: classManagers(200) },
    { name: 'GET /api/classes/A/projector-links', method: 'GET', path: (c) => `/api/classes/${c.A}/projector-links`, expect: classManagers(200) },
    { name: 'POST /api/classes/A/projector-links', method: 'POST', path: (c) => `/api/classes/${c.A}/projector-links`, expect: classManagers(201) },
    { name: 'DELETE /api/classes/A/projector-links/:token', method: 'DELETE', path: (c) => `/api/classes/${c.A}/projector-links/${c.s.token}`,
      setup: async (c) => ({ token: (await asAdmin('POST', `/api/classes/${c.A}/projector-links`)).token }), expect: classManagers(204) },
    { name: 'GET /api/projector/:token', method: 'GET', path: (c) => `/api/projector/${c.s.token}`,
      setup: async (c) => ({ token: (await asAdmin('POST', `/api/classes/${c.A}/projector-links`)).token }), expect: all(200, 200),
      check: (_w, body) => expect(body.vms.map((v: any) => v.vmid)).not.toContain(ctx.Z) },
    { name: 'GET /api/sync/status', method: 'GET', path: () => '/api/sync/status', expect: adminOnly(200) },
    { name: 'POST /api/sync/trigger', method: 'POST', path: () => '/api/sync/trigger', body: () => ({ kind: 'quick' }), expect: adminOnly(200) },
    { name: 'GET /api/sync/inventory/summary', method: 'GET', path: () => '/api/sync/inventory/summary', expect: adminOnly(200) },
    { name: 'GET /api/audit', method: 'GET', path: () => '/api/audit', expect: { ...classManagers(200), otherTeacher: 200 } },
    { name: 'GET /api/audit?classId=A', method: 'GET', path: (c) => `/api/audit?classId=${c.A}`, expect: classManagers(200) },
    { name: 'GET /api/users', method: 'GET', path: () => '/api/users', expect: adminOnly(200) },
    { name: 'POST /api/users', method: 'POST', path: () => '/api/users', body: () => ({ username: `made${++n}`, password: 'long-enough', role: 'student' }), expect: adminOnly(201) },
    { name: 'PATCH /api/users/:id', method: 'PATCH', path: (c) => `/api/users/${c.ids.spareStudent}`, body: () => ({ displayName: 'Spare' }), expect: adminOnly(200) },
    { name: 'POST /api/vm/X/stop', method: 'POST', path: (c) => `/api/vm/${c.X}/stop`, expect: vmUsers([200, 202]) },
    { name: 'POST /api/vms/actions (selection)', method: 'POST', path: () => '/api/vms/actions', body: (c) => ({ action: 'stop', vms: [{ cluster: 'lab-a', vmid: c.X }] }),
      expect: all(200),
      check: (w, body) => expect(body.results[0].httpStatus).toBe(['otherTeacher', 'otherStudent'].includes(w) ? 403 : body.results[0].ok ? body.results[0].httpStatus : -1) },
    { name: 'POST /api/vms/actions (class)', method: 'POST', path: () => '/api/vms/actions', body: (c) => ({ action: 'stop', classId: c.A }), expect: classManagers(200) },
    { name: 'POST /api/invites/:token/accept', method: 'POST', path: (c) => `/api/invites/${c.s.token}/accept`,
      setup: async (c) => ({ token: (await asAdmin('POST', `/api/classes/${c.A}/invites`)).token }),
      expect: { admin: 403, teacher: 403, otherTeacher: 403, student: 200, otherStudent: 200, anonymous: 401 } },
  ];

  for (const row of rows) {
    describe(row.name, () => {
      for (const w of who) {
        it(`${w} → ${JSON.stringify(row.expect[w])}`, async () => {
          ctx.s = row.setup ? await row.setup(ctx) : {};
          const r = await ts.request(row.method, row.path(ctx), { cookie: cookies[w] ?? null, body: row.body?.(ctx) });
          const want = row.expect[w];
          expect(Array.isArray(want) ? want : [want], `${row.name} as ${w}: ${r.status} ${r.text.slice(0, 200)}`).toContain(r.status);
          if (r.status >= 400) {
            expect(r.body?.error?.code).toBeTypeOf('string');
          } else if (row.check) row.check(w, r.body);
        });
      }
    });
  }

});
