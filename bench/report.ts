// Turns a benchmark result into the figures-against-targets list, a plain-text table for stdout
// and bench/RESULTS.md (hand-written notes below the marker line survive a rewrite).
import { execSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fmtBytes, fmtInt, fmtMs, type Summary } from './stats.js';
import type { Scale } from './scale.js';
import type { Usage } from './protocol.js';
import type { LiveSignalsResult } from './live-signals.js';
import type { ConsoleBenchResult } from './console.js';
import type { InstancesBenchResult } from './instances.js';
import type { ProvisionBenchResult } from './provision.js';

export interface MachineInfo {
  nproc: number; cpuModel: string; memoryGiB: number; node: string; platform: string;
  loadAvgStart: number[]; loadAvgEnd?: number[]; gitCommit: string | null;
  /** Tracked files with uncommitted changes when the run started (the run uses the working tree). */
  uncommittedFiles: string[];
}

interface PassGroup {
  changedGuests: number; wallMs: Summary; cpuMs: Summary; rowsWritten: number[]; vmEvents: number[]; syncRunsRows: number[];
  proxmoxRequests: number[]; maxRequestsPerCluster: number[]; bytesFetched: number[]; fastLaneRequestsAfter: number[]; fastLaneSettled: boolean;
  unprovokedChanges?: { byField: Record<string, number>; examples: string[] };
}
interface ReadRole { concurrency: number; requests: number; errors: number; statuses: Record<string, number>; latencyMs: Summary; rps: number; bytesPerResponse: number | null; oneAtATimeMs: Summary }

/** The JSON a run writes (sections are filled as the run goes). */
export interface BenchResult {
  scale: Scale;
  machine: MachineInfo;
  startedAt: string;
  finishedAt: string;
  durationS: number;
  fullPass: { wallMs: number; cpuMs: number; rowsWritten: number; proxmoxRequests: number; bytesFetched: number; perCluster: unknown };
  connections: { clients: number; connected: number; failed: number; ms: number; errors: Record<string, number> };
  quickPasses: Record<string, PassGroup>;
  reads: Record<'student' | 'teacher' | 'admin', ReadRole>;
  pushSingle: {
    samples: number; entitledPerChange: number; commitToArrivalMs: Summary; changeToArrivalPvestatd0Ms: Summary; changeToArrivalStopMs: Summary; changeToArrivalStartMs: Summary;
    quickPassOneClusterWallMs: Summary; missingDeliveries: number; unexpectedReceivers: number; leaksDuring: number;
  };
  pushBatch: {
    changed: number; entitledPairs: number; studentsConcerned: number; passWallMs: number; rowsWritten: number; allDelivered: boolean;
    missingDeliveries: number; missedExamples: string[]; firstCommitToLastArrivalMs: number; passStartToLastArrivalMs: number; commitToArrivalMs: Summary;
    bytesReceivedPerClient: Record<string, Summary>;
  };
  startThroughLabdeck: { samples: number; taskDurationMs: number; httpStatuses: number[]; httpAnswerMs: Summary; clickToFinalPushMs: Summary; overTaskDurationMs: Summary; neverArrived: number };
  seedPass: { cluster: string; guests: number; seed: { requestsPerPass: number; bytesPerPass: number; wallMs: number; failures: number; concurrency: number }; labdeck: { requestsPerPass: number; bytesPerPass: number; wallMs: number } };
  reconnect: { allBack: boolean; connected: number; ms: number };
  deployed: {
    windowMs: number; quickIntervalS: number; pvestatdLagMs: number; changes: number;
    freshness: { changeToPushLaggedMs: Summary; changeToPushLiveMs: Summary; notArrived: number };
    polling: { pollers: number; intervalMs: number; polls: number; errors: number; changeToPollLaggedMs: Summary; changeToPollLiveMs: Summary; pollSeesItAfterPushMs: Summary };
    seedSync: { clusters: string[]; passes: number[]; passWallMs: Summary; changeToDetectLaggedMs: Summary; changeToDetectLiveMs: Summary };
    bytesPerClientPerMinute: { idleStudentSocket: Summary; idleStudents: number; studentsWithChanges: number; everyClientByRole: Record<string, Summary>; pollingStudent: Summary; ratioPollingToPush: number | null };
    proxmoxRequestsPerClusterPerMinute: { labdeck: Array<{ id: string; perMinute: number | null; changedHere: boolean }>; labdeckQuietClusterMedian: number | null; seedDesignModel: number | null; seedDesignMeasured: Array<{ id: string; perMinute: number | null }> };
    rowsWrittenPerMinute: number;
    labdeckCpuPercent: number | null;
  };
  profiles: Record<string, { totalMs: number; spots: Array<{ where: string; selfMs: number; percent: number }>; file: string }>;
  memoryTimeline: Array<{ label: string; rssMb: number; heapUsedMb: number; liveHeapMb: number }>;
  memoryPhaseA: Usage;
  memoryPhaseB: Usage;
  leaks: { total: number; examples: unknown[] };
  /** Section 6: the live signals at the default cadence (absent in runs before it existed). */
  liveSignals?: LiveSignalsResult;
  /** Section 7: consoles through the relay against straight to the simulator. */
  console?: ConsoleBenchResult;
  /** Section 9: three instances on one PostgreSQL database (absent without a PostgreSQL URL). */
  instances?: InstancesBenchResult;
  /** Section 8: a class's VMs cloned against the per-node bound. */
  provision?: ProvisionBenchResult;
  targets: Target[];
}

