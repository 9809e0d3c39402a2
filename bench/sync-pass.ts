// Sync pass benchmark: the simulator with 10 clusters × 2,000 guests in a child process (so its CPU
// is not counted as labdeck's), labdeck's real sync manager over HTTP in this one. Prints wall and
// CPU ms per pass (all clusters in parallel) and rows written.
// The simulator's pvestatd snapshot is held and refreshed only when the script asks, so each pass
// sees exactly the change it is meant to. A held snapshot's uptimes go stale as the clock runs on
// (a start time drifts out of tolerance after 30 s): before each measured pass the snapshot is
// refreshed and an unmeasured quick pass takes in that drift, as deployed, where pvestatd lags 10 s
// at most. Measured, three times each:
//   quick, 0% changed, same answer: Proxmox answers the same bytes as for the previous pass
//     (passes closer together than pvestatd's 10 s);
//   quick, 0% changed, fresh snapshot: a new pvestatd snapshot, in which idle guests' load has
//     jittered and the ~10 % busy ones have drifted (the usual case at a 30 s quick interval);
// then once: 1 % migrated (quick and full), 1 % started/stopped with a fresh snapshot.
//   npx tsx bench/sync-pass.ts [--clusters 10] [--guests 2000] [--db <sqlite file | postgres://...>] [--json]
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

interface ChildReady { clusters: Array<{ id: string; url: string; tokenId: string; tokenSecret: string }>; controlUrl: string }

async function child(clusters: number, guests: number): Promise<void> {
  const { startSimulator } = await import('../server/simulator/index.js');
  const sim = await startSimulator({
    clusters: Array.from({ length: clusters }, (_, i) => ({ id: `c${String(i + 1).padStart(2, '0')}`, nodes: 4, guests, seed: 100 + i })),
    unauthorizedDelayMs: 0, pvestatdIntervalMs: 3_600_000, ipDelayMs: 0, agentTimeoutMs: 0, controlPort: 0,
  });
  const ready: ChildReady = {
    clusters: sim.clusters.map((c) => ({ id: c.id, url: c.url, tokenId: c.tokenId, tokenSecret: c.tokenSecret })),
    controlUrl: sim.controlUrl!,
  };
  process.send!(ready);
  process.on('disconnect', () => void sim.close().then(() => process.exit(0)));
}

