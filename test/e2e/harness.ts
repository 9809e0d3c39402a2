// The realtime and end-to-end stack: the full-stack test server (test/helpers/server.ts, so it
// honours LABDECK_TEST_DIALECT) with short sync intervals, a lagging pvestatd, and a small seeded
// class (teacher, three students; student1 has two VMs, student2 one; a pool of five VMs, all
// assigned ones stopped at the start).
import { startTestServer, type TestServer } from '../helpers/server.js';
import type { Simulator, SimCluster, StorageId } from '../../server/simulator/index.js';
import type { Labdeck } from '../../server/server.js';

export const PASSWORD = 'correct horse battery';

export interface Stack {
  sim: Simulator;
  cluster: SimCluster;
  lab: Labdeck;
  /** The test server underneath (request helpers). */
  server: TestServer;
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
  /** Where the guests' disks live (default 'local-lvm'; 'local-zfs' rolls back only to the newest snapshot). */
  storage?: StorageId;
}

/** The first five non-template QEMU guests, in vmid order. */
const poolOf = (cluster: SimCluster) =>
  cluster.guests().filter((g) => g.type === 'qemu' && !g.template).map((g) => g.vmid).sort((a, b) => a - b).slice(0, 5);

/** Starts simulator + labdeck and seeds the class. */
export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const server = await startTestServer({
    clusters: [{ id: 'lab-a', name: 'Lab A', nodes: 2, guests: opts.guests ?? 12, seed: 7, storage: opts.storage }],
    sim: {
      pvestatdIntervalMs: opts.pvestatdIntervalMs ?? 200, ipDelayMs: 100, agentTimeoutMs: 3000,
      taskDurationMs: { start: 150, stop: 100, shutdown: 150, reboot: 150 },
    },
    config: { sync: { fullIntervalSeconds: 30, quickIntervalSeconds: opts.quickIntervalSeconds ?? 1, fastIntervalMs: 200, staleAfterSeconds: 3, maxBackoffSeconds: 1 } },
    clusterConfig: { timeoutMs: 1500 },
    // The assigned VMs are stopped before labdeck's first pass, so no test starts with their change.
    beforeStart: (sim) => {
      const cluster = sim.cluster('lab-a');
      const pool = poolOf(cluster);
      for (const vmid of [pool[0], pool[1], pool[4]]) if (cluster.guest(vmid)!.status !== 'stopped') cluster.powerOutside(vmid, 'stop');
      cluster.refreshNow();
    },
    // staticRoot undefined serves the built client (dist/client), as a real start does.
    start: { staticRoot: opts.staticRoot, actionFollowMs: 500 },
  });
  const { sim, cluster, labdeck: lab } = server;
  const pool = poolOf(cluster);
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
    // As an admin would set it up: the class may draw from the whole cluster, its pool is approved.
    await repo.setScope(classId, [{ cluster: cluster.id, kind: 'cluster' }], null);
    for (const vmid of pool) await repo.addPoolEntry(classId, { kind: 'vm', cluster: cluster.id, vmid, value: null, approved: true });
    await repo.assign(classId, cluster.id, pool[0], userIds.student1);
    await repo.assign(classId, cluster.id, pool[1], userIds.student2);
    await repo.assign(classId, cluster.id, pool[4], userIds.student1);
    await lab.access.reload();
    return {
      sim, cluster, lab, server, url: lab.url, classId, userIds, pool,
      login: (username) => server.login(username, PASSWORD),
      close: () => server.close(),
    };
  } catch (err) {
    await server.close();
    throw err;
  }
}
