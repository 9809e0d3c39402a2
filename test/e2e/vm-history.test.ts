// End to end in real Chromium: a student opens a VM's history on its card and sees one uptime bar
// per day and the status change the sync loop just recorded.
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import type { Browser } from 'playwright-core';
import { startStack, type Stack } from './harness.js';
import { canRunE2e, launch, newPage, signIn, shot } from './browser.js';

describe.skipIf(!canRunE2e)('VM history on the card (Chromium)', () => {
  let stack: Stack;
  let browser: Browser;
  const errors: string[] = [];
  // Every test's pages must raise no script or content-security-policy error (checked per test,
  // so a test run alone checks it too).
  afterEach(() => { expect(errors.splice(0)).toEqual([]); });

  beforeAll(async () => {
    [stack, browser] = await Promise.all([startStack(), launch()]);
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it('shows uptime per day and the last status changes', async () => {
    const vmid = stack.pool[1];
    const { page } = await newPage(browser, { width: 800, height: 900 }, errors);
    page.setDefaultTimeout(8000);
    await signIn(page, stack.url, 'student2', /\/my$/);
    const card = page.locator(`article[data-vm="lab-a:${vmid}"]`);
    stack.cluster.powerOutside(vmid, 'start');
    stack.cluster.refreshNow();
    await expect.poll(() => card.getAttribute('data-status'), { timeout: 8000 }).toBe('running');
    await card.getByText('Uptime, last 14 days').click();
    const history = card.locator('ld-vm-history');
    await expect.poll(() => history.locator('.day').count()).toBeGreaterThanOrEqual(14);
    await expect.poll(() => history.locator('li').first().textContent()).toMatch(/Running/);
    await shot(page, 'vm-history');
  });
});
