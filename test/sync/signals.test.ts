// The live signals: with the snapshot frozen (pvestatd never refreshes, no quick pass comes), a
// change made outside labdeck still reaches the inventory: a Proxmox UI task through the task
// list, a shutdown from inside a guest through the node lists, a migration, clone or destroy
// through the task list and one quick pass, and a rolled-over task list through the fallback.
import { afterEach, describe, expect, it } from 'vitest';
import { openTestDb } from '../helpers/db.js';
import type { Db } from '../../server/db/index.js';
import { TASKS_KEPT_PER_NODE, type Simulator } from '../../server/simulator/index.js';
import { waitFor } from '../helpers/wait.js';
import { makeManager, startSim, type Harness } from './helpers.js';
import { vmKey } from '../../contract/vm.js';

// The snapshot never refreshes on its own, and no timed pass runs after the first full one.
const FROZEN = { pvestatdIntervalMs: 3_600_000 };
const NO_PASSES = { fullIntervalSeconds: 3600, quickIntervalSeconds: 3600, fastIntervalMs: 100 };

describe('live signals', () => {
  let sim: Simulator;
  let db: Db;
  let closeDb: () => Promise<void>;
  let h: Harness;
  afterEach(async () => {
    await h?.manager.stop();
    await sim?.close();
    await closeDb?.();
  });

  async function setup(sync: Record<string, unknown>, guests = 24, tasks: Record<string, number> = {}, simOver: Record<string, unknown> = {}) {
    sim = await startSim([{ id: 'lab', guests, nodes: 2, seed: 5 }], { ...FROZEN, taskDurationMs: { start: 150, stop: 100, shutdown: 3000, reboot: 150, migrate: 200, clone: 300, destroy: 150, ...tasks }, ...simOver });
    ({ db, close: closeDb } = await openTestDb('sqlite'));
    h = makeManager(db, sim, { ...NO_PASSES, ...sync });
    await h.manager.start();
    await waitFor(() => h.manager.status().clusters[0].lastFullAt !== null, 20_000);
    return sim.cluster('lab');
  }
  const stored = (vmid: number) => h.repo.get('lab', vmid);
  const passKinds = () => h.manager.status().clusters[0].recentPasses.map((p) => p.kind);

  it('a Proxmox UI task reaches the inventory through the task list, from its start to its end', async () => {
    const c = await setup({ taskIntervalSeconds: 0.5, nodeListIntervalSeconds: 0 });
    const g = c.guests().find((x) => x.status === 'running' && !x.template && x.type === 'qemu')!;
    const upid = c.powerOutside(g.vmid, 'shutdown', 'ui')!;
    // Seen while it runs: the guest is watched before the task ends.
    await waitFor(() => h.manager.status().clusters[0].fastLane > 0 && c.tasks().find((t) => t.upid === upid)!.endtime === undefined, 30_000);
    await c.taskDone(upid);
    expect(await waitFor(async () => (await stored(g.vmid))?.status === 'stopped')).toBe(true);
    // A short task that starts and ends between two reads is caught by its end.
    const s = c.guests().find((x) => x.status === 'stopped' && !x.template && x.type === 'qemu' && x.vmid !== g.vmid)!;
    await c.taskDone(c.powerOutside(s.vmid, 'start', 'ui')!);
    await waitFor(async () => (await stored(s.vmid))?.status === 'running');
    expect(passKinds()).toEqual(['full']);
    expect(h.manager.signalStats().lab.signalled).toBeGreaterThanOrEqual(2);
  });

  it('a task end seen in the task list is pushed within one task-list period, not at the next fast-lane poll nor after the address', async () => {
    // The fast lane polls only every 5 s and a booting guest's agent takes 3 s to answer: a push
    // within one task-list period (plus a few reads and a write) can only come from acting on the
    // task's end at once and writing the status before asking for the address.
    const TASK_MS = 500;
    const SLACK_MS = 1_000;
    const c = await setup({ taskIntervalSeconds: TASK_MS / 1000, nodeListIntervalSeconds: 0, fastIntervalMs: 5_000 }, 24,
      { start: 2_000, shutdown: 2_000 }, { agentTimeoutMs: 3_000, ipDelayMs: 3_000 });
    const pushedAs = (vmid: number, status: string) => new Promise<number>((resolve) => {
      const on = (e: { vms: Array<{ id: string; status: string }> }) => {
        if (!e.vms.some((v) => v.id === vmKey('lab', vmid) && v.status === status)) return;
        h.feed.off('vm:changed', on);
        resolve(Date.now());
      };
      h.feed.on('vm:changed', on);
    });
    for (const [from, action, to] of [['running', 'shutdown', 'stopped'], ['stopped', 'start', 'running']] as const) {
      const g = c.guests().find((x) => x.status === from && !x.template && x.type === 'qemu')!;
      const pushed = pushedAs(g.vmid, to);
      const upid = c.powerOutside(g.vmid, action, 'ui')!;
      // Watched while the task runs: its first live read is done and the next is 5 s away.
      await waitFor(() => h.logs.some((l) => l.trace === 'live-read' && l.vmid === g.vmid), 30_000, 'the first live read');
      await c.taskDone(upid);
      const endedAt = Date.now();
      expect(await pushed - endedAt).toBeLessThan(TASK_MS + SLACK_MS);
    }
  });

  it('a shutdown from inside a guest (no task) reaches the inventory through the node list', async () => {
    const c = await setup({ taskIntervalSeconds: 0, nodeListIntervalSeconds: 1 });
    const q = c.guests().find((x) => x.status === 'running' && !x.template && x.type === 'qemu')!;
    const l = c.guests().find((x) => x.status === 'running' && !x.template && x.type === 'lxc')!;
    const tasksBefore = c.tasks().length;
    c.powerOutside(q.vmid, 'shutdown', 'guest');
    c.powerOutside(l.vmid, 'shutdown', 'guest');
    await waitFor(async () => (await stored(q.vmid))?.status === 'stopped' && (await stored(l.vmid))?.status === 'stopped', 30_000);
    expect(c.tasks()).toHaveLength(tasksBefore);
    expect(passKinds()).toEqual(['full']);
    // A reboot from inside keeps it running but moves its start time.
    const r = c.guests().find((x) => x.status === 'running' && !x.template && x.vmid !== q.vmid && x.vmid !== l.vmid)!;
    const before = (await stored(r.vmid))!.startedAt!;
    c.powerOutside(r.vmid, 'reboot', 'guest');
    await waitFor(async () => ((await stored(r.vmid))!.startedAt ?? 0) > before + 30_000, 30_000);
  });

  it('a shutdown from inside right after a Proxmox UI start shows within a node-list period, not after the live-reading hold', async () => {
    // The fast lane holds a guest's status for 15 s after its last live reading (against the lagging
    // snapshot); the node lists are live and must not wait for that.
    const LIST_MS = 1_000;
    const SLACK_MS = 3_000;
    const c = await setup({ taskIntervalSeconds: 0.5, nodeListIntervalSeconds: LIST_MS / 1000 });
    const g = c.guests().find((x) => x.status === 'stopped' && !x.template && x.type === 'qemu')!;
    await c.taskDone(c.powerOutside(g.vmid, 'start', 'ui')!);
    await waitFor(async () => (await stored(g.vmid))?.status === 'running' && h.manager.status().clusters[0].fastLane === 0, 30_000);
    const at = Date.now();
    c.powerOutside(g.vmid, 'shutdown', 'guest');
    await waitFor(async () => (await stored(g.vmid))?.status === 'stopped', 30_000);
    expect(Date.now() - at).toBeLessThan(LIST_MS + SLACK_MS);
  });

  it('a migration seen in the task list moves the VM once it ends', async () => {
    const c = await setup({ taskIntervalSeconds: 0.5, nodeListIntervalSeconds: 0 });
    const g = c.guests().find((x) => x.status === 'stopped' && !x.template)!;
    const to = c.nodes.find((n) => n !== g.node)!;
    const upid = c.migrate(g.vmid, to, 'ui')!;
    await c.taskDone(upid);
    await waitFor(async () => (await stored(g.vmid))?.node === to);
    const events = await db.selectFrom('vm_events').selectAll().where('vmid', '=', g.vmid).where('kind', '=', 'migrated').execute();
    expect(events).toEqual([expect.objectContaining({ from_value: g.node, to_value: to })]);
    expect(passKinds().filter((k) => k === 'full')).toHaveLength(1);
  });

  it('a clone shows as added and a destroy as removed, without a full pass', async () => {
    const c = await setup({ taskIntervalSeconds: 0.5, nodeListIntervalSeconds: 0 });
    const src = c.guests().find((x) => x.template) ?? c.guests().find((x) => x.status === 'stopped')!;
    const { upid, newid } = c.cloneGuest(src.vmid, { name: 'outside-copy' });
    await c.taskDone(upid);
    // The snapshot lists a new guest as a stub until pvestatd's next broadcast; here that is now.
    c.refreshNow();
    const added = await waitFor(() => stored(newid), 30_000);
    expect(added).toMatchObject({ vmid: newid });
    await waitFor(async () => (await stored(newid))?.name === 'outside-copy', 30_000);
    const victim = c.guests().find((x) => x.status === 'stopped' && !x.template && x.vmid !== newid && x.vmid !== src.vmid)!;
    await c.taskDone(c.destroyGuest(victim.vmid, 'ui')!);
    await waitFor(async () => (await stored(victim.vmid)) === null, 30_000);
    expect(passKinds().filter((k) => k === 'full')).toHaveLength(1);
    const removed = await db.selectFrom('vm_events').selectAll().where('vmid', '=', victim.vmid).where('kind', '=', 'removed').execute();
    expect(removed).toHaveLength(1);
  });

  it('a task list that rolled over between two reads falls back to the node lists and the snapshot', async () => {
    // Timers off: the test reads the signals itself, so that it can make the list roll over in between.
    const c = await setup({ taskIntervalSeconds: 0, nodeListIntervalSeconds: 0 }, 60);
    const node = c.nodes[0];
    const stoppedHere = c.guests().filter((x) => x.node === node && x.status === 'stopped' && !x.template && x.type === 'qemu');
    await c.taskDone(c.powerOutside(stoppedHere[0].vmid, 'stop', 'ui')!);
    await h.manager.checkSignals('lab');
    // A start that the next read will never see: TASKS_KEPT_PER_NODE later tasks push it out.
    const missed = stoppedHere[1];
    await c.taskDone(c.powerOutside(missed.vmid, 'start', 'ui')!);
    const filler = stoppedHere.slice(2);
    const ups: string[] = [];
    for (let i = 0; i < TASKS_KEPT_PER_NODE; i++) ups.push(c.powerOutside(filler[i % filler.length].vmid, 'stop', 'ui')!);
    await Promise.all(ups.map((u) => c.taskDone(u)));
    expect(c.tasks().some((t) => t.id === String(missed.vmid) && t.type === 'qmstart')).toBe(false);
    expect((await stored(missed.vmid))!.status).toBe('stopped');
    await h.manager.checkSignals('lab');
    await waitFor(async () => (await stored(missed.vmid))?.status === 'running', 30_000);
    expect(h.logs.some((l) => /rolled over/.test(String(l.msg)))).toBe(true);
    expect(h.manager.signalStats().lab.rollovers).toBe(1);
  });
});
