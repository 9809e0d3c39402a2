// Compares a node's live guest list with the stored rows (pure): which guests changed without a
// task (shut down or rebooted from inside their OS) and go to the fast lane, and whether guests
// appeared or vanished there, which the next pass should pick up at once.
import type { InventoryRow } from '../inventory/row.js';
import { START_TOLERANCE_MS } from '../inventory/noise.js';
import { guestProcessUp, isPending } from '../../contract/vm.js';
import type { GuestType } from '../pve/normalise.js';
import type { NodeGuestColumns } from '../pve/signals.js';

export interface NodeListVerdict {
  /** Guests whose live state contradicts the stored one: a live read settles each. */
  watch: number[];
  /** A guest is listed that is stored elsewhere or not at all, or a stored running guest is missing. */
  membershipChanged: boolean;
}

// "Up" here is the guest's process existing (contract/vm.ts guestProcessUp): a node list says
// running for a paused or suspended guest too. Pending states are labdeck's own actions in flight:
// the fast lane already follows them.
const up = guestProcessUp;
const pending = isPending;

/** The stored rows of a cluster indexed once for a whole sweep of its node lists. */
export interface StoredIndex {
  /** Live (not deleted) rows. */
  rows: readonly InventoryRow[];
  /** vmid → position in `rows`. */
  at: ReadonlyMap<number, number>;
  /** Positions of the live rows of each `${node}/${type}` list. */
  byList: ReadonlyMap<string, readonly number[]>;
  /**
   * Scratch of the checks: per position, the check that last saw the guest listed. Kept with the
   * index from one sweep to the next (one look-up per listed guest, nothing allocated).
   */
  seenBy: Int32Array;
  checks: number;
}

/** Indexes the cluster's live (not deleted) rows by vmid and by node list. */
export function indexStored(stored: readonly InventoryRow[]): StoredIndex {
  const rows: InventoryRow[] = [];
  const at = new Map<number, number>();
  const byList = new Map<string, number[]>();
  for (let i = 0; i < stored.length; i++) {
    const r = stored[i];
    if (r.deleted) continue;
    const p = rows.length;
    rows.push(r);
    at.set(r.vmid, p);
    const k = `${r.node}/${r.type}`;
    const list = byList.get(k);
    if (list) list.push(p);
    else byList.set(k, [p]);
  }
  return { rows, at, byList, seenBy: new Int32Array(rows.length), checks: 0 };
}

/** Checks one node's list of one guest type against the cluster's stored rows (as an array or indexed once per sweep). */
export function checkNodeList(
  stored: readonly InventoryRow[] | StoredIndex, node: string, type: GuestType, listed: NodeGuestColumns, held: ReadonlySet<number>, now: number,
): NodeListVerdict {
  const index = Array.isArray(stored) ? indexStored(stored) : stored as StoredIndex;
  const { rows, at, byList, seenBy } = index;
  const check = ++index.checks;
  const out: NodeListVerdict = { watch: [], membershipChanged: false };
  // Indexed loops: a sweep every few seconds, often before the optimising compiler took these.
  const { vmid: vmids, status: statuses, uptime: uptimes } = listed;
  for (let i = 0; i < listed.length; i++) {
    const vmid = vmids[i];
    const status = statuses[i];
    const p = at.get(vmid);
    if (p === undefined) { out.membershipChanged = true; continue; }
    seenBy[p] = check;
    const s = rows[p];
    if (s.node !== node || s.type !== type) { out.membershipChanged = true; continue; }
    if (held.has(vmid) || pending(s.status) || status === 'unknown') continue;
    // A node list says only running or stopped (paused shows as running without full=1).
    if (up(status) !== up(s.status)) { out.watch.push(vmid); continue; }
    // Running both times but booted since: a reboot from inside moves the start time (NaN: no uptime).
    const uptime = uptimes[i];
    if (status === 'running' && s.status === 'running' && s.started_at !== null && !Number.isNaN(uptime)
      && now - uptime * 1000 - s.started_at > START_TOLERANCE_MS) out.watch.push(vmid);
  }
  const mine = byList.get(`${node}/${type}`) ?? [];
  for (let i = 0; i < mine.length; i++) {
    const p = mine[i];
    if (up(rows[p].status) && seenBy[p] !== check) out.membershipChanged = true;
  }
  return out;
}

/** The (node, type) pairs worth reading: where stored guests run (only a running guest can stop by itself). */
export function nodeListsToRead(stored: readonly InventoryRow[]): Array<{ node: string; type: GuestType }> {
  const pairs = new Map<string, { node: string; type: GuestType }>();
  for (let i = 0; i < stored.length; i++) {
    const r = stored[i];
    if (r.deleted || !(up(r.status) || pending(r.status))) continue;
    const type = r.type as GuestType;
    pairs.set(`${r.node}/${type}`, { node: r.node, type });
  }
  return [...pairs.values()].sort((a, b) => (a.node + a.type < b.node + b.type ? -1 : 1));
}
