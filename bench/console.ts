// Section 7 of the bench (`npm run bench -- --only-console`): consoles through labdeck's relay.
// Open time: the student's request (POST /api/vm/:vmid/console) → the first full framebuffer
// frame over the relay, against the same steps straight to the simulator (vncproxy →
// vncwebsocket → RFB). Then N consoles at once, through the relay and straight to the simulator
// in turn: throughput (full non-incremental frames back to back) and latency (a 1×1 update asked
// for and answered, one at a time per console), so that the relay's cost is the difference.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { ChildRpc } from './ipc.js';
import { RfbClient } from '../server/simulator/console/rfb-client.js';
import { now, round, roundSummary, summarize, type Summary } from './stats.js';
import type { SeedPlan, SimClusterInfo, SimGuestBrief, Usage } from './protocol.js';

export interface ConsoleShape {
  /** Consoles open at once for throughput and latency. */
  consoles: number;
  /** Sequential opens measured per path. */
  openSamples: number;
  /** Length of each throughput and latency window, per path. */
  windowMs: number;
}

export const consoleShapes = {
  full: { consoles: 20, openSamples: 40, windowMs: 8000 },
  quick: { consoles: 20, openSamples: 20, windowMs: 4000 },
  tiny: { consoles: 3, openSamples: 3, windowMs: 600 },
} satisfies Record<string, ConsoleShape>;

interface PathFigures {
  /** Each console's open time when all N were opened at once. */
  concurrentOpenMs: Summary;
  /** All consoles together: framebuffer bytes per second and full frames per second. */
  throughputMBps: number;
  framesPerSecond: number;
  /** A 1×1 update request → its answer, per console, with the other consoles doing the same. */
  roundTripMs: Summary;
  errors: number;
}

export interface ConsoleBenchResult {
  shape: ConsoleShape;
  frameBytes: number;
  /** Request → first full frame, one console at a time. */
  openMs: { relay: Summary; direct: Summary };
  relay: PathFigures;
  direct: PathFigures;
  /** relay minus direct, medians and p99s of the round trip. */
  addedLatencyMs: { p50: number | null; p99: number | null };
  /** labdeck's CPU (user + system) while it relayed the throughput window, as a share of one core. */
  labdeckCpuPercentDuringThroughput: number;
  simulatorCpuPercentDuringThroughput: number;
}

/** Counts FramebufferUpdate messages in an RFB byte stream without decoding pixels. */
class UpdateCounter {
  private need = 4;
  private state: 'head' | 'rect' | 'pixels' = 'head';
  private rects = 0;
  private head = Buffer.alloc(0);
  bytes = 0;
  private onUpdate: (() => void) | null = null;

  constructor(ws: WebSocket) {
    ws.removeAllListeners('message');
    ws.on('message', (d: Buffer) => this.feed(d));
  }

  /** Resolves when the next complete update has arrived. */
  next(): Promise<void> {
    return new Promise((resolve) => { this.onUpdate = resolve; });
  }

  private done(): void {
    const cb = this.onUpdate;
    this.onUpdate = null;
    cb?.();
  }

  private feed(d: Buffer): void {
    this.bytes += d.length;
    let at = 0;
    while (at < d.length) {
      if (this.state === 'pixels') {
        const take = Math.min(this.need, d.length - at);
        this.need -= take;
        at += take;
        if (this.need === 0) this.endRect();
        continue;
      }
      const take = Math.min(this.need - this.head.length, d.length - at);
      this.head = Buffer.concat([this.head, d.subarray(at, at + take)]);
      at += take;
      if (this.head.length < this.need) continue;
      if (this.state === 'head') {
        if (this.head[0] !== 0) throw new Error(`unexpected RFB message ${this.head[0]}`);
        this.rects = this.head.readUInt16BE(2);
        this.head = Buffer.alloc(0);
        if (this.rects === 0) this.done();
        else { this.state = 'rect'; this.need = 12; }
      } else {
        const pixels = this.head.readUInt16BE(4) * this.head.readUInt16BE(6) * 4;
        this.head = Buffer.alloc(0);
        this.state = 'pixels';
        this.need = pixels;
        if (pixels === 0) this.endRect();
      }
    }
  }

