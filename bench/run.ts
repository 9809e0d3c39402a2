// `npm run bench [-- --quick | --tiny]`: starts the simulator and labdeck in their own processes,
// connects the audience over socket.io, measures sync passes, reads, push, freshness, the seed's
// polling design side by side, and memory; writes bench/out/<timestamp>.json and a table.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { ChildRpc } from './ipc.js';
import { Fleet, type FieldChange, type FleetUser } from './fleet.js';
import { runReadLoad } from './load.js';
import { Poller, seedQuickPass, seedSyncLoop } from './seed-design.js';
import { entitlement, makeSeedPlan } from './seed-plan.js';
import { scales, type Scale } from './scale.js';
import { type PassMeasure, type PowerAction, type SimClusterInfo, type SimGuestBrief, type SimStats, type Usage } from './protocol.js';
import { now, rng, round, roundSummary, sample, sleep, summarize, waitFor } from './stats.js';
import { machineInfo, renderTable, targetsOf, writeResultsMarkdown, type BenchResult } from './report.js';
import { benchLiveSignals } from './live-signals.js';
import { benchConsole, consoleShapes } from './console.js';
import { benchProvision, provisionShapes } from './provision.js';
import { benchInstances, instancesShapes } from './instances.js';
import { parseVmKey, vmKey } from '../contract/vm.js';

const usage = `Usage: npm run bench [-- --quick | --tiny] [--only-live | --only-console | --only-provision | --only-instances] [--results | --no-results] [--out DIR]
  (no flag)     full run: 10 clusters x 2,000 guests, 2,000 students in 50 classes; rewrites bench/RESULTS.md
  --quick       2 clusters x 500 guests, 200 students: a short run while developing
  --tiny        the smallest shape (the smoke test uses it)
  --only-live   only section 6 (live signals at the default cadence: idle load, freshness, soak); no RESULTS.md rewrite
  --only-console   only section 7 (consoles: open time, relay throughput and added latency, N at once); own small processes
  --only-provision only section 8 (40 VMs cloned on 2 nodes: wall time against the per-node bound); own small processes
  --only-instances only section 9 (three instances on one PostgreSQL database: push latency to all three, failover);
                   needs BENCH_DATABASE_URL or TEST_DATABASE_URL (a full run: BENCH_DATABASE_URL only); own processes
  --results     also rewrite bench/RESULTS.md (default only for full runs); --no-results never
  --out DIR     where the JSON result and the child logs go (default bench/out)
  --render FILE print (and for a full run, write to bench/RESULTS.md) the report of an earlier JSON result`;

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

interface Ctx {
  scale: Scale;
  sim: ChildRpc;
  lab: ChildRpc;
  clusters: SimClusterInfo[];
  url: string;
  fleet: Fleet;
  cookies: Record<string, string>;
  plan: ReturnType<typeof makeSeedPlan>;
  ent: ReturnType<typeof entitlement>;
  /** Phase A: snapshots move only when the harness refreshes them (see sim-process.ts). */
  heldSnapshots: boolean;
  /** When the harness last changed each guest (see settledLongEnough). */
  touchedAt: Map<string, number>;
  /** What the harness believes each guest's status is (it makes every change). */
  status: Map<string, string>;
  guests: SimGuestBrief[];
  random: () => number;
  log(msg: string): void;
}

const key = (g: { cluster: string; vmid: number }) => vmKey(g.cluster, g.vmid);
/** The harness only ever builds well-formed keys. */
const splitKey = (k: string) => parseVmKey(k)!;

function totalStats(s: Record<string, SimStats>): { requests: number; bytes: number; perCluster: number[] } {
  const ids = Object.keys(s);
  return {
    requests: ids.reduce((n, id) => n + s[id].requests, 0),
    bytes: ids.reduce((n, id) => n + s[id].bytesOut, 0),
    perCluster: ids.map((id) => s[id].requests),
  };
}

/** Toggles guests in the simulator "from the Proxmox UI" (start if stopped, stop if running). */
async function toggle(ctx: Ctx, keys: string[]): Promise<number> {
  const items: Array<{ cluster: string; vmid: number; action: PowerAction }> = [];
  for (const k of keys) {
    const st = ctx.status.get(k);
    const action: PowerAction = st === 'running' ? 'stop' : 'start';
    items.push({ ...splitKey(k), action });
    ctx.status.set(k, action === 'start' ? 'running' : 'stopped');
    ctx.touchedAt.set(k, now());
  }
  const { at } = await ctx.sim.call<{ at: number }>('power', { items });
  // Phase A holds every snapshot: the change shows in /cluster/resources because the harness says so.
  if (ctx.heldSnapshots) await ctx.sim.call('refresh', { clusters: [...new Set(items.map((i) => i.cluster))] });
  return at;
}

/** Phase A: lets Proxmox show the load drift since the last snapshot and has labdeck take it in
 *  (an unmeasured pass), so that the measured pass after it sees the harness's changes only. */
async function absorbDrift(ctx: Ctx, cluster?: string): Promise<void> {
  await ctx.sim.call('refresh', { clusters: cluster ? [cluster] : ctx.clusters.map((c) => c.id) });
  await ctx.lab.call<PassMeasure>('measurePass', { kind: 'quick', cluster });
  await waitFastLaneIdle(ctx, 20_000);
}

/**
 * labdeck's fast lane keeps quick passes off a guest's status for 15 s after its last live reading
 * (pvestatd may still show the old state), so a second outside change within that time only shows
 * after the hold. Measurements pick guests left alone for longer; the hold is reported, not timed.
 */
const HOLD_MARGIN_MS = 25_000;

