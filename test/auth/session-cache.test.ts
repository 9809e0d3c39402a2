// Sessions and staleness are answered from memory, yet revocation stays exact: a change another
// process writes to the database (as the admin CLI does) ends the user's sessions and sockets
// within the poll, an in-process one at once; and a signed-in student's list is answered even with
// the database gone, so that read touches no database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connect } from 'socket.io-client';
import { createDb, type Db } from '../../server/db/index.js';
import { UsersRepo } from '../../server/auth/users.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { dialects } from '../helpers/db.js';
import { waitFor } from '../helpers/wait.js';

describe.each(dialects)('sessions from memory (%s)', (dialect) => {
  let ts: TestServer;
  /** A second connection to the same database: another process, as far as the server knows. */
  let other: Db;
  let classId: number;
  let next = 0;

  beforeAll(async () => {
    ts = await startTestServer({ dialect, clusters: [{ id: 'lab-a', guests: 6, seed: 11 }], start: { userPollMs: 100 } });
    await ts.synced();
    other = createDb(ts.labdeck.config.databaseUrl);
    const teacher = await ts.createUser('tina', 'teacher');
    classId = await ts.labdeck.classesRepo.create('c1', teacher.id);
    await ts.grantScope(classId);
  }, 60_000);
  afterAll(async () => {
    await other?.destroy();
    await ts?.close();
  });

  async function studentWithVm(name: string): Promise<string> {
    const u = await ts.createUser(name, 'student');
    const vms = ts.cluster.guests().filter((g) => !g.template);
    const vm = vms[next++ % vms.length];
    await ts.labdeck.classesRepo.addMember(classId, u.id);
    await ts.labdeck.classesRepo.assign(classId, 'lab-a', vm.vmid, u.id);
    await ts.labdeck.access.reload();
    return ts.login(name);
  }

  it('a user disabled by another process loses their requests and their socket', async () => {
    const cookie = await studentWithVm('sam');
    expect((await ts.request('GET', '/api/vms', { cookie })).status).toBe(200);
    const socket = connect(ts.url, { path: '/socket.io', transports: ['websocket'], reconnection: false, forceNew: true, extraHeaders: { cookie } });
    try {
      await new Promise<void>((resolve, reject) => { socket.once('connect', () => resolve()); socket.once('connect_error', reject); });
      const closed = new Promise<string>((resolve) => socket.once('disconnect', (reason) => resolve(reason)));
      const sam = await new UsersRepo(other).getByUsername('sam');
      await new UsersRepo(other).disable(sam!.id);
      await waitFor(async () => (await ts.request('GET', '/api/vms', { cookie })).status === 401, 5000, 'the session to end');
      expect(await closed).toBe('io server disconnect');
      expect((await ts.request('GET', '/api/auth/me', { cookie })).status).toBe(401);
    } finally {
      socket.close();
    }
  });

  it('a password changed by another process ends the sessions; other users keep theirs', async () => {
    const cookie = await studentWithVm('pia');
    const bystander = await studentWithVm('ben');
    expect((await ts.request('GET', '/api/vms', { cookie })).status).toBe(200);
    const pia = await new UsersRepo(other).getByUsername('pia');
    await new UsersRepo(other).setPassword(pia!.id, 'another-password-9');
    await waitFor(async () => (await ts.request('GET', '/api/vms', { cookie })).status === 401, 5000, 'the session to end');
    expect((await ts.request('GET', '/api/vms', { cookie: bystander })).status).toBe(200);
    expect((await ts.request('POST', '/api/auth/login', { body: { username: 'pia', password: 'another-password-9' } })).status).toBe(200);
  });

  it('signing out ends the session at once, with the user cached', async () => {
    const cookie = await studentWithVm('lea');
    expect((await ts.request('GET', '/api/vms', { cookie })).status).toBe(200);
    expect((await ts.request('POST', '/api/auth/logout', { cookie })).status).toBeLessThan(300);
    expect((await ts.request('GET', '/api/vms', { cookie })).status).toBe(401);
  });

  it('a session known from its sign-in is refused once revoked, and its cookie stays refused', async () => {
    const cookie = await studentWithVm('kim');
    // The very first read after the sign-in, and the same cookie after the user's sessions end.
    expect((await ts.request('GET', '/api/vms', { cookie })).status).toBe(200);
    const kim = await ts.labdeck.users.getByUsername('kim');
    await ts.labdeck.sessions.revokeAll(kim!.id);
    expect((await ts.request('GET', '/api/vms', { cookie })).status).toBe(401);
    expect((await ts.request('GET', '/api/auth/me', { cookie })).status).toBe(401);
    // A new sign-in is a new session.
    expect((await ts.request('GET', '/api/vms', { cookie: await ts.login('kim') })).status).toBe(200);
  });

  it('a role change in-process ends the sessions at once', async () => {
    const cookie = await studentWithVm('rob');
    const admin = await ts.createUser('ada', 'admin').then(() => ts.login('ada'));
    expect((await ts.request('GET', '/api/vms', { cookie })).status).toBe(200);
    const rob = await ts.labdeck.users.getByUsername('rob');
    expect((await ts.request('PATCH', `/api/users/${rob!.id}`, { cookie: admin, body: { role: 'teacher' } })).status).toBe(200);
    expect((await ts.request('GET', '/api/vms', { cookie })).status).toBe(401);
  });

  // Last: it takes the server's database away.
  it("a signed-in student's list is answered from memory, the database not asked", async () => {
    const cookie = await studentWithVm('max');
    const before = await ts.request<{ revision: number; vms: Array<{ id: string; stale: boolean }> }>('GET', '/api/vms', { cookie });
    expect(before.status).toBe(200);
    expect(before.body.vms).toHaveLength(1);
    await ts.labdeck.sync.stop();
    await ts.labdeck.db.destroy();
    const after = await ts.request<{ revision: number; vms: Array<{ id: string; stale: boolean }> }>('GET', '/api/vms', { cookie });
    expect(after.status).toBe(200);
    expect(after.body).toEqual(before.body);
  });
});