export interface Target { figure: string; target: string; measured: string; met: boolean | null }

/** What this machine is, for the record. */
export function machineInfo(): MachineInfo {
  let gitCommit: string | null = null;
  let uncommittedFiles: string[] = [];
  try {
    gitCommit = execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    uncommittedFiles = execSync('git status --porcelain --untracked-files=no', { stdio: ['ignore', 'pipe', 'ignore'] }).toString()
      .split('\n').filter(Boolean).map((l) => l.slice(3));
  } catch {
    gitCommit = null;
  }
  return {
    nproc: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    loadAvgStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
    gitCommit,
    uncommittedFiles,
  };
}

const mb = (b: number) => b / 1048576;

/** Each figure the issue names, against its target. */
export function targetsOf(r: BenchResult): Target[] {
  const idle = r.quickPasses['0%'];
  const t: Target[] = [];
  const guests = r.scale.clusters * r.scale.guestsPerCluster;
  if (idle) {
    t.push({ figure: `Quick pass, nothing changed: labdeck CPU (${fmtInt(guests)} guests), median of ${idle.cpuMs.n}`, target: '< 50 ms',
      measured: `${fmtMs(idle.cpuMs.p50)} (max ${fmtMs(idle.cpuMs.max)}; wall ${fmtMs(idle.wallMs.p50)})`, met: (idle.cpuMs.p50 ?? Infinity) < 50 });
    const rows = Math.max(...idle.rowsWritten);
    t.push({ figure: 'Quick pass, nothing changed: inventory rows written', target: '0',
      measured: `${rows} (vm_events ${Math.max(...idle.vmEvents)}, sync_runs bookkeeping rows ${Math.max(...idle.syncRunsRows)})`, met: rows === 0 });
    const maxReq = Math.max(...idle.maxRequestsPerCluster);
    t.push({ figure: 'Proxmox requests in a quick pass (nothing changed)', target: '1 per cluster',
      measured: `${maxReq} per cluster (${Math.max(...idle.proxmoxRequests)} for ${r.scale.clusters} clusters)`, met: maxReq === 1 });
  }
  const rs = r.reads.student, ra = r.reads.admin;
  t.push({ figure: `Student read GET /api/vms p99 (${rs.concurrency} concurrent)`, target: '< 5 ms',
    measured: `${fmtMs(rs.latencyMs.p99)} at ${fmtInt(rs.rps)} req/s (one at a time: p99 ${fmtMs(rs.oneAtATimeMs.p99)}, p50 ${fmtMs(rs.oneAtATimeMs.p50)})`, met: (rs.latencyMs.p99 ?? Infinity) < 5 });
  t.push({ figure: `Admin read of all ${fmtInt(guests)} p50 (${ra.concurrency} concurrent)`, target: '< 100 ms',
    measured: `${fmtMs(ra.latencyMs.p50)} (one at a time: ${fmtMs(ra.oneAtATimeMs.p50)}; ${fmtBytes(ra.bytesPerResponse)} each)`, met: (ra.latencyMs.p50 ?? Infinity) < 100 });
  t.push({ figure: `One change → every entitled client of ${fmtInt(r.connections.clients)}, p99 after commit`, target: '< 100 ms',
    measured: `${fmtMs(r.pushSingle.commitToArrivalMs.p99)} (p50 ${fmtMs(r.pushSingle.commitToArrivalMs.p50)}, n=${r.pushSingle.commitToArrivalMs.n})`,
    met: (r.pushSingle.commitToArrivalMs.p99 ?? Infinity) < 100 });
  const leaks = r.leaks.total + r.pushSingle.unexpectedReceivers;
  t.push({ figure: 'Changes reaching a client not entitled to them (whole run)', target: '0',
    measured: `${leaks} (missed deliveries to entitled clients: ${r.pushSingle.missingDeliveries + r.pushBatch.missingDeliveries})`,
    met: leaks === 0 && r.pushSingle.missingDeliveries + r.pushBatch.missingDeliveries === 0 });
  const b = r.deployed.bytesPerClientPerMinute;
  t.push({ figure: `Idle traffic per client per minute (the ${fmtInt(b.idleStudents)} students none of whose VMs changed)`, target: '< 1 KB',
    measured: `${fmtBytes(b.idleStudentSocket.p50)} (max ${fmtBytes(b.idleStudentSocket.max)})`, met: (b.idleStudentSocket.max ?? Infinity) < 1024 });
  const all = b.everyClientByRole.student;
  if (all) {
    t.push({ figure: 'Traffic per student per minute as deployed (every student, load changes of their VMs pushed too)', target: '< 1 KB',
      measured: `median ${fmtBytes(all.p50)}, p99 ${fmtBytes(all.p99)}`, met: (all.p50 ?? Infinity) < 1024 });
  }
  t.push({ figure: 'Polling design ÷ push, bytes per student per minute (idle students)', target: '≥ 100×',
    measured: b.ratioPollingToPush === null ? 'n/a' : `${fmtInt(b.ratioPollingToPush)}× (means: ${fmtBytes(b.pollingStudent.mean)} vs ${fmtBytes(b.idleStudentSocket.mean)})`,
    met: b.ratioPollingToPush === null ? null : b.ratioPollingToPush >= 100 });
  if (all?.mean && b.pollingStudent.mean) {
    const ratio = b.pollingStudent.mean / all.mean;
    t.push({ figure: 'Polling design ÷ push, bytes per student per minute (every student, as deployed)', target: '≥ 100×',
      measured: `${fmtInt(ratio)}× (means: ${fmtBytes(b.pollingStudent.mean)} vs ${fmtBytes(all.mean)})`, met: ratio >= 100 });
  }
  t.push(...liveTargets(r));
  const rss = Math.max(r.memoryPhaseA.rss, r.memoryPhaseB.rss);
  t.push({ figure: 'labdeck resident memory, steady state', target: '< 300 MB',
    measured: `${mb(rss).toFixed(0)} MB (peak RSS ${mb(Math.max(r.memoryPhaseA.maxRss, r.memoryPhaseB.maxRss)).toFixed(0)} MB)`, met: rss < 300 * 1048576 });
  return t;
}

