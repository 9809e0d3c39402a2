// End to end in real Chromium: a teacher renames their class, adds a co-teacher, enrols and removes
// a student by username, and deletes the class; the co-teacher's and student's access follow.
import { describe, it, expect, beforeAll } from 'vitest';
import type { Page } from 'playwright-core';
import { startStack, PASSWORD } from './harness.js';
import { browserSuite, canRunE2e, newPage, signIn, shot } from './browser.js';

describe.skipIf(!canRunE2e)('class settings (Chromium)', () => {
  const e2e = browserSuite(() => startStack());
  let page: Page;

  beforeAll(async () => {
    await e2e.stack.lab.users.create({ username: 'newbie', role: 'student', password: PASSWORD, displayName: 'New Bie' });
    page = (await newPage(e2e.browser, { width: 1280, height: 900 }, e2e.errors)).page;
    page.setDefaultTimeout(8000);
  });

  const settings = () => page.locator('ld-class-settings');

  it('renames the class and adds a co-teacher', async () => {
    await signIn(page, e2e.stack.url, 'teacher', /\/classes\/\d+$/);
    await settings().getByText('Class settings').click();
    await settings().getByLabel('New class name').fill('Networks 102');
    await settings().getByRole('button', { name: 'Rename' }).click();
    await page.getByRole('heading', { name: 'Networks 102', level: 1 }).waitFor();
    await settings().getByLabel("Co-teacher's username").fill('teacher2');
    await settings().getByRole('button', { name: 'Add co-teacher' }).click();
    await settings().locator('li[data-teacher="teacher2"]').waitFor();
    const co = await e2e.stack.login('teacher2');
    const list = await (await fetch(`${e2e.stack.url}/api/classes`, { headers: { cookie: co } })).json();
    expect(list.classes.map((c: { name: string }) => c.name)).toContain('Networks 102');
    await settings().getByLabel("Co-teacher's username").fill('student1');
    await settings().getByRole('button', { name: 'Add co-teacher' }).click();
    await expect.poll(() => settings().getByRole('alert').textContent()).toMatch(/student, not a teacher/);
    await shot(page, 'class-settings', true);
  });

  it('enrols and removes a student by username', async () => {
    await settings().getByLabel("Student's username").fill('newbie');
    await settings().getByRole('button', { name: 'Add student' }).click();
    await page.locator('tr[data-student="newbie"]').waitFor();
    await settings().getByLabel('Student to remove').selectOption({ label: 'New Bie (newbie)' });
    await settings().getByRole('button', { name: 'Remove from class' }).click();
    await page.locator('ld-confirm-dialog').getByRole('button', { name: 'Remove from class' }).click();
    await expect.poll(() => page.locator('tr[data-student="newbie"]').count()).toBe(0);
  });

  it('deletes the class: back to the list, and its student loses its VMs', async () => {
    await settings().getByRole('button', { name: 'Delete this class' }).click();
    const dialog = page.locator('ld-confirm-dialog dialog');
    expect(await dialog.getByRole('heading').textContent()).toBe('Delete the class Networks 102?');
    await dialog.getByRole('button', { name: 'Delete class' }).click();
    await page.waitForURL(/\/classes$/);
    await page.locator('ld-class-list').getByText(/No classes yet/).waitFor();
    const s = await e2e.stack.login('student2');
    const mine = await (await fetch(`${e2e.stack.url}/api/vms`, { headers: { cookie: s } })).json();
    expect(mine.vms).toEqual([]);
  });
});
