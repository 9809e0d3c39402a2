// VM history (uptime per day from status changes) and the pruning of old history.
import { describe, expect, it } from 'vitest';
import { uptimeByDay, loadVmHistory } from '../../server/ops/vm-history.js';
import { pruneHistory } from '../../server/ops/retention.js';
import { dialects, openTestDb } from '../helpers/db.js';

const DAY = 86_400_000;
const d0 = Date.parse('2026-11-20T00:00:00Z');

describe('uptime per day', () => {
  it('splits running time over UTC days, across midnight', () => {
    const days = uptimeByDay('stopped', [
      { at: d0 + 22 * 3_600_000, from: 'stopped', to: 'running' },
      { at: d0 + DAY + 2 * 3_600_000, from: 'running', to: 'stopped' },
    ], d0, d0 + 2 * DAY);
    expect(days).toEqual([
      { date: '2026-11-20', uptimeSeconds: 7_200, upFraction: 0.083 },
      { date: '2026-11-21', uptimeSeconds: 7_200, upFraction: 0.083 },
    ]);
  });

  it('counts a guest that ran all along, and a partial last day against its elapsed part', () => {
    const days = uptimeByDay('running', [], d0 + 12 * 3_600_000, d0 + DAY + 6 * 3_600_000);
    expect(days.map((d) => [d.date, d.uptimeSeconds, d.upFraction])).toEqual([
      ['2026-11-20', 43_200, 1],
      ['2026-11-21', 21_600, 1],
    ]);
  });

  it('treats pending states of a running guest as up and paused as down', () => {
    const days = uptimeByDay('running', [
      { at: d0 + 1_000_000, from: 'running', to: 'shutting-down' },
      { at: d0 + 2_000_000, from: 'shutting-down', to: 'paused' },
    ], d0, d0 + DAY);
    expect(days[0].uptimeSeconds).toBe(2_000);
  });
});

describe.each(dialects)('history storage (%s)', (kind) => {
  it('loads the status changes of one VM and prunes what is older than the retention', async () => {
    const { db, close } = await openTestDb(kind);
    try {
      const now = d0 + 100 * DAY;
      const ev = (vmid: number, at: number, from: string, to: string) =>
        ({ cluster_id: 'lab-a', vmid, at, kind: 'status', from_value: from, to_value: to, detail: null });
      await db.insertInto('vm_events').values([
        ev(100, now - 95 * DAY, 'stopped', 'running'),
        ev(100, now - 2 * DAY, 'running', 'stopped'),
        ev(100, now - DAY, 'stopped', 'running'),
        ev(101, now - DAY, 'stopped', 'running'),
        { cluster_id: 'lab-a', vmid: 100, at: now - DAY / 2, kind: 'migrated', from_value: 'pve1', to_value: 'pve2', detail: null },
      ]).execute();
      await db.insertInto('sync_runs').values([
        { cluster_id: 'lab-a', kind: 'full', started_at: now - 91 * DAY, duration_ms: 5, guests_seen: 1, rows_changed: 0, requests: 1, error: null },
        { cluster_id: 'lab-a', kind: 'full', started_at: now - DAY, duration_ms: 5, guests_seen: 1, rows_changed: 0, requests: 1, error: null },
      ]).execute();

      const h = await loadVmHistory(db, 'lab-a', 100, 'running', now - 3 * DAY, now);
      expect(h.changes.map((c) => c.to)).toEqual(['stopped', 'running']);
      expect(h.days.map((d) => d.uptimeSeconds)).toEqual([86_400, 0, 86_400]);

      const pruned = await pruneHistory(db, 90, now);
      expect(pruned).toMatchObject({ vmEvents: 1, syncRuns: 1, alertEvents: 0, auditEntries: 0 });
      expect((await db.selectFrom('vm_events').select('id').execute()).length).toBe(4);
      expect((await db.selectFrom('sync_runs').select('id').execute()).length).toBe(1);
      // The pruned "started" event is gone, so the window now starts from the first kept change.
      const after = await loadVmHistory(db, 'lab-a', 100, 'running', now - 3 * DAY, now);
      expect(after.days.map((d) => d.uptimeSeconds)).toEqual([86_400, 0, 86_400]);
    } finally {
      await close();
    }
  });

  it('prunes the audit log at its own, longer retention: a year-old flood goes, last quarter\'s entries stay', async () => {
    const { db, close } = await openTestDb(kind);
    try {
      const now = d0 + 1000 * DAY;
      const entry = (at: number, vmid: number) => ({ at, user_id: null, username: 'sam', action: 'vm.stop', target: 'vm', cluster_id: 'lab-a', vmid, class_id: null, outcome: 'denied', detail: null, task: null, count: null });
      // 6,000 denied rows 400 days ago (more than one delete batch), and some from 100 days ago.
      for (let i = 0; i < 6_000; i += 1_000) {
        await db.insertInto('audit_log').values(Array.from({ length: 1_000 }, (_, j) => entry(now - 400 * DAY + i + j, 100 + ((i + j) % 900)))).execute();
      }
      await db.insertInto('audit_log').values([entry(now - 100 * DAY, 100), entry(now - 91 * DAY, 101), entry(now - DAY, 102)]).execute();
      // The history retention (90 days) does not touch the audit log; its own (default 365) does.
      const pruned = await pruneHistory(db, 90, now);
      expect(pruned.auditEntries).toBe(6_000);
      expect((await db.selectFrom('audit_log').select('vmid').orderBy('at').execute()).map((r) => r.vmid)).toEqual([100, 101, 102]);
      expect((await pruneHistory(db, 90, now, 30)).auditEntries).toBe(2);
    } finally {
      await close();
    }
  });
});