function settledLongEnough(ctx: Ctx, k: string): boolean {
  return now() - (ctx.touchedAt.get(k) ?? 0) > HOLD_MARGIN_MS && ['running', 'stopped'].includes(ctx.status.get(k) ?? '');
}

function togglable(ctx: Ctx): string[] {
  return ctx.guests.filter((g) => !g.template).map(key).filter((k) => settledLongEnough(ctx, k));
}

async function waitFastLaneIdle(ctx: Ctx, timeoutMs: number): Promise<boolean> {
  return waitFor(async () => (await ctx.lab.call<number>('fastLane')) === 0, timeoutMs, 200);
}

/** 1. Quick passes with 0 %, 1 %, 10 % of guests changed, measured inside labdeck's process. */
async function benchPasses(ctx: Ctx): Promise<BenchResult['quickPasses']> {
  const out: BenchResult['quickPasses'] = {};
  const all = ctx.guests.filter((g) => !g.template);
  for (const { fraction, repeats } of ctx.scale.passes) {
    // Fields the admin's view saw change in passes where the harness changed nothing: noise.
    const unprovoked: FieldChange[] = [];
    const runs: Array<PassMeasure & { requests: number; bytes: number; maxRequestsPerCluster: number; fastLaneRequests: number; fastLaneSettled: boolean }> = [];
    for (let r = 0; r < repeats; r++) {
      await waitFastLaneIdle(ctx, 20_000);
      const changed = sample(togglable(ctx), Math.round(all.length * fraction), ctx.random);
      await absorbDrift(ctx);
      if (changed.length) await toggle(ctx, changed);
      await ctx.sim.call('resetStats');
      const m = await ctx.lab.call<PassMeasure>('measurePass', { kind: 'quick' });
      const s = totalStats(await ctx.sim.call<Record<string, SimStats>>('stats'));
      await ctx.sim.call('resetStats');
      const settled = await waitFastLaneIdle(ctx, 20_000);
      const after = totalStats(await ctx.sim.call<Record<string, SimStats>>('stats'));
      runs.push({ ...m, requests: s.requests, bytes: s.bytes, maxRequestsPerCluster: Math.max(...s.perCluster), fastLaneRequests: after.requests, fastLaneSettled: settled });
      if (changed.length === 0) {
        await sleep(300);
        unprovoked.push(...ctx.fleet.fieldChanges.filter((f) => f.revision > m.revisionBefore && f.revision <= m.revisionAfter));
      }
      ctx.log(`  quick pass ${Math.round(fraction * 100)}% changed: wall ${m.wallMs.toFixed(1)} ms, cpu ${m.cpuMs.toFixed(1)} ms, rows ${m.rowsWritten}, requests ${s.requests}`);
    }
    out[`${Math.round(fraction * 100)}%`] = {
      changedGuests: Math.round(all.length * fraction),
      wallMs: roundSummary(summarize(runs.map((r) => r.wallMs))),
      cpuMs: roundSummary(summarize(runs.map((r) => r.cpuMs))),
      rowsWritten: runs.map((r) => r.rowsWritten),
      vmEvents: runs.map((r) => r.vmEvents),
      syncRunsRows: runs.map((r) => r.syncRuns),
      proxmoxRequests: runs.map((r) => r.requests),
      maxRequestsPerCluster: runs.map((r) => r.maxRequestsPerCluster),
      bytesFetched: runs.map((r) => r.bytes),
      fastLaneRequestsAfter: runs.map((r) => r.fastLaneRequests),
      fastLaneSettled: runs.every((r) => r.fastLaneSettled),
      ...(fraction === 0 ? {
        unprovokedChanges: {
          byField: unprovoked.reduce<Record<string, number>>((acc, f) => ({ ...acc, [f.field]: (acc[f.field] ?? 0) + 1 }), {}),
          examples: unprovoked.slice(0, 8).map((f) => `${f.vm} ${f.field}: ${JSON.stringify(f.from)} → ${JSON.stringify(f.to)}`),
        },
      } : {}),
    };
  }
  return out;
}

/** 2. GET /api/vms as a student, a teacher and an admin, each under concurrent load. */
async function benchReads(ctx: Ctx): Promise<BenchResult['reads']> {
  const students = ctx.plan.classes.flatMap((c) => c.students);
  const teachers = ctx.plan.classes.map((c) => c.teacher);
  const roles = {
    student: students.slice(0, ctx.scale.readConcurrency.student),
    teacher: teachers.slice(0, ctx.scale.readConcurrency.teacher),
    admin: ctx.plan.admins,
  } as const;
  const out = {} as BenchResult['reads'];
  for (const role of ['student', 'teacher', 'admin'] as const) {
    const r = await runReadLoad({
      url: ctx.url, path: '/api/vms', cookies: roles[role].map((u) => ctx.cookies[u]),
      concurrency: ctx.scale.readConcurrency[role], durationMs: ctx.scale.readMs,
    });
    // The same reads one at a time: the service time without queueing behind other requests.
    const one = await runReadLoad({ url: ctx.url, path: '/api/vms', cookies: [ctx.cookies[roles[role][0]]], concurrency: 1, durationMs: Math.max(300, ctx.scale.readMs / 3) });
    out[role] = {
      concurrency: ctx.scale.readConcurrency[role],
      requests: r.requests, errors: r.errors + one.errors, statuses: r.statuses,
      latencyMs: roundSummary(summarize(r.latenciesMs)),
      rps: round(r.rps, 1),
      bytesPerResponse: r.requests ? Math.round(r.bytes / r.requests) : null,
      oneAtATimeMs: roundSummary(summarize(one.latenciesMs)),
    };
    ctx.log(`  ${role}: p50 ${summarize(r.latenciesMs).p50?.toFixed(2)} ms, p99 ${summarize(r.latenciesMs).p99?.toFixed(2)} ms, ${r.rps.toFixed(0)} req/s, errors ${r.errors}; one at a time p50 ${summarize(one.latenciesMs).p50?.toFixed(2)} ms`);
  }
  return out;
}

