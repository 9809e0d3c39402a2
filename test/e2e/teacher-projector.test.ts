// End to end, teacher side, in real Chromium: the class page (roster beside pool, bulk start with
// progress per VM, assign, invite link, audit trail), and a projector link that shows the class
// live with nobody signed in, sees nothing else, and stops working when revoked.
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startStack, PASSWORD, type Stack } from './harness.js';
import { canRunE2e, launch, newPage, signIn, recordFrames, shot } from './browser.js';

const row = (page: Page, vmid: number) => page.locator(`tr[data-vm="lab-a:${vmid}"]`);

describe.skipIf(!canRunE2e)('teacher class page and projector (Chromium)', () => {
  let stack: Stack;
  let browser: Browser;
  let teacher: Page;
  let projectorUrl = '';
  const errors: string[] = [];
  // Every test's pages must raise no script or content-security-policy error (checked per test,
  // so a test run alone checks it too).
  afterEach(() => { expect(errors.splice(0)).toEqual([]); });

  beforeAll(async () => {
    [stack, browser] = await Promise.all([startStack(), launch()]);
    teacher = (await newPage(browser, { width: 1360, height: 1000 }, errors)).page;
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it('shows the roster beside the pool and starts selected VMs with progress per VM', async () => {
    await signIn(teacher, stack.url, 'teacher', /\/classes\/\d+$/);
    await teacher.getByRole('heading', { name: 'Networks 101' }).waitFor();
    for (const vmid of stack.pool) await row(teacher, vmid).waitFor();
    expect(await teacher.locator('li[data-student]').count()).toBe(3);
    const [a, b] = [stack.pool[2], stack.pool[3]];
    for (const vmid of [a, b]) if (stack.cluster.guest(vmid)!.status === 'running') {
      stack.cluster.powerOutside(vmid, 'stop');
      stack.cluster.refreshNow();
    }
    for (const vmid of [a, b]) await expect.poll(() => row(teacher, vmid).getAttribute('data-status'), { timeout: 5000 }).toBe('stopped');
    await row(teacher, a).getByRole('checkbox').check();
    await row(teacher, b).getByRole('checkbox').check();
    await teacher.getByRole('button', { name: 'Start selected (2)' }).click();
    for (const vmid of [a, b]) {
      await expect.poll(() => row(teacher, vmid).getAttribute('data-status'), { timeout: 8000 }).toBe('running');
      await expect.poll(() => row(teacher, vmid).locator('[data-progress]').textContent()).toContain('done');
    }
    await shot(teacher, 'teacher-class', true);
  });

  it('assigns a free VM to a student and keeps an audit trail', async () => {
    const vmid = stack.pool[2];
    await teacher.getByLabel('Assign a VM to Lee Three').selectOption(`lab-a:${vmid}`);
    await expect.poll(() => teacher.locator('li[data-student="student3"]').textContent()).toContain(stack.cluster.guest(vmid)!.name);
    await teacher.getByRole('button', { name: 'Refresh' }).click();
    await expect.poll(() => teacher.locator('section[aria-label="Audit trail"]').textContent()).toMatch(/assign/i);
    expect(await teacher.locator('section[aria-label="Audit trail"]').textContent()).toMatch(/start/i);
    await teacher.getByRole('button', { name: 'Create invite link' }).click();
    await expect.poll(() => teacher.locator('[data-invite-url]').textContent()).toMatch(/\/invite\/[A-Za-z0-9_-]{20,}$/);
    // A student follows the link: signs in first, comes back to the invite, and joins.
    const inviteUrl = (await teacher.locator('[data-invite-url]').textContent())!.trim();
    const { page } = await newPage(browser, { width: 800, height: 600 }, errors);
    await page.goto(inviteUrl);
    await page.waitForURL(/\/login\?next=/);
    await page.getByLabel('Username').fill('student3');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Join Networks 101' }).waitFor();
    await shot(page, 'invite');
    await page.getByRole('button', { name: 'Join Networks 101' }).click();
    await page.waitForURL(/\/my$/);
    await page.locator(`article[data-vm="lab-a:${vmid}"]`).waitFor();
    await teacher.locator('section[aria-label="Invite link"]').getByRole('button', { name: 'Revoke' }).click();
    await teacher.getByRole('button', { name: 'Create invite link' }).waitFor();
  });

  it('opens a projector link with nobody signed in: the class live, and nothing else', async () => {
    await teacher.getByRole('button', { name: 'Create projector link' }).click();
    projectorUrl = (await teacher.locator('[data-projector-url]').textContent())!.trim();
    expect(projectorUrl).toMatch(/\/projector\/[A-Za-z0-9_-]{20,}$/);
    const { page } = await newPage(browser, { width: 1920, height: 1080 }, errors);
    const frames = recordFrames(page);
    await page.goto(projectorUrl);
    await page.getByRole('heading', { name: 'Networks 101' }).waitFor();
    // Four student tiles (student1 has two VMs; student3 got pool[2] above) and one for the pool
    // VM nobody has: a teacher sees every class VM on the wall.
    await expect.poll(() => page.locator('.tile').count()).toBe(5);
    const unassigned = page.locator('.tile[data-unassigned]');
    expect(await unassigned.count()).toBe(1);
    expect(await unassigned.getAttribute('data-vm')).toBe(`lab-a:${stack.pool[3]}`);
    expect(await unassigned.textContent()).toMatch(/Unassigned/);
    const mine = stack.pool[1];
    await expect.poll(() => page.locator(`.tile[data-vm="lab-a:${mine}"]`).getAttribute('data-status')).toBe('stopped');
    stack.cluster.powerOutside(mine, 'start');
    stack.cluster.refreshNow();
    await expect.poll(() => page.locator(`.tile[data-vm="lab-a:${mine}"]`).getAttribute('data-status'), { timeout: 5000 }).toBe('running');
    expect(await page.getByRole('button').count()).toBe(0);
    const others = stack.cluster.guests().map((g) => g.vmid).filter((v) => !stack.pool.includes(v));
    for (const v of others) expect(frames.some((f) => f.includes(`"lab-a:${v}"`))).toBe(false);
    expect(frames.some((f) => f.includes('"mac"'))).toBe(false);
    await shot(page, 'projector');

    await teacher.locator('section[aria-label="Projector link"]').getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('heading', { name: /revoked/ }).waitFor({ timeout: 5000 });
    await page.reload();
    await page.getByRole('heading', { name: /does not work/ }).waitFor({ timeout: 5000 });
    const res = await fetch(projectorUrl.replace('/projector/', '/api/projector/'));
    expect(res.status).toBe(404);
    await shot(page, 'projector-revoked');
  });
});