  private endRect(): void {
    this.rects--;
    if (this.rects > 0) { this.state = 'rect'; this.need = 12; return; }
    this.state = 'head';
    this.need = 4;
    this.done();
  }
}

function updateRequest(x: number, y: number, w: number, h: number): Buffer {
  const b = Buffer.alloc(10);
  b.writeUInt8(3, 0);
  b.writeUInt8(0, 1);
  b.writeUInt16BE(x, 2);
  b.writeUInt16BE(y, 4);
  b.writeUInt16BE(w, 6);
  b.writeUInt16BE(h, 8);
  return b;
}

interface OpenConsole { ws: WebSocket; counter: UpdateCounter; width: number; height: number; openMs: number }

/** Opens the WebSocket with its RFB reader attached in the open event: the server's first bytes may follow at once. */
function openWs(url: string, headers: Record<string, string>): Promise<{ ws: WebSocket; rfb: RfbClient }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['binary'], { headers, perMessageDeflate: false });
    ws.once('open', () => resolve({ ws, rfb: new RfbClient(ws) }));
    ws.once('unexpected-response', (_req, res) => { reject(new Error(`console refused: HTTP ${res.statusCode}`)); res.resume(); });
    ws.once('error', reject);
  });
}

/** Handshake, then one full frame; `t0` is when the request began. */
async function firstFrame({ ws, rfb }: { ws: WebSocket; rfb: RfbClient }, password: string, t0: number): Promise<OpenConsole> {
  const init = await rfb.handshake(password);
  const counter = new UpdateCounter(ws);
  const frame = counter.next();
  ws.send(updateRequest(0, 0, init.width, init.height));
  await frame;
  return { ws, counter, width: init.width, height: init.height, openMs: now() - t0 };
}

/** A console as the browser gets it: labdeck's link, then its relay. */
async function openRelay(base: string, cookie: string, cluster: string, vmid: number): Promise<OpenConsole> {
  const t0 = now();
  const res = await fetch(`${base}/api/vm/${vmid}/console?cluster=${cluster}`, { method: 'POST', headers: { cookie, origin: base } });
  if (res.status !== 200) throw new Error(`console link refused: ${res.status} ${await res.text()}`);
  const link = (await res.json()) as { url: string; password: string };
  return firstFrame(await openWs(base.replace(/^http/, 'ws') + link.url, { cookie, origin: base }), link.password, t0);
}

/** The same console straight from the simulator with the API token (what labdeck itself does upstream). */
async function openDirect(c: SimClusterInfo, node: string, vmid: number): Promise<OpenConsole> {
  const t0 = now();
  const auth = `PVEAPIToken=${c.tokenId}=${c.tokenSecret}`;
  const path = `/api2/json/nodes/${node}/qemu/${vmid}`;
  const res = await fetch(`${c.url}${path}/vncproxy`, {
    method: 'POST', headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' }, body: 'websocket=1',
  });
  if (res.status !== 200) throw new Error(`vncproxy refused: ${res.status} ${await res.text()}`);
  const { data } = (await res.json()) as { data: { port: number | string; ticket: string; password?: string } };
  const opened = await openWs(`${c.url.replace(/^http/, 'ws')}${path}/vncwebsocket?port=${data.port}&vncticket=${encodeURIComponent(data.ticket)}`, { authorization: auth });
  return firstFrame(opened, data.password ?? data.ticket, t0);
}

function closeAll(list: OpenConsole[]): Promise<void> {
  return Promise.all(list.map((c) => new Promise<void>((r) => {
    if (c.ws.readyState === WebSocket.CLOSED) return r();
    c.ws.once('close', () => r());
    c.ws.close();
  }))).then(() => undefined);
}