/** Phase B: the first cluster answers live (pvestatd 0), every other one lags like real pvestatd. */
function deployedClusters(ctx: Ctx): [string, string] {
  return [ctx.clusters[0].id, ctx.clusters[ctx.clusters.length - 1].id];
}

/** Entitled users of a VM key. */
function entitledOf(ctx: Ctx, vm: string): string[] {
  return [...ctx.plan.admins, ...(ctx.ent.byVm.get(vm) ?? [])];
}

/** 3a + 4a. One guest changes, a quick pass on its cluster: commit → arrival, change → arrival. */
async function benchSingleChanges(ctx: Ctx) {
  const assigned = [...ctx.ent.byVm.keys()];
  const pushLatency: number[] = [];
  const ownShareStart: number[] = [];
  const ownShareStop: number[] = [];
  const passWall: number[] = [];
  let missing = 0, samples = 0, unexpectedReceivers = 0;
  const leaksBefore = ctx.fleet.leaks.length;
  for (let i = 0; i < ctx.scale.pushSingles; i++) {
    const vm = sample(assigned.filter((k) => settledLongEnough(ctx, k)), 1, ctx.random)[0];
    const entitled = entitledOf(ctx, vm);
    const starting = ctx.status.get(vm) !== 'running';
    await absorbDrift(ctx, splitKey(vm).cluster);
    const t0 = await toggle(ctx, [vm]);
    const m = await ctx.lab.call<PassMeasure>('measurePass', { kind: 'quick', cluster: splitKey(vm).cluster });
    passWall.push(m.wallMs);
    await waitFor(() => ctx.fleet.firstArrivals(vm, t0).size >= entitled.length, 5000, 5);
    await sleep(150);
    const arrivals = ctx.fleet.firstArrivals(vm, t0);
    const ann = (await ctx.lab.call<Record<string, { at: number } | null>>('announced', { keys: [vm], after: t0 }))[vm];
    samples++;
    for (const u of entitled) {
      const at = arrivals.get(u);
      if (at === undefined || !ann || ann.at < t0) { missing++; continue; }
      pushLatency.push(at - ann.at);
      (starting ? ownShareStart : ownShareStop).push(at - t0);
    }
    for (const u of arrivals.keys()) if (!entitled.includes(u)) unexpectedReceivers++;
    await sleep(50);
  }
  return {
    samples,
    entitledPerChange: round(pushLatency.length / Math.max(1, samples), 1),
    commitToArrivalMs: roundSummary(summarize(pushLatency)),
    changeToArrivalPvestatd0Ms: roundSummary(summarize([...ownShareStart, ...ownShareStop])),
    changeToArrivalStopMs: roundSummary(summarize(ownShareStop)),
    changeToArrivalStartMs: roundSummary(summarize(ownShareStart)),
    quickPassOneClusterWallMs: roundSummary(summarize(passWall)),
    missingDeliveries: missing,
    unexpectedReceivers,
    leaksDuring: ctx.fleet.leaks.length - leaksBefore,
  };
}

/** 3b. Many guests change in one pass: time until every entitled client has every change; bytes. */
async function benchBatch(ctx: Ctx) {
  const vms = sample(togglable(ctx), ctx.scale.pushBatch, ctx.random);
  await absorbDrift(ctx);
  const bytesBefore = ctx.fleet.bytesByUser();
  const t0 = await toggle(ctx, vms);
  const passStart = now();
  const m = await ctx.lab.call<PassMeasure>('measurePass', { kind: 'quick' });
  const pairs = vms.flatMap((vm) => entitledOf(ctx, vm).map((u) => ({ vm, u })));
  const complete = await waitFor(() => pairs.every((p) => ctx.fleet.firstArrivals(p.vm, t0).has(p.u)), 30_000, 20);
  await sleep(300);
  const ann = await ctx.lab.call<Record<string, { at: number } | null>>('announced', { keys: vms, after: t0 });
  const lat: number[] = [];
  const missed: string[] = [];
  let last = 0, missing = 0;
  const firstAnnounce = Math.min(...vms.map((v) => ann[v]?.at ?? Infinity).filter((a) => a >= t0));
  for (const p of pairs) {
    const at = ctx.fleet.firstArrivals(p.vm, t0).get(p.u);
    const a = ann[p.vm];
    if (at === undefined || !a || a.at < t0) {
      missing++;
      if (missed.length < 5) missed.push(`${p.vm} → ${p.u} (announced ${a && a.at >= t0 ? 'yes' : 'no'}, expected ${ctx.status.get(p.vm)})`);
      continue;
    }
    lat.push(at - a.at);
    last = Math.max(last, at);
  }
  const bytesAfter = ctx.fleet.bytesByUser();
  const perRole: Record<string, number[]> = { student: [], teacher: [], admin: [] };
  for (const [u, b] of bytesAfter) perRole[b.role].push(b.read - (bytesBefore.get(u)?.read ?? 0));
  const students = new Set(vms.flatMap((v) => ctx.ent.byVm.get(v) ?? []).filter((u) => u.startsWith('student')));
  return {
    changed: vms.length,
    entitledPairs: pairs.length,
    studentsConcerned: students.size,
    passWallMs: round(m.wallMs),
    rowsWritten: m.rowsWritten,
    allDelivered: complete && missing === 0,
    missingDeliveries: missing,
    missedExamples: missed,
    firstCommitToLastArrivalMs: round(last - firstAnnounce),
    passStartToLastArrivalMs: round(last - passStart),
    commitToArrivalMs: roundSummary(summarize(lat)),
    bytesReceivedPerClient: Object.fromEntries(Object.entries(perRole).map(([r, xs]) => [r, roundSummary(summarize(xs), 0)])),
  };
}

