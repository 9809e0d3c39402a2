// End to end in real Chromium: a teacher signs in with Proxmox credentials (a simulator user whose
// group maps to "teacher") by choosing the cluster on the sign-in page; a wrong password is refused
// like any other.
import { describe, it, expect } from 'vitest';
import { join } from 'node:path';
import { startTestServer } from '../helpers/server.js';
import { browserSuite, canRunE2e, newPage, shot } from './browser.js';

describe.skipIf(!canRunE2e)('Proxmox sign-in page (Chromium)', () => {
  const e2e = browserSuite(() => startTestServer({
    clusters: [{ id: 'lab-a', guests: 4, users: [{ userid: 'tina@pve', password: 'pve-pass-1', groups: ['teachers'] }],
      login: { enabled: true, realm: 'pve', groupRoles: { teachers: 'teacher' } } }],
    start: { staticRoot: join(process.cwd(), 'dist/client') },
  }));

  it('signs in through the cluster chosen on the page and lands on the teacher view', async () => {
    const { page } = await newPage(e2e.browser, { width: 800, height: 700 }, e2e.errors);
    await page.goto(`${e2e.stack.url}/login`);
    const account = page.getByLabel('Account');
    await account.selectOption('lab-a');
    await expect.poll(() => page.locator('.hint').textContent()).toMatch(/realm pve/);
    await page.getByLabel('Username').fill('tina');
    await page.getByLabel('Password').fill('wrong-pass');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/wrong username or password/i);
    await page.getByLabel('Password').fill('pve-pass-1');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/classes/);
    await expect.poll(() => page.locator('header, nav').first().textContent()).toMatch(/tina@pve|teacher/);
    await shot(page, 'proxmox-signin-teacher');
    const me = await page.evaluate(() => fetch('/api/auth/me').then((r) => r.json()));
    expect(me.user).toMatchObject({ username: 'tina@pve', role: 'teacher' });
  });
});
