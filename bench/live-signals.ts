// Section 6 of the bench: labdeck at its default cadence (task list 2 s, node lists 4 s, snapshot
// 30 s) with every cluster's pvestatd at the lagged interval. Idle: labdeck's CPU and what it asks
// of Proxmox per cluster per minute, next to one open Proxmox UI tab. Freshness: a Proxmox UI task
// → every entitled client (from the task's end), a shutdown from inside a guest → every entitled
// client (from the shutdown). Soak: random outside changes of both kinds for a while; at the end
// every entitled client shows the simulator's truth, and no client saw a VM's revisions go back.
// Development knobs (environment): BENCH_IDLE_PROFILE=file profiles a second idle window
// (BENCH_IDLE_HEAP=file samples its allocations; BENCH_IDLE_HEAP_PROMOTED=1 only those that outlived a young collection);
// BENCH_LIVE_IDLE_ONLY=1 stops after the idle figures.
import type { ChildRpc } from './ipc.js';
import type { Fleet } from './fleet.js';
import type { Scale } from './scale.js';
import type { PowerAction, SimClusterInfo, SimStats, Usage } from './protocol.js';
import { now, round, roundSummary, sample, sleep, summarize, waitFor, type Summary } from './stats.js';

export interface LiveCtx {
  scale: Scale;
  sim: ChildRpc;
  lab: ChildRpc;
  fleet: Fleet;
  clusters: SimClusterInfo[];
  /** Entitled users of a VM key (admins included). */
  entitledOf(vm: string): string[];
  /** VM keys some student is assigned. */
  assigned: string[];
  random: () => number;
  log(msg: string): void;
}

export interface LiveSignalsResult {
  pvestatdMs: number;
  idle: {
    windowMs: number;
    labdeckCpuPercent: number;
    /** Per cluster per minute, median over clusters. */
    requestsPerClusterPerMinute: number;
    byPathPerClusterPerMinute: Record<string, number>;
    kbPerClusterPerMinute: number;
    /** One open Proxmox UI tab: /cluster/resources and /cluster/tasks every 3 s each. */
    uiTab: { requestsPerMinute: number; kbPerMinute: number; resourcesKb: number; tasksKb: number };
    /**
     * The same CPU over the next window: the first one starts seconds after labdeck's restart and
     * its first full pass, while V8 still compiles hot code and collects the start's garbage.
     */
    steadyCpuPercent?: number;
    steadyWindowMs?: number;
  };
  uiTask: { samples: number; endToClientMs: Summary; notArrived: number; entitledPerChange: number };
  inGuest: { samples: number; changeToClientMs: Summary; notArrived: number };
  soak: {
    windowMs: number; changes: Record<string, number>; deliveriesChecked: number; missed: number; wrongAtEnd: number; revisionsBackwards: number;
    uiEndToClientMs: Summary; inGuestToClientMs: Summary;
  };
  signals: Record<string, { taskReads: number; nodeListReads: number; signalled: number; rollovers: number; errors: number }>;
}

type Truth = Record<string, { status: string; node: string }>;
const split = (k: string) => ({ cluster: k.slice(0, k.lastIndexOf(':')), vmid: Number(k.slice(k.lastIndexOf(':') + 1)) });

/** One outside change and when every entitled client first showed its outcome. */
async function change(ctx: LiveCtx, vm: string, status: string, kind: 'ui' | 'guest', r: number): Promise<{ kind: 'ui' | 'guest'; vm: string; at: number; since: number; expect: string }> {
  const { cluster, vmid } = split(vm);
  let action: PowerAction;
  if (kind === 'guest') action = 'shutdown';
  else action = status === 'running' ? (r < 0.5 ? 'shutdown' : 'stop') : 'start';
  const since = now();
  const { at } = await ctx.sim.call<{ at: number }>('outside', { cluster, vmid, action, via: kind });
  return { kind, vm, at, since, expect: action === 'start' ? 'running' : 'stopped' };
}

