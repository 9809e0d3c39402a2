// End to end in real Chromium: a teacher signs in with Proxmox credentials (a simulator user whose
// group maps to "teacher") by choosing the cluster on the sign-in page; a wrong password is refused
// like any other.
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { canRunE2e, launch, newPage, shot } from './browser.js';

describe.skipIf(!canRunE2e)('Proxmox sign-in page (Chromium)', () => {
  let ts: TestServer;
  let browser: Browser;
  const errors: string[] = [];
  // Every test's pages must raise no script or content-security-policy error (checked per test,
  // so a test run alone checks it too).
  afterEach(() => { expect(errors.splice(0)).toEqual([]); });

  beforeAll(async () => {
    [ts, browser] = await Promise.all([
      startTestServer({
        clusters: [{ id: 'lab-a', guests: 4, users: [{ userid: 'tina@pve', password: 'pve-pass-1', groups: ['teachers'] }],
          login: { enabled: true, realm: 'pve', groupRoles: { teachers: 'teacher' } } }],
        start: { staticRoot: join(process.cwd(), 'dist/client') },
      }),
      launch(),
    ]);
  });

  afterAll(async () => {
    await browser?.close();
    await ts?.close();
  });

  it('signs in through the cluster chosen on the page and lands on the teacher view', async () => {
    const { page } = await newPage(browser, { width: 800, height: 700 }, errors);
    await page.goto(`${ts.url}/login`);
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
