// Which errors mean "the database is unavailable" (kept off a cluster's health, shown by /readyz)
// and which are a statement's own fault; and the node-offline reading of a /cluster/resources answer.
import { describe, expect, it } from 'vitest';
import { DbHealth, isDatabaseUnavailable } from '../../server/db/health.js';
import { normaliseResources } from '../../server/pve/normalise.js';
import { diffInventory, NODE_OFFLINE } from '../../server/inventory/diff.js';

const err = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('database availability', () => {
  it('tells an unavailable database from a wrong statement', () => {
    expect(isDatabaseUnavailable(err('SQLITE_FULL', 'database or disk is full'))).toBe(true);
    expect(isDatabaseUnavailable(err('SQLITE_BUSY', 'database is locked'))).toBe(true);
    expect(isDatabaseUnavailable(err('57P01', 'terminating connection due to administrator command'))).toBe(true);
    expect(isDatabaseUnavailable(err('ECONNREFUSED'))).toBe(true);
    expect(isDatabaseUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isDatabaseUnavailable(err('55000', 'database "x" is not currently accepting connections'))).toBe(true);
    expect(isDatabaseUnavailable(err('SQLITE_CONSTRAINT_UNIQUE'))).toBe(false);
    expect(isDatabaseUnavailable(err('23505', 'duplicate key'))).toBe(false);
    expect(isDatabaseUnavailable(new TypeError('bug'))).toBe(false);
  });

  it('a full disk stays failing through reads and clears with a write', () => {
    const h = new DbHealth();
    h.failed(err('SQLITE_FULL', 'database or disk is full'));
    h.succeeded(false);
    expect(h.state()).toMatchObject({ ok: false, error: expect.stringMatching(/disk is full/) });
    h.succeeded(true);
    expect(h.state().ok).toBe(true);
  });
});

describe('an offline node', () => {
  it('is read from the node rows, and its guests\' stubs become unknown with the reason', () => {
    const list = normaliseResources([
      { id: 'qemu/100', vmid: 100, node: 'pve1', type: 'qemu', status: 'running', name: 'a', uptime: 5 },
      { id: 'qemu/101', vmid: 101, node: 'pve2', type: 'qemu', status: 'unknown' },
      { id: 'node/pve1', type: 'node', node: 'pve1', status: 'online' },
      { id: 'node/pve2', type: 'node', node: 'pve2', status: 'offline' },
    ]);
    expect(list.nodes).toEqual([{ name: 'pve1', online: true }, { name: 'pve2', online: false }]);
    const first = diffInventory({ cluster: 'c', stored: [], fetched: list.rows, kind: 'full', now: 1_000 });
    const stored = first.upserts.map((r) => (r.vmid === 101 ? { ...r, status: 'running', name: 'b' } : r));
    const d = diffInventory({ cluster: 'c', stored, fetched: list.rows, kind: 'quick', now: 2_000, offlineNodes: new Set(['pve2']) });
    expect(d.upserts.map((r) => [r.vmid, r.status, r.sync_error])).toEqual([[101, 'unknown', NODE_OFFLINE]]);
    expect(d.statusChanged).toEqual([]);
  });
});
