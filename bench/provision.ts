// Section 8 of the bench (`npm run bench -- --only-provision`): a class's VMs made from templates
// through labdeck's provisioning runner against the simulator's task durations. 40 VMs on 2 nodes
// (a template on each node, one job per template, started together): the wall time from the
// teacher's requests until both jobs ended, against the bound the per-node limit allows,
// ceil(VMs / (nodes × perNode)) rounds of one clone each, and the most clones the simulator saw
// at once on a node.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ChildRpc } from './ipc.js';
import { now, round, sleep } from './stats.js';
import type { SeedPlan, SimClusterInfo } from './protocol.js';

export interface ProvisionShape {
  vms: number;
  nodes: number;
  perNode: number;
  /** The simulator's task durations for the steps a VM goes through. */
  linkedCloneMs: number;
  snapshotMs: number;
  /** labdeck's task polling interval (provision.pollMs; the default is 500). */
  pollMs: number;
}

export const provisionShapes = {
  full: { vms: 40, nodes: 2, perNode: 2, linkedCloneMs: 2000, snapshotMs: 500, pollMs: 500 },
  quick: { vms: 40, nodes: 2, perNode: 2, linkedCloneMs: 1000, snapshotMs: 200, pollMs: 500 },
  tiny: { vms: 8, nodes: 2, perNode: 2, linkedCloneMs: 200, snapshotMs: 50, pollMs: 100 },
} satisfies Record<string, ProvisionShape>;

export interface ProvisionBenchResult {
  shape: ProvisionShape;
  wallMs: number;
  /** ceil(vms / (nodes × perNode)) × the clone's duration: the bound. */
  idealCloneOnlyMs: number;
  /** The same rounds with each VM's baseline snapshot too (the slot is held until the VM is done). */
  idealWithBaselineMs: number;
  /** wall ÷ idealWithBaseline: 1.0 = the per-node bound is met exactly. */
  overBound: number;
  done: number;
  failed: number;
  retried: number;
  /** The most VMs the simulator showed under a clone lock at once, per node (must not exceed perNode). */
  maxClonesAtOncePerNode: Record<string, number>;
  /** Per job: request → job ended. */
  jobMs: number[];
}

export interface ProvisionBenchCtx {
  root: string;
  outDir: string;
  stamp: string;
  workDir: string;
  shape: ProvisionShape;
  log(msg: string): void;
}

interface JobView { id: number; state: string; total: number; done: number; failed: number; vms: Array<{ attempts: number; state: string }> }

