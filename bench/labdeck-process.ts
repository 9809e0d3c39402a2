// Bench-only entry: runs labdeck (startLabdeck on port 0, temp SQLite) in its own process so its
// CPU time and resident memory are its own, and answers the harness over IPC: pass timings measured
// inside the process, the moment each change was announced after its commit, session cookies.
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { startLabdeck } from '../server/server.js';
import { parseFileConfig, type AppConfig } from '../server/config.js';
import { createDb } from '../server/db/index.js';
import { migrateToLatest } from '../server/db/migrate.js';
import { SESSION_COOKIE } from '../server/auth/session.js';
import { serveIpc } from './ipc.js';
import { seedDatabase } from './seed-db.js';
import { Profiler } from './profile.js';
import { now } from './stats.js';
import type { LabdeckStartArgs, PassMeasure, SeedPlan, Usage } from './protocol.js';

type Labdeck = Awaited<ReturnType<typeof startLabdeck>>;

let labdeck: Labdeck | null = null;
const profiler = new Profiler();
let heapSession: Session | null = null;
let startedAt = 0;
let cpuAtStart: NodeJS.CpuUsage = process.cpuUsage();
/** VM key → when the change feed announced its recent committed changes (after COMMIT), oldest first. */
const announced = new Map<string, Array<{ at: number; revision: number }>>();
const ANNOUNCED_KEPT = 16;

function noteAnnounced(key: string, at: number, revision: number): void {
  let list = announced.get(key);
  if (!list) announced.set(key, (list = []));
  list.push({ at, revision });
  if (list.length > ANNOUNCED_KEPT) list.shift();
}
let announcedVms = 0;

function running(): Labdeck {
  if (!labdeck) throw new Error('labdeck is not started');
  return labdeck;
}

function cpuMsSince(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1000;
}

async function counts(): Promise<{ revision: number; vmEvents: number; syncRuns: number }> {
  const l = running();
  const revision = await l.inventory.currentRevision();
  const ev = await l.db.selectFrom('vm_events').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  const sr = await l.db.selectFrom('sync_runs').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return { revision, vmEvents: Number(ev.n), syncRuns: Number(sr.n) };
}

