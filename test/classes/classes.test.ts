// Classes over real HTTP: invite flow, pool (by id and by tag), assignments, auto-assign, the
// legacy mappings.json import, projector links, and deleting a class.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { dialects } from '../helpers/db.js';
import type { Vm } from '../../contract/vm.js';

describe.each(dialects)('classes (%s)', (dialect) => {
  let ts: TestServer;
  let teacher: string;
  let vms: Vm[];
  const vmidsOf = async (cookie: string) => (await ts.request('GET', '/api/vms', { cookie })).body.vms.map((v: Vm) => v.vmid).sort();
  /** A class of the teacher's, given the whole of lab-a by an admin. */
  const newClass = async (name: string) => {
    const id = (await ts.request('POST', '/api/classes', { cookie: teacher, body: { name } })).body.class.id as number;
    await ts.grantScope(id);
    return id;
  };

  beforeAll(async () => {
    ts = await startTestServer({ dialect });
    await ts.synced();
    await ts.createUser('teach', 'teacher');
    await ts.createUser('boss', 'admin');
    teacher = await ts.login('teach');
    for (const s of ['s1', 's2', 's3', 's4']) await ts.createUser(s, 'student');
    vms = (await ts.labdeck.inventory.list()).filter((v) => v.type === 'qemu' && !v.template).sort((a, b) => a.vmid - b.vmid);
  });
  afterAll(async () => { await ts?.close(); });

  it('invite flow: create, look, accept once, revoke, expiry', async () => {
    const id = await newClass('Invites');
    const inv = await ts.request('POST', `/api/classes/${id}/invites`, { cookie: teacher, body: { ttlHours: 24 } });
    expect(inv.status).toBe(201);
    expect(inv.body.url).toBe(`${ts.url}/invite/${inv.body.token}`);
    expect(inv.body.expiresAt).toBeGreaterThan(Date.now() + 23 * 3_600_000);
    const s1 = await ts.login('s1');
    const info = await ts.request('GET', `/api/invites/${inv.body.token}`, { cookie: s1 });
    expect(info.body.class).toEqual({ id, name: 'Invites' });
    const accept = await ts.request('POST', `/api/invites/${inv.body.token}/accept`, { cookie: s1 });
    expect(accept.body).toEqual({ class: { id, name: 'Invites' }, enrolled: true });
    expect((await ts.request('POST', `/api/invites/${inv.body.token}/accept`, { cookie: s1 })).body.enrolled).toBe(false);
    const detail = await ts.request('GET', `/api/classes/${id}`, { cookie: teacher });
    expect(detail.body.class.students.map((s: any) => s.username)).toEqual(['s1']);
    const list = await ts.request('GET', `/api/classes/${id}/invites`, { cookie: teacher });
    expect(list.body.invites[0]).toMatchObject({ id: inv.body.id, uses: 1, revoked: false });
    // Its teachers see the link again (to copy it after a reload); the matrix keeps everyone else out.
    expect(list.body.invites[0].url).toBe(inv.body.url);
    expect((await ts.request('DELETE', `/api/classes/${id}/invites/${inv.body.id}`, { cookie: teacher })).status).toBe(204);
    const s2 = await ts.login('s2');
    expect((await ts.request('POST', `/api/invites/${inv.body.token}/accept`, { cookie: s2 })).status).toBe(404);
    const old = await ts.request('POST', `/api/classes/${id}/invites`, { cookie: teacher });
    await ts.labdeck.db.updateTable('invites').set({ expires_at: Date.now() - 1 }).where('id', '=', old.body.id).execute();
    expect((await ts.request('POST', `/api/invites/${old.body.token}/accept`, { cookie: s2 })).status).toBe(404);
  });

  it('assignments: a pool VM to an enrolled student shows up in their list and leaves on unassign', async () => {
    const id = await newClass('Assign');
    for (const s of ['s1', 's2']) await ts.request('POST', `/api/classes/${id}/students`, { cookie: teacher, body: { username: s } });
    const [a, b] = vms;
    await ts.request('POST', `/api/classes/${id}/pool`, { cookie: teacher, body: { vmid: a.vmid } });
    const changes: any[] = [];
    ts.labdeck.accessFeed.on('access:changed', (e) => changes.push(e));
    const s2 = await ts.login('s2');
    const before = await vmidsOf(s2);
    const r = await ts.request('POST', `/api/classes/${id}/assignments`, { cookie: teacher, body: { vmid: a.vmid, username: 's2' } });
    expect(r.status).toBe(200);
    expect(await vmidsOf(s2)).toEqual([...before, a.vmid].sort());
    const s2id = (await ts.labdeck.users.getByUsername('s2'))!.id;
    expect(changes.at(-1)).toEqual({ userIds: [s2id], classIds: [id] });
    expect((await ts.request('GET', `/api/vm/${a.vmid}/status`, { cookie: s2 })).status).toBe(200);
    const notInPool = await ts.request('POST', `/api/classes/${id}/assignments`, { cookie: teacher, body: { vmid: b.vmid, username: 's2' } });
    expect(notInPool.status).toBe(409);
    const notEnrolled = await ts.request('POST', `/api/classes/${id}/assignments`, { cookie: teacher, body: { vmid: a.vmid, username: 's4' } });
    expect(notEnrolled.status).toBe(409);
    const un = await ts.request('DELETE', `/api/classes/${id}/assignments/lab-a/${a.vmid}`, { cookie: teacher });
    expect(un.status).toBe(200);
    expect(await vmidsOf(s2)).toEqual(before);
    expect((await ts.request('GET', `/api/vm/${a.vmid}/status`, { cookie: s2 })).status).toBe(403);
  });

  it('auto-assign gives each unassigned student one free pool VM, and repeating changes nothing', async () => {
    const id = await newClass('Auto');
    for (const s of ['s1', 's2', 's3']) await ts.request('POST', `/api/classes/${id}/students`, { cookie: teacher, body: { username: s } });
    const pool = vms.slice(5, 7);
    for (const v of pool) await ts.request('POST', `/api/classes/${id}/pool`, { cookie: teacher, body: { vmid: v.vmid } });
    const r = await ts.request('POST', `/api/classes/${id}/auto-assign`, { cookie: teacher });
    expect(r.body.assigned).toHaveLength(2);
    expect(new Set(r.body.assigned.map((x: any) => x.vmid))).toEqual(new Set(pool.map((v) => v.vmid)));
    expect(new Set(r.body.assigned.map((x: any) => x.userId)).size).toBe(2);
    expect((await ts.request('POST', `/api/classes/${id}/auto-assign`, { cookie: teacher })).body.assigned).toEqual([]);
  });

  it('a pool by Proxmox tag gives the teacher every VM with that tag', async () => {
    const id = await newClass('Tagged');
    const tag = vms[0].tags.find((t) => t.startsWith('class-'))!;
    // Earlier tests put some of these VMs in other classes: taking them is an admin's decision.
    const taken = await ts.request('POST', `/api/classes/${id}/pool`, { cookie: teacher, body: { tag, cluster: 'lab-a' } });
    expect(taken.status).toBe(409);
    expect(taken.body.error.message).toMatch(/held by class "[^"]+"/);
    const r = await ts.request('POST', `/api/classes/${id}/pool`, { cookie: await ts.login('boss'), body: { tag, cluster: 'lab-a' } });
    expect(r.status).toBe(201);
    expect(r.body.entry.approved).toBe(true);
    const listed = await ts.request('GET', `/api/vms?class=${id}`, { cookie: teacher });
    // Tag entries never hold templates.
    const expected = (await ts.labdeck.inventory.list({ tag })).filter((v) => !v.template).map((v) => v.vmid).sort();
    expect(listed.body.vms.map((v: Vm) => v.vmid).sort()).toEqual(expected);
    expect(expected.length).toBeGreaterThan(0);
  });

  it('imports mappings.json into assignments once, with a report of what matched', async () => {
    const id = await newClass('Legacy');
    const [a, b] = vms.slice(10, 12);
    const mappings = { s3: [a.vmid], s4: [b.vmid, 99999], ghost: [a.vmid], teach: [b.vmid] };
    const r = await ts.request('POST', `/api/classes/${id}/import-mappings`, { cookie: teacher, body: mappings });
    expect(r.status).toBe(200);
    expect(r.body.report).toMatchObject({
      assigned: [{ username: 's3', cluster: 'lab-a', vmid: a.vmid }, { username: 's4', cluster: 'lab-a', vmid: b.vmid }],
      alreadyAssigned: [], unknownUsers: ['ghost'], notStudents: ['teach'], unknownVms: [{ username: 's4', vmid: 99999 }],
    });
    expect(await vmidsOf(await ts.login('s4'))).toContain(b.vmid);
    const again = await ts.request('POST', `/api/classes/${id}/import-mappings`, { cookie: teacher, body: mappings });
    expect(again.body.report.assigned).toEqual([]);
    expect(again.body.report.alreadyAssigned).toHaveLength(2);
    const detail = await ts.request('GET', `/api/classes/${id}`, { cookie: teacher });
    expect(detail.body.class.assignments).toHaveLength(2);
    expect(detail.body.class.pool).toHaveLength(2);
  });

  it('projector link shows only that class, without a session, until revoked', async () => {
    const id = await newClass('Projected');
    await ts.request('POST', `/api/classes/${id}/students`, { cookie: teacher, body: { username: 's1' } });
    await ts.request('POST', `/api/classes/${id}/pool`, { cookie: teacher, body: { vmid: vms[15].vmid } });
    const link = await ts.request('POST', `/api/classes/${id}/projector-links`, { cookie: teacher });
    expect(link.status).toBe(201);
    expect(link.body.url).toBe(`${ts.url}/projector/${link.body.token}`);
    expect(ts.labdeck.access.roomsForProjector(link.body.token)).toEqual([`class:${id}`]);
    const view = await ts.request('GET', `/api/projector/${link.body.token}`);
    expect(view.status).toBe(200);
    expect(view.body.class).toEqual({ id, name: 'Projected' });
    expect(view.body.vms.map((v: Vm) => v.vmid)).toEqual([vms[15].vmid]);
    const s1 = (await ts.labdeck.users.getByUsername('s1'))!;
    expect(view.body.students).toEqual([{ id: s1.id, displayName: s1.displayName, vms: [] }]);
    // A shared classroom PC shows name, status and IP: no MAC, node, tags or error texts.
    expect(Object.keys(view.body.vms[0]).sort()).toEqual(['cluster', 'id', 'ip', 'ipReason', 'lastSeen', 'name', 'revision', 'stale', 'status', 'syncError', 'vmid']);
    expect(view.body.revision).toBeGreaterThan(0);
    const revoked: any[] = [];
    ts.labdeck.accessFeed.on('projector:revoked', (e) => revoked.push(e));
    expect((await ts.request('DELETE', `/api/classes/${id}/projector-links/${link.body.token}`, { cookie: teacher })).status).toBe(204);
    expect(revoked[0]).toMatchObject({ token: link.body.token, classId: id });
    expect((await ts.request('GET', `/api/projector/${link.body.token}`)).status).toBe(404);
    expect(ts.labdeck.access.roomsForProjector(link.body.token)).toEqual([]);
  });

  it('co-teachers see the class; deleting it takes its VMs away from its students', async () => {
    await ts.createUser('co', 'teacher');
    const co = await ts.login('co');
    const id = await newClass('Doomed');
    await ts.request('POST', `/api/classes/${id}/students`, { cookie: teacher, body: { username: 's3' } });
    // One no other class holds (the tag test above shared many).
    const vm = vms.find((v) => ts.labdeck.access.poolClassesOf(v.cluster, v.vmid).size === 0)!;
    expect((await ts.request('POST', `/api/classes/${id}/pool`, { cookie: teacher, body: { vmid: vm.vmid } })).status).toBe(201);
    await ts.request('POST', `/api/classes/${id}/assignments`, { cookie: teacher, body: { vmid: vm.vmid, username: 's3' } });
    expect((await ts.request('GET', `/api/classes/${id}`, { cookie: co })).status).toBe(403);
    expect((await ts.request('POST', `/api/classes/${id}/teachers`, { cookie: teacher, body: { username: 'co' } })).status).toBe(200);
    expect((await ts.request('GET', `/api/classes/${id}`, { cookie: co })).status).toBe(200);
    expect(await vmidsOf(co)).toContain(vm.vmid);
    const listed = (await ts.request('GET', '/api/classes', { cookie: co })).body.classes;
    expect(listed).toEqual([expect.objectContaining({ id, name: 'Doomed', studentCount: 1, vmCount: 1 })]);
    expect((await ts.request('DELETE', `/api/classes/${id}`, { cookie: co })).status).toBe(403);
    const s3 = await ts.login('s3');
    expect(await vmidsOf(s3)).toContain(vm.vmid);
    expect((await ts.request('DELETE', `/api/classes/${id}`, { cookie: teacher })).status).toBe(204);
    expect(await vmidsOf(s3)).not.toContain(vm.vmid);
    expect((await ts.request('GET', `/api/classes/${id}`, { cookie: teacher })).status).toBe(404);
  });
});
