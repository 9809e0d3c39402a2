// End to end in real Chromium: a student opens their VM's console from its card and the canvas
// shows the simulator's picture (read from the canvas pixels), a key press changes it; their
// teacher opens the same console view-only from the class table, and the student is told.
import { describe, it, expect, beforeAll } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { startStack } from './harness.js';
import { browserSuite, canRunE2e, newPage, signIn, shot } from './browser.js';
import { BANNER_RGB, COUNTER_RECT } from '../../server/simulator/console/framebuffer.js';

/** The RGB of a framebuffer pixel as the page's noVNC canvas holds it. */
function pixel(page: Page, x: number, y: number): Promise<number[]> {
  return page.locator('ld-console-page canvas').first().evaluate((c: HTMLCanvasElement, [px, py]) => {
    const d = c.getContext('2d')!.getImageData(px, py, 1, 1).data;
    return [d[0], d[1], d[2]];
  }, [x, y] as const);
}

const consoleState = (page: Page) => page.locator('ld-console-page [data-console-state]').getAttribute('data-console-state');

describe.skipIf(!canRunE2e)('console (Chromium)', () => {
  const e2e = browserSuite(() => startStack());
  let student: { context: BrowserContext; page: Page; errors: string[] };
  let teacher: { context: BrowserContext; page: Page; errors: string[] };
  let vmid: number;

  beforeAll(async () => {
    vmid = e2e.stack.pool[0];
    e2e.stack.cluster.powerOutside(vmid, 'start');
    e2e.stack.cluster.refreshNow();
    student = await newPage(e2e.browser, {}, e2e.errors);
    teacher = await newPage(e2e.browser, {}, e2e.errors);
  });

  it('a student opens the console from the VM card and sees the VM\'s screen; a key press changes it', async () => {
    const { page } = student;
    await signIn(page, e2e.stack.url, 'student1', /\/my$/);
    const card = page.locator(`article[data-vm="lab-a:${vmid}"]`);
    await expect.poll(() => card.getAttribute('data-status'), { timeout: 15_000 }).toBe('running');
    await card.getByRole('link', { name: /Console/ }).click();
    await page.waitForURL(new RegExp(`/console/lab-a/${vmid}$`));
    await expect.poll(() => consoleState(page), { timeout: 15_000 }).toBe('connected');
    await expect.poll(() => pixel(page, 20, 20), { timeout: 10_000 }).toEqual([...BANNER_RGB]);
    const before = await pixel(page, COUNTER_RECT.x + 5, 5);
    await page.locator('ld-console-page canvas').first().click();
    await page.keyboard.press('a');
    await expect.poll(() => pixel(page, COUNTER_RECT.x + 5, 5), { timeout: 10_000 }).not.toEqual(before);
    await shot(page, 'console-student');
  });

  it('the teacher watches read-only from the class table, and the student sees that', async () => {
    const { page } = teacher;
    await signIn(page, e2e.stack.url, 'teacher', /\/classes/);
    await page.goto(`${e2e.stack.url}/classes/${e2e.stack.classId}`);
    await page.getByRole('link', { name: new RegExp(`Console of ${e2e.stack.cluster.guest(vmid)!.name}`) }).click();
    await page.waitForURL(new RegExp(`/console/lab-a/${vmid}$`));
    await expect.poll(() => consoleState(page), { timeout: 15_000 }).toBe('connected');
    await expect.poll(() => pixel(page, 20, 20), { timeout: 10_000 }).toEqual([...BANNER_RGB]);
    expect(await page.locator('ld-console-page').getByText('view only').isVisible()).toBe(true);
    expect(await page.getByLabel('Take control').isChecked()).toBe(false);
    await expect.poll(() => student.page.locator('ld-console-page [data-watchers]').textContent(), { timeout: 10_000 }).toContain('Tess Teacher is watching');
    await shot(page, 'console-teacher-watching');
  });

  it('says so plainly when the VM stops', async () => {
    e2e.stack.cluster.powerOutside(vmid, 'stop');
    await expect.poll(() => consoleState(student.page), { timeout: 15_000 }).toBe('closed');
    await expect.poll(() => student.page.locator('ld-console-page [role=alert]').textContent(), { timeout: 15_000 }).toContain('The VM stopped');
  });
});