serveIpc({
  async start(a: LabdeckStartArgs) {
    const file = parseFileConfig({
      clusters: a.clusters.map((c) => ({ id: c.id, name: c.id, url: c.url, tokenId: c.tokenId, tokenSecret: c.tokenSecret, verifyTls: false })),
      sync: { quickIntervalSeconds: a.quickIntervalSeconds, fullIntervalSeconds: a.fullIntervalSeconds, ...a.sync },
      ...(a.provision ? { provision: a.provision } : {}),
    });
    const config: AppConfig = { ...file, port: a.port, host: '127.0.0.1', databaseUrl: a.dbFile, sessionSecret: a.sessionSecret, demo: false, configPath: null };
    let seedMs = 0;
    if (a.seed) {
      const t = now();
      const db = createDb(a.dbFile);
      await migrateToLatest(db);
      await seedDatabase(db, JSON.parse(readFileSync(a.planFile, 'utf8')) as SeedPlan);
      await db.destroy();
      seedMs = now() - t;
    }
    cpuAtStart = process.cpuUsage();
    startedAt = now();
    labdeck = await startLabdeck(config, { port: a.port, host: '127.0.0.1', quiet: true, staticRoot: null });
    // Prepended so the timestamp is taken before any other listener (the hub) does its work.
    labdeck.feed.prependListener('vm:changed', (e) => {
      const at = now();
      for (const vm of e.vms) noteAnnounced(vm.id, at, vm.revision);
      announcedVms += e.vms.length;
    });
    labdeck.feed.prependListener('vm:removed', (e) => {
      const at = now();
      for (const id of e.ids) noteAnnounced(id, at, e.revision);
      announcedVms += e.ids.length;
    });
    return { url: labdeck.url, port: labdeck.port, seedMs, startMs: now() - startedAt };
  },

  /** Waits until every cluster has finished a full pass; reports time and CPU since start. */
  async waitFullPasses({ timeoutMs }: { timeoutMs: number }) {
    const l = running();
    const end = Date.now() + timeoutMs;
    for (;;) {
      const st = l.sync.status();
      if (st.clusters.every((c) => c.lastFullAt !== null)) {
        const c = await counts();
        return {
          wallMs: now() - startedAt,
          cpuMs: cpuMsSince(cpuAtStart),
          rows: c.revision,
          perCluster: st.clusters.map((cl) => ({ id: cl.id, guests: cl.guests, full: cl.recentPasses.filter((p) => p.kind === 'full').map((p) => p.durationMs) })),
        };
      }
      if (Date.now() > end) throw new Error(`full passes not done after ${timeoutMs} ms: ${JSON.stringify(st.clusters.map((c) => [c.id, c.lastFullAt, c.lastError]))}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  },

  /** One triggered pass over all clusters (or one), measured from inside the process. */
  async measurePass({ kind, cluster }: { kind: 'quick' | 'full'; cluster?: string }): Promise<PassMeasure> {
    const l = running();
    const before = await counts();
    const announcedBefore = announcedVms;
    const cpu = process.cpuUsage();
    const t = now();
    await l.sync.trigger({ kind, cluster });
    const wallMs = now() - t;
    const cpuMs = cpuMsSince(cpu);
    const after = await counts();
    return {
      wallMs, cpuMs,
      rowsWritten: after.revision - before.revision,
      vmEvents: after.vmEvents - before.vmEvents,
      syncRuns: after.syncRuns - before.syncRuns,
      announcedVms: announcedVms - announcedBefore,
      revisionBefore: before.revision,
      revisionAfter: after.revision,
    };
  },

  /** Triggers a quick pass without waiting (as the loop or the admin's button would). */
  triggerNoWait({ cluster }: { cluster?: string }) {
    const t = now();
    void running().sync.trigger({ kind: 'quick', cluster }).catch(() => undefined);
    return { at: t };
  },

  /** Starts a CPU profile of this process. */
  async profileStart() {
    await profiler.start();
    return null;
  },

  /** Ends the CPU profile: writes it to `file` and answers the functions with the most self time. */
  profileStop({ file, root }: { file: string; root: string }) {
    return profiler.stop(file, root);
  },

  /** Starts sampling this process's allocations, collected ones included (what keeps the GC busy). */
  async heapProfileStart({ promotedOnly = false }: { promotedOnly?: boolean } = {}) {
    heapSession = new Session();
    heapSession.connect();
    await heapSession.post('HeapProfiler.enable');
    // promotedOnly: leave out what died young, so what remains is what survived into the old generation.
    await heapSession.post('HeapProfiler.startSampling', { samplingInterval: 16_384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: !promotedOnly });
    return null;
  },

  /** Ends the allocation sampling and writes the .heapprofile to `file`. */
  async heapProfileStop({ file }: { file: string }) {
    if (!heapSession) throw new Error('no heap profile running');
    const { profile } = await heapSession.post('HeapProfiler.stopSampling');
    heapSession.disconnect();
    heapSession = null;
    writeFileSync(file, JSON.stringify(profile));
    return { file };
  },

  /** Live-signal counters per cluster (task list reads, node list reads, guests signalled, rollovers). */
  signalStats() {
    return running().sync.signalStats();
  },

  fastLane(): number {
    return running().sync.status().clusters.reduce((n, c) => n + c.fastLane, 0);
  },

  /** The inventory's revision counter: every written row takes one. */
  async revision(): Promise<number> {
    return (await counts()).revision;
  },

  syncStatus() {
    return running().sync.status();
  },

  /**
   * When each VM's change was announced (after its commit): the first announcement at or after
   * `after` (a VM can be written twice for one change: status first, details such as its address
   * later, and a client's first arrival pairs with the first), else the latest.
   */
  announced({ keys, after }: { keys: string[]; after?: number | Record<string, number> }): Record<string, { at: number; revision: number } | null> {
    return Object.fromEntries(keys.map((k) => {
      const list = announced.get(k) ?? [];
      const from = typeof after === 'number' ? after : after?.[k];
      const hit = from === undefined ? undefined : list.find((a) => a.at >= from);
      return [k, hit ?? list[list.length - 1] ?? null];
    }));
  },

  /** Session cookies for the given users, sealed exactly as a sign-in would seal them. */
  async mintCookies({ usernames }: { usernames: string[] }): Promise<Record<string, string>> {
    const l = running();
    const out: Record<string, string> = {};
    for (const name of usernames) {
      const u = await l.users.getByUsername(name);
      if (!u) throw new Error(`no user ${name}`);
      out[name] = `${SESSION_COOKIE}=${await l.sessions.issue(u.id)}`;
    }
    return out;
  },

  /** CPU and memory; with gc, also the heap still in use after a full collection (live data). */
  usage({ gc }: { gc?: boolean } = {}): Usage {
    const m = process.memoryUsage();
    const cpu = process.cpuUsage();
    const u: Usage = { cpuUserMs: cpu.user / 1000, cpuSystemMs: cpu.system / 1000, rss: m.rss, heapUsed: m.heapUsed, maxRss: process.resourceUsage().maxRSS * 1024, at: now() };
    const collect = (globalThis as { gc?: () => void }).gc;
    if (gc && collect) {
      collect();
      u.heapAfterGc = process.memoryUsage().heapUsed;
    }
    return u;
  },

  async close() {
    if (labdeck) await labdeck.close();
    labdeck = null;
    setImmediate(() => process.exit(0));
    return null;
  },
});
