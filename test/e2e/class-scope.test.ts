// End to end in real Chromium: an admin narrows a class's scope on its page ("What this class may
// use": add a vmid range, remove the whole cluster after a confirmation); the class's teacher then
// adds a VM inside the scope to the pool and is refused one outside it, with the message saying
// what the scope allows.
import { describe, it, expect, beforeAll } from 'vitest';
import type { Page } from 'playwright-core';
import { startStack } from './harness.js';
import { browserSuite, canRunE2e, newPage, signIn, shot } from './browser.js';

describe.skipIf(!canRunE2e)('class scope (Chromium)', () => {
  const e2e = browserSuite(() => startStack({ guests: 16 }));
  let admin: Page;
  let teacher: Page;
  let inside: number;
  let outside: number;

  beforeAll(async () => {
    const free = e2e.stack.cluster.guests().filter((g) => !g.template && !e2e.stack.pool.includes(g.vmid)).map((g) => g.vmid).sort((a, b) => a - b);
    [inside, outside] = free;
    admin = (await newPage(e2e.browser, { width: 1280, height: 1000 }, e2e.errors)).page;
    teacher = (await newPage(e2e.browser, { width: 1280, height: 1000 }, e2e.errors)).page;
    for (const p of [admin, teacher]) p.setDefaultTimeout(8000);
  });

  const scope = (p: Page) => p.locator('ld-class-scope');
  const scopeText = (p: Page) => scope(p).locator('section[aria-label="Class scope"]').textContent();

  it('an admin gives the class one vmid instead of the whole cluster', async () => {
    await signIn(admin, e2e.stack.url, 'admin', /\/sync|\/vms|\/$/);
    await admin.goto(`${e2e.stack.url}/classes/${e2e.stack.classId}`);
    await expect.poll(() => scopeText(admin)).toMatch(/this class may use: all of lab-a/);
    const form = scope(admin).getByRole('form', { name: 'Add to the scope' });
    await form.getByLabel('Cluster').fill('lab-a');
    await form.getByLabel('Scope rule').selectOption('range');
    await form.getByLabel('Pool, tag or vmid range').fill(String(inside));
    await form.getByRole('button', { name: 'Add to scope' }).click();
    await scope(admin).locator(`li[data-rule="lab-a vmid ${inside}"]`).waitFor();
    // Narrowing asks first: the question names the rule and what happens to VMs outside.
    let asked = '';
    admin.once('dialog', (d) => { asked = d.message(); void d.accept(); });
    await scope(admin).getByRole('button', { name: 'Remove all of lab-a from the scope' }).click();
    await expect.poll(() => scope(admin).locator('li[data-rule="all of lab-a"]').count()).toBe(0);
    expect(asked).toMatch(/Remove "all of lab-a" from this class's scope\? .*leave the class/);
    await expect.poll(() => scopeText(admin)).toMatch(new RegExp(`this class may use: lab-a vmid ${inside}(?!\\d)`));
    const saved = await (await fetch(`${e2e.stack.url}/api/classes/${e2e.stack.classId}/scope`, { headers: { cookie: await e2e.stack.login('admin') } })).json();
    expect(saved.scope).toEqual([{ cluster: 'lab-a', kind: 'range', min: inside, max: inside }]);
    await shot(admin, 'class-scope-admin', true);
  });

  it('the teacher adds the VM inside the scope and is refused one outside it, told what the scope allows', async () => {
    await signIn(teacher, e2e.stack.url, 'teacher', /\/classes\/\d+$/);
    await expect.poll(() => scopeText(teacher)).toMatch(/Only an admin can change this/);
    // A teacher sees the scope but has no controls to change it.
    expect(await scope(teacher).getByRole('form', { name: 'Add to the scope' }).count()).toBe(0);
    await teacher.getByText(/Pool entries \(\d+\) and adding VMs/).click();
    const add = async (vmid: number) => {
      await teacher.getByLabel('Add by').selectOption('vm');
      await teacher.getByLabel('VM id, tag or pool name').fill(String(vmid));
      await teacher.getByRole('button', { name: 'Add to pool' }).click();
    };
    await add(inside);
    await teacher.getByRole('button', { name: `Remove VM ${inside} (lab-a) from the pool` }).waitFor();
    await add(outside);
    const alert = teacher.locator('#pool-error[role="alert"]');
    await expect.poll(() => alert.textContent()).toBe(
      `Could not add it to the pool: VM ${outside} is not available to this class; this class may use: lab-a vmid ${inside}.`);
    expect(await teacher.getByRole('button', { name: `Remove VM ${outside} (lab-a) from the pool` }).count()).toBe(0);
    const detail = await (await fetch(`${e2e.stack.url}/api/classes/${e2e.stack.classId}`, { headers: { cookie: await e2e.stack.login('teacher') } })).json();
    expect(detail.class.pool.filter((p: { vmid: number | null }) => p.vmid === inside || p.vmid === outside).map((p: { vmid: number }) => p.vmid)).toEqual([inside]);
    await shot(teacher, 'class-scope-teacher', true);
  });
});
