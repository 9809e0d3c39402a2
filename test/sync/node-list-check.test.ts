// A node's live list against the stored rows: who goes to the fast lane, when the next pass is due.
import { describe, expect, it } from 'vitest';
import { checkNodeList, indexStored, nodeListsToRead } from '../../server/sync/node-list-check.js';
import type { InventoryRow } from '../../server/inventory/row.js';
import { NodeGuestColumns, type NodeGuest } from '../../server/pve/signals.js';

const cols = (list: NodeGuest[]) => NodeGuestColumns.from(list);

const NOW = 1_800_000_000_000;

function row(vmid: number, over: Partial<InventoryRow> = {}): InventoryRow {
  return {
    cluster_id: 'c', vmid, name: `ws-${vmid}`, node: 'pve1', type: 'qemu', status: 'running', started_at: NOW - 3_600_000,
    cpu_usage: 0, memory_usage: 0.1, ip: null, ip_reason: 'not-checked', mac_address: null, rdp_available: null, ssh_available: null,
    memory: null, cores: null, disk_size: null, is_template: 0, tags: '', category: 'unknown', ostype: null, pool: null, lock: null,
    last_updated: NOW, last_seen: NOW, last_status_check: null, sync_error: null, revision: 1, deleted: 0, ...over,
  };
}

describe('node list check', () => {
  const stored = [row(100), row(101), row(102, { status: 'stopped', started_at: null }), row(103, { node: 'pve2' }), row(104, { type: 'lxc' })];

  it('sends a guest that stopped or rebooted without a task to the fast lane, and nothing else', () => {
    const v = checkNodeList(stored, 'pve1', 'qemu', cols([
      { vmid: 100, status: 'stopped', uptime: 0 },
      { vmid: 101, status: 'running', uptime: 60 },
      { vmid: 102, status: 'stopped', uptime: null },
    ]), new Set(), NOW);
    expect(v.watch.sort()).toEqual([100, 101]);
    expect(v.membershipChanged).toBe(false);
  });

  it('leaves guests the fast lane watches to it', () => {
    const v = checkNodeList(stored, 'pve1', 'qemu', cols([
      { vmid: 100, status: 'stopped', uptime: 0 }, { vmid: 101, status: 'running', uptime: 3_600 }, { vmid: 102, status: 'stopped', uptime: null },
    ]), new Set([100]), NOW);
    expect(v).toEqual({ watch: [], membershipChanged: false });
  });

  it('does not send a paused or suspended guest to the fast lane: a node list says running for it', () => {
    // Proxmox's node list says running whenever the guest's process exists (vmstatus without full=1).
    const still = [row(100, { status: 'paused' }), row(101, { status: 'suspended' })];
    const v = checkNodeList(still, 'pve1', 'qemu', cols([
      { vmid: 100, status: 'running', uptime: 3_600 }, { vmid: 101, status: 'running', uptime: 3_600 },
    ]), new Set(), NOW);
    expect(v).toEqual({ watch: [], membershipChanged: false });
    // Stopped from inside while suspended: that one is a real change.
    expect(checkNodeList(still, 'pve1', 'qemu', cols([{ vmid: 100, status: 'running', uptime: 3_600 }, { vmid: 101, status: 'stopped', uptime: 0 }]), new Set(), NOW).watch).toEqual([101]);
  });

  it('asks for a pass when a guest is listed elsewhere than stored, or a running one is missing', () => {
    const elsewhere = checkNodeList(stored, 'pve1', 'qemu', cols([
      { vmid: 100, status: 'running', uptime: 3_600 }, { vmid: 101, status: 'running', uptime: 3_600 }, { vmid: 103, status: 'running', uptime: 10 },
    ]), new Set(), NOW);
    expect(elsewhere.membershipChanged).toBe(true);
    const missing = checkNodeList(stored, 'pve1', 'qemu', cols([{ vmid: 100, status: 'running', uptime: 3_600 }]), new Set(), NOW);
    expect(missing.membershipChanged).toBe(true);
  });

  it('gives the same verdicts with one index reused for every list of every sweep', () => {
    const index = indexStored(stored);
    // One set of columns refilled by every read, as a sweep does.
    const listed = new NodeGuestColumns();
    const full: NodeGuest[] = [{ vmid: 100, status: 'running', uptime: 3_600 }, { vmid: 101, status: 'running', uptime: 3_600 }];
    expect(checkNodeList(index, 'pve1', 'qemu', NodeGuestColumns.from(full, listed), new Set(), NOW).membershipChanged).toBe(false);
    expect(checkNodeList(index, 'pve1', 'lxc', NodeGuestColumns.from([{ vmid: 104, status: 'running', uptime: 3_600 }], listed), new Set(), NOW).membershipChanged).toBe(false);
    // The next sweep: 101 is gone from its list although the previous check saw it there.
    expect(checkNodeList(index, 'pve1', 'qemu', NodeGuestColumns.from(full.slice(0, 1), listed), new Set(), NOW).membershipChanged).toBe(true);
    expect(checkNodeList(index, 'pve1', 'qemu', NodeGuestColumns.from(full, listed), new Set(), NOW).membershipChanged).toBe(false);
  });

  it('reads only the lists where stored guests run', () => {
    expect(nodeListsToRead(stored)).toEqual([{ node: 'pve1', type: 'lxc' }, { node: 'pve1', type: 'qemu' }, { node: 'pve2', type: 'qemu' }]);
  });
});
