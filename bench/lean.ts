// The production figures of labdeck: the compiled server (`node dist/server/main.js`, exactly as
// `npm start` and the image run it, its environment and node flags included) in its own process, its RSS
// read from /proc, the start of a lab as an open-loop load (every student loads their list at a
// time fixed in advance, whatever the server's pace, and opens a socket), a closed-loop student read
// at 16 concurrent, and optionally a heap snapshot summarised by bench/heap-summary.ts.
//
//   npm run build && npx tsx bench/lean.ts --shape demo|2k|20k [--snapshot] [--steady-s 20] [--cpu-prof]
//     [--node-flags "--max-semi-space-size=2"] [--server-cpu N]
//
// --server-cpu N (Linux, util-linux's taskset) runs the server on core N alone and this process
// (clients, sockets, simulator) on the other cores, so latencies measure the server, not the
// queue for a core it shares with its own load generator. For the lab start and the closed loop it
// also prints, from /proc, how long the server's main thread was runnable but waiting for a core
// (other processes on its core, and its own GC and thread-pool threads), the part of a tail that
// is not the server's work.
//
// demo: demo mode as `npm start` runs it (time to ready, RSS after 60 s). 2k: 1 cluster × 2,000
// guests, 200 students with a socket each. 20k: 10 clusters × 2,000 guests, 2,000 students + 50
// teachers + 1 admin sockets. The simulator and the clients run in this process. --cpu-prof
// samples the server's CPU (through its inspector) during the lab start and the closed-loop read
// and prints where the time went and the longest stretches the event loop was busy; the .cpuprofile is kept in the working directory for Chrome DevTools.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import WebSocket from 'ws';
import { io as connect, type Socket } from 'socket.io-client';
import { startSimulator } from '../server/simulator/index.js';
import { createDb } from '../server/db/index.js';
import { migrateToLatest } from '../server/db/migrate.js';
import { UsersRepo } from '../server/auth/users.js';
import { Sessions, SESSION_COOKIE } from '../server/auth/session.js';
import { AccessFeed } from '../server/auth/access-feed.js';
import { makeSeedPlan } from './seed-plan.js';
import { seedDatabase } from './seed-db.js';
import { clusterIds } from './protocol.js';
import { scales } from './scale.js';
import { runReadLoad } from './load.js';
import { now, summarize } from './stats.js';
import { groupHeap } from './heap-summary.js';
import { busyStretches, hotSpots } from './profile.js';
import { productionStart } from './ipc.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const MAIN = join(root, 'dist', 'server', 'main.js');
const mb = (kb: number) => Math.round(kb / 1024);
const load = () => loadavg().map((x) => x.toFixed(1)).join(' / ');

interface Shape { clusters: number; guests: number; classes: number; teachers: boolean; admin: boolean }
const shapes: Record<string, Shape> = {
  '2k': { clusters: 1, guests: 2000, classes: 5, teachers: false, admin: false },
  '20k': { clusters: 10, guests: 2000, classes: 50, teachers: true, admin: true },
};

/** VmRSS and VmHWM (peak) of a process, in kB. */
function rssOf(pid: number): { rss: number; peak: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? 0);
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** CPU time (user + system) a process has used, in ms (/proc/<pid>/stat, 100 ticks a second). */
function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * The scheduler's view of a process (Linux /proc): its main thread's time on a core and time
 * runnable but waiting for one, its involuntary switches, and its other threads' time on a core
 * (V8's GC and compiler helpers, libuv's pool), all in ms.
 */
function schedOf(pid: number): { mainRun: number; mainWait: number; preempted: number; othersRun: number } {
  const stat = (tid: string) => readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
  const [mainRun, mainWait] = stat(String(pid));
  const preempted = Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/task/${pid}/status`, 'utf8'))?.[1] ?? 0);
  let othersRun = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    if (tid === String(pid)) continue;
    try { othersRun += stat(tid)[0]; } catch { /* the thread ended */ }
  }
  return { mainRun: mainRun / 1e6, mainWait: mainWait / 1e6, preempted, othersRun: othersRun / 1e6 };
}

/** What the scheduler did with the server between two readings (pure). */
export function schedLine(a: ReturnType<typeof schedOf>, b: ReturnType<typeof schedOf>): string {
  return `server's main thread: ${Math.round(b.mainRun - a.mainRun)} ms on a core, ${Math.round(b.mainWait - a.mainWait)} ms runnable but waiting for one, ${b.preempted - a.preempted} involuntary switches; its other threads ${Math.round(b.othersRun - a.othersRun)} ms on a core`;
}

