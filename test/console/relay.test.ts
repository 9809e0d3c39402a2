// The console relay end to end over real WebSockets: labdeck between a test client speaking RFB
// (as noVNC does) or the termproxy framing, and the simulator's consoles. Who may open what, the
// one-time token (reuse, expiry, someone else's), the Origin, the relay closing on unassignment,
// sign-out and a stopped VM, view-only watching by a teacher, and the audit entries.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { WebSocket } from 'ws';
import { io as connect, type Socket } from 'socket.io-client';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { RfbClient, pixelAt } from '../../server/simulator/console/rfb-client.js';
import { BANNER_RGB, COUNTER_RECT, COUNTER_RGB } from '../../server/simulator/console/framebuffer.js';
import { waitFor } from '../helpers/wait.js';

const FULL = { x: 0, y: 0, w: 640, h: 400 };
const TTL_MS = 2000;

/** `text()` is everything received so far as text (the terminal's output). */
type Opened = { ws: WebSocket; rfb: RfbClient; text: () => string } | { status: number; body: string };

/** Connects to a console URL as a browser would (Origin of the page, the session cookie). */
function openConsole(base: string, url: string, opts: { cookie?: string; origin?: string | null } = {}): Promise<Opened> {
  return new Promise((resolve) => {
    const headers: Record<string, string> = {};
    if (opts.cookie) headers.cookie = opts.cookie;
    if (opts.origin !== null) headers.origin = opts.origin ?? base;
    const ws = new WebSocket(base.replace(/^http/, 'ws') + url, ['binary'], { headers });
    // Readers go on at once: the first bytes may arrive before a promise continuation runs.
    let text = '';
    ws.on('open', () => {
      ws.on('message', (d: Buffer) => { text += d.toString(); });
      resolve({ ws, rfb: new RfbClient(ws), text: () => text });
    });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on('error', () => undefined);
  });
}

const closeOf = (ws: WebSocket) => new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));

