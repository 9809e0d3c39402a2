// Section 9 of the bench: three labdeck instances on one PostgreSQL database (instance.shared, the
// default leadership timings) and one simulator, each with an admin socket. Push latency: a power
// action through one instance (round robin) → its pending state on the sockets of all three,
// measured from the moment labdeck stamped the change (its vm_events row, taken just before the
// commit). Failover: kill -9 of the leader of a cluster → another instance reports leading it, and
// a change made in Proxmox right after the kill → on the sockets of both survivors.
// Needs a PostgreSQL server where it may create a database: BENCH_DATABASE_URL (a full run), or
// TEST_DATABASE_URL too with --only-instances.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { io as connectSocket, type Socket } from 'socket.io-client';
import { startSimulator } from '../server/simulator/index.js';
import { createDb } from '../server/db/index.js';
import { createScratchDatabase } from '../server/db/scratch.js';
import { migrateToLatest } from '../server/db/migrate.js';
import { UsersRepo } from '../server/auth/users.js';
import { Sessions, SESSION_COOKIE } from '../server/auth/session.js';
import { AccessFeed } from '../server/auth/access-feed.js';
import { now, round, roundSummary, summarize, waitFor, type Summary } from './stats.js';

export interface InstancesShape { guestsPerCluster: number; samples: number }
export const instancesShapes: Record<'tiny' | 'quick' | 'full', InstancesShape> = {
  tiny: { guestsPerCluster: 30, samples: 10 },
  quick: { guestsPerCluster: 100, samples: 30 },
  full: { guestsPerCluster: 500, samples: 100 },
};

export interface InstancesBenchResult {
  instances: number;
  guests: number;
  /** Stamp of the change (just before its commit) → its push on a socket, over all three instances' sockets. */
  pushMs: Summary;
  /** The same, per instance that received it: the writer's own sockets and the other two's. */
  pushOnWriterMs: Summary;
  pushOnOthersMs: Summary;
  notArrived: number;
  /** kill -9 of a cluster's leader → another instance leads it. */
  failoverMs: number;
  /** A change in Proxmox right after the kill → on the survivors' sockets (both). */
  changeDuringFailoverMs: number;
}

export interface InstancesBenchCtx {
  root: string;
  outDir: string;
  stamp: string;
  workDir: string;
  shape: InstancesShape;
  /** A PostgreSQL server where the bench may create (and drop) a database; null skips the section. */
  databaseUrl: string | null;
  log(msg: string): void;
}

