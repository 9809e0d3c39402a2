// Real Chromium for the end-to-end tests (playwright-core driving Debian's chromium): launch,
// a describe block's stack and browser, sign in through the page, collect socket frames, and save
// screenshots to test-artifacts/.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { PASSWORD } from './harness.js';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);
export const hasClientBuild = existsSync(join(process.cwd(), 'dist/client/index.html'));
if (!hasChromium) console.warn(`Chromium not found at ${CHROMIUM}: the end-to-end tests are skipped (install it: apt-get install -y chromium, or set CHROMIUM_PATH).`);
if (hasChromium && !hasClientBuild) console.warn('dist/client is not built: the end-to-end tests are skipped (run npm run build).');
/** True when the end-to-end tests can run here. */
export const canRunE2e = hasChromium && hasClientBuild;

const SHOTS = join(process.cwd(), 'test-artifacts', 'screenshots');

/** Starts headless Chromium with the flags CI needs. */
export function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}

export interface BrowserSuite<S> {
  /** What `start` made (a stack or a test server); there once the suite's beforeAll has run. */
  readonly stack: S;
  readonly browser: Browser;
  /** Hand it to newPage: the script and content-security-policy errors of those pages. */
  readonly errors: string[];
}

/**
 * Starts `start()` and Chromium together before a describe block's tests and closes both after
 * them. Unless `checkErrors` is false, the pages given `errors` must raise none in any test
 * (checked after each test, so a test run alone checks it too).
 */
export function browserSuite<S extends { close(): Promise<void> }>(start: () => Promise<S>, opts: { checkErrors?: boolean } = {}): BrowserSuite<S> {
  let stack: S | undefined;
  let browser: Browser | undefined;
  const errors: string[] = [];
  beforeAll(async () => {
    const [s, b] = await Promise.allSettled([start(), launch()]);
    if (s.status === 'fulfilled') stack = s.value;
    if (b.status === 'fulfilled') browser = b.value;
    if (s.status === 'rejected') throw s.reason;
    if (b.status === 'rejected') throw b.reason;
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });
  if (opts.checkErrors !== false) afterEach(() => { expect(errors.splice(0)).toEqual([]); });
  const started = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('the stack and browser start in beforeAll');
    return v;
  };
  return { get stack() { return started(stack); }, get browser() { return started(browser); }, errors };
}

/** A fresh context (own cookies) and page; script and CSP errors are collected in `errors`. */
export async function newPage(browser: Browser, opts: { width?: number; height?: number; dark?: boolean } = {}, errors: string[] = []): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({
    viewport: { width: opts.width ?? 1280, height: opts.height ?? 860 },
    colorScheme: opts.dark ? 'dark' : 'light',
  });
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(e.message));
  // Refused HTTP answers ("Failed to load resource") and connections while a test holds the page
  // offline are expected; anything else (CSP, scripts) counts.
  page.on('console', (m) => {
    const text = m.text();
    if (m.type() === 'error' && !text.startsWith('Failed to load resource') && !text.includes('ERR_INTERNET_DISCONNECTED')) errors.push(text);
  });
  return { context, page, errors };
}

/** Signs in through the sign-in form and waits for the landing page. */
export async function signIn(page: Page, base: string, username: string, landing: RegExp): Promise<void> {
  await page.goto(`${base}/login`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(landing);
}

/** Every socket.io frame the page receives, as text (to check what reached the browser). */
export function recordFrames(page: Page): string[] {
  const frames: string[] = [];
  page.on('websocket', (ws) => {
    ws.on('framereceived', (f) => frames.push(typeof f.payload === 'string' ? f.payload : f.payload.toString('utf8')));
  });
  return frames;
}

/** Saves a screenshot to test-artifacts/screenshots/<name>.png. */
export async function shot(page: Page, name: string, fullPage = false): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage });
}

/**
 * 'here' when the locator's element has the keyboard focus, otherwise what has it (tag and label),
 * so a failed check says where the focus went. Reads document.activeElement down through shadow
 * roots rather than `:focus`, which also depends on the window having the system focus.
 */
export function whereFocusIs(target: Locator): Promise<string> {
  return target.evaluate((el) => {
    let active: Element | null = document.activeElement;
    while (active?.shadowRoot?.activeElement) active = active.shadowRoot.activeElement;
    if (active === el) return 'here';
    if (!active) return 'nothing';
    const label = active.getAttribute('aria-label') ?? active.textContent?.trim().slice(0, 40) ?? '';
    return `${active.tagName.toLowerCase()}${label ? ` "${label}"` : ''}`;
  });
}