async function parent(args: { clusters: number; guests: number; db?: string; json: boolean }): Promise<void> {
  const { createDb } = await import('../server/db/index.js');
  const { migrateToLatest } = await import('../server/db/migrate.js');
  const { parseFileConfig } = await import('../server/config.js');
  const { ChangeFeed } = await import('../server/inventory/changes.js');
  const { createSyncManager } = await import('../server/sync/manager.js');
  const { InventoryRepo } = await import('../server/inventory/repository.js');
  const { SyncStateStore } = await import('../server/inventory/sync-state.js');
  const { pino } = await import('pino');

  const sim = fork(fileURLToPath(import.meta.url), ['--child', '--clusters', String(args.clusters), '--guests', String(args.guests)], {
    execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ready = await new Promise<ChildReady>((resolve, reject) => {
    sim.once('message', (m) => resolve(m as ChildReady));
    sim.once('exit', (code) => reject(new Error(`simulator exited with ${code}`)));
  });
  const tmp = mkdtempSync(join(tmpdir(), 'labdeck-bench-'));
  const dbUrl = args.db ?? join(tmp, 'bench.db');
  const db = createDb(dbUrl);
  await migrateToLatest(db);
  const config = parseFileConfig({
    clusters: ready.clusters.map((c) => ({ ...c, probePorts: false, timeoutMs: 60_000 })),
    sync: { detailConcurrency: 8 },
  });
  const feed = new ChangeFeed();
  const syncState = new SyncStateStore(db, { staleAfterMs: config.sync.staleAfterSeconds * 1000 });
  const repo = new InventoryRepo(db, { feed, states: syncState });
  const manager = createSyncManager({ db, feed, config, repo, states: syncState, logger: pino({ level: 'warn' }) as never });

  const control = async (path: string, body: unknown) => {
    const r = await fetch(`${ready.controlUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!r.ok) throw new Error(`control ${path}: ${r.status} ${await r.text()}`);
  };
  const guestsOf = async (id: string) => (await (await fetch(`${ready.controlUrl}/clusters/${id}/guests`)).json()) as Array<{ vmid: number; node: string; status: string; template: boolean }>;
  const nodes = ['pve1', 'pve2', 'pve3', 'pve4'];
  let round = 0;

  /** Changes 1 % of each cluster's guests "in the Proxmox UI": migrations, or power flips + a fresh snapshot. */
  const changeOnePercent = async (how: 'migrate' | 'power') => {
    round++;
    for (const c of ready.clusters) {
      const gs = (await guestsOf(c.id)).filter((g) => !g.template);
      const count = Math.max(1, Math.round(args.guests * 0.01));
      const step = Math.floor(gs.length / count);
      for (let i = 0; i < count; i++) {
        const g = gs[(i * step + round) % gs.length];
        if (how === 'migrate') await control(`/clusters/${c.id}/guests/${g.vmid}/migrate`, { node: nodes[(nodes.indexOf(g.node) + 1) % nodes.length] });
        else await control(`/clusters/${c.id}/guests/${g.vmid}/power`, { action: g.status === 'running' ? 'stop' : 'start' });
      }
      if (how === 'power') await control(`/clusters/${c.id}/refresh`, {});
    }
  };

  const results: Array<{ pass: string; wallMs: number; cpuMs: number; rowsWritten: number; perClusterMsP50: number; requests: number }> = [];
  const measure = async (label: string, kind: 'full' | 'quick') => {
    const revBefore = await repo.currentRevision();
    const maxId = (await db.selectFrom('sync_runs').select((eb) => eb.fn.max('id').as('m')).executeTakeFirst())?.m ?? 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await manager.trigger({ kind });
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const runs = await db.selectFrom('sync_runs').selectAll().where('id', '>', Number(maxId)).execute();
    const failed = runs.filter((r) => r.error);
    if (failed.length) throw new Error(`${label}: ${failed.length} cluster passes failed: ${failed[0].error}`);
    const durations = runs.map((r) => r.duration_ms).sort((a, b) => a - b);
    results.push({
      pass: label,
      wallMs: Math.round(wallMs),
      cpuMs: Math.round((cpu.user + cpu.system) / 1000),
      rowsWritten: (await repo.currentRevision()) - revBefore,
      perClusterMsP50: Math.round(durations[Math.floor(durations.length / 2)] ?? 0),
      requests: runs.reduce((a, r) => a + r.requests, 0),
    });
  };

  const refreshAll = async () => {
    for (const c of ready.clusters) await control(`/clusters/${c.id}/refresh`, {});
  };
  /** A fresh snapshot taken in by an unmeasured quick pass. */
  const absorb = async () => {
    await refreshAll();
    await manager.trigger({ kind: 'quick' });
  };

  try {
    await refreshAll();
    await measure('full, cold (empty database, details for every guest)', 'full');
    for (let i = 1; i <= 3; i++) {
      await absorb();
      await measure(`quick, 0% changed, same answer (${i})`, 'quick');
    }
    for (let i = 1; i <= 3; i++) {
      await absorb();
      await refreshAll();
      await measure(`quick, 0% changed, fresh snapshot (${i})`, 'quick');
    }
    await absorb();
    await changeOnePercent('migrate');
    await measure('quick, 1% changed (migrated)', 'quick');
    await absorb();
    await changeOnePercent('migrate');
    await measure('full, 1% changed (migrated)', 'full');
    await absorb();
    await changeOnePercent('power');
    await measure('quick, 1% started/stopped + fresh snapshot', 'quick');
  } finally {
    await manager.stop();
    await db.destroy();
    sim.disconnect();
    rmSync(tmp, { recursive: true, force: true });
  }
  const total = args.clusters * args.guests;
  if (args.json) {
    console.log(JSON.stringify({ guests: total, clusters: args.clusters, db: args.db ? 'custom' : 'sqlite', node: process.version, results }));
    return;
  }
  console.log(`sync-pass: ${args.clusters} clusters × ${args.guests} guests = ${total} guests, ${args.db?.startsWith('postgres') ? 'PostgreSQL' : 'SQLite'}, Node ${process.version}`);
  console.log('pass'.padEnd(56) + 'wall ms'.padStart(9) + 'cpu ms'.padStart(9) + 'rows'.padStart(8) + 'p50/cluster'.padStart(13) + 'requests'.padStart(10));
  for (const r of results) {
    console.log(r.pass.padEnd(56) + String(r.wallMs).padStart(9) + String(r.cpuMs).padStart(9) + String(r.rowsWritten).padStart(8) + String(r.perClusterMsP50).padStart(13) + String(r.requests).padStart(10));
  }
}

const { values } = parseArgs({
  options: {
    child: { type: 'boolean', default: false },
    clusters: { type: 'string', default: '10' },
    guests: { type: 'string', default: '2000' },
    db: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const clusters = Number(values.clusters);
const guests = Number(values.guests);
if (!Number.isInteger(clusters) || clusters < 1 || !Number.isInteger(guests) || guests < 1) {
  console.error('--clusters and --guests must be positive integers');
  process.exit(2);
}
if (values.child) await child(clusters, guests);
else await parent({ clusters, guests, db: values.db, json: values.json });