/** Section 6's targets: freshness of outside changes, idle CPU and load on Proxmox at the defaults. */
export function liveTargets(r: Pick<BenchResult, 'liveSignals' | 'scale' | 'connections'>): Target[] {
  const l = r.liveSignals;
  if (!l) return [];
  const guests = r.scale.clusters * r.scale.guestsPerCluster;
  const ui = l.uiTask.endToClientMs, ig = l.inGuest.changeToClientMs;
  const delivered = (missing: number) => (missing ? `; ${missing} deliveries never arrived` : '');
  return [
    { figure: `Proxmox UI task → every entitled client, after the task ends (pvestatd ${l.pvestatdMs / 1000} s, ${l.uiTask.samples} tasks × ~${l.uiTask.entitledPerChange} clients)`, target: 'p99 ≤ 2 s',
      measured: `p99 ${fmtMs(ui.p99)} (p50 ${fmtMs(ui.p50)}, max ${fmtMs(ui.max)}, n=${ui.n}${delivered(l.uiTask.notArrived)})`, met: (ui.p99 ?? Infinity) <= 2000 && l.uiTask.notArrived === 0 },
    { figure: `Shutdown from inside a guest (no task) → every entitled client (${l.inGuest.samples} guests)`, target: 'p99 ≤ 5 s',
      measured: `p99 ${fmtMs(ig.p99)} (p50 ${fmtMs(ig.p50)}, max ${fmtMs(ig.max)}, n=${ig.n}${delivered(l.inGuest.notArrived)})`, met: (ig.p99 ?? Infinity) <= 5000 && l.inGuest.notArrived === 0 },
    { figure: `labdeck idle CPU at ${fmtInt(guests)} guests, default cadence`, target: '< 5 % of one core',
      measured: `${l.idle.labdeckCpuPercent} % over ${Math.round(l.idle.windowMs / 1000)} s${l.idle.steadyCpuPercent === undefined ? '' : `; the next ${Math.round((l.idle.steadyWindowMs ?? 0) / 1000)} s (steady): ${l.idle.steadyCpuPercent} %`}`, met: l.idle.labdeckCpuPercent < 5 },
    { figure: 'Proxmox requests per cluster per minute at idle (one open Proxmox UI tab: 40, i.e. resources + tasks every 3 s)', target: 'stated',
      measured: `${l.idle.requestsPerClusterPerMinute} requests, ${fmtInt(l.idle.kbPerClusterPerMinute)} KB (UI tab: 40 requests, ${fmtInt(l.idle.uiTab.kbPerMinute)} KB)`, met: null },
    { figure: `Soak: ${Math.round(l.soak.windowMs / 1000)} s of outside changes (${l.soak.changes.ui} UI tasks, ${l.soak.changes.guest} in-guest shutdowns)`, target: 'every client ends on the truth, nothing missed or reordered',
      measured: `${l.soak.wrongAtEnd} wrong of ${fmtInt(l.soak.deliveriesChecked)} client views, ${l.soak.missed} missed, ${l.soak.revisionsBackwards} out of order`,
      met: l.soak.wrongAtEnd === 0 && l.soak.missed === 0 && l.soak.revisionsBackwards === 0 },
  ];
}