/** 4b. A start issued through labdeck by the student → final state pushed, minus the task's duration. */
async function benchStarts(ctx: Ctx) {
  const candidates = ctx.plan.classes.flatMap((c) => c.students).map((s) => ({ s, vm: ctx.plan.assignments[s].find((k) => ctx.status.get(k) === 'stopped' && settledLongEnough(ctx, k)) }))
    .filter((x): x is { s: string; vm: string } => Boolean(x.vm));
  const picks = sample(candidates, ctx.scale.startSamples, ctx.random);
  await waitFastLaneIdle(ctx, 20_000);
  const results = await Promise.all(picks.map(async ({ s, vm }) => {
    const { cluster, vmid } = splitKey(vm);
    const t0 = now();
    const res = await fetch(`${ctx.url}/api/vm/${vmid}/start?cluster=${encodeURIComponent(cluster)}`, {
      method: 'POST', headers: { cookie: ctx.cookies[s], origin: ctx.url, 'content-type': 'application/json' }, body: '{}',
    });
    const httpMs = now() - t0;
    await res.arrayBuffer();
    ctx.status.set(vm, 'running');
    ctx.touchedAt.set(vm, now());
    await waitFor(() => ctx.fleet.firstArrivals(vm, t0, 'running').has(s), 20_000, 10);
    const at = ctx.fleet.firstArrivals(vm, t0, 'running').get(s);
    return { httpStatus: res.status, httpMs, finalMs: at === undefined ? null : at - t0 };
  }));
  const finals = results.map((r) => r.finalMs).filter((x): x is number => x !== null);
  return {
    samples: results.length,
    taskDurationMs: ctx.scale.taskStartMs,
    httpStatuses: results.map((r) => r.httpStatus),
    httpAnswerMs: roundSummary(summarize(results.map((r) => r.httpMs))),
    clickToFinalPushMs: roundSummary(summarize(finals)),
    overTaskDurationMs: roundSummary(summarize(finals.map((f) => f - ctx.scale.taskStartMs))),
    neverArrived: results.length - finals.length,
  };
}

/** 5a. One quick pass of the seed's design (status/current per VM) against one cluster. */
async function benchSeedPass(ctx: Ctx) {
  const c = ctx.clusters[0];
  await waitFastLaneIdle(ctx, 20_000);
  await ctx.sim.call('resetStats');
  const r = await seedQuickPass(c, ctx.scale.seedSyncConcurrency);
  const s = (await ctx.sim.call<Record<string, SimStats>>('stats'))[c.id];
  await ctx.sim.call('resetStats');
  const lab = await ctx.lab.call<PassMeasure>('measurePass', { kind: 'quick', cluster: c.id });
  const ls = (await ctx.sim.call<Record<string, SimStats>>('stats'))[c.id];
  return {
    cluster: c.id,
    guests: ctx.scale.guestsPerCluster,
    seed: { requestsPerPass: s.requests, bytesPerPass: s.bytesOut, wallMs: round(r.wallMs), failures: r.failures, concurrency: ctx.scale.seedSyncConcurrency },
    labdeck: { requestsPerPass: ls.requests, bytesPerPass: ls.bytesOut, wallMs: round(lab.wallMs) },
  };
}

/** Where labdeck's CPU goes: profiles of a quick pass with nothing changed and of read loads. */
async function benchProfiles(ctx: Ctx, outDir: string, stamp: string): Promise<BenchResult['profiles']> {
  const out: BenchResult['profiles'] = {};
  const profile = async (name: string, work: () => Promise<unknown>) => {
    await ctx.lab.call('profileStart');
    await work();
    out[name] = await ctx.lab.call('profileStop', { file: join(outDir, `${stamp}-${name}.cpuprofile`), root });
  };
  await absorbDrift(ctx);
  await profile('quickPassNothingChanged', () => ctx.lab.call('measurePass', { kind: 'quick' }));
  const students = ctx.plan.classes.flatMap((c) => c.students).slice(0, ctx.scale.readConcurrency.student);
  const readFor = (users: string[], concurrency: number) => () => runReadLoad({
    url: ctx.url, path: '/api/vms', cookies: users.map((u) => ctx.cookies[u]), concurrency, durationMs: Math.min(3000, ctx.scale.readMs),
  });
  await profile('studentReads', readFor(students, ctx.scale.readConcurrency.student));
  await profile('adminReads', readFor(ctx.plan.admins, ctx.scale.readConcurrency.admin));
  return out;
}

/** 5b + 4c. "As deployed": the real loop at its quick interval; changes made at random moments;
 *  idle socket traffic vs the polling browser; Proxmox requests per cluster per minute; staleness. */