/** Every console asks for full frames back to back until the window ends. */
async function throughput(list: OpenConsole[], windowMs: number): Promise<{ bytes: number; frames: number; ms: number; errors: number }> {
  const start = now();
  const end = start + windowMs;
  const before = list.reduce((n, c) => n + c.counter.bytes, 0);
  let frames = 0, errors = 0;
  await Promise.all(list.map(async (c) => {
    try {
      while (now() < end) {
        const f = c.counter.next();
        c.ws.send(updateRequest(0, 0, c.width, c.height));
        await f;
        frames++;
      }
    } catch {
      errors++;
    }
  }));
  return { bytes: list.reduce((n, c) => n + c.counter.bytes, 0) - before, frames, ms: now() - start, errors };
}

/** Every console asks for a 1×1 update and waits for it, over and over, until the window ends. */
async function roundTrips(list: OpenConsole[], windowMs: number): Promise<{ ms: number[]; errors: number }> {
  const end = now() + windowMs;
  const ms: number[] = [];
  let errors = 0;
  await Promise.all(list.map(async (c) => {
    try {
      while (now() < end) {
        const t = now();
        const f = c.counter.next();
        c.ws.send(updateRequest(1, 1, 1, 1));
        await f;
        ms.push(now() - t);
      }
    } catch {
      errors++;
    }
  }));
  return { ms, errors };
}

const cpuMs = (u: Usage) => u.cpuUserMs + u.cpuSystemMs;

export interface ConsoleBenchCtx {
  root: string;
  outDir: string;
  stamp: string;
  workDir: string;
  shape: ConsoleShape;
  log(msg: string): void;
}

