// A real labdeck stack for realtime and end-to-end tests: the simulator on loopback, labdeck on
// port 0 with a temp SQLite database, short sync intervals, and a small seeded class
// (teacher, three students; student1 has two VMs, student2 one; a pool of five VMs, all
// assigned ones stopped at the start).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator, type Simulator, type SimCluster } from '../../server/simulator/index.js';
import { parseFileConfig, ClusterConfigSchema, type AppConfig } from '../../server/config.js';
import { startLabdeck, type Labdeck } from '../../server/server.js';
import * as v from 'valibot';

export const PASSWORD = 'correct horse battery';

export interface Stack {
  sim: Simulator;
  cluster: SimCluster;
  lab: Labdeck;
  url: string;
  classId: number;
  userIds: Record<string, number>;
  /** Pool VMs in order: [student1's, student2's, free, free, student1's second]. */
  pool: number[];
  /** A session cookie header for the user (signs in over HTTP). */
  login(username: string): Promise<string>;
  close(): Promise<void>;
}

export interface StackOptions {
  guests?: number;
  pvestatdIntervalMs?: number;
  quickIntervalSeconds?: number;
  staticRoot?: string | null;
}

/** Starts simulator + labdeck and seeds the class. */
export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const sim = await startSimulator({
    clusters: [{ id: 'lab-a', name: 'Lab A', nodes: 2, guests: opts.guests ?? 12, seed: 7 }],
    pvestatdIntervalMs: opts.pvestatdIntervalMs ?? 200,
    unauthorizedDelayMs: 0,
    ipDelayMs: 100,
    taskDurationMs: { start: 150, stop: 100, shutdown: 150, reboot: 150 },
  });
  const cluster = sim.cluster('lab-a');
  const pool = cluster.guests().filter((g) => g.type === 'qemu' && !g.template).map((g) => g.vmid).sort((a, b) => a - b).slice(0, 5);
  for (const vmid of [pool[0], pool[1], pool[4]]) if (cluster.guest(vmid)!.status !== 'stopped') cluster.powerOutside(vmid, 'stop');
  cluster.refreshNow();
  const dir = mkdtempSync(join(tmpdir(), 'labdeck-web-'));
  const file = parseFileConfig({
    sync: { fullIntervalSeconds: 30, quickIntervalSeconds: opts.quickIntervalSeconds ?? 1, fastIntervalMs: 200, staleAfterSeconds: 3, maxBackoffSeconds: 1 },
  });
  const config: AppConfig = {
    ...file, port: 0, host: '127.0.0.1', databaseUrl: join(dir, 'labdeck.db'),
    sessionSecret: 'web-tests-session-secret-0123456789abcdef', demo: false, configPath: null,
  };
  const clusters = [v.parse(ClusterConfigSchema, {
    id: cluster.id, name: 'Lab A', url: cluster.url, tokenId: cluster.tokenId, tokenSecret: cluster.tokenSecret,
    verifyTls: false, probePorts: false, timeoutMs: 1500,
  })];
  let lab: Labdeck;
  try {
    lab = await startLabdeck(config, { port: 0, host: '127.0.0.1', clusters, quiet: true, staticRoot: opts.staticRoot, actionFollowMs: 500 });
  } catch (err) {
    await sim.close();
    throw err;
  }
  const close = async () => {
    await lab.close();
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await lab.sync.trigger({ kind: 'full' });
    const userIds: Record<string, number> = {};
    for (const [username, role, displayName] of [
      ['admin', 'admin', 'Ada Admin'], ['teacher', 'teacher', 'Tess Teacher'], ['teacher2', 'teacher', 'Other Teacher'],
      ['student1', 'student', 'Sam One'], ['student2', 'student', 'Kim Two'], ['student3', 'student', 'Lee Three'],
    ] as const) {
      userIds[username] = (await lab.users.create({ username, role, password: PASSWORD, displayName })).id;
    }
    const repo = lab.classesRepo;
    const classId = await repo.create('Networks 101', userIds.teacher);
    for (const s of ['student1', 'student2', 'student3']) await repo.addMember(classId, userIds[s]);
    for (const vmid of pool) await repo.addPoolEntry(classId, { kind: 'vm', cluster: cluster.id, vmid, value: null });
    await repo.assign(classId, cluster.id, pool[0], userIds.student1);
    await repo.assign(classId, cluster.id, pool[1], userIds.student2);
    await repo.assign(classId, cluster.id, pool[4], userIds.student1);
    await lab.access.reload();

    const login = async (username: string) => {
      const res = await fetch(`${lab.url}/api/auth/login`, {
        method: 'POST', headers: { 'content-type': 'application/json', origin: lab.url },
        body: JSON.stringify({ username, password: PASSWORD }),
      });
      if (!res.ok) throw new Error(`login ${username}: ${res.status} ${await res.text()}`);
      const cookie = res.headers.getSetCookie().find((c) => c.startsWith('labdeck_session='));
      if (!cookie) throw new Error('no session cookie');
      return cookie.split(';')[0];
    };
    return { sim, cluster, lab, url: lab.url, classId, userIds, pool, login, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Polls until `check` returns a truthy value or the time is up. */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs = 5000, what = 'condition'): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const got = await check();
      if (got) return got as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
