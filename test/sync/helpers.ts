// Shared setup for sync tests: a simulator, a migrated test database and a sync manager over HTTP.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { startSimulator, type SimOptions, type Simulator } from '../../server/simulator/index.js';
import { parseFileConfig } from '../../server/config.js';
import { ChangeFeed } from '../../server/inventory/changes.js';
import { createSyncManager, type SyncManager } from '../../server/sync/manager.js';
import { InventoryRepo } from '../../server/inventory/repository.js';
import { SyncStateStore } from '../../server/inventory/sync-state.js';
import type { Db } from '../../server/db/index.js';
import type { Logger } from '../../server/log.js';

/** Simulator options tests use: fast, live snapshot unless asked otherwise. */
export function simOptions(clusters: SimOptions['clusters'], over: Partial<SimOptions> = {}): SimOptions {
  return { clusters, unauthorizedDelayMs: 0, pvestatdIntervalMs: 0, ipDelayMs: 0, agentTimeoutMs: 0, taskDurationMs: { start: 100, stop: 100, shutdown: 100, reboot: 100 }, ...over };
}

export async function startSim(clusters: SimOptions['clusters'], over: Partial<SimOptions> = {}): Promise<Simulator> {
  return startSimulator(simOptions(clusters, over));
}

/** A logger whose lines tests can read. */
export function captureLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({ write(chunk, _enc, cb) { for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l)); cb(); } });
  return { logger: pino({ level: 'debug' }, stream) as unknown as Logger, lines };
}

/** The manager and what a composition root hands it: the inventory's writer and the sync-state store. */
export interface Harness { manager: SyncManager; repo: InventoryRepo; states: SyncStateStore; feed: ChangeFeed; logs: Array<Record<string, unknown>> }

/** The sync manager wired as server/server.ts wires it (repository and sync-state store built outside). */
export function wireManager(db: Db, feed: ChangeFeed, config: Parameters<typeof createSyncManager>[0]['config'], logger: Logger): { manager: SyncManager; repo: InventoryRepo; states: SyncStateStore } {
  const states = new SyncStateStore(db, { staleAfterMs: config.sync.staleAfterSeconds * 1000 });
  const repo = new InventoryRepo(db, { feed, states });
  return { manager: createSyncManager({ db, feed, config, logger, repo, states }), repo, states };
}

/** A sync manager for every cluster of the simulator. */
export function makeManager(db: Db, sim: Simulator, sync: Record<string, unknown> = {}, clusterOver: Record<string, unknown> = {}): Harness {
  const config = parseFileConfig({
    clusters: sim.clusters.map((c) => ({ id: c.id, url: c.url, tokenId: c.tokenId, tokenSecret: c.tokenSecret, probePorts: false, timeoutMs: 1000, ...clusterOver })),
    sync: { fullIntervalSeconds: 300, quickIntervalSeconds: 30, ...sync },
  });
  const feed = new ChangeFeed();
  const { logger, lines } = captureLogger();
  return { ...wireManager(db, feed, config, logger), feed, logs: lines };
}