async function benchDeployed(ctx: Ctx) {
  const s = ctx.scale;
  const [liveId, laggedId] = deployedClusters(ctx);
  const lagged = [laggedId];
  const watched = [liveId, laggedId];
  // Pollers are students on the first live cluster and on the lagged one; each gets one change.
  const studentsOn = (cluster: string) => ctx.plan.classes.filter((c) => c.cluster === cluster).flatMap((c) => c.students);
  const perSide = Math.ceil(s.pollers / watched.length);
  const pollerUsers = watched.flatMap((c) => studentsOn(c).slice(0, perSide)).slice(0, s.pollers);
  const pollers = pollerUsers.map((u) => new Poller(ctx.url, u, ctx.cookies[u], s.pollIntervalMs));
  const changes = pollerUsers.map((u) => ({ user: u, vm: ctx.plan.assignments[u].find((k) => settledLongEnough(ctx, k))! }))
    .filter((x) => x.vm);
  const touched = new Set(changes.flatMap((c) => entitledOf(ctx, c.vm)));
  const lagMs = s.laggedPvestatdMs;
  const latestChangeAt = Math.max(1000, s.compareWindowMs - s.deployedQuickIntervalS * 1000 - lagMs - 3000);

  const seedDetect = new Map<string, number>();
  const seedLoops = watched.map((id) => seedSyncLoop(ctx.clusters.find((c) => c.id === id)!, {
    intervalMs: s.deployedQuickIntervalS * 1000, concurrency: s.seedSyncConcurrency,
    onChange: (vmid, _status, at) => { const k = `${id}:${vmid}`; if (!seedDetect.has(k)) seedDetect.set(k, at); },
  }));

  await sleep(1000);
  const bytes0 = ctx.fleet.bytesByUser();
  const usage0 = await ctx.lab.call<Usage>('usage');
  await ctx.sim.call('resetStats');
  const seedReq0 = seedLoops.map((l) => l.requests());
  const rev0 = await ctx.lab.call<number>('revision');
  const t0 = now();
  for (const p of pollers) p.start();
  const pollBytes0 = pollers.map((p) => p.agent.bytesRead());
  const made: Array<{ user: string; vm: string; at: number; lagged: boolean }> = [];
  const timers = changes.map((c, i) => new Promise<void>((res) => setTimeout(async () => {
    seedDetect.delete(c.vm);
    const at = await toggle(ctx, [c.vm]);
    made.push({ ...c, at, lagged: lagged.includes(splitKey(c.vm).cluster) });
    res();
  }, 1000 + ((i + ctx.random()) / changes.length) * (latestChangeAt - 1000))));
  await Promise.all(timers);
  await sleep(Math.max(0, t0 + s.compareWindowMs - now()));
  const windowMs = now() - t0;
  const stats = await ctx.sim.call<Record<string, SimStats>>('stats');
  const seedReqInWindow = seedLoops.map((l, i) => l.requests() - seedReq0[i]);
  const usage1 = await ctx.lab.call<Usage>('usage');
  const rev1 = await ctx.lab.call<number>('revision');
  const bytes1 = ctx.fleet.bytesByUser();
  const pollBytes = pollers.map((p, i) => p.agent.bytesRead() - pollBytes0[i]);
  await Promise.all(pollers.map((p) => p.stop()));
  const seedStats = await Promise.all(seedLoops.map((l) => l.stop()));

  const perMin = (x: number) => (x * 60_000) / windowMs;
  const idle: number[] = [];
  // Idle: a student who received no VM change during the window (only the socket's own keep-alive).
  let busyStudents = 0;
  for (const [u, b] of bytes1) {
    if (b.role !== 'student') continue;
    const before = bytes0.get(u);
    if (touched.has(u) || b.events !== (before?.events ?? 0)) { busyStudents++; continue; }
    idle.push(perMin(b.read - (before?.read ?? 0)));
  }
  const idleSummary = summarize(idle);
  const byRole: Record<string, number[]> = { student: [], teacher: [], admin: [] };
  for (const [u, b] of bytes1) byRole[b.role].push(perMin(b.read - (bytes0.get(u)?.read ?? 0)));
  const pollSummary = summarize(pollBytes.map(perMin));

  const ann = await ctx.lab.call<Record<string, { at: number } | null>>('announced', { keys: made.map((m) => m.vm), after: Object.fromEntries(made.map((m) => [m.vm, m.at])) });
  const fresh = { lagged: [] as number[], live: [] as number[] };
  const pollStale = { lagged: [] as number[], live: [] as number[] };
  const pollAfterPush: number[] = [];
  const seedStale = { lagged: [] as number[], live: [] as number[] };
  let notArrived = 0;
  for (const m of made) {
    const side = m.lagged ? 'lagged' : 'live';
    const push = ctx.fleet.firstArrivals(m.vm, m.at).get(m.user);
    if (push === undefined) notArrived++;
    else fresh[side].push(push - m.at);
    const p = pollers.find((x) => x.username === m.user)?.changes.get(m.vm)?.find((c) => c.at >= m.at);
    if (p) {
      pollStale[side].push(p.at - m.at);
      const a = ann[m.vm];
      if (a) pollAfterPush.push(p.at - a.at);
    }
    const d = seedDetect.get(m.vm);
    if (d !== undefined && d >= m.at) seedStale[side].push(d - m.at);
  }
  // The seed's loop runs against the same simulated clusters: take its own requests out of the count.
  const seedReq = new Map(watched.map((id, i) => [id, seedReqInWindow[i]]));
  const reqPerClusterMin = ctx.clusters.map((c) => ({
    id: c.id, perMinute: round(perMin(stats[c.id].requests - (seedReq.get(c.id) ?? 0)), 1),
    changedHere: made.some((m) => splitKey(m.vm).cluster === c.id),
  }));
  const quiet = reqPerClusterMin.filter((r) => !r.changedHere).map((r) => r.perMinute ?? 0);
  return {
    windowMs: round(windowMs, 0),
    quickIntervalS: s.deployedQuickIntervalS,
    pvestatdLagMs: lagMs,
    changes: made.length,
    freshness: {
      changeToPushLaggedMs: roundSummary(summarize(fresh.lagged)),
      changeToPushLiveMs: roundSummary(summarize(fresh.live)),
      notArrived,
    },
    polling: {
      pollers: pollers.length,
      intervalMs: s.pollIntervalMs,
      polls: pollers.reduce((n, p) => n + p.polls, 0),
      errors: pollers.reduce((n, p) => n + p.errors, 0),
      changeToPollLaggedMs: roundSummary(summarize(pollStale.lagged)),
      changeToPollLiveMs: roundSummary(summarize(pollStale.live)),
      pollSeesItAfterPushMs: roundSummary(summarize(pollAfterPush)),
    },
    seedSync: {
      clusters: watched,
      passes: seedStats.map((x) => x.passes),
      passWallMs: roundSummary(summarize(seedStats.flatMap((x) => x.wallMs))),
      changeToDetectLaggedMs: roundSummary(summarize(seedStale.lagged)),
      changeToDetectLiveMs: roundSummary(summarize(seedStale.live)),
    },
    bytesPerClientPerMinute: {
      idleStudentSocket: roundSummary(idleSummary, 0),
      idleStudents: idle.length,
      studentsWithChanges: busyStudents,
      everyClientByRole: Object.fromEntries(Object.entries(byRole).map(([r, xs]) => [r, roundSummary(summarize(xs), 0)])),
      pollingStudent: roundSummary(pollSummary, 0),
      ratioPollingToPush: idleSummary.mean && pollSummary.mean ? round(pollSummary.mean / idleSummary.mean, 0) : null,
    },
    proxmoxRequestsPerClusterPerMinute: {
      labdeck: reqPerClusterMin,
      labdeckQuietClusterMedian: summarize(quiet).p50,
      seedDesignModel: round(((1 + s.guestsPerCluster) * 60) / s.deployedQuickIntervalS, 0),
      seedDesignMeasured: watched.map((id, i) => ({ id, perMinute: round(perMin(seedReqInWindow[i]), 0) })),
    },
    rowsWrittenPerMinute: round(perMin(rev1 - rev0), 0),
    labdeckCpuPercent: round(((usage1.cpuUserMs + usage1.cpuSystemMs - usage0.cpuUserMs - usage0.cpuSystemMs) / windowMs) * 100, 1),
  };
}

