// Every route × admin / teacher of the class / other teacher / assigned student / other student /
// anonymous, against the real server and simulator, with the expected answer in every cell; then
// the class-scope cases on HTTP and socket.io, on SQLite and PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { dialects } from '../helpers/db.js';
import { waitFor } from '../helpers/wait.js';
import type { Vm } from '../../contract/vm.js';

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
    // An admin gives each class its scope: A may draw from X..W, B only Z.
    await asAdmin('PUT', `/api/classes/${ctx.A}/scope`, { rules: [{ kind: 'range', cluster: 'lab-a', min: ctx.X, max: ctx.W }] });
    await asAdmin('PUT', `/api/classes/${ctx.B}/scope`, { rules: [{ kind: 'range', cluster: 'lab-a', min: ctx.Z, max: ctx.Z }] });
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
      setup: async (c) => ({ token: (await asAdmin('POST', `/api/classes/${c.A}/invites`)).token }), expect: all(200, 200) },
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
    { name: 'GET /api/classes/A/scope', method: 'GET', path: (c) => `/api/classes/${c.A}/scope`, expect: classManagers(200) },
    { name: 'PUT /api/classes/A/scope', method: 'PUT', path: (c) => `/api/classes/${c.A}/scope`,
      body: (c) => ({ rules: [{ kind: 'range', cluster: 'lab-a', min: c.X, max: c.W }] }), expect: adminOnly(200) },
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

// Class scope: what an admin lets a class draw from. Two clusters; class A may use all of lab-a,
// class B all of lab-b and holds one lab-a VM an admin gave it (H). Over HTTP and socket.io, on
// every database the tests have.
type ScopeWho = 'admin' | 'teacher' | 'otherTeacher' | 'student' | 'anonymous';
const scopeWho: ScopeWho[] = ['admin', 'teacher', 'otherTeacher', 'student', 'anonymous'];

