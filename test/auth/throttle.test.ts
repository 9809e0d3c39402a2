// Sign-in throttling as an attacker meets it: parallel guesses, many addresses, big passwords,
// lockout as a weapon, password change. The unit part drives the throttle with its own clock; the
// attack part sends real sign-ins from several loopback addresses (127.0.0.2, .3, …).
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoginThrottle, ThrottledError } from '../../server/auth/throttle.js';
import { startTestServer, TEST_PASSWORD, cookieFrom, type TestServer } from '../helpers/server.js';

describe('LoginThrottle (own clock)', () => {
  let now = 1_000_000;
  const clock = () => now;
  const wrong = async () => null;
  const right = async () => ({ id: 1 });
  const fails = (t: LoginThrottle, account: string, address: string) => t.attempt(account, address, wrong);

  it('counts an attempt before it is checked: a second parallel guess for the same pair is refused', async () => {
    const t = new LoginThrottle({}, clock);
    let release!: () => void;
    const first = t.attempt('ann', '10.0.0.1', () => new Promise<null>((r) => { release = () => r(null); }));
    await expect(t.attempt('ann', '10.0.0.1', wrong)).rejects.toBeInstanceOf(ThrottledError);
    release();
    await first;
    expect(t.stats().verifications).toBe(1);
  });

  it('slows one account from one address with doubling waits, never its owner elsewhere', async () => {
    const t = new LoginThrottle({}, clock);
    for (let i = 0; i < 5; i++) await fails(t, 'ann', '10.0.0.1');
    expect(t.retryAfterMs('ann', '10.0.0.1')).toBe(30_000);
    now += 30_000;
    await fails(t, 'ann', '10.0.0.1');
    expect(t.retryAfterMs('ann', '10.0.0.1')).toBe(60_000);
    expect(t.retryAfterMs('ANN', '10.0.0.2')).toBe(0);
    expect(await t.attempt('ann', '10.0.0.2', right)).toEqual({ id: 1 });
  });

  it('slows a school NAT that made many typos, but by a minute at most, not 15', async () => {
    const t = new LoginThrottle({}, clock);
    for (let i = 0; i < 40; i++) {
      now += t.retryAfterMs(`kid${i}`, '10.9.9.9');
      await fails(t, `kid${i}`, '10.9.9.9');
    }
    const wait = t.retryAfterMs('teacher', '10.9.9.9');
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(60_000);
  });

  it('a right password clears its pair and does not count against the address', async () => {
    const t = new LoginThrottle({ perAddress: 4 }, clock);
    for (let i = 0; i < 2; i++) await fails(t, 'bob', '10.0.0.5');
    await t.attempt('bob', '10.0.0.5', right);
    await fails(t, 'bob', '10.0.0.5');
    expect(t.retryAfterMs('bob', '10.0.0.5')).toBe(0);
  });

  it('runs at most `concurrent` checks at once, the rest wait in a bounded queue', async () => {
    const t = new LoginThrottle({ concurrent: 2, queue: 3 }, clock);
    const gates: Array<() => void> = [];
    const slow = () => new Promise<null>((r) => gates.push(() => r(null)));
    const runs = Array.from({ length: 5 }, (_, i) => t.attempt(`u${i}`, `10.1.0.${i}`, slow));
    await Promise.resolve();
    expect(t.stats()).toMatchObject({ running: 2, queued: 3 });
    await expect(t.attempt('u9', '10.1.0.9', slow)).rejects.toBeInstanceOf(ThrottledError);
    while (gates.length || t.stats().running) { gates.shift()?.(); await new Promise((r) => setImmediate(r)); }
    await Promise.all(runs);
    expect(t.stats().maxRunning).toBe(2);
  });
});