async function main(): Promise<void> {
  let values: { quick?: boolean; tiny?: boolean; results?: boolean; out?: string; help?: boolean; render?: string; 'only-live'?: boolean; 'only-console'?: boolean; 'only-provision'?: boolean; 'only-instances'?: boolean };
  try {
    values = parseArgs({
      allowNegative: true,
      options: {
        quick: { type: 'boolean', default: false },
        tiny: { type: 'boolean', default: false },
        'only-live': { type: 'boolean', default: false },
        'only-console': { type: 'boolean', default: false },
        'only-provision': { type: 'boolean', default: false },
        'only-instances': { type: 'boolean', default: false },
        results: { type: 'boolean' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
        render: { type: 'string' },
      },
    }).values;
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${usage}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(usage);
    return;
  }
  if (values.render) {
    // Re-renders an earlier run (e.g. after the report format changed) without running anything.
    const earlier = JSON.parse(readFileSync(values.render, 'utf8')) as BenchResult;
    earlier.targets = targetsOf(earlier);
    console.log(renderTable(earlier));
    if (values.results ?? earlier.scale.name === 'full') writeResultsMarkdown(join(root, 'bench', 'RESULTS.md'), earlier);
    return;
  }
  const scale = scales[values.tiny ? 'tiny' : values.quick ? 'quick' : 'full'];
  const onlyLive = values['only-live'] ?? false;
  const writeResults = values.results ?? (scale.name === 'full' && !onlyLive);
  const outDir = resolve(values.out ?? join(root, 'bench', 'out'));
  mkdirSync(outDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const work = mkdtempSync(join(tmpdir(), 'labdeck-bench-'));
  const t0 = now();
  const log = (msg: string) => console.log(`[${((now() - t0) / 1000).toFixed(1).padStart(6)} s] ${msg}`);
  const machine = machineInfo();
  const onlyOwn = (values['only-console'] ?? false) || (values['only-provision'] ?? false) || (values['only-instances'] ?? false);
  /** Sections 7 and 8 start their own small simulator and labdeck; the full run does them last. */
  const ownSections = async (which: { console: boolean; provision: boolean; instances?: boolean }): Promise<Pick<BenchResult, 'console' | 'provision' | 'instances'>> => {
    const out: Pick<BenchResult, 'console' | 'provision' | 'instances'> = {};
    if (which.console) {
      log(`7. consoles: open time, relay throughput and added latency (${consoleShapes[scale.name].consoles} at once)`);
      out.console = await benchConsole({ root, outDir, stamp, workDir: work, shape: consoleShapes[scale.name], log });
    }
    if (which.provision) {
      const shape = provisionShapes[scale.name];
      log(`8. provisioning: ${shape.vms} VMs on ${shape.nodes} nodes, ${shape.perNode} clones at once per node`);
      out.provision = await benchProvision({ root, outDir, stamp, workDir: work, shape, log });
    }
    if (which.instances) {
      log('9. three instances on one PostgreSQL database: push latency to all three, failover');
      // A full run takes only BENCH_DATABASE_URL (the suite's TEST_DATABASE_URL does not add three processes to it).
      const databaseUrl = process.env.BENCH_DATABASE_URL ?? (onlyOwn ? process.env.TEST_DATABASE_URL : undefined) ?? null;
      out.instances = await benchInstances({ root, outDir, stamp, workDir: work, shape: instancesShapes[scale.name], databaseUrl, log }) ?? undefined;
    }
    return out;
  };
  if (onlyOwn) {
    log(`labdeck bench, ${scale.name} run, sections ${[values['only-console'] ? 7 : null, values['only-provision'] ? 8 : null, values['only-instances'] ? 9 : null].filter(Boolean).join(' and ')} only`);
    try {
      const r = { scale: scale.name, machine, startedAt: new Date().toISOString(), ...(await ownSections({ console: values['only-console'] ?? false, provision: values['only-provision'] ?? false, instances: values['only-instances'] ?? false })) };
      const json = join(outDir, `${stamp}-sections.json`);
      writeFileSync(json, JSON.stringify({ ...r, finishedAt: new Date().toISOString(), durationS: round((now() - t0) / 1000, 1), machine: { ...machine, loadAvgEnd: machineInfo().loadAvgStart } }, null, 2));
      console.log(JSON.stringify({ console: r.console, provision: r.provision, instances: r.instances }, null, 2));
      log(`wrote ${json}`);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
    return;
  }
  log(`labdeck bench, ${scale.name} run: ${scale.clusters} clusters x ${scale.guestsPerCluster} guests, ${scale.classes * scale.studentsPerClass} students in ${scale.classes} classes`);

  const sim = ChildRpc.start('simulator', join(root, 'bench', 'sim-process.ts'), { cwd: root, logFile: join(outDir, `${stamp}-simulator.log`) });
  let lab: ChildRpc | null = null;
  let fleet: Fleet | null = null;
  const result: Partial<BenchResult> = { scale, machine, startedAt: new Date().toISOString(), memoryTimeline: [] };
  /** labdeck's memory at a named moment of the run. */
  const mark = async (label: string) => {
    const u = await lab!.call<Usage>('usage', { gc: true });
    result.memoryTimeline!.push({ label, rssMb: round(u.rss / 1048576, 0), heapUsedMb: round(u.heapUsed / 1048576, 0), liveHeapMb: round((u.heapAfterGc ?? NaN) / 1048576, 0) });
  };
  try {
    const clusters = await sim.call<SimClusterInfo[]>('start', {
      clusters: scale.clusters, guestsPerCluster: scale.guestsPerCluster, nodesPerCluster: scale.nodesPerCluster,
      taskStartMs: scale.taskStartMs, agentTimeoutMs: scale.agentTimeoutMs, ipDelayMs: scale.ipDelayMs,
    });
    const guests = await sim.call<SimGuestBrief[]>('guests');
    log(`simulator up: ${guests.length} guests in ${clusters.length} clusters; snapshots held (phase A)`);
    const plan = makeSeedPlan(scale, guests);
    const ent = entitlement(plan);
    const planFile = join(work, 'plan.json');
    writeFileSync(planFile, JSON.stringify(plan));
    const dbFile = join(work, 'labdeck.db');
    const sessionSecret = randomBytes(32).toString('hex');
    const labLog = join(outDir, `${stamp}-labdeck.log`);
    const startLab = async (seed: boolean, quickIntervalSeconds: number, port: number, sync?: Record<string, number>) => {
      // --expose-gc only so the memory timeline can tell live data from garbage not yet collected.
      const l = ChildRpc.start('labdeck', join(root, 'bench', 'labdeck-process.ts'), { cwd: root, logFile: labLog, env: { LOG_LEVEL: 'warn' }, nodeOptions: ['--expose-gc', ...(process.env.BENCH_LAB_NODE_FLAGS?.split(' ').filter(Boolean) ?? [])] });
      const info = await l.call<{ url: string; port: number; seedMs: number; startMs: number }>('start', {
        dbFile, planFile, sessionSecret, clusters, quickIntervalSeconds, fullIntervalSeconds: 3600, seed, port, sync,
      });
      return { l, info };
    };

    await sim.call('resetStats');
    // Phase A measures passes alone: the live signals (task list, node lists) stay off.
    const first = await startLab(true, 3600, 0, { taskIntervalSeconds: 0, nodeListIntervalSeconds: 0 });
    lab = first.l;
    const url = first.info.url;
    log(`labdeck up at ${url} (seeded in ${(first.info.seedMs / 1000).toFixed(1)} s); waiting for the first full passes`);
    const full = await lab.call<{ wallMs: number; cpuMs: number; rows: number; perCluster: unknown }>('waitFullPasses', { timeoutMs: 600_000 }, 620_000);
    const fullStats = totalStats(await sim.call<Record<string, SimStats>>('stats'));
    result.fullPass = { wallMs: round(full.wallMs), cpuMs: round(full.cpuMs), rowsWritten: full.rows, proxmoxRequests: fullStats.requests, bytesFetched: fullStats.bytes, perCluster: full.perCluster };
    log(`first full pass (guest details for ${guests.length} new guests): ${(full.wallMs / 1000).toFixed(1)} s wall, ${(full.cpuMs / 1000).toFixed(1)} s CPU, ${fullStats.requests} Proxmox requests`);
    await mark('after the first full pass, no clients yet');

    const usernames = [...plan.admins, ...plan.classes.map((c) => c.teacher), ...plan.classes.flatMap((c) => c.students)];
    const cookies = await lab.call<Record<string, string>>('mintCookies', { usernames });
    const role = (u: string): FleetUser['role'] => (u.startsWith('admin') ? 'admin' : u.startsWith('teacher') ? 'teacher' : 'student');
    fleet = new Fleet(url, (u, vm) => { const e = ent.byUser.get(u); return e === 'all' || Boolean(e?.has(vm)); });
    const conn = await fleet.connect(usernames.map((u) => ({ username: u, role: role(u), cookie: cookies[u] })), { parallel: 50, timeoutMs: 20_000 });
    result.connections = { clients: usernames.length, connected: conn.connected, failed: conn.failed, ms: round(conn.ms, 0), errors: Object.fromEntries(fleet.connectErrors) };
    log(`${conn.connected}/${usernames.length} sockets connected in ${(conn.ms / 1000).toFixed(1)} s${conn.failed ? ` (errors: ${JSON.stringify(result.connections.errors)})` : ''}`);
    await mark(`${conn.connected} sockets connected`);

    // The admin's first load, as a browser would do it: the baseline for telling which fields a push changed.
    const first0 = await fetch(`${url}/api/vms`, { headers: { cookie: cookies[plan.admins[0]] } });
    fleet.setMirror(plan.admins[0], ((await first0.json()) as { vms: Array<{ id: string }> }).vms);
    const ctx: Ctx = {
      scale, sim, lab, clusters, url, fleet, cookies, plan, ent, guests, log,
      status: new Map(guests.map((g) => [key(g), g.status])), random: rng(42), heldSnapshots: true, touchedAt: new Map(),
    };
    if (!onlyLive) {
      log('1. quick passes');
      result.quickPasses = await benchPasses(ctx);
      log('2. reads under load');
      result.reads = await benchReads(ctx);
      await mark('after the read load');
      log('3. push: single changes');
      result.pushSingle = await benchSingleChanges(ctx);
      log('3. push: one pass with many changes');
      result.pushBatch = await benchBatch(ctx);
      await mark('after the pass with many changes');
      log('4. start through labdeck');
      result.startThroughLabdeck = await benchStarts(ctx);
      log("5. the seed's per-VM quick sync, one pass");
      result.seedPass = await benchSeedPass(ctx);
      result.memoryPhaseA = await lab.call<Usage>('usage');
      log(`   labdeck RSS now ${(result.memoryPhaseA.rss / 1048576).toFixed(0)} MB`);
      log('   CPU profiles: a quick pass with nothing changed, student reads, admin reads');
      result.profiles = await benchProfiles(ctx, outDir, stamp);
    }
    const [liveId] = deployedClusters(ctx);
    log(`restarting labdeck with the quick loop at ${scale.deployedQuickIntervalS} s ("as deployed"); ${liveId} answers live, the others with a ${scale.laggedPvestatdMs / 1000} s pvestatd`);
    await lab.stop();
    await sim.call('pvestatd', { modes: Object.fromEntries(clusters.map((c) => [c.id, c.id === liveId ? 0 : scale.laggedPvestatdMs])) });
    ctx.heldSnapshots = false;
    const restartAt = now();
    // Same port, same database: the sockets reconnect by themselves, as browsers would.
    const second = await startLab(false, scale.deployedQuickIntervalS, first.info.port);
    lab = second.l;
    ctx.lab = lab;
    const back = await fleet.waitAllConnected(90_000);
    result.reconnect = { allBack: back, connected: fleet.connectedCount(), ms: round(now() - restartAt, 0) };
    log(`${fleet.connectedCount()}/${usernames.length} sockets reconnected ${((now() - restartAt) / 1000).toFixed(1)} s after the restart began`);
    await lab.call('waitFullPasses', { timeoutMs: 600_000 }, 620_000);
    await mark('phase B: restarted, full pass done, sockets back');
    if (!onlyLive) {
      log(`5. side by side for ${scale.compareWindowMs / 1000} s: idle push vs polling, scheduled freshness`);
      result.deployed = await benchDeployed(ctx);
    }
    log('6. live signals at the default cadence (task list 2 s, 1 s for 10 s after a task change; node lists 4 s; snapshot 30 s)');
    result.liveSignals = await benchLiveSignals({
      scale, sim, lab, fleet, clusters, entitledOf: (vm) => entitledOf(ctx, vm), assigned: [...ent.byVm.keys()], random: ctx.random, log,
    });
    result.memoryPhaseB = await lab.call<Usage>('usage');
    await mark('phase B: end of the side-by-side window');
    result.leaks = { total: fleet.leaks.length, examples: fleet.leaks.slice(0, 5) };
    if (!onlyLive) {
      // The big simulator and labdeck go first: sections 7 and 8 measure on a quiet machine.
      fleet.close();
      await lab.stop();
      await sim.stop();
      Object.assign(result, await ownSections({ console: true, provision: true, instances: true }));
    }
    result.finishedAt = new Date().toISOString();
    result.durationS = round((now() - t0) / 1000, 1);
    result.machine = { ...machine, loadAvgEnd: machineInfo().loadAvgStart };
    result.targets = onlyLive ? [] : targetsOf(result as BenchResult);
    const json = join(outDir, `${stamp}.json`);
    writeFileSync(json, JSON.stringify(result, null, 2));
    if (!onlyLive) console.log('\n' + renderTable(result as BenchResult));
    else console.log(JSON.stringify(result.liveSignals, null, 2));
    log(`wrote ${json}`);
    if (writeResults) {
      writeResultsMarkdown(join(root, 'bench', 'RESULTS.md'), result as BenchResult);
      log('wrote bench/RESULTS.md');
    }
  } catch (err) {
    // Keep what was measured before the failure: a long run should not be lost to its last step.
    const partial = join(outDir, `${stamp}-partial.json`);
    writeFileSync(partial, JSON.stringify({ ...result, error: (err as Error).stack ?? String(err) }, null, 2));
    log(`failed; what was measured so far is in ${partial}`);
    throw err;
  } finally {
    fleet?.close();
    await lab?.stop();
    await sim.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (err) => {
  console.error(err);
  process.exit(1);
});
