// End to end, student side, in real Chromium against the real server and the simulator: only
// their VMs, a start watched live, outside changes arriving on their own, nothing of another
// student's reaching the page or its socket, and catching up after being offline.
import { describe, it, expect, beforeAll } from 'vitest';
import type { Page, BrowserContext } from 'playwright-core';
import { startStack } from './harness.js';
import { waitFor } from '../helpers/wait.js';
import { browserSuite, canRunE2e, newPage, signIn, recordFrames, shot } from './browser.js';

const card = (page: Page, vmid: number) => page.locator(`article[data-vm="lab-a:${vmid}"]`);
const statusOf = (page: Page, vmid: number) => card(page, vmid).getAttribute('data-status');

describe.skipIf(!canRunE2e)('student pages (Chromium)', () => {
  const e2e = browserSuite(() => startStack());
  let one: { context: BrowserContext; page: Page; errors: string[] };
  let two: { context: BrowserContext; page: Page; errors: string[] };
  let framesTwo: string[];

  beforeAll(async () => {
    one = await newPage(e2e.browser, {}, e2e.errors);
    two = await newPage(e2e.browser, { width: 390, height: 844, dark: true }, e2e.errors);
    framesTwo = recordFrames(two.page);
  });

  it('a student signs in and sees only their VMs', async () => {
    const { page } = one;
    await page.goto(`${e2e.stack.url}/my`);
    await page.waitForURL(/\/login\?next=%2Fmy$/);
    await page.getByLabel('Password').fill('wrong password');
    await page.getByLabel('Username').fill('student1');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').first().textContent()).toMatch(/\S/);
    await shot(page, 'sign-in');
    await signIn(page, e2e.stack.url, 'student1', /\/my$/);
    await card(page, e2e.stack.pool[0]).waitFor();
    await card(page, e2e.stack.pool[4]).waitFor();
    expect(await page.locator('article[data-vm]').count()).toBe(2);
    expect(await card(page, e2e.stack.pool[1]).count()).toBe(0);
    await expect.poll(() => page.locator('ld-connection [data-state]').getAttribute('data-state')).toBe('live');
    await shot(page, 'student-my-vms');
  });

  it('starts one and watches it go to running without reloading', async () => {
    const { page } = one;
    const vmid = e2e.stack.pool[0];
    expect(await statusOf(page, vmid)).toBe('stopped');
    await page.evaluate(() => { (window as unknown as { marker: number }).marker = 42; });
    await card(page, vmid).getByRole('button', { name: 'Start' }).click();
    await expect.poll(() => statusOf(page, vmid), { timeout: 8000 }).toBe('running');
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42);
    expect(e2e.stack.cluster.guest(vmid)!.status).toBe('running');
    await expect.poll(() => card(page, vmid).locator('[data-ip]').textContent(), { timeout: 8000 }).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    await shot(page, 'student-vm-running');
  });

  it('shows a change made in Proxmox within the quick interval plus a second', async () => {
    const { page } = one;
    const vmid = e2e.stack.pool[4];
    expect(await statusOf(page, vmid)).toBe('stopped');
    const t0 = Date.now();
    e2e.stack.cluster.powerOutside(vmid, 'start');
    e2e.stack.cluster.refreshNow();
    await expect.poll(() => statusOf(page, vmid), { timeout: 5000, interval: 50 }).toBe('running');
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeLessThan(e2e.stack.lab.config.sync.quickIntervalSeconds * 1000 + 1000);
  });

  it('never sends a second student the first student\'s VM, on the page or the socket', async () => {
    const { page } = two;
    await signIn(page, e2e.stack.url, 'student2', /\/my$/);
    await card(page, e2e.stack.pool[1]).waitFor();
    await expect.poll(() => page.locator('ld-connection [data-state]').getAttribute('data-state')).toBe('live');
    // Student 1 acts on their VM while student 2's page is open: student 1's page sees it live.
    const cookie1 = await e2e.stack.login('student1');
    const res = await fetch(`${e2e.stack.url}/api/vm/${e2e.stack.pool[0]}/shutdown?cluster=lab-a`, { method: 'POST', headers: { cookie: cookie1, origin: e2e.stack.url } });
    expect(res.status).toBeLessThan(300);
    await expect.poll(() => statusOf(one.page, e2e.stack.pool[0]), { timeout: 8000 }).toBe('stopped');
    // Student 2's own VM changes too, so their socket demonstrably carries pushes.
    e2e.stack.cluster.powerOutside(e2e.stack.pool[1], 'start');
    await expect.poll(() => statusOf(page, e2e.stack.pool[1]), { timeout: 5000 }).toBe('running');
    const pushes = framesTwo.filter((f) => f.includes('vm:changed'));
    expect(pushes.some((f) => f.includes(`"lab-a:${e2e.stack.pool[1]}"`))).toBe(true);
    for (const theirs of [e2e.stack.pool[0], e2e.stack.pool[4]]) {
      expect(framesTwo.some((f) => f.includes(`"lab-a:${theirs}"`))).toBe(false);
      expect(await card(page, theirs).count()).toBe(0);
    }
    expect(await page.locator('article[data-vm]').count()).toBe(1);
    await shot(page, 'student-phone-dark');
  });

  it('catches up after being offline: a change made meanwhile shows on reconnect', async () => {
    const { page, context } = two;
    const vmid = e2e.stack.pool[1];
    expect(await statusOf(page, vmid)).toBe('running');
    await context.setOffline(true);
    for (const s of e2e.stack.lab.realtime!.io.sockets.sockets.values()) if (s.data.user?.id === e2e.stack.userIds.student2) s.conn.close();
    await expect.poll(() => page.locator('ld-connection [data-state]').getAttribute('data-state')).not.toBe('live');
    const admin = await e2e.stack.login('admin');
    const res = await fetch(`${e2e.stack.url}/api/vm/${vmid}/stop?cluster=lab-a`, { method: 'POST', headers: { cookie: admin, origin: e2e.stack.url } });
    expect(res.status).toBeLessThan(300);
    await waitFor(async () => (await e2e.stack.lab.inventory.get('lab-a', vmid))?.status === 'stopped', 8000, 'the stop to land');
    // Whatever the hub held is sent now, and student2 has no socket it could have reached: the page cannot know yet.
    e2e.stack.lab.realtime!.flush();
    expect([...e2e.stack.lab.realtime!.io.sockets.sockets.values()].some((s) => s.data.user?.id === e2e.stack.userIds.student2)).toBe(false);
    expect(await statusOf(page, vmid)).toBe('running');
    await shot(page, 'student-offline');
    await context.setOffline(false);
    await expect.poll(() => statusOf(page, vmid), { timeout: 10_000 }).toBe('stopped');
    await expect.poll(() => page.locator('ld-connection [data-state]').getAttribute('data-state')).toBe('live');
  });

  it('says clearly when Proxmox refuses a start, and leaves the VM as it was', async () => {
    const { page } = one;
    const vmid = e2e.stack.pool[0];
    await expect.poll(() => statusOf(page, vmid), { timeout: 5000 }).toBe('stopped');
    await e2e.stack.cluster.setFault({ errorRate: 1 });
    try {
      await card(page, vmid).getByRole('button', { name: 'Start' }).click();
      await expect.poll(() => card(page, vmid).getByRole('alert').textContent(), { timeout: 8000 }).toMatch(/start/i);
      expect(await statusOf(page, vmid)).toBe('stopped');
      await shot(page, 'student-action-failed');
    } finally {
      await e2e.stack.cluster.setFault({ errorRate: 0 });
    }
  });
});