const s = (x: Summary, f: (v: number | null) => string = fmtMs) => `p50 ${f(x.p50)}, p99 ${f(x.p99)}, max ${f(x.max)} (n=${x.n})`;

/** Every figure as [section, label, value] rows. */
function rows(r: BenchResult): Array<[string, string, string]> {
  const out: Array<[string, string, string]> = [];
  const add = (sec: string, label: string, value: string) => out.push([sec, label, value]);
  add('1 sync', 'first full pass, all guests new (details for each)', `${fmtMs(r.fullPass.wallMs)} wall, ${fmtMs(r.fullPass.cpuMs)} CPU, ${fmtInt(r.fullPass.proxmoxRequests)} Proxmox requests, ${fmtBytes(r.fullPass.bytesFetched)} fetched, ${fmtInt(r.fullPass.rowsWritten)} rows`);
  for (const [k, g] of Object.entries(r.quickPasses)) {
    add('1 sync', `quick pass, ${k} changed (${fmtInt(g.changedGuests)} guests)`,
      `wall p50 ${fmtMs(g.wallMs.p50)} / max ${fmtMs(g.wallMs.max)}; CPU p50 ${fmtMs(g.cpuMs.p50)} / max ${fmtMs(g.cpuMs.max)}; rows ${g.rowsWritten.join(',')}; requests ${g.proxmoxRequests.join(',')}; fetched ${fmtBytes(g.bytesFetched[0])}/pass; fast-lane requests after ${g.fastLaneRequestsAfter.join(',')}`);
    if (g.unprovokedChanges && Object.keys(g.unprovokedChanges.byField).length) {
      add('1 sync', `fields pushed in passes where nothing was changed`, `${JSON.stringify(g.unprovokedChanges.byField)}; e.g. ${g.unprovokedChanges.examples.slice(0, 3).join('; ')}`);
    }
  }
  add('1 sync', `inventory rows written per minute by the loop at ${r.deployed.quickIntervalS} s (side-by-side window, ${r.deployed.changes} status changes made)`, fmtInt(r.deployed.rowsWrittenPerMinute));
  for (const role of ['student', 'teacher', 'admin'] as const) {
    const x = r.reads[role];
    add('2 reads', `GET /api/vms as ${role} (${x.concurrency} concurrent)`, `${s(x.latencyMs)}; ${fmtInt(x.rps)} req/s; ${fmtBytes(x.bytesPerResponse)}/response; errors ${x.errors}`);
    add('2 reads', `GET /api/vms as ${role}, one request at a time`, s(x.oneAtATimeMs));
  }
  const p = r.pushSingle;
  add('3 push', `one change, commit → each entitled client (${p.entitledPerChange} per change)`, s(p.commitToArrivalMs));
  add('3 push', 'one change, receivers not entitled / entitled missed', `${p.unexpectedReceivers} / ${p.missingDeliveries}`);
  const bt = r.pushBatch;
  add('3 push', `${fmtInt(bt.changed)} changes in one pass (${fmtInt(bt.entitledPairs)} client×VM deliveries)`,
    `first commit → last arrival ${fmtMs(bt.firstCommitToLastArrivalMs)}; pass start → last arrival ${fmtMs(bt.passStartToLastArrivalMs)}; per delivery ${s(bt.commitToArrivalMs)}; all delivered: ${bt.allDelivered}`);
  if (bt.missedExamples.length) add('3 push', 'deliveries that never came (examples)', bt.missedExamples.join('; '));
  for (const [role, x] of Object.entries(bt.bytesReceivedPerClient)) add('3 push', `bytes received in that pass per ${role}`, s(x, fmtBytes));
  add('3 push', 'changes reaching a non-entitled client (whole run)', String(r.leaks.total));
  add('4 freshness', 'change in Proxmox → client, pvestatd 0, pass right after (labdeck\'s own share)', s(p.changeToArrivalPvestatd0Ms));
  add('4 freshness', '  of which: guest stopped / guest started', `${s(p.changeToArrivalStopMs)} / ${s(p.changeToArrivalStartMs)}`);
  const d = r.deployed;
  add('4 freshness', `change → client, pvestatd ${d.pvestatdLagMs / 1000} s, loop every ${d.quickIntervalS} s`, s(d.freshness.changeToPushLaggedMs));
  add('4 freshness', `change → client, pvestatd 0, loop every ${d.quickIntervalS} s`, s(d.freshness.changeToPushLiveMs));
  const st = r.startThroughLabdeck;
  add('4 freshness', `start through labdeck → final state pushed, minus the ${st.taskDurationMs} ms task`, `${s(st.overTaskDurationMs)}; HTTP answer ${s(st.httpAnswerMs)}; statuses ${st.httpStatuses.join(',')}`);
  const b = d.bytesPerClientPerMinute;
  add('5 vs seed', 'bytes per client per minute: idle push socket (student)', s(b.idleStudentSocket, fmtBytes));
  add('5 vs seed', `bytes per client per minute: polling every ${d.polling.intervalMs / 1000} s (student)`, s(b.pollingStudent, fmtBytes));
  for (const [role, x] of Object.entries(b.everyClientByRole)) add('5 vs seed', `bytes per minute received by every ${role} socket in that window (load drift included)`, s(x, fmtBytes));
  add('5 vs seed', 'ratio polling ÷ push (means)', b.ratioPollingToPush === null ? 'n/a' : `${fmtInt(b.ratioPollingToPush)}×`);
  const q = d.proxmoxRequestsPerClusterPerMinute;
  add('5 vs seed', 'Proxmox requests per cluster per minute: labdeck (quiet cluster median)', `${q.labdeckQuietClusterMedian ?? 'n/a'}; all: ${q.labdeck.map((x) => `${x.id} ${x.perMinute}`).join(', ')}`);
  add('5 vs seed', "Proxmox requests per cluster per minute: seed's per-VM sync", `measured ${q.seedDesignMeasured.map((x) => `${x.id} ${fmtInt(x.perMinute)}`).join(', ')}; (1 + guests) per pass every ${d.quickIntervalS} s would be ${fmtInt(q.seedDesignModel)}`);
  add('5 vs seed', `one quick pass on ${r.seedPass.cluster} (${fmtInt(r.seedPass.guests)} guests): seed vs labdeck`,
    `${fmtInt(r.seedPass.seed.requestsPerPass)} vs ${r.seedPass.labdeck.requestsPerPass} requests, ${fmtBytes(r.seedPass.seed.bytesPerPass)} vs ${fmtBytes(r.seedPass.labdeck.bytesPerPass)}, ${fmtMs(r.seedPass.seed.wallMs)} vs ${fmtMs(r.seedPass.labdeck.wallMs)}`);
  add('5 vs seed', 'staleness: polling browser sees a change after labdeck pushed it', s(d.polling.pollSeesItAfterPushMs));
  add('5 vs seed', `staleness: seed's sync notices a change (pvestatd-lagged / live cluster)`, `${s(d.seedSync.changeToDetectLaggedMs)} / ${s(d.seedSync.changeToDetectLiveMs)}; its pass takes ${s(d.seedSync.passWallMs)}`);
  add('6 memory', 'labdeck RSS after phase A / after phase B', `${mb(r.memoryPhaseA.rss).toFixed(0)} MB / ${mb(r.memoryPhaseB.rss).toFixed(0)} MB (heap ${mb(r.memoryPhaseB.heapUsed).toFixed(0)} MB; peak RSS ${mb(Math.max(r.memoryPhaseA.maxRss, r.memoryPhaseB.maxRss)).toFixed(0)} MB)`);
  add('6 memory', 'labdeck RSS / heap used / heap live after a forced GC, over the run', r.memoryTimeline.map((m) => `${m.label}: ${m.rssMb} / ${m.heapUsedMb} / ${m.liveHeapMb} MB`).join('; '));
  add('6 memory', `labdeck CPU during the ${Math.round(d.windowMs / 1000)} s side-by-side window`, `${d.labdeckCpuPercent}% of one core`);
  add('-', 'sockets connected / reconnected after restart', `${r.connections.connected}/${r.connections.clients} in ${fmtMs(r.connections.ms)} / ${r.reconnect.connected} in ${fmtMs(r.reconnect.ms)}`);
  const l = r.liveSignals;
  if (l) {
    const paths = Object.entries(l.idle.byPathPerClusterPerMinute).map(([p, n]) => `${p} ${n}`).join(', ');
    add('6 live', 'idle at the default cadence: Proxmox requests per cluster per minute, by path', paths);
    add('6 live', 'one open Proxmox UI tab, per cluster per minute (resources + tasks every 3 s)', `40 requests, ${fmtInt(l.idle.uiTab.kbPerMinute)} KB (one /cluster/resources ${l.idle.uiTab.resourcesKb} KB, one /cluster/tasks ${l.idle.uiTab.tasksKb} KB)`);
    add('6 live', 'Proxmox UI task end → every entitled client', s(l.uiTask.endToClientMs));
    add('6 live', 'shutdown from inside a guest → every entitled client', s(l.inGuest.changeToClientMs));
    add('6 live', 'soak: UI task end → client / in-guest shutdown → client', `${s(l.soak.uiEndToClientMs)} / ${s(l.soak.inGuestToClientMs)}`);
    const sig = Object.values(l.signals);
    add('6 live', 'signals over the run (all clusters): task list reads, node list reads, guests signalled, rollovers, errors',
      ['taskReads', 'nodeListReads', 'signalled', 'rollovers', 'errors'].map((k) => fmtInt(sig.reduce((n, x) => n + (x as unknown as Record<string, number>)[k], 0))).join(' / '));
  }
  return out;
}

