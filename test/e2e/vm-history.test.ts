// End to end in real Chromium: a student opens a VM's history on its card and sees one uptime bar
// per day and the status change the sync loop just recorded.
import { describe, it, expect } from 'vitest';
import { startStack } from './harness.js';
import { browserSuite, canRunE2e, newPage, signIn, shot } from './browser.js';

describe.skipIf(!canRunE2e)('VM history on the card (Chromium)', () => {
  const e2e = browserSuite(() => startStack());

  it('shows uptime per day and the last status changes', async () => {
    const vmid = e2e.stack.pool[1];
    const { page } = await newPage(e2e.browser, { width: 800, height: 900 }, e2e.errors);
    page.setDefaultTimeout(8000);
    await signIn(page, e2e.stack.url, 'student2', /\/my$/);
    const card = page.locator(`article[data-vm="lab-a:${vmid}"]`);
    e2e.stack.cluster.powerOutside(vmid, 'start');
    e2e.stack.cluster.refreshNow();
    await expect.poll(() => card.getAttribute('data-status'), { timeout: 8000 }).toBe('running');
    await card.getByText('Uptime, last 14 days').click();
    const history = card.locator('ld-vm-history');
    await expect.poll(() => history.locator('.day').count()).toBeGreaterThanOrEqual(14);
    await expect.poll(() => history.locator('li').first().textContent()).toMatch(/Running/);
    await shot(page, 'vm-history');
  });
});
