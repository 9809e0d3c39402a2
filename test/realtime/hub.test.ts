// The push over real sockets: only the VMs a viewer may see, assignment changes at once, revoked
// sessions and projector links cut off, and a reconnect that catches up loses nothing.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import { startStack, type Stack } from '../e2e/harness.js';
import { waitFor } from '../helpers/wait.js';
import type { Vm } from '../../contract/vm.js';

interface Seen { changed: Array<{ revision: number; vms: Vm[] }>; removed: Array<{ revision: number; ids: string[]; reason?: string }> }

let stack: Stack;
const sockets: Socket[] = [];

function open(opts: { cookie?: string; projector?: string }): { socket: Socket; seen: Seen; ready: Promise<void> } {
  const socket = connect(stack.url, {
    path: '/socket.io', transports: ['websocket'], reconnection: false, forceNew: true,
    extraHeaders: opts.cookie ? { cookie: opts.cookie } : {},
    auth: opts.projector ? { projector: opts.projector } : {},
  });
  sockets.push(socket);
  const seen: Seen = { changed: [], removed: [] };
  socket.on('vm:changed', (m) => seen.changed.push(m));
  socket.on('vm:removed', (m) => seen.removed.push(m));
  const ready = new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (e) => reject(e));
  });
  return { socket, seen, ready };
}

/**
 * Barrier for "did not arrive": sends what the hub holds, then one ack round trip per socket.
 * socket.io keeps order per socket, so whatever was sent to it before is in by then.
 */
async function delivered(...opened: Array<{ socket: Socket }>): Promise<void> {
  stack.lab.realtime!.flush();
  await Promise.all(opened.map((o) => o.socket.emitWithAck('hello', {})));
}

const ids = (seen: Seen) => new Set(seen.changed.flatMap((m) => m.vms.map((v) => v.id)));
const key = (vmid: number) => `lab-a:${vmid}`;

