// End to end in real Chromium on ZFS-like storage: a student's Revert is refused because a newer
// snapshot sits on top of the baseline; the page offers "Re-create from template", asks first,
// and the VM is made again from its template with the same name while the old one goes.
import { describe, it, expect, beforeAll } from 'vitest';
import type { Page } from 'playwright-core';
import { startStack } from './harness.js';
import { browserSuite, canRunE2e, newPage, signIn, shot } from './browser.js';
import { waitFor } from '../helpers/wait.js';

describe.skipIf(!canRunE2e)('re-create from template (Chromium)', () => {
  const e2e = browserSuite(() => startStack({ storage: 'local-zfs' }));
  let page: Page;

  beforeAll(async () => {
    page = (await newPage(e2e.browser, { width: 1280, height: 900 }, e2e.errors)).page;
  });

  it('a refused revert offers Re-create from template; after a confirmation the VM is made again with the same name', async () => {
    const c = e2e.stack.cluster;
    const tpl = c.createGuest({ template: true, node: 'pve1', name: 'tpl-e2e-zfs', tags: ['labdeck-template'] });
    const teacher = await e2e.stack.login('teacher');
    // A new guest is first listed as a bare stub (pvestatd has not broadcast it yet): wait until the
    // template picker offers it, as a teacher would.
    await waitFor(async () => {
      const r = await e2e.stack.server.request('GET', `/api/classes/${e2e.stack.classId}/inventory?kind=template&q=tpl-e2e-zfs`, { cookie: teacher });
      return r.body.vms?.some((v: { vmid: number }) => v.vmid === tpl) ?? false;
    }, 60_000, 'the template in the picker');
    // student3 is the one without a VM: assign gives it theirs.
    const job = await e2e.stack.server.request('POST', `/api/classes/${e2e.stack.classId}/provision`, { cookie: teacher, body: { cluster: 'lab-a', templateVmid: tpl, count: 1, namePrefix: 'zfs', assign: true } });
    expect(job.status, JSON.stringify(job.body)).toBe(202);
    const made = await waitFor(() => c.guests().find((g) => g.name === 'zfs-01' && g.snapshots.includes('labdeck-baseline') && g.lock === null), 30_000, 'the VM');
    const old = made.vmid;
    const snap = await fetch(`${c.url}/api2/json/nodes/${made.node}/qemu/${old}/snapshot`, {
      method: 'POST', headers: { Authorization: `PVEAPIToken=${c.tokenId}=${c.tokenSecret}`, 'content-type': 'application/x-www-form-urlencoded' }, body: 'snapname=my-work',
    });
    expect(snap.status).toBe(200);
    await waitFor(() => c.guest(old)!.snapshots.length === 2 && c.guest(old)!.lock === null, 5000, 'the newer snapshot');

    await signIn(page, e2e.stack.url, 'student3', /\/my$/);
    const card = page.locator(`article[data-vm="lab-a:${old}"]`);
    await card.waitFor({ timeout: 20_000 });
    await card.locator('button[data-revert]').click();
    const dialog = page.locator('ld-confirm-dialog dialog');
    await dialog.locator('[data-confirm]').click();
    await expect.poll(() => card.locator('[data-revert-result]').textContent(), { timeout: 15_000 }).toContain('can be re-created from its template');
    await card.locator('button[data-reclone]').click();
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain('zfs-01');
    await dialog.locator('[data-confirm]').click();
    await expect.poll(() => card.locator('[data-revert-result]').textContent(), { timeout: 15_000 }).toContain('is being re-created');
    await shot(page, 'reclone-asked');
    const again = await waitFor(() => c.guests().find((g) => g.name === 'zfs-01' && g.vmid !== old && g.snapshots.join() === 'labdeck-baseline' && g.lock === null), 30_000, 'the re-created VM');
    expect(c.guest(old)).toBeUndefined();
    // The student's page shows the new VM in place of the old one, without a reload.
    await page.locator(`article[data-vm="lab-a:${again.vmid}"]`).waitFor({ timeout: 20_000 });
    expect(await page.locator(`article[data-vm="lab-a:${old}"]`).count()).toBe(0);
  }, 120_000);
});