interface Proc { name: string; child: ChildProcess; url: string; exited: Promise<void> }

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Runs section 9 (skipped with a message when no PostgreSQL URL is set). */
export async function benchInstances(ctx: InstancesBenchCtx): Promise<InstancesBenchResult | null> {
  const admin = ctx.databaseUrl;
  if (!admin) {
    ctx.log('9. skipped: set BENCH_DATABASE_URL to a PostgreSQL server where the bench may create a database');
    return null;
  }
  const { shape, log } = ctx;
  const scratch = await createScratchDatabase(admin, 'labdeck_bench');
  const dbUrl = scratch.url;
  const sim = await startSimulator({
    clusters: ['lab-a', 'lab-b'].map((id, i) => ({ id, nodes: 2, guests: shape.guestsPerCluster, seed: 21 + i, tokenSecret: randomUUID() })),
    pvestatdIntervalMs: 0, unauthorizedDelayMs: 0, ipDelayMs: 0, agentTimeoutMs: 50, activity: false,
    taskDurationMs: { start: 300, stop: 300, shutdown: 300, reboot: 300 },
  });
  const db = createDb(dbUrl);
  const procs: Proc[] = [];
  const sockets: Socket[] = [];
  try {
    await migrateToLatest(db);
    const users = new UsersRepo(db);
    const secret = randomBytes(32).toString('hex');
    const boss = await users.create({ username: 'bench-admin', role: 'admin', password: randomBytes(12).toString('hex') });
    const cookie = `${SESSION_COOKIE}=${await new Sessions({ users, secret, ttlSeconds: 3600, feed: new AccessFeed() }).issue(boss.id)}`;
    const config = join(ctx.workDir, 'instances-config.json');
    writeFileSync(config, JSON.stringify({
      clusters: sim.clusters.map((c) => ({ id: c.id, url: c.url, tokenId: c.tokenId, tokenSecret: c.tokenSecret, probePorts: false })),
      instance: { shared: true },
    }));
    for (const name of ['bench-1', 'bench-2', 'bench-3']) {
      const port = await freePort();
      const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
        cwd: ctx.root, stdio: ['ignore', 'ignore', 'ignore'],
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LABDECK_CONFIG: config, DATABASE_URL: dbUrl, SESSION_SECRET: secret, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', LABDECK_INSTANCE: name },
      });
      procs.push({ name, child, url: `http://127.0.0.1:${port}`, exited: new Promise((r) => child.once('exit', () => r())) });
    }
    const get = async (p: Proc, path: string) => (await (await fetch(p.url + path, { headers: { cookie } })).json()) as any;
    if (!await waitFor(async () => (await Promise.all(procs.map((p) => fetch(`${p.url}/readyz`).then((r) => r.status === 200, () => false)))).every(Boolean), 120_000, 200)) {
      throw new Error('the three instances did not become ready within 120 s');
    }
    log(`three instances up on ${scratch.name}; ${sim.clusters.length * shape.guestsPerCluster} guests`);

    /** VM key → status → per instance name, when its socket saw it. */
    const seen = new Map<string, Map<string, Map<string, number>>>();
    for (const p of procs) {
      const s = connectSocket(p.url, { path: '/socket.io', transports: ['websocket'], extraHeaders: { cookie, origin: p.url } });
      s.on('vm:changed', (msg: { vms: Array<{ id: string; status: string }> }) => {
        const at = Date.now();
        for (const v of msg.vms) {
          let byStatus = seen.get(v.id);
          if (!byStatus) seen.set(v.id, (byStatus = new Map()));
          let byInst = byStatus.get(v.status);
          if (!byInst) byStatus.set(v.status, (byInst = new Map()));
          if (!byInst.has(p.name)) byInst.set(p.name, at);
        }
      });
      sockets.push(s);
      await new Promise<void>((resolve, reject) => { s.once('connect', () => resolve()); s.once('connect_error', reject); });
    }

    // Push latency: stop (or start) a guest through each instance in turn.
    const all: number[] = [];
    const onWriter: number[] = [];
    const onOthers: number[] = [];
    let notArrived = 0;
    const guests = sim.cluster('lab-a').guests().filter((g) => !g.template && g.type === 'qemu').slice(0, shape.samples);
    for (let i = 0; i < guests.length; i++) {
      const g = guests[i];
      const writer = procs[i % procs.length];
      const action = g.status === 'running' ? 'stop' : 'start';
      const pending = action === 'stop' ? 'stopping' : 'starting';
      const id = `lab-a:${g.vmid}`;
      await fetch(`${writer.url}/api/vm/${g.vmid}/${action}?cluster=lab-a`, { method: 'POST', headers: { cookie, origin: writer.url } });
      const ok = await waitFor(() => (seen.get(id)?.get(pending)?.size ?? 0) === procs.length, 5_000, 5);
      const stamp = await db.selectFrom('vm_events').select((eb) => eb.fn.max('at').as('at'))
        .where('cluster_id', '=', 'lab-a').where('vmid', '=', g.vmid).where('to_value', '=', pending).executeTakeFirst();
      const at0 = Number(stamp?.at);
      for (const [inst, at] of seen.get(id)?.get(pending) ?? []) {
        all.push(at - at0);
        (inst === writer.name ? onWriter : onOthers).push(at - at0);
      }
      if (!ok) notArrived++;
    }
    log(`push latency over ${guests.length} actions: p50 ${summarize(all).p50} ms, p99 ${summarize(all).p99} ms`);

    // Failover: kill -9 the leader of lab-b; a guest changes in Proxmox right after.
    const statusOf = await Promise.all(procs.map((p) => get(p, '/api/sync/status')));
    const victim = procs[statusOf.findIndex((s) => (s.instances.led as string[]).includes('lab-b'))];
    const survivors = procs.filter((p) => p !== victim);
    const g = sim.cluster('lab-b').guests().find((x) => !x.template && x.status === 'running')!;
    const id = `lab-b:${g.vmid}`;
    const t0 = Date.now();
    victim.child.kill('SIGKILL');
    await victim.exited;
    sim.cluster('lab-b').powerOutside(g.vmid, 'stop');
    const changedAt = Date.now();
    let failoverAt = 0;
    const tookOver = await waitFor(async () => {
      const led = await Promise.all(survivors.map((p) => get(p, '/api/sync/status').then((s) => (s.instances.led as string[]).includes('lab-b'), () => false)));
      if (led.some(Boolean) && !failoverAt) failoverAt = Date.now();
      return failoverAt > 0;
    }, 30_000, 50);
    if (!tookOver) throw new Error('no instance took lab-b over within 30 s');
    if (!await waitFor(() => survivors.every((p) => seen.get(id)?.get('stopped')?.has(p.name)), 60_000, 20)) throw new Error('the change made during the failover did not reach both survivors within 60 s');
    const arrived = Math.max(...survivors.map((p) => seen.get(id)!.get('stopped')!.get(p.name)!));
    const result: InstancesBenchResult = {
      instances: procs.length, guests: sim.clusters.length * shape.guestsPerCluster,
      pushMs: roundSummary(summarize(all), 1), pushOnWriterMs: roundSummary(summarize(onWriter), 1), pushOnOthersMs: roundSummary(summarize(onOthers), 1),
      notArrived, failoverMs: round(failoverAt - t0, 0), changeDuringFailoverMs: round(arrived - changedAt, 0),
    };
    log(`failover: another instance leads in ${result.failoverMs} ms; a change made right after the kill reached both survivors in ${result.changeDuringFailoverMs} ms`);
    return result;
  } finally {
    for (const s of sockets) s.close();
    for (const p of procs) {
      p.child.kill('SIGKILL');
      await p.exited;
    }
    await db.destroy();
    await sim.close();
    await scratch.drop().catch(() => undefined);
  }
}
