// Dev harness: labdeck's sync at its default cadence against N simulated clusters (own process),
// idle; prints this process's CPU over a window.
// Usage: npx tsx bench/idle-cpu.ts [clusters] [guests] [windowS] [--profile FILE] [--heap-profile FILE] [--sync JSON]
// --sync overrides the config's sync section, e.g. '{"quickIntervalSeconds":3600}' (snapshot passes
// off) or '{"nodeListIntervalSeconds":0}' (node lists off), to see what one signal costs.
// --profile samples CPU (which costs CPU itself: the % printed is then inflated); --heap-profile
// samples allocations, collected ones included (what keeps the garbage collector busy).
// The simulator child is killed when this process ends in any way it can see (exit, SIGINT,
// SIGTERM, an error), and it ends by itself when its stdin closes (this process gone, even by SIGKILL).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'node:inspector/promises';
import { PerformanceObserver, constants as perf } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { parseFileConfig } from '../server/config.js';
import { createDb } from '../server/db/index.js';
import { migrateToLatest } from '../server/db/migrate.js';
import { ChangeFeed } from '../server/inventory/changes.js';
import { createSyncManager } from '../server/sync/manager.js';
import { InventoryRepo } from '../server/inventory/repository.js';
import { SyncStateStore } from '../server/inventory/sync-state.js';
import { Profiler } from './profile.js';
import type { Logger } from '../server/log.js';

const args = process.argv.slice(2);
const profIdx = args.indexOf('--profile');
const profileFile = profIdx >= 0 ? args.splice(profIdx, 2)[1] : null;
const heapIdx = args.indexOf('--heap-profile');
const heapFile = heapIdx >= 0 ? args.splice(heapIdx, 2)[1] : null;
const syncIdx = args.indexOf('--sync');
const syncText = syncIdx >= 0 ? args.splice(syncIdx, 2)[1] : '{}';
let syncOverride: unknown;
try {
  syncOverride = JSON.parse(syncText ?? '');
} catch {
  console.error(`--sync takes the config's sync section as JSON, e.g. '{"quickIntervalSeconds":3600}'; got ${syncText}`);
  process.exit(2);
}
const [n = '2', guests = '2000', windowS = '30'] = args;
// node itself with tsx's loader, not `npx tsx`: no wrapper processes between us and the simulator to orphan it.
const child = spawn(process.execPath, ['--import', 'tsx', 'bench/idle-sim.ts', n, guests], { stdio: ['pipe', 'pipe', 'inherit'] });
const killChild = () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); };
process.on('exit', killChild);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => { killChild(); process.exit(130); });
process.on('uncaughtException', (err) => { console.error(err); killChild(); process.exit(1); });
process.on('unhandledRejection', (err) => { console.error(err); killChild(); process.exit(1); });

const line = await new Promise<string>((r) => createInterface({ input: child.stdout! }).once('line', r));
const clusters = JSON.parse(line) as Array<{ id: string; url: string; tokenId: string; tokenSecret: string }>;
const dbDir = mkdtempSync(join(tmpdir(), 'labdeck-idle-'));
const db = createDb(join(dbDir, 'labdeck.db'));
await migrateToLatest(db);
const config = parseFileConfig({ clusters: clusters.map((c) => ({ ...c, probePorts: false })), sync: syncOverride });
const feed = new ChangeFeed();
const syncState = new SyncStateStore(db, { staleAfterMs: config.sync.staleAfterSeconds * 1000 });
const manager = createSyncManager({ db, feed, config, repo: new InventoryRepo(db, { feed, states: syncState }), states: syncState, logger: pino({ level: 'warn' }) as unknown as Logger });
await manager.start();
const t0 = Date.now();
while (manager.status().clusters.some((c) => c.lastFullAt === null)) await new Promise((r) => setTimeout(r, 200));
// IDLE_SETTLE_S: how long to wait before the window (the first full pass leaves a big heap that
// V8 shrinks with a few major collections over the next half minute).
const settleS = Number(process.env.IDLE_SETTLE_S ?? 10);
console.log(`first full passes in ${Date.now() - t0} ms; settling ${settleS} s`);
await new Promise((r) => setTimeout(r, settleS * 1000));
const profiler = new Profiler();
if (profileFile) await profiler.start();
const heap = heapFile ? new Session() : null;
if (heap) {
  heap.connect();
  await heap.post('HeapProfiler.enable');
  // IDLE_HEAP_PROMOTED=1: only what outlived a young collection (what the major collections then clear).
  await heap.post('HeapProfiler.startSampling', { samplingInterval: 16_384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: process.env.IDLE_HEAP_PROMOTED !== '1' });
}
// Garbage collections in the window, by kind (pauses on the main thread; concurrent marking not counted).
const gc = { minor: { n: 0, ms: 0 }, major: { n: 0, ms: 0 }, other: { n: 0, ms: 0 } };
const gcObs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = ((e as unknown as { detail?: { kind?: number } }).detail)?.kind;
    const k = kind === perf.NODE_PERFORMANCE_GC_MINOR ? gc.minor : kind === perf.NODE_PERFORMANCE_GC_MAJOR ? gc.major : gc.other;
    k.n++;
    k.ms += e.duration;
  }
});
gcObs.observe({ entryTypes: ['gc'] });
const u0 = process.cpuUsage(); const w0 = performance.now();
await new Promise((r) => setTimeout(r, Number(windowS) * 1000));
const u = process.cpuUsage(u0); const ms = performance.now() - w0;
gcObs.disconnect();
console.log(`labdeck CPU ${(((u.user + u.system) / 1000 / ms) * 100).toFixed(2)} % over ${(ms / 1000).toFixed(0)} s (${n} x ${guests}); GC pauses: ${Object.entries(gc).map(([k, x]) => `${k} ${x.n} / ${x.ms.toFixed(0)} ms`).join(', ')}`);
console.log(`signals ${JSON.stringify(manager.signalStats())}`);
if (profileFile) {
  const { totalMs, spots } = await profiler.stop(profileFile, process.cwd());
  console.log(`profile ${profileFile}: ${totalMs} ms on CPU (profiler overhead included)`);
  for (const s of spots) console.log(`  ${s.percent.toFixed(1).padStart(5)} %  ${s.selfMs.toFixed(0).padStart(6)} ms  ${s.where}`);
}
if (heap) {
  const { profile } = await heap.post('HeapProfiler.stopSampling');
  writeFileSync(heapFile!, JSON.stringify(profile));
  console.log(`heap profile ${heapFile}`);
}
await manager.stop(); killChild(); await db.destroy(); rmSync(dbDir, { recursive: true, force: true });
process.exit(0);