/** The core the server is pinned to (--server-cpu), or null. */
let serverCpu: number | null = null;

/** Pins this process (every thread) to every core but the server's. */
function pinSelfAwayFrom(cpu: number): void {
  const others = Array.from({ length: cpus().length }, (_, i) => i).filter((i) => i !== cpu);
  if (others.length === 0) throw new Error('--server-cpu needs at least two cores');
  const r = spawnSync('taskset', ['-a', '-p', '-c', others.join(','), String(process.pid)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`taskset failed: ${r.stderr || r.error?.message}`);
}

function startCompiled(env: Record<string, string>, cwd: string, flags: string[]): { child: ChildProcess; output: () => string } {
  // As `npm start` runs it (package.json's start script); --node-flags come after, so they override.
  const production = productionStart(root);
  const cmd = serverCpu === null ? process.execPath : 'taskset';
  const args = [...production.flags, ...flags, MAIN];
  const child = spawn(cmd, serverCpu === null ? args : ['-c', String(serverCpu), process.execPath, ...args], {
    cwd, stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '', HOME: cwd, ...production.env, LOG_LEVEL: 'warn', HOST: '127.0.0.1', ...env },
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  return { child, output: () => out };
}

async function waitReady(url: string, child: ChildProcess, output: () => string, timeoutMs: number): Promise<number> {
  const t0 = now();
  for (;;) {
    const ok = await fetch(`${url}/readyz`).then((r) => r.status === 200, () => false);
    if (ok) return now() - t0;
    if (child.exitCode !== null || now() - t0 > timeoutMs) throw new Error(`labdeck not ready after ${Math.round(now() - t0)} ms:\n${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The server's inspector (started with --inspect=127.0.0.1:0): one CPU profile over a window. */
async function inspectorProfile(output: () => string): Promise<{ stop: (file: string) => Promise<string[]> }> {
  const at = /Debugger listening on (ws:\/\/\S+)/.exec(output())?.[1];
  if (!at) throw new Error('the server printed no inspector address');
  const ws = new WebSocket(at);
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  let id = 0;
  const pending = new Map<number, (r: unknown) => void>();
  ws.on('message', (m: Buffer) => {
    const msg = JSON.parse(m.toString()) as { id?: number; result?: unknown };
    if (msg.id !== undefined) pending.get(msg.id)?.(msg.result);
  });
  const post = (method: string, params: object = {}) => new Promise<unknown>((resolve) => {
    pending.set(++id, resolve);
    ws.send(JSON.stringify({ id, method, params }));
  });
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 100 }); // µs: a 10 ms stretch on the CPU has ~100 samples
  await post('Profiler.start');
  return {
    stop: async (file) => {
      const { profile } = (await post('Profiler.stop')) as { profile: Parameters<typeof hotSpots>[0] };
      ws.close();
      writeFileSync(file, JSON.stringify(profile));
      const { totalMs, spots } = hotSpots(profile, root, 25);
      return [
        `CPU ${totalMs} ms busy (idle left out); profile in ${file}`, ...spots.map((s) => `${s.selfMs.toFixed(1)} ms ${s.percent}% ${s.where}`),
        ...busyStretches(profile, root, 8).map((b) => `busy ${b.ms.toFixed(1)} ms without a break (${b.samples} samples), in ${b.where}`),
      ];
    },
  };
}

/** GC time by kind and the event-loop delay, from the server's own /metrics (pure over two scrapes). */
export function loopDuring(before: string, after: string): string {
  const num = (text: string, re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
  const gc = ['minor', 'major', 'incremental'].map((kind) => {
    const sum = (t: string) => num(t, new RegExp(`^labdeck_nodejs_gc_duration_seconds_sum\\{kind="${kind}"\\} (\\S+)`, 'm'));
    const count = (t: string) => num(t, new RegExp(`^labdeck_nodejs_gc_duration_seconds_count\\{kind="${kind}"\\} (\\S+)`, 'm'));
    return `${kind} ${count(after) - count(before)}× ${((sum(after) - sum(before)) * 1000).toFixed(0)} ms`;
  });
  const lag = (k: string) => (num(after, new RegExp(`^labdeck_nodejs_eventloop_lag_${k}_seconds (\\S+)`, 'm')) * 1000).toFixed(1);
  return `GC ${gc.join(', ')}; event-loop delay p99 ${lag('p99')} ms, max ${lag('max')} ms`;
}

/**
 * Where a process's RSS is: the V8 heap by space (committed, from /metrics), memory outside the
 * heap that V8 knows of (external: buffers), and the kernel's split of RSS into anonymous
 * (heap, malloc, stacks) and file-backed (the node binary, native addons) pages.
 */
async function memoryOf(url: string, pid: number): Promise<string> {
  const text = await scrape(url);
  const m = (name: string) => Number(new RegExp(`^labdeck_${name} (\\S+)`, 'm').exec(text)?.[1] ?? 0) / 2 ** 20;
  const spaces = [...text.matchAll(/^labdeck_nodejs_heap_space_size_total_bytes\{space="(\w+)"\} (\S+)/gm)]
    .map(([, space, v]) => [space, Number(v) / 2 ** 20] as const).filter(([, v]) => v >= 0.5)
    .map(([space, v]) => `${space.replace(/_space$/, '')} ${v.toFixed(0)}`).join(', ');
  const roll = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(roll)?.[1] ?? 0) / 1024;
  return `RSS ${kb('Rss').toFixed(0)} MB = anonymous ${kb('Anonymous').toFixed(0)} + file-backed ${(kb('Rss') - kb('Anonymous')).toFixed(0)}; V8 heap ${m('nodejs_heap_size_total_bytes').toFixed(0)} MB committed (${spaces}), ${m('nodejs_heap_size_used_bytes').toFixed(0)} MB used; external ${m('nodejs_external_memory_bytes').toFixed(0)} MB`;
}

const scrape = (url: string) => fetch(`${url}/metrics`).then((r) => r.text(), () => '');

/** SIGUSR2 → a .heapsnapshot in cwd; answers its summary (top groups). */
async function snapshot(pid: number, cwd: string): Promise<string[]> {
  const before = new Set(readdirSync(cwd));
  process.kill(pid, 'SIGUSR2');
  let file: string | undefined;
  let size = -1;
  for (let i = 0; i < 600; i++) {
    await new Promise((r) => setTimeout(r, 500));
    file ??= readdirSync(cwd).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    if (!file) continue;
    const s = readFileSync(join(cwd, file)).length;
    if (s > 0 && s === size) break;
    size = s;
  }
  if (!file) return ['no snapshot written'];
  const { total, groups } = groupHeap(JSON.parse(readFileSync(join(cwd, file), 'utf8')));
  // Kept beside the caller for DevTools (the server's directory is removed at the end).
  const kept = join(process.cwd(), file);
  copyFileSync(join(cwd, file), kept);
  return [`live heap ${(total / 2 ** 20).toFixed(1)} MB (${kept})`, ...groups.slice(0, 12).map((g) => `${(g.selfBytes / 2 ** 20).toFixed(2)} MB ${g.kind}${g.name ? ` ${g.name.slice(0, 50)}` : ''} ×${g.count}`)];
}

async function demo(opts: { snapshot: boolean; nodeFlags: string[] }): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'labdeck-lean-demo-'));
  const port = 18000 + Math.floor(Math.random() * 2000);
  const url = `http://127.0.0.1:${port}`;
  const t0 = now();
  const { child, output } = startCompiled({ PORT: String(port), DATABASE_URL: join(dir, 'labdeck.db') }, dir, [...opts.nodeFlags, ...(opts.snapshot ? ['--heapsnapshot-signal=SIGUSR2'] : [])]);
  try {
    await waitReady(url, child, output, 180_000);
    const readyMs = now() - t0;
    console.log(`demo: ready (every cluster's first pass done) ${Math.round(readyMs)} ms after the process started; load ${load()}`);
    await new Promise((r) => setTimeout(r, Math.max(0, 60_000 - (now() - t0))));
    const m = rssOf(child.pid!);
    console.log(`demo: RSS 60 s after start ${mb(m.rss)} MB, peak ${mb(m.peak)} MB; load ${load()}`);
    console.log(`demo: memory: ${await memoryOf(url, child.pid!)}`);
    if (opts.snapshot) for (const line of await snapshot(child.pid!, dir)) console.log(`demo heap: ${line}`);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

async function fleetShape(name: string, opts: { snapshot: boolean; steadyS: number; cpuProf: boolean; nodeFlags: string[] }): Promise<void> {
  const shape = shapes[name];
  const dir = mkdtempSync(join(tmpdir(), `labdeck-lean-${name}-`));
  const ids = clusterIds(shape.clusters);
  const sim = await startSimulator({
    clusters: ids.map((id, i) => ({ id, nodes: 4, guests: shape.guests, seed: 100 + i, tokenSecret: randomUUID() })),
    pvestatdIntervalMs: 10_000, unauthorizedDelayMs: 0, activity: false,
  });
  const sockets: Socket[] = [];
  let child: ChildProcess | null = null;
  try {
    const scale = { ...scales.full, clusters: shape.clusters, guestsPerCluster: shape.guests, classes: shape.classes, studentsPerClass: 40, vmsPerStudent: 1, admins: 1 };
    const guests = sim.clusters.flatMap((c) => c.guests().map((g) => ({ cluster: c.id, vmid: g.vmid, template: g.template })));
    const plan = makeSeedPlan(scale, guests as never);
    const dbFile = join(dir, 'labdeck.db');
    const secret = randomBytes(32).toString('hex');
    const db = createDb(dbFile);
    await migrateToLatest(db);
    await seedDatabase(db, plan);
    writeFileSync(join(dir, 'labdeck.json'), JSON.stringify({
      clusters: sim.clusters.map((c) => ({ id: c.id, url: c.url, tokenId: c.tokenId, tokenSecret: c.tokenSecret, verifyTls: false, probePorts: false })),
    }));
    const port = 20000 + Math.floor(Math.random() * 2000);
    const url = `http://127.0.0.1:${port}`;
    const started = startCompiled({
      PORT: String(port), DATABASE_URL: dbFile, LABDECK_CONFIG: join(dir, 'labdeck.json'), SESSION_SECRET: secret,
    }, dir, [...opts.nodeFlags, ...(opts.snapshot ? ['--heapsnapshot-signal=SIGUSR2'] : []), ...(opts.cpuProf ? ['--inspect=127.0.0.1:0'] : [])]);
    child = started.child;
    const readyMs = await waitReady(url, child, started.output, 600_000);
    const afterPass = rssOf(child.pid!);
    console.log(`${name}: ready after ${Math.round(readyMs)} ms (first full pass of ${shape.clusters * shape.guests} guests); RSS ${mb(afterPass.rss)} MB, peak ${mb(afterPass.peak)} MB; load ${load()}`);

    // Cookies sealed as a sign-in seals them (same secret, same database).
    const sessions = new Sessions({ users: new UsersRepo(db), secret, ttlSeconds: 3600, feed: new AccessFeed() });
    const cookieOf = async (username: string) => `${SESSION_COOKIE}=${await sessions.issue((await new UsersRepo(db).getByUsername(username))!.id)}`;
    const students = plan.classes.flatMap((c) => c.students);
    const cookies = new Map<string, string>();
    for (const s of students) cookies.set(s, await cookieOf(s));
    const others = [...(shape.teachers ? plan.classes.map((c) => c.teacher) : []), ...(shape.admin ? plan.admins : [])];
    for (const o of others) cookies.set(o, await cookieOf(o));
    await db.destroy();

    // The start of a lab, open loop: arrival times fixed in advance, spread over 10 s.
    const labProf = opts.cpuProf ? await inspectorProfile(started.output) : null;
    const labMetrics = await scrape(url);
    const labSched0 = schedOf(child.pid!);
    const pool = new Pool(url, { connections: 256, pipelining: 1 });
    const latencies: number[] = [];
    const connectMs: number[] = [];
    let errors = 0;
    const t0 = now();
    const windowMs = 10_000;
    const arrivals = students.map((s, i) => ({ s, at: (i + Math.random()) * (windowMs / students.length) }));
    const openSocket = (cookie: string) => new Promise<void>((resolve) => {
      const t = now();
      const socket = connect(url, { path: '/socket.io', transports: ['websocket'], reconnection: false, forceNew: true, extraHeaders: { cookie } });
      sockets.push(socket);
      socket.once('connect', () => { connectMs.push(now() - t); resolve(); });
      socket.once('connect_error', () => { errors++; resolve(); });
    });
    await Promise.all(arrivals.map(async ({ s, at }) => {
      await new Promise((r) => setTimeout(r, Math.max(0, at - (now() - t0))));
      const t = now();
      try {
        const res = await pool.request({ method: 'GET', path: '/api/vms', headers: { cookie: cookies.get(s)!, 'accept-encoding': 'gzip' } });
        await res.body.arrayBuffer();
        latencies.push(now() - t);
        if (res.statusCode !== 200) errors++;
      } catch {
        errors++;
      }
      await openSocket(cookies.get(s)!);
    }));
    const lab = summarize(latencies);
    const conn = summarize(connectMs);
    console.log(`${name}: lab start, ${students.length} students in ${windowMs / 1000} s (open loop): GET /api/vms p50 ${lab.p50?.toFixed(2)} ms, p99 ${lab.p99?.toFixed(2)} ms, max ${lab.max?.toFixed(1)} ms; socket connect p50 ${conn.p50?.toFixed(1)} ms, p99 ${conn.p99?.toFixed(1)} ms; errors ${errors}; all done in ${Math.round(now() - t0)} ms; load ${load()}`);
    console.log(`${name}: lab start, server: ${loopDuring(labMetrics, await scrape(url))}`);
    console.log(`${name}: lab start, ${schedLine(labSched0, schedOf(child.pid!))}`);
    for (const o of others) await openSocket(cookies.get(o)!);
    await pool.close();
    if (labProf) for (const line of await labProf.stop(join(process.cwd(), `lean-${name}-lab-${Date.now()}.cpuprofile`))) console.log(`${name} lab cpu: ${line}`);

    // Steady state with every socket open: RSS sampled once a second.
    const samples: number[] = [];
    for (let i = 0; i < opts.steadyS; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      samples.push(rssOf(child.pid!).rss);
    }
    samples.sort((a, b) => a - b);
    const steady = rssOf(child.pid!);
    console.log(`${name}: memory with sockets open: ${await memoryOf(url, child.pid!)}`);
    console.log(`${name}: ${sockets.filter((s) => s.connected).length} sockets open; RSS steady (median of ${opts.steadyS} 1 s samples) ${mb(samples[samples.length >> 1])} MB, peak so far ${mb(steady.peak)} MB; load ${load()}`);

    const prof = opts.cpuProf ? await inspectorProfile(started.output) : null;
    const closedMetrics = await scrape(url);
    const cpu0 = cpuMsOf(child.pid!);
    const sched0 = schedOf(child.pid!);
    const closed = await runReadLoad({ url, path: '/api/vms', cookies: students.slice(0, 16).map((s) => cookies.get(s)!), concurrency: 16, durationMs: 5000 });
    const c = summarize(closed.latenciesMs);
    console.log(`${name}: student GET /api/vms, 16 concurrent (closed loop, 5 s): p50 ${c.p50?.toFixed(2)} ms, p99 ${c.p99?.toFixed(2)} ms, ${Math.round(closed.rps)} req/s, errors ${closed.errors}; RSS ${mb(rssOf(child.pid!).rss)} MB, peak ${mb(rssOf(child.pid!).peak)} MB; load ${load()}`);
    const perRequestUs = ((cpuMsOf(child.pid!) - cpu0) * 1000) / Math.max(1, closed.requests);
    const sched1 = schedOf(child.pid!);
    console.log(`${name}: closed loop, server: ${Math.round(perRequestUs)} µs CPU a request; ${loopDuring(closedMetrics, await scrape(url))}`);
    // Time the event loop was ready to run but had no core: what a p99 is made of when it is not the server's own work.
    console.log(`${name}: closed loop, ${schedLine(sched0, sched1)}`);
    if (prof) for (const line of await prof.stop(join(process.cwd(), `lean-${name}-${Date.now()}.cpuprofile`))) console.log(`${name} cpu: ${line}`);
    if (opts.snapshot) for (const line of await snapshot(child.pid!, dir)) console.log(`${name} heap: ${line}`);
  } finally {
    for (const s of sockets) s.close();
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child!.once('exit', r));
    }
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { shape: { type: 'string' }, snapshot: { type: 'boolean' }, 'steady-s': { type: 'string' }, 'cpu-prof': { type: 'boolean' }, 'node-flags': { type: 'string' }, 'server-cpu': { type: 'string' } } });
  if (values['server-cpu'] !== undefined) {
    const n = Number(values['server-cpu']);
    if (!Number.isInteger(n) || n < 0 || n >= cpus().length) throw new Error(`--server-cpu must be a core number from 0 to ${cpus().length - 1}`);
    serverCpu = n;
    pinSelfAwayFrom(n);
    console.log(`server pinned to core ${n}; this process (clients, sockets, simulator) to the others`);
  }
  const nodeFlags = (values['node-flags'] ?? '').split(' ').filter(Boolean);
  if (!existsSync(MAIN)) throw new Error('dist/server/main.js is missing: run npm run build first');
  const shape = values.shape ?? 'demo';
  if (shape === 'demo') return demo({ snapshot: Boolean(values.snapshot), nodeFlags });
  if (!shapes[shape]) throw new Error(`--shape must be demo, 2k or 20k`);
  return fleetShape(shape, { snapshot: Boolean(values.snapshot), steadyS: Number(values['steady-s'] ?? 20), cpuProf: Boolean(values['cpu-prof']), nodeFlags });
}

await main();
process.exit(0);