/** Runs section 8 in its own simulator and labdeck processes. */
export async function benchProvision(ctx: ProvisionBenchCtx): Promise<ProvisionBenchResult> {
  const { shape, log } = ctx;
  const sim = ChildRpc.start('simulator', join(ctx.root, 'bench', 'sim-process.ts'), { cwd: ctx.root, logFile: join(ctx.outDir, `${ctx.stamp}-provision-simulator.log`) });
  let lab: ChildRpc | null = null;
  try {
    const [cluster] = await sim.call<SimClusterInfo[]>('start', {
      clusters: 1, guestsPerCluster: 6, nodesPerCluster: shape.nodes, taskStartMs: 200, agentTimeoutMs: 200, ipDelayMs: 0,
      taskDurationMs: { linkedClone: shape.linkedCloneMs, clone: shape.linkedCloneMs * 4, snapshot: shape.snapshotMs, config: 50, destroy: 200 },
    });
    const templates: number[] = [];
    for (const node of cluster.nodes.slice(0, shape.nodes)) {
      templates.push(await sim.call<number>('createGuest', { cluster: cluster.id, node, name: `tpl-${node}`, template: true, type: 'qemu' }));
    }
    await sim.call('refresh', {});
    const plan: SeedPlan = {
      password: 'bench-password-1', admins: ['admin1'], assignments: {},
      classes: [{ name: 'Provision bench', teacher: 'teacher01', cluster: cluster.id, students: [], pool: [], scopeWholeCluster: true }],
    };
    const planFile = join(ctx.workDir, 'provision-plan.json');
    writeFileSync(planFile, JSON.stringify(plan));
    lab = ChildRpc.start('labdeck', join(ctx.root, 'bench', 'labdeck-process.ts'), { cwd: ctx.root, logFile: join(ctx.outDir, `${ctx.stamp}-provision-labdeck.log`), env: { LOG_LEVEL: 'warn' } });
    const info = await lab.call<{ url: string }>('start', {
      dbFile: join(ctx.workDir, 'provision.db'), planFile, sessionSecret: 'p'.repeat(64), clusters: [cluster],
      quickIntervalSeconds: 3600, fullIntervalSeconds: 3600, seed: true, port: 0, sync: { taskIntervalSeconds: 0, nodeListIntervalSeconds: 0 },
      provision: { perNode: shape.perNode, pollMs: shape.pollMs },
    });
    await lab.call('waitFullPasses', { timeoutMs: 60_000 }, 70_000);
    const { teacher01: cookie } = await lab.call<Record<string, string>>('mintCookies', { usernames: ['teacher01'] });
    const base = info.url;
    const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
      const res = await fetch(base + path, { method, headers: { cookie, origin: base, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
      if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    };
    const { classes } = await api<{ classes: Array<{ id: number; name: string }> }>('GET', '/api/classes');
    const classId = classes.find((c) => c.name === 'Provision bench')!.id;

    // Watch the simulator's clone locks while the jobs run: the bound as Proxmox sees it.
    const maxPerNode: Record<string, number> = {};
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        for (const [node, n] of Object.entries(await sim.call<Record<string, number>>('cloneLocks', { cluster: cluster.id }))) maxPerNode[node] = Math.max(maxPerNode[node] ?? 0, n);
        await sleep(50);
      }
    })();
    const per = Math.ceil(shape.vms / templates.length);
    const t0 = now();
    const jobs = await Promise.all(templates.map((tpl, i) => api<{ job: JobView }>('POST', `/api/classes/${classId}/provision`, {
      cluster: cluster.id, templateVmid: tpl, count: i === templates.length - 1 ? shape.vms - per * i : per, namePrefix: `bench-n${i + 1}`, baseline: true,
    })));
    const ended = new Map<number, { at: number; view: JobView }>();
    while (ended.size < jobs.length) {
      for (const { job } of jobs) {
        if (ended.has(job.id)) continue;
        const view = await api<JobView>('GET', `/api/classes/${classId}/provision/${job.id}`);
        if (['done', 'failed', 'cancelled'].includes(view.state)) ended.set(job.id, { at: now(), view });
      }
      if (now() - t0 > 10 * 60_000) throw new Error('provisioning did not end within 10 minutes');
      await sleep(100);
    }
    const wallMs = Math.max(...[...ended.values()].map((e) => e.at)) - t0;
    watching = false;
    await watcher;
    const rounds = Math.ceil(shape.vms / (shape.nodes * shape.perNode));
    const views = [...ended.values()].map((e) => e.view);
    const result: ProvisionBenchResult = {
      shape,
      wallMs: round(wallMs, 0),
      idealCloneOnlyMs: rounds * shape.linkedCloneMs,
      idealWithBaselineMs: rounds * (shape.linkedCloneMs + shape.snapshotMs),
      overBound: round(wallMs / (rounds * (shape.linkedCloneMs + shape.snapshotMs)), 2),
      done: views.reduce((n, v) => n + v.done, 0),
      failed: views.reduce((n, v) => n + v.failed, 0),
      retried: views.reduce((n, v) => n + v.vms.filter((x) => x.attempts > 1).length, 0),
      maxClonesAtOncePerNode: maxPerNode,
      jobMs: [...ended.values()].map((e) => round(e.at - t0, 0)),
    };
    log(`  ${result.done}/${shape.vms} done (${result.failed} failed, ${result.retried} retried) in ${(wallMs / 1000).toFixed(1)} s; bound ${(result.idealCloneOnlyMs / 1000).toFixed(1)} s clones only, ${(result.idealWithBaselineMs / 1000).toFixed(1)} s with the baselines (×${result.overBound}); most clones at once per node ${JSON.stringify(maxPerNode)}`);
    return result;
  } finally {
    await lab?.stop();
    await sim.stop();
  }
}
