// What the teacher page reads from the server: class links listed again after a reload (with their
// URL, so Copy works), revoked by id, a term-long projector link, the class audit trail holding the
// students' own power actions, and bulk actions skipping VMs already in the target state.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startStack, type Stack } from '../e2e/harness.js';
import { waitFor } from '../helpers/wait.js';

describe('class page API', () => {
  let stack: Stack;
  let teacher: string;
  const call = async (cookie: string, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${stack.url}${path}`, {
      method, headers: { cookie, origin: stack.url, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };

  beforeAll(async () => {
    stack = await startStack();
    teacher = await stack.login('teacher');
  });
  afterAll(async () => { await stack?.close(); });

  it('lists the active invite and projector links with a URL to copy, and revokes a projector link by id', async () => {
    const inv = await call(teacher, 'POST', `/api/classes/${stack.classId}/invites`, {});
    expect(inv.status).toBe(201);
    const term = 24 * 120;
    const proj = await call(teacher, 'POST', `/api/classes/${stack.classId}/projector-links`, { ttlHours: term });
    expect(proj.status).toBe(201);
    expect(proj.body.expiresAt - Date.now()).toBeGreaterThan((term - 1) * 3_600_000);

    const invites = await call(teacher, 'GET', `/api/classes/${stack.classId}/invites`);
    expect(invites.body.invites[0]).toMatchObject({ id: inv.body.id, url: inv.body.url, revoked: false, uses: 0 });
    const links = await call(teacher, 'GET', `/api/classes/${stack.classId}/projector-links`);
    expect(links.body.links[0]).toMatchObject({ id: proj.body.id, url: proj.body.url, revoked: false });

    expect((await call(teacher, 'DELETE', `/api/classes/${stack.classId}/projector-links/${proj.body.id}`)).status).toBe(204);
    expect((await fetch(proj.body.url.replace('/projector/', '/api/projector/'))).status).toBe(404);
    const after = await call(teacher, 'GET', `/api/classes/${stack.classId}/projector-links`);
    expect(after.body.links[0]).toMatchObject({ id: proj.body.id, revoked: true, url: null });
    // Longer than a term is refused, naming the field.
    const tooLong = await call(teacher, 'POST', `/api/classes/${stack.classId}/projector-links`, { ttlHours: 24 * 400 });
    expect(tooLong.status).toBe(400);
    expect(JSON.stringify(tooLong.body)).toContain('ttlHours');
  });

  it("records a student's own start under the class, so the class audit trail shows it", async () => {
    const student = await stack.login('student2');
    const vmid = stack.pool[1];
    const r = await call(student, 'POST', `/api/vm/${vmid}/start?cluster=lab-a`);
    expect([200, 202]).toContain(r.status);
    const entry = await waitFor(async () => {
      const a = await call(teacher, 'GET', `/api/audit?classId=${stack.classId}&limit=20`);
      return a.body.entries.find((e: any) => e.username === 'student2' && e.action === 'vm.start' && e.outcome === 'ok');
    }, 8000, 'the settled start in the class audit');
    expect(entry).toMatchObject({ classId: stack.classId, cluster: 'lab-a', vmid });
  });

  it('skips VMs already in the target state when acting on the whole class', async () => {
    const running = stack.pool[1];
    await waitFor(async () => (await stack.lab.inventory.get('lab-a', running))?.status === 'running', 8000, 'the VM running');
    const r = await call(teacher, 'POST', '/api/vms/actions', { action: 'start', classId: stack.classId });
    expect(r.status).toBe(200);
    const mine = r.body.results.find((x: any) => x.vmid === running);
    expect(mine).toMatchObject({ ok: true, skipped: 'already running' });
    const others = r.body.results.filter((x: any) => x.vmid !== running && !x.skipped);
    expect(others.length).toBeGreaterThan(0);
    const audit = await call(teacher, 'GET', `/api/audit?classId=${stack.classId}&limit=50`);
    const starts = audit.body.entries.filter((e: any) => e.action === 'vm.start' && e.username === 'teacher');
    expect(starts.map((e: any) => e.vmid)).not.toContain(running);
    expect(starts.length).toBe(others.length);
  });
});
