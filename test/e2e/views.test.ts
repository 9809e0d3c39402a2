// End to end in real Chromium, the pages as people use them: the All VMs table (substring search
// over names, tags and owners, an empty result with "clear filters", a detail view with actions,
// templates marked, cluster names as on the sync monitor, "last change"); the projector (counts
// with transitions, a state per tile readable in greyscale, problems first, readable sizes at
// 1080p, a reconnect banner over the tiles); keyboard (skip link); sessions that end (the sign-in
// page says why; power buttons wait while offline); the sync monitor (lines, slow latency
// coloured, nodes with their guests); phones (one header row, no page-wide overflow); tab titles;
// "not allowed" for a student at an admin page. Then axe-core on every view, light and dark.
import { describe, it, expect, beforeAll } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { startStack } from './harness.js';
import { browserSuite, canRunE2e, newPage, signIn, shot, whereFocusIs } from './browser.js';
import { axeViolations } from './axe.js';

/** README screenshots are rewritten only when asked: `LABDECK_DOC_SHOTS=1 npx vitest run test/e2e/views.test.ts`. */
const DOC_SHOTS = process.env.LABDECK_DOC_SHOTS === '1';
async function docShot(page: Page, name: string): Promise<void> {
  if (!DOC_SHOTS) return;
  const dir = join(process.cwd(), 'docs', 'screenshots');
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`) });
}

describe.skipIf(!canRunE2e)('every view, as people use it (Chromium)', () => {
  const e2e = browserSuite(() => startStack({ guests: 24 }));
  let projectorUrl = '';

  beforeAll(async () => {
    const teacher = await e2e.stack.login('teacher');
    const res = await fetch(`${e2e.stack.url}/api/classes/${e2e.stack.classId}/projector-links`, {
      method: 'POST', headers: { cookie: teacher, origin: e2e.stack.url, 'content-type': 'application/json' }, body: JSON.stringify({ ttlHours: 24 }),
    });
    projectorUrl = (await res.json()).url;
  });

  it('All VMs: substring search over names, tags and owners; no matches says so and clears; a row opens its details', async () => {
    const { page } = await newPage(e2e.browser, { width: 1360, height: 900 }, e2e.errors);
    await signIn(page, e2e.stack.url, 'admin', /\/admin\/sync$/);
    await page.getByRole('link', { name: 'All VMs' }).click();
    expect(await page.title()).toBe('All VMs · labdeck');
    const count = page.locator('[data-count]');
    const total = e2e.stack.cluster.guests().length;
    await expect.poll(() => count.textContent()).toBe(`${total} of ${total} VMs`);
    const windows = e2e.stack.cluster.guests().filter((g) => g.tags.includes('windows')).length;
    expect(windows).toBeGreaterThan(0);
    await page.getByLabel('Search VMs').fill('win');
    await expect.poll(() => count.textContent()).toBe(`${windows} of ${total} VMs`);
    // An owner's name finds their VMs: Sam One has two.
    await page.getByLabel('Search VMs').fill('sam o');
    await expect.poll(() => count.textContent()).toBe(`2 of ${total} VMs`);
    await page.getByLabel('Search VMs').fill('no-such-vm-anywhere');
    await page.locator('[data-empty]').getByText('No VM matches these filters.').waitFor();
    await shot(page, 'all-vms-empty');
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await expect.poll(() => count.textContent()).toBe(`${total} of ${total} VMs`);
    expect(await page.getByLabel('Search VMs').inputValue()).toBe('');

    // Templates are marked; the cluster column says "Lab A" as the sync monitor does; "Last change".
    const template = e2e.stack.cluster.guests().find((g) => g.template)!;
    await page.getByLabel('Search VMs').fill(template.name);
    await expect.poll(() => page.locator(`[data-vm="lab-a:${template.vmid}"]`).getAttribute('data-template')).toBe('');
    expect(await page.locator(`[data-vm="lab-a:${template.vmid}"]`).textContent()).toContain('template');
    expect(await page.locator(`[data-vm="lab-a:${template.vmid}"] [role=cell]`).nth(2).textContent()).toBe('Lab A');
    expect(await page.getByRole('columnheader', { name: /Last change/ }).count()).toBe(1);

    // A row opens its details with the VM's actions; Escape closes them, focus goes back.
    const vm = e2e.stack.cluster.guest(e2e.stack.pool[3])!;
    await page.getByLabel('Search VMs').fill(vm.name);
    const open = page.getByRole('button', { name: `${vm.name}: details and actions` });
    await open.click();
    const detail = page.locator(`dialog[data-detail="lab-a:${vm.vmid}"]`);
    await detail.waitFor();
    expect(await page.title()).toBe(`${vm.name} · labdeck`);
    expect(await detail.getByRole('button', { name: /^(Start|Shut down) / }).count()).toBe(1);
    await shot(page, 'all-vms-detail');
    await page.keyboard.press('Escape');
    await detail.waitFor({ state: 'detached' });
    await expect.poll(() => whereFocusIs(open), { timeout: 5000 }).toBe('here');
  });

  it('projector: counts include VMs in transition, each state has its own icon and background, problems first, readable at 1080p', async () => {
    const { page, context } = await newPage(e2e.browser, { width: 1920, height: 1080 }, e2e.errors);
    await page.goto(projectorUrl);
    await page.getByRole('heading', { name: 'Networks 101' }).waitFor();
    // Three students (one with two VMs, one with none yet) and two free pool VMs: 6 tiles, 5 VMs.
    await expect.poll(() => page.locator('.tile').count()).toBe(6);
    // student2's VM is started from outside and caught half way: it counts as "starting or stopping".
    const busy = e2e.stack.pool[1];
    e2e.stack.cluster.powerOutside(busy, 'start');
    e2e.stack.cluster.refreshNow();
    await expect.poll(() => page.locator(`.tile[data-vm="lab-a:${busy}"]`).getAttribute('data-status'), { timeout: 8000 }).toBe('running');
    const sum = async () => {
      const n = await Promise.all(['running', 'busy', 'stopped', 'problems'].map((k) => page.locator(`[data-count="${k}"]`).textContent()));
      return n.reduce((a, b) => a + Number(b), 0);
    };
    expect(await sum()).toBe(5);
    // A stale cluster makes every tile a problem: they come first and say so.
    await e2e.stack.cluster.setFault({ mode: 'down' });
    try {
      await expect.poll(() => page.locator('[data-count="problems"]').textContent(), { timeout: 15_000 }).toBe('5');
      const kinds = await page.locator('.tile').evaluateAll((tiles) => tiles.map((t) => t.getAttribute('data-kind')));
      expect(kinds.slice(0, 5)).toEqual(Array(5).fill('problem'));
      await shot(page, 'projector-problems');
    } finally {
      await e2e.stack.cluster.setFault({ mode: 'ok' });
    }
    await expect.poll(() => page.locator('.tile[data-kind="problem"]').count(), { timeout: 15_000 }).toBe(0);
    const looks = await page.locator('.tile').evaluateAll((tiles) => tiles.map((t) => {
      const cs = getComputedStyle(t);
      return { kind: t.getAttribute('data-kind'), bg: cs.backgroundImage + cs.backgroundColor, border: cs.borderStyle, icon: t.querySelector('.icon')!.textContent,
        overflow: t.scrollWidth > t.clientWidth, small: Math.min(...[...t.querySelectorAll<HTMLElement>('.vm, .ip, .noip')].map((e) => parseFloat(getComputedStyle(e).fontSize))) };
    }));
    const byKind = new Map(looks.map((l) => [l.kind, l]));
    expect(byKind.get('running')!.icon).not.toBe(byKind.get('stopped')!.icon);
    expect(byKind.get('running')!.bg).not.toBe(byKind.get('stopped')!.bg);
    expect(byKind.get('running')!.border).not.toBe(byKind.get('stopped')!.border);
    for (const l of looks) {
      expect(l.overflow).toBe(false);
      expect(l.small).toBeGreaterThanOrEqual(24);
    }
    const sizes = await page.evaluate(() => {
      const root = document.querySelector('labdeck-app')!.shadowRoot!.querySelector('ld-projector')!.shadowRoot!;
      return { h1: parseFloat(getComputedStyle(root.querySelector('h1')!).fontSize), clock: parseFloat(getComputedStyle(root.querySelector('.clock')!).fontSize) };
    });
    expect(sizes.clock).toBeLessThan(sizes.h1);
    await shot(page, 'projector-1080p');
    await docShot(page, 'projector');

    // Offline at 720p: the banner lies over the tiles instead of pushing the last row down.
    await page.setViewportSize({ width: 1280, height: 720 });
    const lastTop = () => page.locator('.tile').last().evaluate((el) => el.getBoundingClientRect().top);
    const before = await lastTop();
    await context.setOffline(true);
    for (const s of e2e.stack.lab.realtime!.io.sockets.sockets.values()) if (s.data.projectorToken) s.conn.close();
    await page.getByText(/the tiles may be out of date/).waitFor();
    expect(await lastTop()).toBe(before);
    await shot(page, 'projector-offline-720p');
    await context.setOffline(false);
    await page.getByText(/the tiles may be out of date/).waitFor({ state: 'detached', timeout: 10_000 });
  });

  it('sync monitor: latency as lines, slow values coloured, each node with its guests', async () => {
    const { page } = await newPage(e2e.browser, { width: 1360, height: 1000 }, e2e.errors);
    await signIn(page, e2e.stack.url, 'admin', /\/admin\/sync$/);
    expect(await page.title()).toBe('Sync monitor · labdeck');
    const card = page.locator('section[data-cluster="lab-a"]');
    await card.waitFor();
    await e2e.stack.cluster.setFault({ latencyMs: 1200 });
    try {
      await expect.poll(() => card.locator('[data-p95]').getAttribute('class'), { timeout: 20_000 }).toMatch(/v-(warn|bad)/);
      expect(await card.locator('[data-p95]').textContent()).toMatch(/slow/);
    } finally {
      await e2e.stack.cluster.setFault({ latencyMs: 0 });
    }
    // The p95 series is a line (a path with more than one point), not a lone dot.
    const latencyPath = await page.locator('ld-sync-chart path[stroke-dasharray="6 4"]').first().getAttribute('d');
    expect((latencyPath ?? '').split('L').length).toBeGreaterThan(1);
    // Nodes with their guests: the inventory's counts per node add up to the cluster's.
    const nodes = card.locator('tr[data-node]');
    expect(await nodes.count()).toBe(2);
    const guests = await nodes.evaluateAll((rows) => rows.map((r) => Number(r.querySelector('td.n')!.textContent!.split(' ')[0])));
    expect(guests.reduce((a, b) => a + b, 0)).toBe(e2e.stack.cluster.guests().length);
    await shot(page, 'sync-monitor-nodes');
    await docShot(page, 'sync-monitor');
  });

  it('a disabled student lands on the sign-in page that says why; offline, power buttons wait', async () => {
    const { page, context } = await newPage(e2e.browser, { width: 390, height: 844 }, e2e.errors);
    await signIn(page, e2e.stack.url, 'student1', /\/my$/);
    const card = page.locator(`article[data-vm="lab-a:${e2e.stack.pool[0]}"]`);
    await card.waitFor();
    // One header row on a phone, and nothing wider than the screen.
    expect(await page.locator('labdeck-app').evaluate((el) => el.shadowRoot!.querySelector('header')!.getBoundingClientRect().height)).toBeLessThan(56);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await docShot(page, 'student');
    await context.setOffline(true);
    for (const s of e2e.stack.lab.realtime!.io.sockets.sockets.values()) if (s.data.user?.id === e2e.stack.userIds.student1) s.conn.close();
    await expect.poll(() => card.locator('button[data-power-main]').getAttribute('aria-disabled')).toBe('true');
    expect(await card.textContent()).toContain('Power buttons wait until labdeck is connected again.');
    await context.setOffline(false);
    await expect.poll(() => card.locator('button[data-power-main]').getAttribute('aria-disabled'), { timeout: 10_000 }).toBe('false');

    const admin = await e2e.stack.login('admin');
    const res = await fetch(`${e2e.stack.url}/api/users/${e2e.stack.userIds.student1}`, {
      method: 'PATCH', headers: { cookie: admin, origin: e2e.stack.url, 'content-type': 'application/json' }, body: JSON.stringify({ disabled: true }),
    });
    expect(res.status).toBe(200);
    try {
      await page.waitForURL(/\/login/, { timeout: 10_000 });
      await expect.poll(() => page.locator('[data-ended]').textContent()).toMatch(/account has been disabled/);
      await shot(page, 'sign-in-disabled');
    } finally {
      await fetch(`${e2e.stack.url}/api/users/${e2e.stack.userIds.student1}`, {
        method: 'PATCH', headers: { cookie: admin, origin: e2e.stack.url, 'content-type': 'application/json' }, body: JSON.stringify({ disabled: false }),
      });
    }
  });

  it("a teacher's class table fits a phone: who, VM, state and actions, nothing clipped off the page", async () => {
    const { page } = await newPage(e2e.browser, { width: 390, height: 844 }, e2e.errors);
    await signIn(page, e2e.stack.url, 'teacher', /\/classes\/\d+$/);
    const row = page.locator(`tr[data-vm="lab-a:${e2e.stack.pool[0]}"]`);
    await row.waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    const right = await row.locator('ld-power-buttons button[data-power-main]').evaluate((el) => el.getBoundingClientRect().right);
    const table = await page.locator('ld-class-page').evaluate((el) => el.shadowRoot!.querySelector('.scroll')!.getBoundingClientRect().right);
    // The row's main action is on screen, or reachable by scrolling the table itself (not the page).
    expect(right <= 390 || table <= 390).toBe(true);
    await shot(page, 'teacher-phone');
  });

  it('a student at an admin page is told it is not allowed; a skip link leads to the content', async () => {
    const { page } = await newPage(e2e.browser, { width: 1280, height: 800 }, e2e.errors);
    await signIn(page, e2e.stack.url, 'student2', /\/my$/);
    await page.goto(`${e2e.stack.url}/admin/vms`);
    await page.getByRole('heading', { name: 'Not allowed' }).waitFor();
    expect(await page.locator('[data-not-allowed]').textContent()).toMatch(/Only admins see this page/);
    expect(await page.locator('[role=table]').count()).toBe(0);
    await page.goto(`${e2e.stack.url}/my`);
    await page.locator('article[data-vm]').first().waitFor();
    await page.keyboard.press('Tab');
    const skip = page.getByRole('button', { name: 'Skip to content' });
    expect(await whereFocusIs(skip)).toBe('here');
    await page.keyboard.press('Enter');
    expect(await page.locator('labdeck-app').evaluate((el) => el.shadowRoot!.activeElement?.tagName)).toBe('MAIN');
  });

  describe('axe-core finds no violation', () => {
    const views: Array<{ name: string; user: string | null; path: string; ready: (p: Page) => Promise<unknown>; prepare?: (p: Page) => Promise<unknown> }> = [
      { name: 'sign-in', user: null, path: '/login', ready: (p) => p.getByRole('button', { name: 'Sign in' }).waitFor() },
      { name: 'my-vms', user: 'student1', path: '/my', ready: (p) => p.locator('article[data-vm]').first().waitFor() },
      { name: 'account', user: 'student1', path: '/account', ready: (p) => p.getByRole('button', { name: 'Change password' }).waitFor() },
      { name: 'invite', user: 'student1', path: '/invite/notarealtokenbutlongenough', ready: (p) => p.getByRole('heading', { name: 'Join a class' }).waitFor() },
      { name: 'not-allowed', user: 'student1', path: '/admin/users', ready: (p) => p.getByRole('heading', { name: 'Not allowed' }).waitFor() },
      { name: 'class', user: 'teacher', path: '/classes/CLASS', ready: (p) => p.locator('ld-class-audit [data-audit], ld-class-audit p').first().waitFor() },
      { name: 'class-confirm', user: 'teacher', path: '/classes/CLASS', ready: (p) => p.locator('tr[data-vm]').first().waitFor(),
        prepare: async (p) => { await p.getByRole('button', { name: /Shut down whole class/ }).click(); await p.locator('ld-confirm-dialog dialog').waitFor(); } },
      { name: 'sync', user: 'admin', path: '/admin/sync', ready: (p) => p.locator('section[data-cluster]').first().waitFor() },
      { name: 'all-vms', user: 'admin', path: '/admin/vms', ready: (p) => p.locator('.rows [role=row]').first().waitFor() },
      { name: 'all-vms-empty', user: 'admin', path: '/admin/vms', ready: (p) => p.locator('.rows [role=row]').first().waitFor(),
        prepare: async (p) => { await p.getByLabel('Search VMs').fill('nothing-matches-this'); await p.locator('[data-empty]').waitFor(); } },
      { name: 'all-vms-detail', user: 'admin', path: '/admin/vms', ready: (p) => p.locator('.rows [role=row]').first().waitFor(),
        prepare: async (p) => { await p.locator('.rows button.open').first().click(); await p.locator('dialog[data-detail]').waitFor(); } },
      { name: 'users', user: 'admin', path: '/admin/users', ready: (p) => p.locator('tr[data-user]').first().waitFor() },
      { name: 'projector', user: null, path: 'PROJECTOR', ready: (p) => p.locator('.tile').first().waitFor() },
    ];
    // One signed-in page per user and colour scheme, reused from view to view.
    const pages = new Map<string, Promise<Page>>();
    const pageFor = (user: string | null, dark: boolean) => {
      const key = `${user}:${dark}`;
      if (!pages.has(key)) {
        pages.set(key, newPage(e2e.browser, { width: 1280, height: 900, dark }, e2e.errors).then(async ({ page }) => {
          if (user) await signIn(page, e2e.stack.url, user, /\/(my|classes\/\d+|admin\/sync)$/);
          return page;
        }));
      }
      return pages.get(key)!;
    };
    for (const dark of [false, true]) {
      for (const v of views) {
        it(`${v.name} (${dark ? 'dark' : 'light'})`, async () => {
          const page = await pageFor(v.user, dark);
          const path = v.path === 'PROJECTOR' ? projectorUrl : `${e2e.stack.url}${v.path.replace('CLASS', String(e2e.stack.classId))}`;
          await page.goto(path);
          await v.ready(page);
          await v.prepare?.(page);
          if (v.name === 'class' && !dark) await docShot(page, 'class');
          expect(await axeViolations(page)).toEqual([]);
        });
      }
    }
  });
});