describe('console relay', () => {
  let t: TestServer;
  let classId: number;
  let qemu: number;
  let qemu2: number;
  let lxc: number;
  let other: number;
  const cookies: Record<string, string> = {};
  const ids: Record<string, number> = {};
  const sockets: Socket[] = [];

  beforeAll(async () => {
    t = await startTestServer({ start: { consoleTokenTtlMs: TTL_MS } });
    await t.synced();
    const guests = t.cluster.guests().filter((g) => !g.template);
    [qemu, qemu2, other] = guests.filter((g) => g.type === 'qemu').map((g) => g.vmid);
    lxc = guests.find((g) => g.type === 'lxc')!.vmid;
    for (const vmid of [qemu, qemu2, other, lxc]) if (t.cluster.guest(vmid)!.status !== 'running') t.cluster.powerOutside(vmid, 'start');
    await t.synced();
    await waitFor(async () => (await t.labdeck.inventory.list()).filter((v) => [qemu, qemu2, lxc].includes(v.vmid) && v.status === 'running').length === 3, 10_000, 'running VMs');
    for (const [name, role] of [['teacher', 'teacher'], ['teacher2', 'teacher'], ['student1', 'student'], ['student2', 'student']] as const) {
      ids[name] = (await t.createUser(name, role)).id;
    }
    const repo = t.labdeck.classesRepo;
    classId = await repo.create('Networks', ids.teacher);
    const otherClass = await repo.create('Other', ids.teacher2);
    await repo.addMember(classId, ids.student1);
    await repo.addMember(otherClass, ids.student2);
    await repo.assign(classId, 'lab-a', qemu, ids.student1);
    await repo.assign(classId, 'lab-a', qemu2, ids.student1);
    await repo.assign(classId, 'lab-a', lxc, ids.student1);
    await repo.assign(otherClass, 'lab-a', other, ids.student2);
    await t.labdeck.access.reload();
    for (const name of Object.keys(ids)) cookies[name] = await t.login(name);
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await t?.close();
  });

  const ask = (who: string | null, vmid: number, body?: unknown) =>
    t.request('POST', `/api/vm/${vmid}/console?cluster=lab-a`, { cookie: who ? cookies[who] : null, body, headers: { origin: t.url } });

  it('gives the VM\'s student a one-time VNC link whose console relays the guest\'s RFB handshake and picture', async () => {
    const res = await ask('student1', qemu);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ kind: 'vnc', mode: 'control' });
    expect(res.body.url).toMatch(/^\/api\/console\/socket\?token=[A-Za-z0-9_-]{43}$/);
    expect(res.body.password).toMatch(/^[!-`]{8}$/);
    expect(res.body.expiresAt - Date.now()).toBeLessThanOrEqual(TTL_MS);
    expect(JSON.stringify(res.body)).not.toContain(t.cluster.tokenSecret);

    const opened = await openConsole(t.url, res.body.url, { cookie: cookies.student1 });
    expect('ws' in opened).toBe(true);
    const { ws, rfb } = opened as { ws: WebSocket; rfb: RfbClient };
    const init = await rfb.handshake(res.body.password);
    expect(init).toEqual({ width: 640, height: 400, name: t.cluster.guest(qemu)!.name });
    const [frame] = await rfb.update(false, FULL);
    expect(pixelAt(frame, 20, 20)).toEqual([...BANNER_RGB]);
    const before = pixelAt(frame, COUNTER_RECT.x + 5, 5);
    rfb.key(0x41);
    const changed = await rfb.update(true, FULL);
    const counter = changed.find((r) => r.x === COUNTER_RECT.x)!;
    expect(pixelAt(counter, COUNTER_RECT.x + 5, 5)).not.toEqual(before);
    const closed = closeOf(ws);
    ws.close();
    await closed;
    // The session is in the audit log, settled with its start and end.
    const entry = await waitFor(async () => {
      const rows = await t.labdeck.audit.list({ vmid: qemu, limit: 10 });
      return rows.find((r) => r.action === 'console' && r.outcome === 'ok');
    }, 5000, 'settled audit entry');
    expect(entry).toMatchObject({ username: 'student1', cluster: 'lab-a', vmid: qemu, target: 'vm' });
    expect(entry.detail).toMatch(/VNC, control, \d{4}-\d\d-\d\dT.* to \d{4}-\d\d-\d\dT.*\(\d+ s\), ended: closed by the viewer/);
  });

  it('a wrong VNC password gets the RFB failure, not the guest', async () => {
    const res = await ask('student1', qemu);
    const { rfb } = (await openConsole(t.url, res.body.url, { cookie: cookies.student1 })) as { rfb: RfbClient };
    await expect(rfb.handshake('xxxxxxxx')).rejects.toThrow(/Authentication failure/);
  });

  it('refuses another student, a teacher of another class and anonymous', async () => {
    expect((await ask('student2', qemu)).status).toBe(403);
    expect((await ask('teacher2', qemu)).status).toBe(403);
    expect((await ask(null, qemu)).status).toBe(401);
    // A link taken by someone else is useless to them, and spent.
    const res = await ask('student1', qemu);
    expect(await openConsole(t.url, res.body.url, { cookie: cookies.student2 })).toMatchObject({ status: 403 });
    expect(await openConsole(t.url, res.body.url, { cookie: cookies.student1 })).toMatchObject({ status: 403 });
    const res2 = await ask('student1', qemu);
    expect(await openConsole(t.url, res2.body.url, {})).toMatchObject({ status: 401 });
  });

  it('refuses a token on reuse, after it expired, and from a foreign Origin', async () => {
    const res = await ask('student1', qemu);
    const first = await openConsole(t.url, res.body.url, { cookie: cookies.student1 });
    expect('ws' in first).toBe(true);
    const again = await openConsole(t.url, res.body.url, { cookie: cookies.student1 });
    expect(again).toMatchObject({ status: 403 });
    expect((again as { body: string }).body).toContain('expired or was already used');
    (first as { ws: WebSocket }).ws.close();

    const late = await ask('student1', qemu);
    await waitFor(() => Date.now() > late.body.expiresAt, TTL_MS + 2000, 'the link to expire');
    expect(await openConsole(t.url, late.body.url, { cookie: cookies.student1 })).toMatchObject({ status: 403 });

    const foreign = await ask('student1', qemu);
    expect(await openConsole(t.url, foreign.body.url, { cookie: cookies.student1, origin: 'http://evil.example' })).toMatchObject({ status: 403 });
    expect(await openConsole(t.url, foreign.body.url, { cookie: cookies.student1, origin: null })).toMatchObject({ status: 403 });
  });

  it('validates input: a bad body, vmid or cluster is a 400 naming the field', async () => {
    const bad = await ask('student1', qemu, { control: 'yes' });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('control');
    expect((await t.request('POST', '/api/vm/12/console', { cookie: cookies.student1, headers: { origin: t.url } })).status).toBe(400);
    expect((await openConsole(t.url, '/api/console/socket?token=short', { cookie: cookies.student1 }))).toMatchObject({ status: 400 });
  });

  it('LXC: the terminal logs in for the browser and echoes typed text', async () => {
    const res = await ask('student1', lxc);
    expect(res.body).toMatchObject({ kind: 'terminal' });
    expect(res.body.password).toBeUndefined();
    const { ws, text } = (await openConsole(t.url, res.body.url, { cookie: cookies.student1 })) as { ws: WebSocket; text: () => string };
    await waitFor(() => text().includes('# '), 5000, 'the prompt');
    // The login happened between labdeck and Proxmox: the browser never sees the ticket's OK.
    expect(text().startsWith('OK')).toBe(false);
    const typed = 'echo hello-labdeck\r';
    ws.send(`0:${Buffer.byteLength(typed)}:${typed}`);
    await waitFor(() => /hello-labdeck\r\n.*hello-labdeck/s.test(text()), 5000, 'the echo');
    ws.close();
  });

  it('a teacher of the class watches read-only by default, the student is told, and may take control', async () => {
    const student = connect(t.url, { path: '/socket.io', transports: ['websocket'], reconnection: false, forceNew: true, extraHeaders: { cookie: cookies.student1, origin: t.url } });
    sockets.push(student);
    const pushes: Array<{ vmid: number; watchers: Array<{ name: string; mode: string }> }> = [];
    student.on('console:watchers', (m) => pushes.push(m));
    await new Promise<void>((r) => student.once('connect', () => r()));

    const watch = await ask('teacher', qemu);
    expect(watch.body.mode).toBe('view');
    const { ws, rfb } = (await openConsole(t.url, watch.body.url, { cookie: cookies.teacher })) as { ws: WebSocket; rfb: RfbClient };
    await rfb.handshake(watch.body.password);
    const [before] = await rfb.update(false, FULL);
    rfb.key(0x42);
    // Same stream, so the key went before this request: had it passed, the picture would differ.
    const [after] = await rfb.update(false, FULL);
    expect(pixelAt(after, COUNTER_RECT.x + 5, 5)).toEqual(pixelAt(before, COUNTER_RECT.x + 5, 5));
    await waitFor(() => pushes.some((p) => p.vmid === qemu && p.watchers.some((w) => w.name === 'teacher' && w.mode === 'view')), 5000, 'the watcher push');

    const take = await ask('teacher', qemu, { control: true });
    expect(take.body.mode).toBe('control');
    const c2 = (await openConsole(t.url, take.body.url, { cookie: cookies.teacher })) as { ws: WebSocket; rfb: RfbClient };
    await c2.rfb.handshake(take.body.password);
    const [b2] = await c2.rfb.update(false, FULL);
    c2.rfb.key(0x43);
    const [a2] = await c2.rfb.update(false, FULL);
    expect(pixelAt(a2, COUNTER_RECT.x + 5, 5)).not.toEqual(pixelAt(b2, COUNTER_RECT.x + 5, 5));
    expect([...COUNTER_RGB].map((c) => c.join())).toContain(pixelAt(a2, COUNTER_RECT.x + 5, 5).join());
    ws.close();
    c2.ws.close();
    await waitFor(() => pushes.at(-1)?.watchers.length === 0, 5000, 'the watchers to leave');
  });

  it('closes the relay within a second when the student is unassigned', async () => {
    const res = await ask('student1', qemu2);
    const { ws, rfb } = (await openConsole(t.url, res.body.url, { cookie: cookies.student1 })) as { ws: WebSocket; rfb: RfbClient };
    await rfb.handshake(res.body.password);
    const closed = closeOf(ws);
    const started = Date.now();
    const del = await t.request('DELETE', `/api/classes/${classId}/assignments/lab-a/${qemu2}`, { cookie: cookies.teacher, headers: { origin: t.url } });
    expect(del.status).toBeLessThan(300);
    const { code } = await closed;
    expect(Date.now() - started).toBeLessThan(1000);
    expect(code).toBe(4003);
    expect((await ask('student1', qemu2)).status).toBe(403);
  });

  it('closes the relay when the VM stops, and a stopped VM gets a 409', async () => {
    const res = await ask('student1', qemu);
    const { ws, rfb } = (await openConsole(t.url, res.body.url, { cookie: cookies.student1 })) as { ws: WebSocket; rfb: RfbClient };
    await rfb.handshake(res.body.password);
    const closed = closeOf(ws);
    t.cluster.powerOutside(qemu, 'stop');
    expect([4009, 4502]).toContain((await closed).code);
    await waitFor(async () => (await t.labdeck.inventory.get('lab-a', qemu))?.status === 'stopped' || (await t.labdeck.sync.trigger({ kind: 'quick' }), false), 10_000, 'stopped in the inventory');
    const stopped = await ask('student1', qemu);
    expect(stopped.status).toBe(409);
    expect(stopped.text).toContain('stopped');
    t.cluster.powerOutside(qemu, 'start');
  });

  it('closes the relay when the user signs out', async () => {
    const res = await ask('student1', lxc);
    const { ws } = (await openConsole(t.url, res.body.url, { cookie: cookies.student1 })) as { ws: WebSocket };
    const closed = closeOf(ws);
    await t.request('POST', '/api/auth/logout', { cookie: cookies.student1, headers: { origin: t.url } });
    expect((await closed).code).toBe(4001);
  });
});

describe('console relay on a cluster whose termproxy refuses API tokens', () => {
  const CONSOLE_USER = { userid: 'labdeck-console@pve', password: 'console-secret', privileges: ['VM.Console', 'VM.Audit'] };

  /** A server on a legacy cluster; `console` is the console user config, or none. */
  async function legacyServer(consoleUser: unknown) {
    const t = await startTestServer({ clusters: [{ id: 'lab-a', nodes: 1, guests: 30, seed: 7, users: [CONSOLE_USER], termproxyTokenLogin: false, console: consoleUser }] });
    await t.synced();
    const ct = t.cluster.guests().find((g) => g.type === 'lxc' && !g.template)!.vmid;
    if (t.cluster.guest(ct)!.status !== 'running') t.cluster.powerOutside(ct, 'start');
    await waitFor(async () => (await t.labdeck.sync.trigger({ kind: 'quick' }), (await t.labdeck.inventory.get('lab-a', ct))?.status === 'running'), 10_000, 'running container');
    await t.createUser('boss', 'admin');
    return { t, ct, cookie: await t.login('boss') };
  }

  it('without a console user the terminal is refused with a message that says what to configure', async () => {
    const { t, ct, cookie } = await legacyServer(undefined);
    try {
      const res = await t.request('POST', `/api/vm/${ct}/console`, { cookie, headers: { origin: t.url } });
      const opened = await openConsole(t.url, res.body.url, { cookie });
      expect(opened).toMatchObject({ status: 502 });
      expect((opened as { body: string }).body).toContain('console user');
    } finally {
      await t.close();
    }
  });

  it('with a console user (password ticket) the terminal works', async () => {
    const { t, ct, cookie } = await legacyServer({ username: CONSOLE_USER.userid, password: CONSOLE_USER.password });
    try {
      const res = await t.request('POST', `/api/vm/${ct}/console`, { cookie, headers: { origin: t.url } });
      const { ws, text } = (await openConsole(t.url, res.body.url, { cookie })) as { ws: WebSocket; text: () => string };
      await waitFor(() => text().includes('# '), 5000, 'the prompt');
      ws.send('0:9:hostname\r');
      await waitFor(() => text().includes(`${t.cluster.guest(ct)!.name}\r\n`), 5000, 'the hostname');
      ws.close();
    } finally {
      await t.close();
    }
  });
});
