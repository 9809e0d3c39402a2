// End to end in real Chromium: an admin adds a local account on the Users page, promotes it (after
// a confirmation; cancelling leaves the role as it was), sets a new password, disables it (after a
// confirmation) and undoes that; each change holds over the API.
import { describe, it, expect } from 'vitest';
import { startStack } from './harness.js';
import { browserSuite, canRunE2e, newPage, signIn, shot } from './browser.js';

describe.skipIf(!canRunE2e)('user administration (Chromium)', () => {
  const e2e = browserSuite(() => startStack());

  const login = (username: string, password: string) => fetch(`${e2e.stack.url}/api/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }),
  });

  it('adds, promotes, re-keys and disables a user', async () => {
    const { page } = await newPage(e2e.browser, { width: 1280, height: 900 }, e2e.errors);
    page.setDefaultTimeout(8000);
    await signIn(page, e2e.stack.url, 'admin', /\/admin\/sync$/);
    await page.getByRole('link', { name: 'Users' }).click();
    await page.waitForURL(/\/admin\/users$/);
    const add = page.getByRole('region', { name: 'Add a user' });
    await add.getByLabel('Username').fill('newt');
    await add.getByLabel('Display name').fill('Newt Scamander');
    await add.getByLabel('Password').fill('first-pass-1');
    await add.getByRole('button', { name: 'Add user' }).click();
    const row = page.locator('tr[data-user="newt"]');
    await row.waitFor();
    expect((await login('newt', 'first-pass-1')).status).toBe(200);

    // Choosing "admin" asks first; Cancel leaves everything as it was, menu included.
    const dialog = page.locator('ld-confirm-dialog dialog');
    await row.getByLabel('Role of newt').selectOption('admin');
    await expect.poll(() => dialog.getByRole('heading').textContent()).toBe('Make Newt Scamander an admin?');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect((await e2e.stack.lab.users.getByUsername('newt'))?.role).toBe('student');
    expect(await row.getByLabel('Role of newt').inputValue()).toBe('student');

    await row.getByLabel('Role of newt').selectOption('teacher');
    await dialog.getByRole('button', { name: 'Make teacher' }).click();
    await expect.poll(async () => (await e2e.stack.lab.users.getByUsername('newt'))?.role).toBe('teacher');

    page.once('dialog', (d) => void d.accept('second-pass-2'));
    await row.getByRole('button', { name: 'Set password' }).click();
    await expect.poll(async () => (await login('newt', 'second-pass-2')).status).toBe(200);
    expect((await login('newt', 'first-pass-1')).status).toBe(401);

    await row.getByRole('button', { name: 'Disable' }).click();
    expect(await dialog.textContent()).toMatch(/signed out everywhere at once/);
    await dialog.getByRole('button', { name: 'Disable' }).click();
    await row.getByRole('button', { name: 'Enable' }).waitFor();
    expect((await login('newt', 'second-pass-2')).status).toBe(401);
    await shot(page, 'user-admin-undo');
    await page.locator('[data-undo]').getByRole('button', { name: 'Undo' }).click();
    await row.getByRole('button', { name: 'Disable' }).waitFor();
    expect((await login('newt', 'second-pass-2')).status).toBe(200);
    expect(await page.locator('tr[data-user="admin"]').textContent()).toMatch(/you/);
    await shot(page, 'user-admin', true);
  });
});
