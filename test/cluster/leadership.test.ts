// Two labdeck instances in this process on one PostgreSQL database and one simulator: each
// cluster is synced by exactly one of them, a cluster whose epoch moved on refuses its old
// leader's writes, and closing the leader hands its clusters to the other. Needs TEST_DATABASE_URL.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connectSocket, type Socket } from 'socket.io-client';
import { parseFileConfig, type AppConfig } from '../../server/config.js';
import { startSimulator, type Simulator } from '../../server/simulator/index.js';
import { startLabdeck, type Labdeck } from '../../server/server.js';
import { makeTestDatabase, type TestDatabase } from '../helpers/db.js';
import { waitFor } from '../helpers/wait.js';

const pgUrl = process.env.TEST_DATABASE_URL;
if (!pgUrl) console.warn('TEST_DATABASE_URL is not set: the several-instances leadership test is skipped.');

describe.skipIf(!pgUrl)('sync leadership among instances on one PostgreSQL database', () => {
  let sim: Simulator;
  let db: TestDatabase;
  const running: Labdeck[] = [];
  const secret = randomBytes(32).toString('hex');
  const sockets: Socket[] = [];

  const start = async (name: string): Promise<Labdeck> => {
    const file = parseFileConfig({
      instance: { name, shared: true, leaderRetryMs: 200, lockPingMs: 200, lockTimeoutMs: 2000, followIntervalMs: 500 },
      sync: { fullIntervalSeconds: 300, quickIntervalSeconds: 1, fastIntervalMs: 100, taskIntervalSeconds: 0, nodeListIntervalSeconds: 0 },
      clusters: sim.clusters.map((c) => ({ id: c.id, url: c.url, tokenId: c.tokenId, tokenSecret: c.tokenSecret, probePorts: false })),
    });
    const config: AppConfig = { ...file, port: 0, host: '127.0.0.1', databaseUrl: db.url, sessionSecret: secret, demo: false, configPath: null };
    // The users table is polled rarely here, so only the relay between instances can end a socket in time.
    const l = await startLabdeck(config, { quiet: true, staticRoot: null, userPollMs: 60_000 });
    running.push(l);
    return l;
  };
  const ledBy = (l: Labdeck) => l.sync.status().instances?.led ?? [];

  beforeAll(async () => {
    sim = await startSimulator({
      clusters: ['lab-a', 'lab-b'].map((id, i) => ({ id, nodes: 1, guests: 8, seed: 5 + i, tokenSecret: randomUUID() })),
      pvestatdIntervalMs: 0, unauthorizedDelayMs: 0, ipDelayMs: 0, agentTimeoutMs: 50, activity: false,
    });
    db = await makeTestDatabase('postgres');
  });
  afterAll(async () => {
    for (const so of sockets) so.close();
    for (const l of running) await l.close();
    await sim?.close();
    await db?.drop();
  });

  it('each cluster is synced by exactly one instance, and both serve what it wrote', async () => {
    const a = await start('inst-a');
    const b = await start('inst-b');
    await waitFor(() => ledBy(a).length + ledBy(b).length === 2, 10_000, 'both clusters led');
    expect([...ledBy(a), ...ledBy(b)].sort()).toEqual(['lab-a', 'lab-b']);
    // Each side's status names the same leader for each cluster.
    await waitFor(() => a.sync.status().clusters.every((c, i) => c.leader && c.leader === b.sync.status().clusters[i].leader), 10_000, 'both instances name the same leaders');
    for (const l of [a, b]) await waitFor(() => (l.reads?.size() ?? 0) === 16, 10_000, `${l.sync.instance} holds every VM`);

    // A change in Proxmox, seen by the leader's pass, reaches the other instance's read model.
    const vm = sim.cluster('lab-a').guests().find((g) => g.status === 'running' && !g.template)!;
    sim.cluster('lab-a').powerOutside(vm.vmid, 'stop');
    for (const l of [a, b]) {
      await waitFor(() => l.reads?.byKeys([`lab-a:${vm.vmid}`])[0]?.status === 'stopped', 10_000, `${l.sync.instance} sees the VM stopped`);
    }
  });

  it('a power action through one instance is pushed to a socket on the other; other emits cross over too', async () => {
    const [a, b] = running;
    await a.users.create({ username: 'boss', role: 'admin', password: 'password-1234' });
    const login = await fetch(`${a.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'boss', password: 'password-1234' }) });
    const cookie = login.headers.getSetCookie().find((c) => c.startsWith('labdeck_session='))!.split(';')[0];
    // Polling would need every request of a socket on the same instance: refused.
    const polling = await fetch(`${b.url}/socket.io/?EIO=4&transport=polling`, { headers: { cookie } });
    expect(polling.status).toBe(400);
    const so = connectSocket(b.url, { path: '/socket.io', transports: ['websocket'], extraHeaders: { cookie, origin: b.url } });
    sockets.push(so);
    const events: Array<{ event: string; msg: any }> = [];
    so.onAny((event: string, msg: unknown) => events.push({ event, msg }));
    await new Promise<void>((resolve, reject) => { so.once('connect', () => resolve()); so.once('connect_error', reject); });

    const vm = sim.cluster('lab-b').guests().find((g) => g.status === 'running' && !g.template)!;
    const r = await fetch(`${a.url}/api/vm/${vm.vmid}/stop?cluster=lab-b`, { method: 'POST', headers: { cookie, origin: a.url } });
    expect(r.status).toBeLessThan(300);
    await waitFor(() => events.some((e) => e.event === 'vm:changed' && e.msg.vms.some((v: any) => v.id === `lab-b:${vm.vmid}` && v.status === 'stopping')), 10_000, 'the pending state pushed on inst-b');
    await waitFor(() => events.some((e) => e.event === 'vm:changed' && e.msg.vms.some((v: any) => v.id === `lab-b:${vm.vmid}` && v.status === 'stopped')), 10_000, 'the outcome pushed on inst-b');
    // Each change reached this socket once, not once per instance.
    const revisions = events.filter((e) => e.event === 'vm:changed').flatMap((e) => e.msg.vms.filter((v: any) => v.id === `lab-b:${vm.vmid}`).map((v: any) => v.revision));
    expect(new Set(revisions).size).toBe(revisions.length);
    // An emit outside the hub's fan-out (as the console relay makes) reaches sockets on the other instance.
    a.realtime!.io.to('admin').emit('console:watchers', { cluster: 'lab-b', vmid: vm.vmid, watchers: [] });
    await waitFor(() => events.some((e) => e.event === 'console:watchers'), 5_000, 'an emit on inst-a reaching inst-b');
  });

  it('ending a user\'s sessions on one instance closes their socket on the other within a second', async () => {
    const [a, b] = running;
    const u = await a.users.create({ username: 'pupil', role: 'student', password: 'password-1234' });
    const login = await fetch(`${b.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'pupil', password: 'password-1234' }) });
    expect(login.status).toBe(200);
    const cookie = login.headers.getSetCookie().find((c) => c.startsWith('labdeck_session='))!.split(';')[0];
    const so = connectSocket(b.url, { path: '/socket.io', transports: ['websocket'], reconnection: false, extraHeaders: { cookie, origin: b.url } });
    sockets.push(so);
    const connected = await new Promise<boolean>((resolve) => { so.once('connect', () => resolve(true)); so.once('connect_error', () => resolve(false)); so.once('disconnect', () => resolve(false)); });
    expect(connected).toBe(true);
    const closed = new Promise<number>((resolve) => so.once('disconnect', () => resolve(Date.now())));
    const t0 = Date.now();
    await a.sessions.revokeAll(u.id);
    expect((await closed) - t0).toBeLessThan(1000);
  });

  it('failed sign-ins on one instance slow the next try on the other', async () => {
    const [a, b] = running;
    await a.users.create({ username: 'target', role: 'teacher', password: 'right-password-1' });
    const signIn = (l: Labdeck, password: string) => fetch(`${l.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'target', password }) });
    for (let i = 0; i < 5; i++) expect((await signIn(a, `wrong-${i}`)).status).toBe(401);
    // The limit of one account from one address is 5 failures: the 6th waits, on any instance.
    // Only inst-b's throttle is asked until it knows (a try on it would count there too).
    const knows = () => ['127.0.0.1', '::ffff:127.0.0.1', '::1'].some((ip) => b.throttle.retryAfterMs('target', ip) > 0);
    await waitFor(knows, 1_000, 'inst-b hearing of the failures');
    expect((await signIn(b, 'wrong-again')).status).toBe(429);
  });

  it('a leader whose epoch moved on has its pass writes refused and gives the cluster up', async () => {
    const [a, b] = running;
    const leader = ledBy(a).includes('lab-b') ? a : b;
    const before = await db0().selectFrom('sync_leader').select('epoch').where('cluster_id', '=', 'lab-b').executeTakeFirstOrThrow();
    // What a takeover the leader did not notice looks like: the epoch moved on under it.
    await db0().updateTable('sync_leader').set({ epoch: before.epoch + 1 }).where('cluster_id', '=', 'lab-b').execute();
    const runsBefore = await syncRuns('lab-b');
    await waitFor(() => (leader.sync.status().instances?.fenced['lab-b']?.byEpoch ?? 0) >= 1, 10_000, 'a write refused by epoch');
    // Nothing of the refused pass was stored, then someone leads lab-b again under a newer epoch.
    const again = await waitFor(async () => {
      const r = await db0().selectFrom('sync_leader').select(['epoch', 'holder']).where('cluster_id', '=', 'lab-b').executeTakeFirstOrThrow();
      return r.epoch >= before.epoch + 2 ? r : null;
    }, 10_000, 'a new takeover of lab-b');
    expect([...ledBy(a), ...ledBy(b)].filter((c) => c === 'lab-b')).toEqual(['lab-b']);
    expect(again.holder).toMatch(/^inst-[ab]$/);
    await waitFor(async () => (await syncRuns('lab-b')) > runsBefore, 10_000, 'passes of lab-b stored again');
  });

  it('closing the leader hands its clusters to the other instance within seconds', async () => {
    const [a, b] = running;
    await waitFor(() => ledBy(a).length > 0, 10_000, 'inst-a leads something');
    const t0 = Date.now();
    await a.close();
    await waitFor(() => ledBy(b).length === 2, 10_000, 'inst-b leads both clusters');
    expect(Date.now() - t0).toBeLessThan(10_000);
    const vm = sim.cluster('lab-b').guests().find((g) => g.status === 'stopped' && !g.template)!;
    sim.cluster('lab-b').powerOutside(vm.vmid, 'start');
    await waitFor(() => b.reads?.byKeys([`lab-b:${vm.vmid}`])[0]?.status === 'running', 10_000, 'the new leader syncs the change');
  });

  /** The database as inst-b (which outlives inst-a here) opened it. */
  const db0 = () => running[1].db;
  async function syncRuns(cluster: string): Promise<number> {
    const r = await db0().selectFrom('sync_runs').select((eb) => eb.fn.countAll<number>().as('n')).where('cluster_id', '=', cluster).executeTakeFirstOrThrow();
    return Number(r.n);
  }
});
