// Invite links as an attacker (or a removed student) uses them: re-joining after removal with the
// old link, sharing a limited link, and the uses a teacher sees.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe('invite links under attack', () => {
  let ts: TestServer;
  let teacher: string;
  let classId: number;
  const accept = async (who: string, token: string) => ts.request('POST', `/api/invites/${token}/accept`, { cookie: await ts.login(who) });

  beforeAll(async () => {
    ts = await startTestServer({ clusters: [{ id: 'lab-a', guests: 4 }] });
    await ts.createUser('teach', 'teacher');
    for (const s of ['eve', 'sam', 'kim']) await ts.createUser(s, 'student');
    teacher = await ts.login('teach');
    classId = (await ts.request('POST', '/api/classes', { cookie: teacher, body: { name: 'Invites' } })).body.class.id;
  });
  afterAll(async () => { await ts?.close(); });

  it('a removed student cannot re-join with the old link; a new invitation or a teacher\'s re-add brings them back', async () => {
    const old = (await ts.request('POST', `/api/classes/${classId}/invites`, { cookie: teacher, body: {} })).body;
    expect((await accept('eve', old.token)).status).toBe(200);
    const eveId = (await ts.labdeck.users.getByUsername('eve'))!.id;
    expect((await ts.request('DELETE', `/api/classes/${classId}/students/${eveId}`, { cookie: teacher })).status).toBe(204);
    const again = await accept('eve', old.token);
    expect(again.status).toBe(403);
    expect(again.body.error.message).toMatch(/removed you from this class/);
    expect((await ts.labdeck.classesRepo.members(classId)).map((m) => m.username)).not.toContain('eve');
    const fresh = (await ts.request('POST', `/api/classes/${classId}/invites`, { cookie: teacher, body: {} })).body;
    expect((await accept('eve', fresh.token)).body.enrolled).toBe(true);
    await ts.request('DELETE', `/api/classes/${classId}/students/${eveId}`, { cookie: teacher });
    expect((await ts.request('POST', `/api/classes/${classId}/students`, { cookie: teacher, body: { username: 'eve' } })).status).toBe(204);
    await ts.request('DELETE', `/api/classes/${classId}/students/${eveId}`, { cookie: teacher });
    expect((await accept('eve', old.token)).status).toBe(403);
  });

  it('a link limited to one use enrols one student; the next gets the same answer as a dead link; uses are shown', async () => {
    const inv = await ts.request('POST', `/api/classes/${classId}/invites`, { cookie: teacher, body: { maxUses: 1, ttlHours: 2 } });
    expect(inv.status).toBe(201);
    expect(inv.body).toMatchObject({ maxUses: 1, uses: 0 });
    const [a, b] = await Promise.all([accept('sam', inv.body.token), accept('kim', inv.body.token)]);
    expect([a.status, b.status].sort()).toEqual([200, 404]);
    const listed = (await ts.request('GET', `/api/classes/${classId}/invites`, { cookie: teacher })).body.invites;
    expect(listed.find((i: { id: number }) => i.id === inv.body.id)).toMatchObject({ uses: 1, maxUses: 1 });
    expect((await ts.request('GET', `/api/invites/${inv.body.token}`, { cookie: await ts.login('kim') })).status).toBe(404);
    expect((await ts.request('POST', `/api/classes/${classId}/invites`, { cookie: teacher, body: { maxUses: 0 } })).body.error.field).toBe('maxUses');
  });
});