/** Plain-text table for stdout. */
export function renderTable(r: BenchResult): string {
  const lines: string[] = [];
  lines.push('Targets');
  for (const t of r.targets) lines.push(`  ${t.met === null ? '  ?' : t.met ? ' ok' : 'MISS'}  ${t.figure}: ${t.measured}  [target ${t.target}]`);
  lines.push('');
  let sec = '';
  for (const [section, label, value] of rows(r)) {
    if (section !== sec) { lines.push(section === '-' ? 'Other' : `Section ${section}`); sec = section; }
    lines.push(`  ${label}: ${value}`);
  }
  return lines.join('\n');
}

/** How each figure was taken, so nobody has to read the harness to trust a number. */
function definitions(r: BenchResult): string[] {
  const d = r.deployed;
  return [
    '- **Processes.** The simulator, labdeck (`startLabdeck` on port 0, a fresh SQLite file) and the harness (all socket.io clients, the read load, the polling browsers, the seed\'s sync) are three processes. labdeck\'s CPU and RSS come from `process.cpuUsage()` / `process.memoryUsage()` inside its own process, read over IPC.',
    `- **Clusters and pvestatd.** All ${r.scale.clusters} clusters are one simulator whose pvestatd snapshots the harness drives through \`refreshNow()\`. Phase A holds every snapshot: it moves only when the harness changes a guest (it then refreshes that cluster) or, before a measured pass with changes, lets the load drift since the last snapshot show and has labdeck take it in with an unmeasured pass. So "0 % changed" means nothing changed at all, and a pass with changes writes the harness's changes plus only milliseconds of drift. Phase B is as deployed: ${r.scale.name === 'full' ? 'lab-01' : 'the first cluster'} answers live (pvestatd 0; load drift at most once a second) and every other cluster broadcasts every ${r.scale.laggedPvestatdMs / 1000} s at a random phase, like real pvestatd.`,
    '- **Quick pass (1).** Phase A runs labdeck with both loop intervals at 3600 s, so no pass runs unless the harness triggers it. Each figure is one `sync.trigger({kind:"quick"})` over all clusters: wall time and CPU time measured around it inside labdeck\'s process (so the CPU includes anything else labdeck did meanwhile: idle sockets, the push of that pass\'s changes); rows written = revisions taken (every written inventory row takes one); Proxmox requests and bytes = the simulator\'s own counters for the pass. Changed guests are started or stopped in the simulator just before the pass. "Fast-lane requests after" are the per-guest calls labdeck makes after the pass until its fast lane is empty. "Fields pushed where nothing was changed" lists what labdeck wrote and pushed although the harness changed nothing (simulated cpu/memory wander), taken from an admin\'s view (first `GET /api/vms`, then every push).',
    '- **First full pass.** From `startLabdeck` until every cluster finished its first full pass on an empty inventory, so every guest is new and gets its details (config, guest agent or LXC interfaces, TCP probes).',
    `- **Reads (2).** Closed-loop workers, each with its own session cookie and \`Accept-Encoding: gzip\` as a browser sends it (bytes per response are as received), \`GET /api/vms\` for the read duration; latency is from sending the request to the last byte of the body, at the harness; "one at a time" repeats the read with a single worker, which shows the service time without queueing. A student sees ${r.scale.vmsPerStudent} VMs, a teacher their class pool, the admin every guest.`,
    '- **Push (3).** "Commit" is the moment labdeck\'s change feed announced the change, which the sync loop does right after its transaction commits (a bench-only listener, prepended so it runs first, stamps it). "Arrival" is when the `vm:changed` event reached a client\'s socket in the harness process. Both clocks are this machine\'s wall clock (`performance.timeOrigin + performance.now()`). Every client checks every VM it receives against the seed plan (assigned student, teacher of the class, admins) for the whole run: any other receipt is a leak. Bytes are what each client\'s TCP connection received (WebSocket frames and headers, without TCP/IP headers).',
    '- **Own share (4).** A guest is started or stopped in the simulator on a live cluster, and a quick pass of its cluster is triggered at once: change → arrival is then labdeck\'s own work (fetch, diff, details of a changed guest, commit, push), without the wait for the next loop tick and without pvestatd\'s lag.',
    `- **As deployed (4, 5).** Phase B restarts labdeck on the same port and database with the quick loop at ${d.quickIntervalS} s (full at 3600 s); the sockets reconnect by themselves. For ${Math.round(d.windowMs / 1000)} s, ${d.polling.pollers} students also run a polling browser (\`GET /api/vms\` every ${d.polling.intervalMs / 1000} s), and the seed's sync (list the guests, then \`status/current\` for each, every ${d.quickIntervalS} s or back to back when slower) runs against the clusters those students use. Each of those students gets one change at a random moment. "Idle" students are those who received no VM change in the window: their bytes are the socket's own keep-alive; "every student" also counts the load (cpu/memory) changes of their VMs that labdeck pushes. Proxmox requests per cluster per minute for labdeck are the simulator's counts minus the seed sync's own requests; the seed model is (1 + guests) requests per pass at that interval.`,
    '- **Memory (6).** Resident set size of the labdeck process (`process.memoryUsage().rss`) at the end of phase A (all clients connected, after reads, pushes, starts) and at the end of phase B; the target is judged on the larger. The timeline also forces a full GC at its marked moments (labdeck\'s child runs with `--expose-gc` for this only) to show how much of the heap is live data; the two steady-state readings are taken before their moment\'s GC.',
    '- **Start through labdeck.** A student `POST /api/vm/:vmid/start` on a stopped VM; from sending the request to the student\'s socket receiving the VM with status `running`, minus the simulated task duration.',
    '- **Live signals (section 6).** Phase A runs with the task list and node lists off (it measures passes alone); phase B at the defaults (task list every 2 s, every 1 s for 10 s after a task started or ended; node lists every 4 s where guests run; snapshot every 30 s). Section 6 sets every cluster\'s pvestatd to the lagged interval, waits for earlier changes to settle, then: idle for a window (labdeck\'s CPU from `process.cpuUsage()`, Proxmox requests and bytes per cluster from the simulator\'s counters; a Proxmox UI tab is 20 `/cluster/resources` + 20 `/cluster/tasks` a minute, bytes from one of each fetched from the same cluster); then outside changes on VMs assigned to students at random moments: a Proxmox UI task (start, stop or shutdown) measured from the moment the task ended in the simulator to each entitled client\'s first push showing the outcome, and a shutdown from inside a guest (no task) measured from the shutdown; then the soak: up to 20 changes in flight of both kinds, each guest changed again only after all its entitled clients showed its last change; at the end every entitled client\'s latest push of each changed VM must show the simulator\'s status, and no client may have received a VM\'s revisions out of order.',
  ];
}

