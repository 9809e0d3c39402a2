// Clusters that start together do not read and diff their snapshots at the same moment: each
// cluster's quick passes fall at its own place in the interval (1/n of it apart), so the work of
// n clusters is spread over the interval instead of arriving all at once every interval.
import { afterAll, describe, expect, it } from 'vitest';
import { openTestDb } from '../helpers/db.js';
import { waitFor } from '../helpers/wait.js';
import { makeManager, startSim } from './helpers.js';

describe('sync phases', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterAll(async () => { for (const f of cleanup.reverse()) await f(); });

  it('spreads the quick passes of clusters that started together over the interval', async () => {
    const sim = await startSim([{ id: 'a', guests: 20 }, { id: 'b', guests: 20 }, { id: 'c', guests: 20 }]);
    cleanup.push(() => sim.close());
    const { db, close } = await openTestDb('sqlite');
    cleanup.push(close);
    const intervalS = 1.2;
    const { manager } = makeManager(db, sim, { quickIntervalSeconds: intervalS, taskIntervalSeconds: 0, nodeListIntervalSeconds: 0 });
    cleanup.push(() => manager.stop());
    await manager.start();
    const passes = (id: string) => manager.status().clusters.find((c) => c.id === id)!.recentPasses;
    const quick = await waitFor(() => {
      const firsts = ['a', 'b', 'c'].map((id) => passes(id).find((p) => p.kind === 'quick'));
      return firsts.every(Boolean) ? firsts.map((p) => p!.startedAt) : null;
    }, 10_000, 'a quick pass of every cluster');
    const fullEnds = ['a', 'b', 'c'].map((id) => { const f = passes(id).find((p) => p.kind === 'full')!; return f.startedAt + f.durationMs; });
    // The clusters' first full passes end close together; their first quick passes follow 1/3,
    // 2/3 and all of the interval later (in configuration order), not together after the interval.
    const after = quick.map((t, i) => (t - fullEnds[i]) / 1000);
    expect(after[0]).toBeLessThan(after[1]);
    expect(after[1]).toBeLessThan(after[2]);
    expect(after[1] - after[0]).toBeGreaterThan(intervalS / 6);
    expect(after[2] - after[1]).toBeGreaterThan(intervalS / 6);
    expect(Math.max(...quick) - Math.min(...quick)).toBeGreaterThan(intervalS / 3);
  });
});
