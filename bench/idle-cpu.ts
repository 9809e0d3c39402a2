// Dev harness: labdeck's sync at its default cadence against N simulated clusters (own process),
// idle; prints this process's CPU over a window. Usage: npx tsx bench/idle-cpu.ts [clusters] [guests] [windowS]
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { openTestDb } from '../test/helpers/db.js';
import { parseFileConfig } from '../server/config.js';
import { ChangeFeed } from '../server/inventory/changes.js';
import { createSyncManager } from '../server/sync/manager.js';
import { InventoryRepo } from '../server/inventory/repository.js';
import { SyncStateStore } from '../server/inventory/sync-state.js';
import type { Logger } from '../server/log.js';

const [n = '2', guests = '2000', windowS = '30'] = process.argv.slice(2);
const child = spawn('npx', ['tsx', 'bench/idle-sim.ts', n, guests], { stdio: ['ignore', 'pipe', 'inherit'] });
const line = await new Promise<string>((r) => createInterface({ input: child.stdout! }).once('line', r));
const clusters = JSON.parse(line) as Array<{ id: string; url: string; tokenId: string; tokenSecret: string }>;
const { db, close } = await openTestDb('sqlite');
const config = parseFileConfig({ clusters: clusters.map((c) => ({ ...c, probePorts: false })), sync: {} });
const feed = new ChangeFeed();
const syncState = new SyncStateStore(db, { staleAfterMs: config.sync.staleAfterSeconds * 1000 });
const manager = createSyncManager({ db, feed, config, repo: new InventoryRepo(db, { feed, states: syncState }), states: syncState, logger: pino({ level: 'warn' }) as unknown as Logger });
await manager.start();
const t0 = Date.now();
while (manager.status().clusters.some((c) => c.lastFullAt === null)) await new Promise((r) => setTimeout(r, 200));
console.log(`first full passes in ${Date.now() - t0} ms; settling 10 s`);
await new Promise((r) => setTimeout(r, 10_000));
const u0 = process.cpuUsage(); const w0 = performance.now();
await new Promise((r) => setTimeout(r, Number(windowS) * 1000));
const u = process.cpuUsage(u0); const ms = performance.now() - w0;
console.log(`labdeck CPU ${(((u.user + u.system) / 1000 / ms) * 100).toFixed(2)} % over ${(ms / 1000).toFixed(0)} s (${n} x ${guests}); signals ${JSON.stringify(manager.signalStats())}`);
await manager.stop(); child.kill('SIGTERM'); await close();
process.exit(0);