describe.each(dialects)('class scope matrix (%s)', (dialect) => {
  let ts: TestServer;
  const cookies: Partial<Record<ScopeWho, string>> = {};
  let A = 0, B = 0;
  /** lab-a: free VMs for the teacher, H held by B, a template; lab-b: VMs outside A's scope. */
  let freeA: Vm[] = [], freeB: Vm[] = [], H: Vm, T: Vm, tagA = '';
  const sockets: Socket[] = [];
  const asAdmin = async (method: string, path: string, body?: unknown) => {
    const r = await ts.request(method, path, { cookie: cookies.admin, body });
    if (r.status >= 300) throw new Error(`setup ${method} ${path}: ${r.status} ${r.text}`);
    return r.body;
  };
  const openSocket = async (cookie: string) => {
    const socket = connect(ts.url, { path: '/socket.io', transports: ['websocket'], reconnection: false, forceNew: true, extraHeaders: { cookie } });
    sockets.push(socket);
    const seen = { changed: [] as string[], removed: [] as Array<{ ids: string[]; reason?: string }> };
    socket.on('vm:changed', (m: { vms: Vm[] }) => seen.changed.push(...m.vms.map((v) => v.id)));
    socket.on('vm:removed', (m: { ids: string[]; reason?: string }) => seen.removed.push(m));
    await new Promise<void>((resolve, reject) => { socket.once('connect', () => resolve()); socket.once('connect_error', reject); });
    return { socket, seen };
  };

  beforeAll(async () => {
    ts = await startTestServer({ dialect, clusters: [{ id: 'lab-a', guests: 30, seed: 7 }, { id: 'lab-b', guests: 20, seed: 8 }] });
    await ts.synced();
    for (const [name, role] of [['admin', 'admin'], ['teacher', 'teacher'], ['otherTeacher', 'teacher'], ['student', 'student'], ['newTeacher', 'teacher']] as const) {
      await ts.createUser(name.toLowerCase(), role);
    }
    for (const w of scopeWho) if (w !== 'anonymous') cookies[w] = await ts.login(w.toLowerCase());
    const all = await ts.labdeck.inventory.list();
    const plain = (c: string) => all.filter((v) => v.cluster === c && !v.template && v.type === 'qemu').sort((a, b) => a.vmid - b.vmid);
    [H, ...freeA] = plain('lab-a');
    freeB = plain('lab-b');
    T = all.find((v) => v.cluster === 'lab-a' && v.template)!;
    tagA = freeA.flatMap((v) => v.tags).find((t) => !H.tags.includes(t))!;
    expect(T, 'the simulator makes templates').toBeDefined();
    expect(tagA, 'a lab-a tag H does not carry').toBeTruthy();
    A = (await ts.request('POST', '/api/classes', { cookie: cookies.teacher, body: { name: 'Class A' } })).body.class.id;
    B = (await ts.request('POST', '/api/classes', { cookie: cookies.otherTeacher, body: { name: 'Class B' } })).body.class.id;
    await asAdmin('POST', `/api/classes/${A}/students`, { username: 'student' });
    await asAdmin('PUT', `/api/classes/${A}/scope`, { rules: [{ kind: 'cluster', cluster: 'lab-a' }] });
    await asAdmin('PUT', `/api/classes/${B}/scope`, { rules: [{ kind: 'cluster', cluster: 'lab-b' }] });
    await asAdmin('POST', `/api/classes/${B}/pool`, { vmid: H.vmid, cluster: 'lab-a' });
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await ts?.close();
  });

  let next = 0;
  const rows: Array<{ name: string; body: () => unknown; expect: Record<ScopeWho, number>; message?: Partial<Record<ScopeWho, RegExp>> }> = [
    { name: 'a lab-a VM (in scope)', body: () => ({ vmid: freeA[next++ % 10].vmid, cluster: 'lab-a' }),
      expect: { admin: 201, teacher: 201, otherTeacher: 403, student: 403, anonymous: 401 } },
    { name: 'a lab-b VM (out of scope)', body: () => ({ vmid: freeB[0].vmid, cluster: 'lab-b' }),
      expect: { admin: 201, teacher: 403, otherTeacher: 403, student: 403, anonymous: 401 }, message: { teacher: /this class may use: all of lab-a/ } },
    { name: 'a lab-b vmid that does not exist (answered like one out of scope)', body: () => ({ vmid: 99_999, cluster: 'lab-b' }),
      expect: { admin: 404, teacher: 403, otherTeacher: 403, student: 403, anonymous: 401 }, message: { teacher: /this class may use: all of lab-a/ } },
    { name: 'VM H held by class B', body: () => ({ vmid: H.vmid, cluster: 'lab-a' }),
      expect: { admin: 201, teacher: 409, otherTeacher: 403, student: 403, anonymous: 401 }, message: { teacher: /held by class "Class B"/ } },
    { name: 'a template', body: () => ({ vmid: T.vmid, cluster: 'lab-a' }),
      expect: { admin: 201, teacher: 403, otherTeacher: 403, student: 403, anonymous: 401 }, message: { teacher: /template/ } },
    { name: 'a tag without a cluster', body: () => ({ tag: tagA }),
      expect: { admin: 400, teacher: 400, otherTeacher: 400, student: 400, anonymous: 401 }, message: { teacher: /cluster/ } },
    { name: 'a lab-b tag (out of scope)', body: () => ({ tag: tagA, cluster: 'lab-b' }),
      expect: { admin: 201, teacher: 403, otherTeacher: 403, student: 403, anonymous: 401 } },
  ];
  for (const row of rows) {
    describe(`POST /api/classes/A/pool: ${row.name}`, () => {
      for (const w of scopeWho) {
        it(`${w} → ${row.expect[w]}`, async () => {
          const r = await ts.request('POST', `/api/classes/${A}/pool`, { cookie: cookies[w] ?? null, body: row.body() });
          expect(r.status, r.text.slice(0, 300)).toBe(row.expect[w]);
          if (row.message?.[w]) expect(r.body.error.message).toMatch(row.message[w]!);
          if (r.status === 400) expect(r.body.error.field).toBe('cluster');
          if (r.status === 201) expect(r.body.entry.approved).toBe(w === 'admin');
          // Whatever the admin added is undone, so each cell starts from the same state.
          if (r.status === 201 && w === 'admin') await asAdmin('DELETE', `/api/classes/${A}/pool/${r.body.entry.id}`);
        });
      }
    });
  }

  it('the attack: a teacher takes another class\'s VM and a tag across clusters; both refused, and nothing changed', async () => {
    const stolen = await ts.request('POST', `/api/classes/${A}/pool`, { cookie: cookies.teacher, body: { vmid: H.vmid } });
    expect(stolen.status).toBe(409);
    const everywhere = await ts.request('POST', `/api/classes/${A}/pool`, { cookie: cookies.teacher, body: { tag: tagA } });
    expect(everywhere.status).toBe(400);
    expect((await ts.request('POST', `/api/vm/${H.vmid}/stop?cluster=lab-a`, { cookie: cookies.teacher })).status).toBe(403);
    const visible = (await ts.request('GET', '/api/vms', { cookie: cookies.teacher })).body.vms as Vm[];
    expect(visible.filter((v) => v.cluster === 'lab-b' || v.id === H.id)).toEqual([]);
  });

  it('a teacher\'s tag inside the scope holds the lab-a VMs with it, never templates or lab-b ones', async () => {
    const r = await ts.request('POST', `/api/classes/${A}/pool`, { cookie: cookies.teacher, body: { tag: tagA, cluster: 'lab-a' } });
    expect(r.status).toBe(201);
    const listed = (await ts.request('GET', `/api/vms?class=${A}`, { cookie: cookies.teacher })).body.vms as Vm[];
    const want = (await ts.labdeck.inventory.list({ tag: tagA, cluster: 'lab-a' })).filter((v) => !v.template).map((v) => v.id);
    expect(listed.map((v) => v.id)).toEqual(expect.arrayContaining(want));
    expect(listed.some((v) => v.cluster === 'lab-b' || v.template)).toBe(false);
    await ts.request('DELETE', `/api/classes/${A}/pool/${r.body.entry.id}`, { cookie: cookies.teacher });
  });

  it('admin approval: an admin gives class A a lab-b VM; its teacher sees, powers and assigns it, and its socket gets it', async () => {
    const vm = freeB[3];
    const t = await openSocket(cookies.teacher!);
    expect((await ts.request('GET', `/api/vm/${vm.vmid}/status?cluster=lab-b`, { cookie: cookies.teacher })).status).toBe(403);
    const entry = (await asAdmin('POST', `/api/classes/${A}/pool`, { vmid: vm.vmid, cluster: 'lab-b' })).entry;
    expect(entry).toMatchObject({ approved: true, cluster: 'lab-b', vmid: vm.vmid });
    expect((await ts.request('GET', `/api/vm/${vm.vmid}/status?cluster=lab-b`, { cookie: cookies.teacher })).status).toBe(200);
    const assigned = await ts.request('POST', `/api/classes/${A}/assignments`, { cookie: cookies.teacher, body: { vmid: vm.vmid, cluster: 'lab-b', username: 'student' } });
    expect(assigned.status).toBe(200);
    ts.sim.clusters[1].powerOutside(vm.vmid, ts.sim.clusters[1].guest(vm.vmid)!.status === 'running' ? 'stop' : 'start');
    await ts.labdeck.sync.trigger({ cluster: 'lab-b', kind: 'quick' });
    await waitFor(() => t.seen.changed.includes(vm.id), 5000, 'the lab-b VM on the teacher\'s socket');
    await asAdmin('DELETE', `/api/classes/${A}/pool/${entry.id}`);
  });

  it('sharing is an admin\'s decision, visible in both classes', async () => {
    const e = (await asAdmin('POST', `/api/classes/${A}/pool`, { vmid: H.vmid, cluster: 'lab-a' })).entry;
    const a = (await ts.request('GET', `/api/classes/${A}`, { cookie: cookies.teacher })).body.class;
    const b = (await ts.request('GET', `/api/classes/${B}`, { cookie: cookies.otherTeacher })).body.class;
    expect(a.shared).toContainEqual({ vm: H.id, classes: [{ id: B, name: 'Class B' }] });
    expect(b.shared).toContainEqual({ vm: H.id, classes: [{ id: A, name: 'Class A' }] });
    await asAdmin('DELETE', `/api/classes/${A}/pool/${e.id}`);
  });

  it('a VM that leaves the scope leaves the teacher\'s socket at once, and HTTP agrees', async () => {
    const vm = freeA[12];
    const added = await ts.request('POST', `/api/classes/${A}/pool`, { cookie: cookies.teacher, body: { vmid: vm.vmid, cluster: 'lab-a' } });
    expect(added.status).toBe(201);
    const t = await openSocket(cookies.teacher!);
    expect((await ts.request('GET', `/api/vm/${vm.vmid}/status?cluster=lab-a`, { cookie: cookies.teacher })).status).toBe(200);
    const narrowed = await ts.request('PUT', `/api/classes/${A}/scope`, { cookie: cookies.admin, body: { rules: [{ kind: 'range', cluster: 'lab-a', min: freeA[0].vmid, max: freeA[10].vmid }] } });
    expect(narrowed.status).toBe(200);
    expect(narrowed.body.scopeText).toBe(`this class may use: lab-a vmids ${freeA[0].vmid}-${freeA[10].vmid}`);
    await waitFor(() => t.seen.removed.some((m) => m.ids.includes(vm.id) && m.reason === 'access'), 5000, 'the VM removed from the teacher\'s socket');
    expect((await ts.request('GET', `/api/vm/${vm.vmid}/status?cluster=lab-a`, { cookie: cookies.teacher })).status).toBe(403);
    await asAdmin('PUT', `/api/classes/${A}/scope`, { rules: [{ kind: 'cluster', cluster: 'lab-a' }] });
    await waitFor(() => t.seen.changed.includes(vm.id), 5000, 'the VM back on the teacher\'s socket');
  });

  it('a teacher cannot change a scope; a new teacher\'s class has none until an admin gives one', async () => {
    const put = await ts.request('PUT', `/api/classes/${A}/scope`, { cookie: cookies.teacher, body: { rules: [{ kind: 'cluster', cluster: 'lab-b' }] } });
    expect(put.status).toBe(403);
    const nt = await ts.login('newteacher');
    const mine = (await ts.request('POST', '/api/classes', { cookie: nt, body: { name: 'New course' } })).body.class.id;
    const r = await ts.request('POST', `/api/classes/${mine}/pool`, { cookie: nt, body: { vmid: freeA[20].vmid, cluster: 'lab-a' } });
    expect(r.status).toBe(403);
    expect(r.body.error.message).toMatch(/no scope yet/);
    expect((await ts.request('GET', `/api/classes/${mine}/scope`, { cookie: nt })).body.scope).toEqual([]);
    const bad = await ts.request('PUT', `/api/classes/${mine}/scope`, { cookie: cookies.admin, body: { rules: [{ kind: 'cluster', cluster: 'lab-z' }] } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe('rules[0].cluster');
  });

  it('the mappings.json import takes only in-scope VMs for a teacher, and a huge file is refused at once', async () => {
    const report = (await ts.request('POST', `/api/classes/${A}/import-mappings?cluster=lab-b`, { cookie: cookies.teacher, body: { student: [freeB[5].vmid] } })).body.report;
    expect(report.assigned).toEqual([]);
    expect(report.refused).toEqual([{ username: 'student', cluster: 'lab-b', vmid: freeB[5].vmid, reason: 'outside this class\'s scope' }]);
    const held = (await ts.request('POST', `/api/classes/${A}/import-mappings?cluster=lab-a`, { cookie: cookies.teacher, body: { student: [H.vmid] } })).body.report;
    expect(held.refused[0].reason).toBe('held by class "Class B"');
    const huge = { student: Array.from({ length: 1000 }, (_, i) => 100 + i) } as Record<string, number[]>;
    for (let u = 0; u < 102; u++) huge[`ghost${u}`] = huge.student;
    const r = await ts.request('POST', `/api/classes/${A}/import-mappings`, { cookie: cookies.teacher, body: huge });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/at most 5000/);
  });
});