/** Runs section 7 in its own simulator and labdeck processes. */
export async function benchConsole(ctx: ConsoleBenchCtx): Promise<ConsoleBenchResult> {
  const { shape, log } = ctx;
  const sim = ChildRpc.start('simulator', join(ctx.root, 'bench', 'sim-process.ts'), { cwd: ctx.root, logFile: join(ctx.outDir, `${ctx.stamp}-console-simulator.log`) });
  let lab: ChildRpc | null = null;
  const open: OpenConsole[] = [];
  try {
    const [cluster] = await sim.call<SimClusterInfo[]>('start', { clusters: 1, guestsPerCluster: Math.max(60, shape.consoles * 3), nodesPerCluster: 2, taskStartMs: 200, agentTimeoutMs: 200, ipDelayMs: 0 });
    const qemu = (await sim.call<SimGuestBrief[]>('guests')).filter((g) => g.type === 'qemu' && !g.template).slice(0, shape.consoles);
    if (qemu.length < shape.consoles) throw new Error(`the simulator has only ${qemu.length} qemu guests`);
    const stopped = qemu.filter((g) => g.status !== 'running');
    if (stopped.length) await sim.call('power', { items: stopped.map((g) => ({ cluster: cluster.id, vmid: g.vmid, action: 'start' })) });
    await sim.call('refresh', {});
    // One class; each student's VM is one of the consoles.
    const plan: SeedPlan = {
      password: 'bench-password-1', admins: ['admin1'], assignments: {},
      classes: [{ name: 'Console bench', teacher: 'teacher01', cluster: cluster.id, students: [], pool: [] }],
    };
    qemu.forEach((g, i) => {
      const s = `student${String(i + 1).padStart(4, '0')}`;
      plan.classes[0].students.push(s);
      plan.classes[0].pool.push(`${cluster.id}:${g.vmid}`);
      plan.assignments[s] = [`${cluster.id}:${g.vmid}`];
    });
    const planFile = join(ctx.workDir, 'console-plan.json');
    writeFileSync(planFile, JSON.stringify(plan));
    lab = ChildRpc.start('labdeck', join(ctx.root, 'bench', 'labdeck-process.ts'), { cwd: ctx.root, logFile: join(ctx.outDir, `${ctx.stamp}-console-labdeck.log`), env: { LOG_LEVEL: 'warn' } });
    const info = await lab.call<{ url: string }>('start', {
      dbFile: join(ctx.workDir, 'console.db'), planFile, sessionSecret: 'c'.repeat(64), clusters: [cluster],
      quickIntervalSeconds: 3600, fullIntervalSeconds: 3600, seed: true, port: 0, sync: { taskIntervalSeconds: 0, nodeListIntervalSeconds: 0 },
    });
    await lab.call('waitFullPasses', { timeoutMs: 60_000 }, 70_000);
    const students = plan.classes[0].students;
    const cookies = await lab.call<Record<string, string>>('mintCookies', { usernames: students });
    const base = info.url;
    const vmOf = (i: number) => qemu[i % qemu.length];
    log(`  labdeck at ${base}, ${qemu.length} running qemu guests, one per student`);

    // Warm-up (JIT, connection pools) so the first sample does not measure Node starting up.
    await closeAll([await openRelay(base, cookies[students[0]], cluster.id, vmOf(0).vmid), await openDirect(cluster, vmOf(0).node, vmOf(0).vmid)]);
    const openRelayMs: number[] = [];
    const openDirectMs: number[] = [];
    for (let i = 0; i < shape.openSamples; i++) {
      const g = vmOf(i);
      const r = await openRelay(base, cookies[students[i % students.length]], cluster.id, g.vmid);
      openRelayMs.push(r.openMs);
      const d = await openDirect(cluster, g.node, g.vmid);
      openDirectMs.push(d.openMs);
      await closeAll([r, d]);
    }
    log(`  open → first frame, one at a time: relay p50 ${summarize(openRelayMs).p50?.toFixed(1)} ms, direct p50 ${summarize(openDirectMs).p50?.toFixed(1)} ms`);

    const measure = async (path: 'relay' | 'direct'): Promise<PathFigures & { labCpu: number; simCpu: number }> => {
      const list = await Promise.all(qemu.map((g, i) => (path === 'relay' ? openRelay(base, cookies[students[i]], cluster.id, g.vmid) : openDirect(cluster, g.node, g.vmid))));
      open.push(...list);
      const labBefore = await lab!.call<Usage>('usage');
      const simBefore = await sim.call<{ cpu: NodeJS.CpuUsage }>('usage');
      const tp = await throughput(list, shape.windowMs);
      const labAfter = await lab!.call<Usage>('usage');
      const simAfter = await sim.call<{ cpu: NodeJS.CpuUsage }>('usage');
      const rt = await roundTrips(list, shape.windowMs);
      await closeAll(list);
      open.length = 0;
      const fig: PathFigures & { labCpu: number; simCpu: number } = {
        concurrentOpenMs: roundSummary(summarize(list.map((c) => c.openMs))),
        throughputMBps: round(tp.bytes / 1e6 / (tp.ms / 1000), 1),
        framesPerSecond: round(tp.frames / (tp.ms / 1000), 1),
        roundTripMs: roundSummary(summarize(rt.ms)),
        errors: tp.errors + rt.errors,
        labCpu: round(((cpuMs(labAfter) - cpuMs(labBefore)) / tp.ms) * 100, 0),
        simCpu: round((((simAfter.cpu.user + simAfter.cpu.system) - (simBefore.cpu.user + simBefore.cpu.system)) / 1000 / tp.ms) * 100, 0),
      };
      log(`  ${path}, ${list.length} at once: ${fig.throughputMBps} MB/s (${fig.framesPerSecond} frames/s), round trip p50 ${fig.roundTripMs.p50} ms p99 ${fig.roundTripMs.p99} ms, errors ${fig.errors}`);
      return fig;
    };
    const { labCpu, simCpu, ...relay } = await measure('relay');
    const { labCpu: _l, simCpu: _s, ...direct } = await measure('direct');
    const diff = (a: number | null, b: number | null) => (a === null || b === null ? null : round(a - b, 2));
    return {
      shape,
      frameBytes: 4 + 12 + 640 * 400 * 4,
      openMs: { relay: roundSummary(summarize(openRelayMs)), direct: roundSummary(summarize(openDirectMs)) },
      relay, direct,
      addedLatencyMs: { p50: diff(relay.roundTripMs.p50, direct.roundTripMs.p50), p99: diff(relay.roundTripMs.p99, direct.roundTripMs.p99) },
      labdeckCpuPercentDuringThroughput: labCpu,
      simulatorCpuPercentDuringThroughput: simCpu,
    };
  } finally {
    await closeAll(open).catch(() => undefined);
    await lab?.stop();
    await sim.stop();
  }
}
