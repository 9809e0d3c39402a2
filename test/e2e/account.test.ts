// End to end in real Chromium: a signed-in user opens their account page from the header and
// changes their password; the old password stops working, the new one works, and this tab stays
// signed in while the user's other session ends.
import { describe, it, expect, beforeAll } from 'vitest';
import { join } from 'node:path';
import { startTestServer, TEST_PASSWORD } from '../helpers/server.js';
import { browserSuite, canRunE2e, newPage, shot } from './browser.js';

describe.skipIf(!canRunE2e)('account page (Chromium)', () => {
  const e2e = browserSuite(() => startTestServer({ clusters: [{ id: 'lab-a', guests: 3 }], start: { staticRoot: join(process.cwd(), 'dist/client') } }));

  beforeAll(async () => {
    await e2e.stack.createUser('pat', 'student');
  });

  it('changes the password from the account page', async () => {
    const other = await e2e.stack.login('pat');
    const { page } = await newPage(e2e.browser, { width: 390, height: 844 }, e2e.errors);
    page.setDefaultTimeout(8000);
    await page.goto(`${e2e.stack.url}/login`);
    await page.getByLabel('Username').fill('pat');
    await page.getByLabel('Password').fill(TEST_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/my$/);
    await page.getByRole('link', { name: /\(student\)/ }).click();
    await page.waitForURL(/\/account$/);
    const form = page.getByRole('region', { name: 'Change password' });
    await form.getByLabel('Current password').fill(TEST_PASSWORD);
    await form.getByLabel('New password', { exact: true }).fill('new-secret-99');
    await form.getByLabel('New password again').fill('new-secret-98');
    await form.getByRole('button', { name: 'Change password' }).click();
    await expect.poll(() => form.getByRole('alert').textContent()).toMatch(/differ/);
    await form.getByLabel('New password again').fill('new-secret-99');
    await form.getByRole('button', { name: 'Change password' }).click();
    await expect.poll(() => form.getByRole('alert').textContent()).toBe('');
    await form.locator('[data-password-changed]').waitFor();
    await shot(page, 'account-password-changed');
    expect((await e2e.stack.request('GET', '/api/auth/me', { cookie: other })).status).toBe(401);
    const me = await page.evaluate(() => fetch('/api/auth/me').then((r) => r.status));
    expect(me).toBe(200);
    // The server closed this tab's socket with the others; it comes back live, still signed in.
    await expect.poll(() => page.locator('ld-connection span[data-state]').getAttribute('data-state'), { timeout: 8000 }).toBe('live');
    expect(page.url()).toMatch(/\/account$/);
    expect((await e2e.stack.request('POST', '/api/auth/login', { body: { username: 'pat', password: TEST_PASSWORD } })).status).toBe(401);
    expect((await e2e.stack.request('POST', '/api/auth/login', { body: { username: 'pat', password: 'new-secret-99' } })).status).toBe(200);
  });
});
