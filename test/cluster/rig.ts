// Several labdeck processes on one fresh PostgreSQL database and one simulator, as the tests of
// several instances run them: the database migrated with an admin (and its cookie), instances
// spawned by name with fast leader hand-over, and one teardown for all of it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Simulator } from '../../server/simulator/index.js';
import type { Db } from '../../server/db/index.js';
import { makeTestDatabase, type TestDatabase } from '../helpers/db.js';
import { prepareDatabase, spawnLabdeck, type LabdeckProcess } from '../helpers/labdeck-child.js';

export interface InstanceRig {
  sim: Simulator;
  db: Db;
  /** An admin session every instance accepts. */
  cookie: string;
  /**
   * Starts instance `name` (LABDECK_INSTANCE): quick passes every second, no task or node lists,
   * shared mode with a leader handed over within seconds; each section given is merged over these.
   */
  spawn(name: string, o?: { sync?: Record<string, unknown>; instance?: Record<string, unknown>; config?: Record<string, unknown> }): Promise<LabdeckProcess>;
  /** Ends every instance spawned (a SIGSTOPped one is resumed first) and removes the database, simulator and files. */
  close(): Promise<void>;
}

/** A rig around `sim` (which it closes at the end), named `name` in its temp directory. */
export async function instanceRig(sim: Simulator, name: string): Promise<InstanceRig> {
  const procs: LabdeckProcess[] = [];
  let tdb: TestDatabase | undefined;
  let db: Db | undefined;
  let dir: string | undefined;
  const close = async () => {
    for (const p of procs) {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGCONT');
      p.kill();
      await p.exited;
    }
    await db?.destroy();
    await sim.close();
    await tdb?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
  try {
    tdb = await makeTestDatabase('postgres');
    const prepared = await prepareDatabase(tdb.url);
    db = prepared.db;
    dir = mkdtempSync(join(tmpdir(), `labdeck-${name}-`));
    const where = { dir, databaseUrl: tdb.url };
    return {
      sim, db, cookie: prepared.cookie, close,
      spawn: async (instance, o = {}) => {
        const p = await spawnLabdeck({
          ...where, sim,
          sync: { quickIntervalSeconds: 1, fullIntervalSeconds: 3600, taskIntervalSeconds: 0, nodeListIntervalSeconds: 0, fastIntervalMs: 200, ...o.sync },
          config: { ...o.config, instance: { shared: true, leaderRetryMs: 500, lockPingMs: 300, lockTimeoutMs: 2000, followIntervalMs: 1000, ...o.instance } },
          env: { LABDECK_INSTANCE: instance },
        });
        procs.push(p);
        return p;
      },
    };
  } catch (err) {
    await close();
    throw err;
  }
}