/** Per entitled client: arrival − change time, for the first arrival showing the outcome. */
function latencies(ctx: LiveCtx, c: { vm: string; at: number; since: number; expect: string }): { ms: number[]; missing: number } {
  const got = ctx.fleet.firstArrivals(c.vm, c.since, c.expect);
  const ms: number[] = [];
  let missing = 0;
  for (const u of ctx.entitledOf(c.vm)) {
    const a = got.get(u);
    if (a === undefined) missing++;
    else ms.push(Math.max(0, a - c.at));
  }
  return { ms, missing };
}

const allArrived = (ctx: LiveCtx, c: { vm: string; since: number; expect: string }) => {
  const got = ctx.fleet.firstArrivals(c.vm, c.since, c.expect);
  return ctx.entitledOf(c.vm).every((u) => got.has(u));
};

/** Runs section 6; labdeck must be running at its default signal cadence. */
export async function benchLiveSignals(ctx: LiveCtx): Promise<LiveSignalsResult> {
  const s = ctx.scale;
  const pvestatdMs = s.laggedPvestatdMs;
  await ctx.sim.call('pvestatd', { modes: Object.fromEntries(ctx.clusters.map((c) => [c.id, pvestatdMs])) });
  const tab = await ctx.sim.call<{ resources: number; tasks: number }>('uiTabBytes', { cluster: ctx.clusters[0].id });
  // Let earlier changes and their holds settle so the idle window is idle.
  await sleep(Math.min(15_000, pvestatdMs + 2000));

  ctx.log(`6a. idle for ${s.liveIdleMs / 1000} s at the default cadence`);
  await ctx.sim.call('resetStats');
  const u0 = await ctx.lab.call<Usage>('usage');
  const t0 = now();
  await sleep(s.liveIdleMs);
  const stats = await ctx.sim.call<Record<string, SimStats>>('stats');
  const u1 = await ctx.lab.call<Usage>('usage');
  const windowMs = now() - t0;
  const perMin = (x: number) => (x * 60_000) / windowMs;
  const ids = Object.keys(stats);
  const byPath: Record<string, number[]> = {};
  for (const id of ids) {
    for (const [path, n] of Object.entries(stats[id].byPath)) {
      // Node lists and guests differ per cluster: group their paths by shape.
      const shape = path.replace(/^\/nodes\/[^/]+\//, '/nodes/{node}/').replace(/\/\d+\//, '/{vmid}/');
      (byPath[shape] ??= []).push(perMin(n));
    }
  }
  const idle: LiveSignalsResult['idle'] = {
    windowMs: round(windowMs, 0),
    labdeckCpuPercent: round(((u1.cpuUserMs + u1.cpuSystemMs - u0.cpuUserMs - u0.cpuSystemMs) / windowMs) * 100, 2),
    requestsPerClusterPerMinute: round(summarize(ids.map((id) => perMin(stats[id].requests))).p50 ?? NaN, 1),
    byPathPerClusterPerMinute: Object.fromEntries(Object.entries(byPath).map(([p, xs]) => [p, round(xs.reduce((a, b) => a + b, 0) / ids.length, 1)])),
    kbPerClusterPerMinute: round(summarize(ids.map((id) => perMin(stats[id].bytesOut) / 1024)).p50 ?? NaN, 0),
    uiTab: { requestsPerMinute: 40, kbPerMinute: round((20 * (tab.resources + tab.tasks)) / 1024, 0), resourcesKb: round(tab.resources / 1024, 1), tasksKb: round(tab.tasks / 1024, 1) },
  };
  ctx.log(`   labdeck CPU ${idle.labdeckCpuPercent} %, ${idle.requestsPerClusterPerMinute} Proxmox requests and ${idle.kbPerClusterPerMinute} KB per cluster per minute (one UI tab: 40 requests, ${idle.uiTab.kbPerMinute} KB)`);
  {
    const t1 = now();
    await sleep(s.liveIdleMs);
    const u2 = await ctx.lab.call<Usage>('usage');
    idle.steadyWindowMs = round(now() - t1, 0);
    idle.steadyCpuPercent = round(((u2.cpuUserMs + u2.cpuSystemMs - u1.cpuUserMs - u1.cpuSystemMs) / (now() - t1)) * 100, 2);
    ctx.log(`   labdeck CPU over the next ${Math.round(idle.steadyWindowMs / 1000)} s (steady): ${idle.steadyCpuPercent} %`);
  }
  if (process.env.BENCH_IDLE_PROFILE) {
    // A CPU profile of another idle window (after the measured one: sampling costs CPU of its own).
    await ctx.lab.call('profileStart');
    await sleep(30_000);
    const p = await ctx.lab.call<{ totalMs: number; spots: Array<{ where: string; selfMs: number; percent: number }> }>(
      'profileStop', { file: process.env.BENCH_IDLE_PROFILE, root: process.cwd() });
    ctx.log(`   idle profile (${process.env.BENCH_IDLE_PROFILE}): ${p.totalMs} ms on the main thread in 30 s; ${p.spots.slice(0, 12).map((x) => `${x.percent} % ${x.where}`).join('; ')}`);
  }

  if (process.env.BENCH_IDLE_HEAP) {
    await ctx.lab.call('heapProfileStart', { promotedOnly: process.env.BENCH_IDLE_HEAP_PROMOTED === '1' });
    await sleep(30_000);
    await ctx.lab.call('heapProfileStop', { file: process.env.BENCH_IDLE_HEAP });
    ctx.log(`   idle allocation profile: ${process.env.BENCH_IDLE_HEAP}`);
  }
  if (process.env.BENCH_LIVE_IDLE_ONLY) {
    // Development only (measuring idle cost without the ~5 minutes of 6b and 6c): nothing else is measured.
    const none = roundSummary(summarize([]));
    const signals = await ctx.lab.call<LiveSignalsResult['signals']>('signalStats');
    return {
      pvestatdMs, idle, uiTask: { samples: 0, endToClientMs: none, notArrived: 0, entitledPerChange: 0 }, inGuest: { samples: 0, changeToClientMs: none, notArrived: 0 },
      soak: { windowMs: 0, changes: {}, deliveriesChecked: 0, missed: 0, wrongAtEnd: 0, revisionsBackwards: 0, uiEndToClientMs: none, inGuestToClientMs: none }, signals,
    };
  }

  ctx.log(`6b. ${s.liveSamples} Proxmox UI tasks and ${s.liveSamples} shutdowns from inside, at random moments`);
  let truth = await ctx.sim.call<Truth>('truth');
  const pool = sample(ctx.assigned, Math.min(ctx.assigned.length, s.liveSamples * 4), ctx.random);
  const running = pool.filter((k) => truth[k]?.status === 'running');
  const guestVms = running.slice(0, s.liveSamples);
  const uiVms = pool.filter((k) => !guestVms.includes(k) && truth[k]).slice(0, s.liveSamples);
  const spreadMs = s.liveSamples * 1000;
  const made = await Promise.all([
    ...uiVms.map((vm) => sleep(ctx.random() * spreadMs).then(() => change(ctx, vm, truth[vm].status, 'ui', ctx.random()))),
    ...guestVms.map((vm) => sleep(ctx.random() * spreadMs).then(() => change(ctx, vm, 'running', 'guest', 0))),
  ]);
  await waitFor(() => made.every((c) => allArrived(ctx, c)), 30_000, 100);
  const ui = made.filter((c) => c.kind === 'ui').map((c) => latencies(ctx, c));
  const guest = made.filter((c) => c.kind === 'guest').map((c) => latencies(ctx, c));
  const uiTask = {
    samples: ui.length, endToClientMs: roundSummary(summarize(ui.flatMap((x) => x.ms))), notArrived: ui.reduce((n, x) => n + x.missing, 0),
    entitledPerChange: round(uiVms.reduce((n, vm) => n + ctx.entitledOf(vm).length, 0) / Math.max(1, uiVms.length), 1),
  };
  const inGuest = { samples: guest.length, changeToClientMs: roundSummary(summarize(guest.flatMap((x) => x.ms))), notArrived: guest.reduce((n, x) => n + x.missing, 0) };
  ctx.log(`   UI task end → clients p50 ${uiTask.endToClientMs.p50} ms, p99 ${uiTask.endToClientMs.p99} ms; in-guest shutdown → clients p50 ${inGuest.changeToClientMs.p50} ms, p99 ${inGuest.changeToClientMs.p99} ms`);

  ctx.log(`6c. soak: random outside changes of both kinds for ${s.soakMs / 1000} s`);
  truth = await ctx.sim.call<Truth>('truth');
  const counts: Record<string, number> = { ui: 0, guest: 0 };
  const soakMade: Array<Awaited<ReturnType<typeof change>>> = [];
  let missed = 0;
  const busy = new Set<string>();
  const end = now() + s.soakMs;
  const slot = async (): Promise<void> => {
    while (now() < end) {
      const idleVms = ctx.assigned.filter((k) => !busy.has(k) && truth[k]);
      const vm = idleVms[Math.floor(ctx.random() * idleVms.length)];
      busy.add(vm);
      const st = truth[vm].status;
      const kind = st === 'running' && ctx.random() < 0.4 ? 'guest' : 'ui';
      const c = await change(ctx, vm, st, kind, ctx.random());
      counts[kind]++;
      soakMade.push(c);
      truth[vm] = { ...truth[vm], status: c.expect };
      // A person changes a guest again only once they can see the last change.
      if (!(await waitFor(() => allArrived(ctx, c), 30_000, 50))) missed++;
      busy.delete(vm);
      await sleep(ctx.random() * 1000);
    }
  };
  const soakT0 = now();
  await Promise.all(Array.from({ length: Math.max(2, Math.min(20, Math.floor(ctx.assigned.length / 4))) }, slot));
  const soakWindow = now() - soakT0;
  const finalTruth = await ctx.sim.call<Truth>('truth');
  let deliveriesChecked = 0;
  let wrongAtEnd = 0;
  let backwards = 0;
  for (const vm of new Set(soakMade.map((c) => c.vm))) {
    const arrivals = ctx.fleet.arrivalsOf(vm);
    for (const u of ctx.entitledOf(vm)) {
      const mine = arrivals.filter((a) => a.username === u);
      deliveriesChecked++;
      for (let i = 1; i < mine.length; i++) if (mine[i].revision < mine[i - 1].revision) backwards++;
      const last = mine.reduce<(typeof mine)[number] | null>((b, a) => (!b || a.revision > b.revision ? a : b), null);
      if (!last || last.status !== finalTruth[vm].status) wrongAtEnd++;
    }
  }
  const soakUi = soakMade.filter((c) => c.kind === 'ui').flatMap((c) => latencies(ctx, c).ms);
  const soakGuest = soakMade.filter((c) => c.kind === 'guest').flatMap((c) => latencies(ctx, c).ms);
  const soak = {
    windowMs: round(soakWindow, 0), changes: counts, deliveriesChecked, missed, wrongAtEnd, revisionsBackwards: backwards,
    uiEndToClientMs: roundSummary(summarize(soakUi)), inGuestToClientMs: roundSummary(summarize(soakGuest)),
  };
  ctx.log(`   ${counts.ui} UI tasks and ${counts.guest} in-guest shutdowns; missed ${missed}, wrong at the end ${wrongAtEnd} of ${deliveriesChecked}, revisions backwards ${backwards}`);
  const signals = await ctx.lab.call<LiveSignalsResult['signals']>('signalStats');
  return { pvestatdMs, idle, uiTask, inGuest, soak, signals };
}
