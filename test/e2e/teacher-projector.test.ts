// End to end, teacher side, in real Chromium: the class page as one table (students with their
// VMs, free VMs, students without one) with row actions; bulk start with one progress summary;
// whole-class shut down behind a confirmation that lists the VMs and skips those already stopped;
// assign with undo; class links that survive a reload (Copy, Revoke, a term-long projector link);
// an invite followed while signed out naming the class; the live audit trail in sentences; and a
// projector link that shows the class live with nobody signed in, and stops working when revoked.
import { describe, it, expect, beforeAll } from 'vitest';
import type { Page } from 'playwright-core';
import { startStack, PASSWORD } from './harness.js';
import { browserSuite, canRunE2e, newPage, signIn, recordFrames, shot, whereFocusIs } from './browser.js';

const row = (page: Page, vmid: number) => page.locator(`tr[data-vm="lab-a:${vmid}"]`);
const audit = (page: Page) => page.locator('ld-class-audit [data-audit]');

describe.skipIf(!canRunE2e)('teacher class page and projector (Chromium)', () => {
  const e2e = browserSuite(() => startStack());
  let teacher: Page;
  let projectorUrl = '';

  beforeAll(async () => {
    const ctx = await newPage(e2e.browser, { width: 1360, height: 1000 }, e2e.errors);
    teacher = ctx.page;
    await ctx.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: e2e.stack.url });
  });

  it('shows one table: each student with their VM, free VMs, and a student still without one', async () => {
    await signIn(teacher, e2e.stack.url, 'teacher', /\/classes\/\d+$/);
    await teacher.getByRole('heading', { name: 'Networks 101' }).waitFor();
    expect(await teacher.title()).toBe('Networks 101 · labdeck');
    for (const vmid of e2e.stack.pool) await row(teacher, vmid).waitFor();
    // student1 has two VMs, student2 one; student3 has a row of their own with an assign menu.
    expect(await teacher.locator('tr[data-student="student1"][data-vm]').count()).toBe(2);
    expect(await row(teacher, e2e.stack.pool[1]).getAttribute('data-student')).toBe('student2');
    const lee = teacher.locator('tr[data-student="student3"]');
    expect(await lee.getAttribute('data-vm')).toBeNull();
    expect(await lee.textContent()).toContain('no VM yet');
    expect(await row(teacher, e2e.stack.pool[2]).textContent()).toContain('free');
    // The old roster beside the table is gone: every row has its actions.
    expect(await teacher.locator('li[data-student]').count()).toBe(0);
    expect(await row(teacher, e2e.stack.pool[0]).locator('ld-vm-row-actions').count()).toBe(1);
  });

  it('starts selected VMs with one progress summary, and a row button keeps focus when it flips', async () => {
    const [a, b] = [e2e.stack.pool[2], e2e.stack.pool[3]];
    for (const vmid of [a, b]) if (e2e.stack.cluster.guest(vmid)!.status === 'running') e2e.stack.cluster.powerOutside(vmid, 'stop');
    e2e.stack.cluster.refreshNow();
    for (const vmid of [a, b]) await expect.poll(() => row(teacher, vmid).getAttribute('data-status'), { timeout: 5000 }).toBe('stopped');
    await row(teacher, a).getByRole('checkbox').check();
    await row(teacher, b).getByRole('checkbox').check();
    await teacher.getByRole('button', { name: 'Start selected (2)' }).click();
    const summary = teacher.locator('[data-bulk-summary]');
    await expect.poll(() => summary.textContent(), { timeout: 10_000 }).toMatch(/Starting 2 finished: 2 done, 0 failed/);
    for (const vmid of [a, b]) {
      expect(await row(teacher, vmid).getAttribute('data-status')).toBe('running');
      expect(await row(teacher, vmid).locator('[data-progress]').getAttribute('data-progress')).toBe('done');
    }
    // A status announcement shows in the status line; the summary stays as it was.
    expect(await summary.textContent()).toMatch(/2 done/);

    // Keyboard: Enter on a row's Start; when it becomes "Shut down" the focus is still on it.
    const vmid = e2e.stack.pool[0];
    expect(await row(teacher, vmid).getAttribute('data-status')).toBe('stopped');
    const start = row(teacher, vmid).locator('ld-power-buttons button[data-power-main]');
    await start.focus();
    await teacher.keyboard.press('Enter');
    await expect.poll(() => row(teacher, vmid).getAttribute('data-status'), { timeout: 8000 }).toBe('running');
    await expect.poll(() => start.textContent()).toBe('Shut down');
    expect(await whereFocusIs(start)).toBe('here');
    await shot(teacher, 'teacher-class', true);
  });

  it('asks before shutting down the whole class, lists the VMs, and skips those already stopped', async () => {
    const running = await teacher.locator('tr[data-vm][data-status="running"]').count();
    expect(running).toBe(3);
    await teacher.getByRole('button', { name: /Shut down whole class/ }).click();
    const dialog = teacher.locator('ld-confirm-dialog dialog');
    await dialog.waitFor();
    expect(await dialog.getByRole('heading').textContent()).toBe('Shut down 3 VMs of the whole class?');
    expect(await dialog.locator('li').count()).toBe(3);
    expect(await dialog.textContent()).toContain(e2e.stack.cluster.guest(e2e.stack.pool[0])!.name);
    await shot(teacher, 'teacher-confirm-shutdown');
    // Escape cancels: nothing happened.
    await teacher.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    expect(await teacher.locator('tr[data-vm][data-status="running"]').count()).toBe(3);
    expect(e2e.stack.cluster.guest(e2e.stack.pool[0])!.status).toBe('running');

    await teacher.getByRole('button', { name: /Shut down whole class/ }).click();
    await dialog.getByRole('button', { name: 'Shut down 3 VMs' }).click();
    const summary = teacher.locator('[data-bulk-summary]');
    await expect.poll(() => summary.textContent(), { timeout: 10_000 }).toMatch(/Shutting down 3 finished: 3 done, 0 failed · 2 skipped \(2 already stopped\)/);
    expect(await teacher.locator('tr[data-vm][data-status="running"]').count()).toBe(0);
  });

  it('assigns a free VM to the student without one, and can undo an unassign', async () => {
    const vmid = e2e.stack.pool[2];
    const name = e2e.stack.cluster.guest(vmid)!.name;
    await teacher.getByLabel('Assign a VM to Lee Three').selectOption(`lab-a:${vmid}`);
    await expect.poll(() => row(teacher, vmid).getAttribute('data-student')).toBe('student3');
    await row(teacher, vmid).getByRole('button', { name: `Unassign ${name} from Lee Three` }).click();
    await expect.poll(() => row(teacher, vmid).getAttribute('data-student')).toBeNull();
    await teacher.getByRole('button', { name: 'Undo' }).click();
    await expect.poll(() => row(teacher, vmid).getAttribute('data-student')).toBe('student3');
  });

  it("keeps the audit trail live and readable: sentences, the students' own actions, no task ids", async () => {
    const student = await e2e.stack.login('student2');
    const vmid = e2e.stack.pool[1];
    const res = await fetch(`${e2e.stack.url}/api/vm/${vmid}/start?cluster=lab-a`, { method: 'POST', headers: { cookie: student, origin: e2e.stack.url } });
    expect(res.status).toBeLessThan(300);
    const name = e2e.stack.cluster.guest(vmid)!.name;
    // No Refresh button: the trail follows the VM's change by itself.
    await expect.poll(() => audit(teacher).textContent(), { timeout: 10_000 }).toContain(`Kim Two started ${name}`);
    const text = (await audit(teacher).textContent())!;
    expect(text).toContain(`Tess Teacher assigned ${e2e.stack.cluster.guest(e2e.stack.pool[2])!.name} to Lee Three`);
    expect(text).toMatch(/Tess Teacher shut down /);
    expect(text).not.toMatch(/UPID/);
    await expect.poll(() => teacher.locator('[data-audit-entry][data-outcome="pending"]').count(), { timeout: 10_000 }).toBe(0);
    // The scrolling region is reachable by keyboard.
    expect(await audit(teacher).getAttribute('tabindex')).toBe('0');
  });

  it('lists class links after a reload with Copy and Revoke; an invite followed while signed out names the class', async () => {
    const invites = teacher.locator('[data-links="invite"]');
    await invites.getByRole('button', { name: 'Create invite link' }).click();
    await invites.locator('[data-link-url]').waitFor();
    await teacher.reload();
    await invites.locator('[data-link-url]').waitFor();
    const inviteUrl = (await invites.locator('[data-link-url]').textContent())!.trim();
    expect(inviteUrl).toMatch(/\/invite\/[A-Za-z0-9_-]{20,}$/);
    expect(await invites.textContent()).toMatch(/used 0 times/);
    await invites.getByRole('button', { name: 'Copy' }).click();
    expect(await teacher.evaluate(() => navigator.clipboard.readText())).toBe(inviteUrl);

    // A new student follows it while signed out: the sign-in page names the class.
    await e2e.stack.lab.users.create({ username: 'student4', role: 'student', password: PASSWORD, displayName: 'Max Four' });
    const { page } = await newPage(e2e.browser, { width: 800, height: 700 }, e2e.errors);
    await page.goto(inviteUrl);
    await page.waitForURL(/\/login\?next=/);
    await expect.poll(() => page.locator('[data-invited]').textContent()).toContain('You are invited to Networks 101');
    await shot(page, 'invite-signed-out');
    await page.getByLabel('Username').fill('student4');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Join Networks 101' }).click();
    await page.waitForURL(/\/my$/);
    await page.getByText('No VM is assigned to you yet').waitFor();
    // The teacher's table gains Max Four's row at once (the server tells the page).
    await teacher.locator('tr[data-student="student4"]').waitFor();

    await teacher.reload();
    await expect.poll(() => invites.textContent()).toMatch(/used 1 time\b/);
    await invites.getByRole('button', { name: 'Revoke' }).click();
    await teacher.locator('ld-confirm-dialog').getByRole('button', { name: 'Revoke' }).click();
    await invites.locator('[data-no-links]').waitFor();
    expect((await fetch(inviteUrl.replace('/invite/', '/api/invites/'))).status).toBe(404);
  });

  it('opens a term-long projector link with nobody signed in: the class live, and nothing else', async () => {
    const links = teacher.locator('[data-links="projector"]');
    await links.getByLabel('Lifetime of a new projector link').selectOption({ label: 'a term (4 months)' });
    await links.getByRole('button', { name: 'Create projector link' }).click();
    await links.locator('[data-link-url]').waitFor();
    await teacher.reload();
    projectorUrl = (await links.locator('[data-link-url]').textContent())!.trim();
    expect(projectorUrl).toMatch(/\/projector\/[A-Za-z0-9_-]{20,}$/);
    const expires = await links.locator('.meta').textContent();
    expect(expires).toContain(String(new Date(Date.now() + 120 * 86_400_000).getFullYear()));

    const { page } = await newPage(e2e.browser, { width: 1920, height: 1080 }, e2e.errors);
    const frames = recordFrames(page);
    await page.goto(projectorUrl);
    await page.getByRole('heading', { name: 'Networks 101' }).waitFor();
    // Five student tiles (student1 has two VMs; student3 got pool[2] above; student4 has none yet)
    // and one for the pool VM nobody has: a teacher sees every class VM on the wall.
    await expect.poll(() => page.locator('.tile').count()).toBe(6);
    const unassigned = page.locator('.tile[data-unassigned]');
    expect(await unassigned.count()).toBe(1);
    expect(await unassigned.getAttribute('data-vm')).toBe(`lab-a:${e2e.stack.pool[3]}`);
    expect(await unassigned.textContent()).toMatch(/Unassigned/);
    const mine = e2e.stack.pool[3];
    await expect.poll(() => page.locator(`.tile[data-vm="lab-a:${mine}"]`).getAttribute('data-status')).toBe('stopped');
    e2e.stack.cluster.powerOutside(mine, 'start');
    e2e.stack.cluster.refreshNow();
    await expect.poll(() => page.locator(`.tile[data-vm="lab-a:${mine}"]`).getAttribute('data-status'), { timeout: 5000 }).toBe('running');
    expect(await page.getByRole('button').count()).toBe(0);
    const others = e2e.stack.cluster.guests().map((g) => g.vmid).filter((v) => !e2e.stack.pool.includes(v));
    for (const v of others) expect(frames.some((f) => f.includes(`"lab-a:${v}"`))).toBe(false);
    expect(frames.some((f) => f.includes('"mac"'))).toBe(false);
    await shot(page, 'projector');

    await links.getByRole('button', { name: 'Revoke' }).click();
    await teacher.locator('ld-confirm-dialog').getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('heading', { name: /revoked/ }).waitFor({ timeout: 5000 });
    await page.reload();
    await page.getByRole('heading', { name: /does not work/ }).waitFor({ timeout: 5000 });
    const res = await fetch(projectorUrl.replace('/projector/', '/api/projector/'));
    expect(res.status).toBe(404);
    await shot(page, 'projector-revoked');
  });
});
