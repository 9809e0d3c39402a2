// The seed's design, run side by side with labdeck's: a browser that polls GET /api/vms every
// 2 s, and a quick sync that asks status/current for every VM of a cluster.
import http from 'node:http';
import { Agent, request } from 'undici';
import { ByteCountingAgent } from './byte-agent.js';
import { now, sleep } from './stats.js';
import type { SimClusterInfo } from './protocol.js';

/** A polling "browser": one keep-alive connection, GET /api/vms every intervalMs. */
export class Poller {
  readonly agent = new ByteCountingAgent({ keepAlive: true, maxSockets: 1 });
  private readonly last = new Map<string, string>();
  /** VM key → times the poll first showed a new status. */
  readonly changes = new Map<string, Array<{ at: number; status: string }>>();
  polls = 0;
  errors = 0;
  private stopped = false;
  private loop: Promise<void> | null = null;

  constructor(private readonly url: string, readonly username: string, private readonly cookie: string, private readonly intervalMs: number) {}

  /** Starts polling (the first poll happens at a random offset, like browsers opened at different times). */
  start(): void {
    this.loop = (async () => {
      await sleep(Math.random() * this.intervalMs);
      while (!this.stopped) {
        const t = now();
        await this.poll().catch(() => { this.errors++; });
        await sleep(Math.max(0, this.intervalMs - (now() - t)));
      }
    })();
  }

  private poll(): Promise<void> {
    return new Promise((resolve, reject) => {
      const req = http.get(`${this.url}/api/vms`, { agent: this.agent, headers: { cookie: this.cookie } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const at = now();
          this.polls++;
          if (res.statusCode !== 200) { this.errors++; resolve(); return; }
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { vms: Array<{ id: string; status: string }> };
          for (const vm of body.vms) {
            const prev = this.last.get(vm.id);
            if (prev !== undefined && prev !== vm.status) {
              const list = this.changes.get(vm.id) ?? [];
              list.push({ at, status: vm.status });
              this.changes.set(vm.id, list);
            }
            this.last.set(vm.id, vm.status);
          }
          resolve();
        });
        res.on('error', reject);
      });
      req.on('error', reject);
    });
  }

  /** Stops after the poll in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    this.agent.destroy();
  }
}

export interface SeedSyncResult { requests: number; failures: number; wallMs: number; bytes: number }

/** One quick pass of the seed's design: list the guests, then status/current for each one. */
export async function seedQuickPass(
  c: SimClusterInfo, concurrency: number,
  onStatus: (vmid: number, status: string, at: number) => void = () => undefined,
  shared?: Agent,
  counter?: { requests: number },
): Promise<SeedSyncResult> {
  const dispatcher = shared ?? new Agent({ connections: concurrency });
  const headers = { authorization: `PVEAPIToken=${c.tokenId}=${c.tokenSecret}` };
  const t0 = now();
  let requests = 0, failures = 0, bytes = 0;
  const get = async (path: string): Promise<unknown> => {
    requests++;
    if (counter) counter.requests++;
    try {
      const res = await request(`${c.url}/api2/json${path}`, { headers, dispatcher });
      const buf = Buffer.from(await res.body.arrayBuffer());
      bytes += buf.length;
      if (res.statusCode !== 200) { failures++; return null; }
      return (JSON.parse(buf.toString('utf8')) as { data: unknown }).data;
    } catch {
      failures++;
      return null;
    }
  };
  const list = ((await get('/cluster/resources?type=vm')) ?? []) as Array<{ vmid: number; node: string; type: string }>;
  let next = 0;
  const worker = async () => {
    while (next < list.length) {
      const g = list[next++];
      const st = (await get(`/nodes/${g.node}/${g.type}/${g.vmid}/status/current`)) as { status?: string } | null;
      if (st?.status) onStatus(g.vmid, st.status, now());
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const wallMs = now() - t0;
  if (!shared) await dispatcher.close();
  return { requests, failures, wallMs, bytes };
}

/** The seed's sync as a loop: a pass every intervalMs (back to back when a pass takes longer);
 *  reports each status change it notices, with the moment it noticed. */
export function seedSyncLoop(c: SimClusterInfo, opts: { intervalMs: number; concurrency: number; onChange(vmid: number, status: string, at: number): void }) {
  const dispatcher = new Agent({ connections: opts.concurrency });
  const last = new Map<number, string>();
  const wallMs: number[] = [];
  const inFlight = { requests: 0 };
  let passes = 0, requests = 0, stopped = false;
  const onStatus = (vmid: number, status: string, at: number) => {
    const prev = last.get(vmid);
    if (prev !== undefined && prev !== status) opts.onChange(vmid, status, at);
    last.set(vmid, status);
  };
  const loop = (async () => {
    while (!stopped) {
      const r = await seedQuickPass(c, opts.concurrency, onStatus, dispatcher, inFlight);
      inFlight.requests = 0;
      passes++;
      requests += r.requests;
      wallMs.push(r.wallMs);
      const wait = Math.max(0, opts.intervalMs - r.wallMs);
      const end = now() + wait;
      while (!stopped && now() < end) await sleep(Math.min(100, end - now()));
    }
  })();
  return {
    /** Requests sent so far (passes in flight included). */
    requests: () => requests + inFlight.requests,
    /** Stops after the pass in flight; returns what the loop did. */
    async stop(): Promise<{ passes: number; requests: number; wallMs: number[] }> {
      stopped = true;
      await loop;
      await dispatcher.close();
      return { passes, requests, wallMs };
    },
  };
}
