// A quick pass that would repeat a no-op (same answer bytes, same stored rows) skips its diff:
// the inventory must come out exactly as if every pass had diffed, including the changes that
// only the clock brings (a pending state that expires, a start time that drifts out of tolerance),
// and the same live checks asked for while the answer contradicts a held status.
import { afterEach, describe, expect, it } from 'vitest';
import { openTestDb } from '../helpers/db.js';
import { parseFileConfig } from '../../server/config.js';
import { InventoryRepo } from '../../server/inventory/repository.js';
import { LIVE_HOLD_MS, PENDING_HOLD_MS } from '../../server/inventory/diff.js';
import { START_TOLERANCE_MS } from '../../server/inventory/noise.js';
import { createPveClient, type PveClient } from '../../server/pve/client.js';
import { runPass, type PassContext, type QuietPass } from '../../server/sync/pass.js';
import type { Simulator } from '../../server/simulator/index.js';
import { startSim } from './helpers.js';

describe('quick passes that skip a repeated no-op', () => {
  let sim: Simulator;
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
    await sim?.close();
  });

  /** A repository, client and pass context on a fresh database, driven by the given clock. */
  async function lane(clock: () => number, quiet: boolean): Promise<PassContext & { repo: InventoryRepo; client: PveClient }> {
    const { db, close } = await openTestDb('sqlite');
    const c = sim.cluster('lab');
    const client = createPveClient(parseFileConfig({ clusters: [{ id: 'lab', url: c.url, tokenId: c.tokenId, tokenSecret: c.tokenSecret }] }).clusters[0]);
    cleanups.push(async () => { await client.close(); await close(); });
    const repo = new InventoryRepo(db, { now: clock });
    return {
      cluster: 'lab', client, repo, detailConcurrency: 4, probePorts: false, heldStatus: () => new Set<number>(), now: clock,
      ...(quiet ? { quiet: { last: null as QuietPass | null } } : {}),
    };
  }

  it('gives the same inventory as diffing every pass, clock-driven changes included', async () => {
    // pvestatd held: every quick pass below gets the very same bytes.
    sim = await startSim([{ id: 'lab', nodes: 2, guests: 12, seed: 5 }], { pvestatdIntervalMs: 3_600_000 });
    let now = Date.now();
    const clock = () => now;
    const skipping = await lane(clock, true);
    const diffing = await lane(clock, false);
    let verify: number[] = [];
    const both = async (kind: 'full' | 'quick') => {
      const a = await runPass(skipping, kind);
      const b = await runPass(diffing, kind);
      expect(a.changed).toBe(b.changed);
      expect(a.verify).toEqual(b.verify);
      verify = a.verify;
      return a.changed;
    };
    const rows = async (repo: InventoryRepo) => (await repo.storedRows('lab')).map((r) => ({ ...r })).sort((x, y) => x.vmid - y.vmid);

    await both('full');
    expect(await both('quick')).toBe(0);
    expect(skipping.quiet!.last).not.toBeNull();
    now += 1000;
    expect(await both('quick')).toBe(0);

    // A pending state labdeck wrote holds against the unchanged (lagging) answer, then expires.
    const stopped = sim.cluster('lab').guests().find((g) => g.status === 'stopped' && !g.template)!;
    await skipping.repo.setStatus('lab', stopped.vmid, 'starting');
    await diffing.repo.setStatus('lab', stopped.vmid, 'starting');
    now += 5000;
    expect(await both('quick')).toBe(0);
    now += 5000;
    expect(await both('quick')).toBe(0);
    now += PENDING_HOLD_MS;
    expect(await both('quick')).toBeGreaterThanOrEqual(1);
    expect((await skipping.repo.get('lab', stopped.vmid))!.status).toBe('stopped');

    // The same uptime read much later means a later start: rewritten once out of tolerance.
    now += 1000;
    expect(await both('quick')).toBe(0);
    now += START_TOLERANCE_MS + 10_000;
    expect(await both('quick')).toBeGreaterThan(0);
    expect(await both('quick')).toBe(0);

    // A status labdeck wrote that the unchanged answer contradicts: every pass asks for a live
    // check (the first after the write diffs that row only, the next skips the diff), until the hold ends.
    const other = sim.cluster('lab').guests().find((g) => !g.template && g.vmid !== stopped.vmid)!;
    const opposite = other.status === 'stopped' ? 'running' : 'stopped';
    await skipping.repo.setStatus('lab', other.vmid, opposite);
    await diffing.repo.setStatus('lab', other.vmid, opposite);
    now += 1000;
    expect(await both('quick')).toBe(0);
    expect(verify).toEqual([other.vmid]);
    expect(skipping.quiet!.last?.verify).toEqual([other.vmid]);
    now += 1000;
    expect(await both('quick')).toBe(0);
    expect(verify).toEqual([other.vmid]);
    now += LIVE_HOLD_MS;
    expect(await both('quick')).toBe(1);
    expect(verify).toEqual([]);
    expect((await skipping.repo.get('lab', other.vmid))!.status).not.toBe(opposite);

    expect(await rows(skipping.repo)).toEqual(await rows(diffing.repo));
  });
});