const KEEP = '<!-- Notes below this line are written by hand and kept when the bench rewrites this file. -->';

/** Rewrites bench/RESULTS.md with this run, keeping the hand-written notes under the marker. */
export function writeResultsMarkdown(file: string, r: BenchResult): void {
  const kept = existsSync(file) && readFileSync(file, 'utf8').includes(KEEP) ? readFileSync(file, 'utf8').split(KEEP)[1] : '\n';
  const m = r.machine;
  const esc = (x: string) => x.replace(/\|/g, '\\|');
  const md: string[] = [];
  md.push('# labdeck benchmark: latest full run', '');
  md.push(`Written by \`npm run bench\` (${r.scale.name} run) on ${r.finishedAt}, commit ${m.gitCommit ?? 'unknown'}` +
    `${m.uncommittedFiles?.length ? ` plus uncommitted changes in ${m.uncommittedFiles.map((f) => `\`${f}\``).join(', ')}` : ''}, in ${Math.round(r.durationS)} s.`, '');
  md.push(`Machine: ${m.nproc} cores (${m.cpuModel}), ${m.memoryGiB} GiB, Node ${m.node}, ${m.platform}. ` +
    `Load average (1/5/15 min) at start ${m.loadAvgStart.join(' / ')}, at end ${(m.loadAvgEnd ?? []).join(' / ')}. ` +
    'The simulator, labdeck and the harness (clients, load) each run in their own process on these cores.', '');
  md.push(`Shape: ${r.scale.clusters} simulated clusters × ${fmtInt(r.scale.guestsPerCluster)} guests; ${fmtInt(r.connections.clients)} socket.io clients ` +
    `(${r.scale.classes * r.scale.studentsPerClass} students in ${r.scale.classes} classes of ${r.scale.studentsPerClass}, ${r.scale.vmsPerStudent} VMs each; ${r.scale.classes} teachers; ${r.scale.admins} admin).`, '');
  md.push('## Figures against targets', '', '| Figure | Target | Measured | Met |', '|---|---|---|---|');
  for (const t of r.targets) md.push(`| ${esc(t.figure)} | ${esc(t.target)} | ${esc(t.measured)} | ${t.met === null ? '?' : t.met ? 'yes' : '**no**'} |`);
  md.push('', '## All figures', '', '| Section | Figure | Value |', '|---|---|---|');
  for (const [section, label, value] of rows(r)) md.push(`| ${section} | ${esc(label)} | ${esc(value)} |`);
  md.push('', '## Where labdeck\'s CPU goes (profiles taken in the same run)', '');
  for (const [name, p] of Object.entries(r.profiles ?? {})) {
    md.push(`**${name}** (${fmtMs(p.totalMs)} of CPU sampled; file \`${p.file.split('/').pop()}\` in bench/out):`, '', '| Self time | Share | Function |', '|---|---|---|');
    for (const x of p.spots.slice(0, 10)) md.push(`| ${fmtMs(x.selfMs)} | ${x.percent}% | \`${esc(x.where)}\` |`);
    md.push('');
  }
  md.push('## What each number means', '', ...definitions(r), '', KEEP);
  writeFileSync(file, md.join('\n') + kept.replace(/^\n?/, '\n'));
}
