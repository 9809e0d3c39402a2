// End to end in real Chromium: a teacher provisions VMs for the class from a template picked by
// name, watches the progress arrive live, and removes them behind a confirmation listing them.
import { describe, it, expect, beforeAll } from 'vitest';
import type { Page } from 'playwright-core';
import { startStack } from './harness.js';
import { browserSuite, canRunE2e, newPage, signIn, shot } from './browser.js';

describe.skipIf(!canRunE2e)('teacher provisioning (Chromium)', () => {
  const e2e = browserSuite(() => startStack());
  let page: Page;

  beforeAll(async () => {
    e2e.stack.cluster.createGuest({ template: true, node: 'pve1', name: 'tpl-e2e-net', tags: ['labdeck-template'] });
    await e2e.stack.server.synced();
    page = (await newPage(e2e.browser, { width: 1360, height: 1000 }, e2e.errors)).page;
  });

  it('provisions from a template picked by name, with live progress, then removes the VMs after a confirmation', async () => {
    await signIn(page, e2e.stack.url, 'teacher', /\/classes\/\d+$/);
    const panel = page.locator('ld-provision-panel');
    await panel.locator('summary').first().click();
    await panel.getByRole('searchbox', { name: 'Find a template by name, id, tag or node' }).fill('e2e-net');
    await panel.locator('button[data-pick]', { hasText: 'tpl-e2e-net' }).click();
    await expect.poll(() => panel.locator('[data-chosen-template]').textContent()).toContain('tpl-e2e-net');
    await panel.getByLabel('How many').fill('3');
    await panel.getByLabel('Name prefix').fill('e2e');
    await panel.getByRole('button', { name: 'Provision', exact: true }).click();
    // Live: the job is seen running with part of it done before it ends, without a reload.
    const progress = panel.locator('[data-job-progress]').first();
    await expect.poll(() => panel.locator('[data-job-state]').first().textContent(), { timeout: 10_000 }).toBe('running');
    await expect.poll(() => progress.textContent(), { timeout: 30_000 }).toMatch(/^[12] of 3 ready$/);
    await expect.poll(() => panel.locator('[data-job-state]').first().textContent(), { timeout: 30_000 }).toBe('done');
    expect(await progress.textContent()).toBe('3 of 3 ready');
    const made = e2e.stack.cluster.guests().filter((g) => /^e2e-0[1-3]$/.test(g.name));
    expect(made).toHaveLength(3);
    for (const g of made) expect(g.snapshots).toEqual(['labdeck-baseline']);
    // The class table shows them (the panel reloads the class when the job ends).
    for (const g of made) await page.locator(`tr[data-vm="lab-a:${g.vmid}"]`).waitFor({ timeout: 15_000 });
    await shot(page, 'provision-done');

    await panel.locator('[data-remove-all]').click();
    const dialog = page.locator('ld-confirm-dialog dialog');
    await dialog.waitFor();
    for (const g of made) expect(await dialog.textContent()).toContain(g.name);
    await dialog.locator('[data-confirm]').click();
    await expect.poll(() => panel.locator('[data-note]').textContent(), { timeout: 20_000 }).toContain('3 VMs removed');
    expect(e2e.stack.cluster.guests().filter((g) => /^e2e-0[1-3]$/.test(g.name))).toEqual([]);
  }, 120_000);
});