/** POST /api/auth/login from a given local address (the server sees it as the client's address). */
function signIn(url: string, from: string, username: string, password: string, cookie?: string, path = '/api/auth/login', body?: unknown): Promise<{ status: number; retryAfter: number; cookie: string | null }> {
  const u = new URL(url);
  const data = JSON.stringify(body ?? { username, password });
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: u.hostname, port: u.port, path, method: 'POST', localAddress: from, agent: false,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...(cookie ? { cookie } : {}) },
    }, (res) => {
      res.resume();
      res.on('end', () => {
        const set = res.headers['set-cookie'] ?? [];
        const h = new Headers();
        for (const c of set) h.append('set-cookie', c);
        resolve({ status: res.statusCode ?? 0, retryAfter: Number(res.headers['retry-after'] ?? 0), cookie: cookieFrom(h) });
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

describe('sign-in under attack (real server, several loopback addresses)', () => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer({ clusters: [{ id: 'lab-a', guests: 2 }] });
    for (const name of ['victim', 'owner', 'changer']) await ts.createUser(name, 'student');
    for (let i = 0; i < 20; i++) await ts.createUser(`kid${i}`, 'student');
  });
  afterAll(async () => { await ts?.close(); });

  it('20 parallel wrong passwords for one account, round after round, get no more than 5 checks', async () => {
    const before = ts.labdeck.throttle.stats().verifications;
    const answers: number[] = [];
    for (let round = 0; round < 6; round++) {
      const r = await Promise.all(Array.from({ length: 20 }, () => signIn(ts.url, '127.0.0.2', 'victim', `guess-${round}`)));
      answers.push(...r.map((x) => x.status));
    }
    expect(answers.filter((s) => s === 401).length).toBeLessThanOrEqual(5);
    expect(answers.filter((s) => s !== 401 && s !== 429)).toEqual([]);
    expect(ts.labdeck.throttle.stats().verifications - before).toBeLessThanOrEqual(5);
    const blocked = await signIn(ts.url, '127.0.0.2', 'victim', TEST_PASSWORD);
    expect(blocked.status).toBe(429);
    expect(blocked.retryAfter).toBeGreaterThanOrEqual(1);
  });

  it('the owner signs in from another address while attackers on four addresses hammer the account', async () => {
    const flood = Promise.all([2, 3, 4, 5].flatMap((n) => Array.from({ length: 10 }, (_, i) => signIn(ts.url, `127.0.0.${n}`, 'owner', `nope-${i}`))));
    const mine = await signIn(ts.url, '127.0.0.9', 'owner', TEST_PASSWORD);
    const attack = await flood;
    expect(mine.status).toBe(200);
    expect(mine.cookie).toBeTruthy();
    expect(attack.every((a) => a.status === 401 || a.status === 429)).toBe(true);
    // And afterwards, with every attacker address slowed, the owner still gets in from theirs.
    expect((await signIn(ts.url, '127.0.0.9', 'owner', TEST_PASSWORD)).status).toBe(200);
  });

  it('200 parallel sign-ins with 1 KiB passwords from five addresses never run more than 2 checks at once', async () => {
    const big = 'x'.repeat(1020); // with the index: about 1 KiB, under the 1,024-character limit
    const r = await Promise.all(Array.from({ length: 200 }, (_, i) => signIn(ts.url, `127.0.0.${10 + (i % 5)}`, `kid${i % 20}`, big + i)));
    expect(r.every((x) => x.status === 401 || x.status === 429)).toBe(true);
    expect(ts.labdeck.throttle.stats().maxRunning).toBeLessThanOrEqual(2);
    // Per address at most 16 checks under way or waiting: most of the burst was refused without any scrypt.
    expect(r.filter((x) => x.status === 401).length).toBeLessThan(100);
    expect((await ts.request('GET', '/healthz')).status).toBe(200);
  }, 120_000); // up to ~80 real scrypt checks, two at a time, on a machine shared with other suites

  it('guessing the current password with a stolen session is throttled too', async () => {
    const s = await signIn(ts.url, '127.0.0.20', 'changer', TEST_PASSWORD);
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      statuses.push((await signIn(ts.url, '127.0.0.20', '', '', s.cookie!, '/api/auth/password', { currentPassword: `guess${i}`, newPassword: 'a-new-password-1' })).status);
    }
    expect(statuses.slice(0, 5)).toEqual([403, 403, 403, 403, 403]);
    expect(statuses.slice(5)).toEqual([429, 429]);
  });
});
