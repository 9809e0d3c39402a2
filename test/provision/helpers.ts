// Helpers for the provisioning tests: a teacher's class with enrolled students, a template in
// the simulator, and a socket that records the live `provision:progress` pushes.
import { io as connect, type Socket } from 'socket.io-client';
import type { TestServer } from '../helpers/server.js';
import type { JobView } from '../../server/provision/service.js';

/** Fast simulated tasks: clones long enough to overlap, the rest quick. */
export const FAST_TASKS = { start: 60, stop: 60, shutdown: 60, reboot: 60, clone: 400, linkedClone: 250, snapshot: 60, rollback: 60, destroy: 60, config: 20 };

export interface ClassFixture {
  classId: number;
  teacher: string;
  students: Array<{ id: number; username: string; cookie: string }>;
}

const admins = new WeakMap<TestServer, Promise<string>>();

/** An admin's cookie (one admin per test server). */
export function adminCookie(ts: TestServer): Promise<string> {
  let c = admins.get(ts);
  if (!c) {
    c = ts.createUser('prov-admin', 'admin').then(() => ts.login('prov-admin'));
    admins.set(ts, c);
  }
  return c;
}

/** Sets a class's scope as an admin does. */
export async function setScope(ts: TestServer, classId: number, rules: unknown[]): Promise<void> {
  const r = await ts.request('PUT', `/api/classes/${classId}/scope`, { cookie: await adminCookie(ts), body: { rules } });
  if (r.status !== 200) throw new Error(`scope: ${r.status} ${r.text}`);
}

/**
 * A teacher with a class of `students` enrolled students (all signed in), its scope every
 * simulated cluster unless `scope` says otherwise.
 */
export async function classWithStudents(ts: TestServer, name: string, students: number, scope?: unknown[]): Promise<ClassFixture> {
  const tname = `t-${name}`;
  await ts.createUser(tname, 'teacher');
  const teacher = await ts.login(tname);
  const created = await ts.request('POST', '/api/classes', { cookie: teacher, body: { name } });
  if (created.status !== 201) throw new Error(`class: ${created.status} ${created.text}`);
  const classId = created.body.class.id as number;
  await setScope(ts, classId, scope ?? ts.sim.clusters.map((c) => ({ kind: 'cluster', cluster: c.id })));
  const out: ClassFixture['students'] = [];
  for (let i = 1; i <= students; i++) {
    const username = `${name}-s${i}`;
    const u = await ts.createUser(username, 'student');
    const r = await ts.request('POST', `/api/classes/${classId}/students`, { cookie: teacher, body: { username } });
    if (r.status >= 300) throw new Error(`enrol: ${r.status} ${r.text}`);
    out.push({ id: u.id, username, cookie: await ts.login(username) });
  }
  return { classId, teacher, students: out };
}

/** A template in the first simulated cluster, synced into the inventory. */
export async function template(ts: TestServer, opts: { node?: string; type?: 'qemu' | 'lxc'; name?: string; cluster?: string; vmid?: number; pool?: string } = {}): Promise<number> {
  const c = opts.cluster ? ts.sim.cluster(opts.cluster) : ts.cluster;
  const vmid = c.createGuest({ vmid: opts.vmid, template: true, node: opts.node ?? c.nodes[0], type: opts.type ?? 'qemu', name: opts.name ?? 'tpl-lab', tags: ['labdeck-template'], pool: opts.pool });
  await ts.synced();
  return vmid;
}

/** A signed-in socket (or a projector's, with `auth.projector`) that keeps every provisioning push. */
export function progressSocket(url: string, cookie: string, auth: { projector?: string } = {}): { socket: Socket; seen: JobView[]; ready: Promise<void> } {
  const socket = connect(url, { path: '/socket.io', transports: ['websocket'], reconnection: false, forceNew: true, extraHeaders: cookie ? { cookie } : {}, auth });
  const seen: JobView[] = [];
  socket.on('provision:progress', (m: { job: JobView }) => seen.push(m.job));
  const ready = new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (e) => reject(e));
  });
  return { socket, seen, ready };
}

/** Resolves with the first push of that job in an end state (done, failed, cancelled). */
export function jobEnd(socket: Socket, jobId: number, timeoutMs = 30_000): Promise<JobView> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`job ${jobId} did not end within ${timeoutMs} ms`)), timeoutMs);
    const on = (m: { job: JobView }) => {
      if (m.job.id !== jobId || !['done', 'failed', 'cancelled'].includes(m.job.state)) return;
      clearTimeout(timer);
      socket.off('provision:progress', on);
      resolve(m.job);
    };
    socket.on('provision:progress', on);
  });
}