async function api(cookie: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${stack.url}${path}`, {
    method, headers: { cookie, origin: stack.url, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

beforeAll(async () => {
  stack = await startStack();
});

afterAll(async () => {
  for (const s of sockets) s.disconnect();
  await stack?.close();
});

describe('realtime hub', () => {
  it('refuses a socket without a session, with a reason', async () => {
    const { ready } = open({});
    const err = await ready.then(() => null, (e: Error & { data?: { code: string; reason: string } }) => e);
    expect(err?.data?.code).toBe('unauthorized');
    expect(err?.data?.reason).toMatch(/signed in/i);
  });

  it('sends a student their VM and never another student\'s, each VM once per message', async () => {
    const [c1, c2, ct, ca] = await Promise.all([stack.login('student1'), stack.login('student2'), stack.login('teacher'), stack.login('admin')]);
    const s1 = open({ cookie: c1 }), s2 = open({ cookie: c2 }), teacher = open({ cookie: ct }), admin = open({ cookie: ca });
    await Promise.all([s1.ready, s2.ready, teacher.ready, admin.ready]);
    const [mine, theirs] = stack.pool;
    const was = stack.cluster.guest(mine)!.status;
    stack.cluster.powerOutside(mine, was === 'running' ? 'stop' : 'start');
    stack.cluster.powerOutside(theirs, stack.cluster.guest(theirs)!.status === 'running' ? 'stop' : 'start');
    await waitFor(() => ids(s1.seen).has(key(mine)), 5000, 'student1 to get their VM');
    await waitFor(() => ids(s2.seen).has(key(theirs)), 5000, 'student2 to get their VM');
    await waitFor(() => ids(teacher.seen).has(key(mine)) && ids(teacher.seen).has(key(theirs)), 5000, 'teacher to get both');
    await delivered(s1, s2);
    expect(ids(s2.seen).has(key(mine))).toBe(false);
    expect(ids(s1.seen).has(key(theirs))).toBe(false);
    for (const m of [...teacher.seen.changed, ...s1.seen.changed]) {
      expect(new Set(m.vms.map((v) => v.id)).size).toBe(m.vms.length);
    }
    // Only class VMs reach the teacher, whatever else changes.
    const outside = stack.cluster.guests().find((g) => !stack.pool.includes(g.vmid) && !g.template)!;
    stack.cluster.powerOutside(outside.vmid, outside.status === 'running' ? 'stop' : 'start');
    // The admin's socket shows the change was pushed; the others would have had it in the same flush.
    await waitFor(() => ids(admin.seen).has(key(outside.vmid)), 5000, 'admin to get the outside VM');
    await delivered(teacher, s1);
    expect(ids(teacher.seen).has(key(outside.vmid))).toBe(false);
    expect(ids(s1.seen).has(key(outside.vmid))).toBe(false);
  });

  it('moves a VM onto and off a student\'s socket when the teacher assigns and unassigns it', async () => {
    const [c3, ct] = await Promise.all([stack.login('student3'), stack.login('teacher')]);
    const s3 = open({ cookie: c3 });
    await s3.ready;
    const vmid = stack.pool[2];
    const res = await api(ct, 'POST', `/api/classes/${stack.classId}/assignments`, { cluster: 'lab-a', vmid, userId: stack.userIds.student3 });
    expect(res.status).toBe(200);
    await waitFor(() => ids(s3.seen).has(key(vmid)), 3000, 'assigned VM to appear');
    const del = await api(ct, 'DELETE', `/api/classes/${stack.classId}/assignments/lab-a/${vmid}`);
    expect(del.status).toBe(200);
    const gone = await waitFor(() => s3.seen.removed.find((m) => m.ids.includes(key(vmid))), 3000, 'unassigned VM to leave');
    expect(gone.reason).toBe('access');
  });

  it('disconnects the sockets of a session that signs out', async () => {
    const c1 = await stack.login('student1');
    const s1 = open({ cookie: c1 });
    await s1.ready;
    const reason = new Promise<string>((r) => s1.socket.once('disconnect', r));
    expect((await api(c1, 'POST', '/api/auth/logout')).status).toBeLessThan(300);
    expect(await reason).toBe('io server disconnect');
    const again = open({ cookie: c1 });
    await expect(again.ready).rejects.toThrow();
  });

  it('catches up after a reconnect: a change made while offline is in ?since=', async () => {
    const ca = await stack.login('admin');
    const first = open({ cookie: ca });
    await first.ready;
    const before = await api(ca, 'GET', '/api/vms');
    const revision = before.json.revision as number;
    first.socket.disconnect();
    // A guest nothing else in this file touches (a fresh outside change, not one the fast lane holds).
    const spare = stack.cluster.guests().filter((g) => g.type === 'qemu' && !g.template && !stack.pool.includes(g.vmid)).at(-1)!;
    const target = spare.status === 'running' ? 'stopped' : 'running';
    stack.cluster.powerOutside(spare.vmid, target === 'running' ? 'start' : 'stop');
    const since = await waitFor(async () => {
      const r = await api(ca, 'GET', `/api/vms?since=${revision}`);
      return r.json.vms.find((v: Vm) => v.id === key(spare.vmid) && v.status === target) ? r.json : null;
    }, 5000, 'the offline change in since');
    expect(since.revision).toBeGreaterThan(revision);
    expect(since.vms.every((v: Vm) => v.revision > revision)).toBe(true);
    const back = open({ cookie: ca });
    await back.ready;
    expect(back.socket.connected).toBe(true);
  });

  it('lets a projector link see its class only, and cuts it off when revoked', async () => {
    const ct = await stack.login('teacher');
    const link = await api(ct, 'POST', `/api/classes/${stack.classId}/projector-links`, {});
    expect(link.status).toBe(201);
    const p = open({ projector: link.json.token });
    await p.ready;
    const vmid = stack.pool[3];
    stack.cluster.powerOutside(vmid, stack.cluster.guest(vmid)!.status === 'running' ? 'stop' : 'start');
    await waitFor(() => ids(p.seen).has(key(vmid)), 5000, 'class VM on the projector');
    for (const id of ids(p.seen)) expect(stack.pool.map(key)).toContain(id);
    // Pushes to a projector carry only what the wall shows: IP yes, MAC and node no.
    for (const vm of p.seen.changed.flatMap((m) => m.vms)) {
      expect(vm).toHaveProperty('ip');
      expect(vm).not.toHaveProperty('mac');
      expect(vm).not.toHaveProperty('node');
    }
    const reason = new Promise<string>((r) => p.socket.once('disconnect', r));
    expect((await api(ct, 'DELETE', `/api/classes/${stack.classId}/projector-links/${link.json.token}`)).status).toBe(204);
    expect(await reason).toBe('io server disconnect');
    const again = open({ projector: link.json.token });
    const err = await again.ready.then(() => null, (e: Error & { data?: { code: string } }) => e);
    expect(err?.data?.code).toBe('forbidden');
  });

  it('answers client events through the ack, validating the payload', async () => {
    const ca = await stack.login('admin');
    const a = open({ cookie: ca });
    await a.ready;
    const good = await a.socket.emitWithAck('hello', {});
    expect(good).toMatchObject({ ok: true });
    const bad = await a.socket.emitWithAck('hello', 'not an object');
    expect(bad).toMatchObject({ ok: false });
    expect(bad.code).toBe('bad_request');
    const unknown = await a.socket.emitWithAck('drop-tables', { x: 1 });
    expect(unknown).toMatchObject({ ok: false, msg: expect.stringContaining('unknown event') });
    expect(unknown.code).toBe('not_found');
  });

  it('refuses a browser handshake from another origin', async () => {
    const c = await stack.login('student2');
    const s = connect(stack.url, { path: '/socket.io', transports: ['websocket'], reconnection: false, forceNew: true, extraHeaders: { cookie: c, origin: 'http://evil.example' } });
    sockets.push(s);
    const ok = await new Promise<boolean>((r) => { s.once('connect', () => r(true)); s.once('connect_error', () => r(false)); });
    expect(ok).toBe(false);
  });

  it('sends a VM held by two of a teacher\'s classes once, and once to an admin who also teaches', async () => {
    const [ct, ca] = await Promise.all([stack.login('teacher'), stack.login('admin')]);
    const spare = stack.cluster.guests().filter((g) => g.type === 'qemu' && !g.template && !stack.pool.includes(g.vmid)).at(-2)!;
    const second = await api(ct, 'POST', '/api/classes', { name: 'Networks 102' });
    expect(second.status).toBe(201);
    // The teacher takes it into the first class; sharing it with the second is an admin's decision.
    expect((await api(ct, 'POST', `/api/classes/${stack.classId}/pool`, { vmid: spare.vmid, cluster: 'lab-a' })).status).toBe(201);
    expect((await api(ct, 'POST', `/api/classes/${second.json.class.id}/pool`, { vmid: spare.vmid, cluster: 'lab-a' })).status).toBe(403);
    expect((await api(ca, 'POST', `/api/classes/${second.json.class.id}/pool`, { vmid: spare.vmid, cluster: 'lab-a' })).status).toBe(201);
    expect((await api(ct, 'POST', `/api/classes/${second.json.class.id}/teachers`, { username: 'admin' })).status).toBe(200);
    const t = open({ cookie: ct }), a = open({ cookie: ca });
    await Promise.all([t.ready, a.ready]);
    stack.cluster.powerOutside(spare.vmid, spare.status === 'running' ? 'stop' : 'start');
    const copies = (seen: Seen) => seen.changed.flatMap((m) => m.vms).filter((v) => v.id === key(spare.vmid));
    await waitFor(() => copies(t.seen).length > 0 && copies(a.seen).length > 0, 5000, 'the change on both sockets');
    await delivered(t, a);
    const revisions = (seen: Seen) => copies(seen).map((v) => v.revision);
    expect(new Set(revisions(t.seen)).size).toBe(revisions(t.seen).length);
    expect(new Set(revisions(a.seen)).size).toBe(revisions(a.seen).length);
  });

  it('tells a student\'s socket when their cluster\'s data goes stale and when it is fresh again', async () => {
    const c1 = await stack.login('student1');
    const s1 = open({ cookie: c1 });
    const stale: Array<{ cluster: string; stale: boolean }> = [];
    s1.socket.on('cluster:stale', (m) => stale.push(m));
    await s1.ready;
    await stack.cluster.setFault({ mode: 'down' });
    try {
      await waitFor(() => stale.find((m) => m.cluster === 'lab-a' && m.stale), 10_000, 'a stale notice');
    } finally {
      await stack.cluster.setFault({ mode: 'ok' });
    }
    await waitFor(() => stale.find((m) => m.cluster === 'lab-a' && !m.stale), 10_000, 'a fresh notice');
  });
});
