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

/** Bits of `StoredIndex.state`: what the check needs to know of a stored status. */
const UP = 1;
const PENDING = 2;
const RUNNING = 4;

/**
 * The stored rows of a cluster indexed once for the sweeps until they change, as columns: a
 * sweep checks thousands of listed guests every few seconds, and reading the stored rows
 * themselves (objects of many shapes, made by the database driver and by every pass) cost more
 * than a microsecond a guest.
 */
export interface StoredIndex {
  /** vmid → position of its live (not deleted) row. */
  at: ReadonlyMap<number, number>;
  /** `${node}/${type}` → list number. */
  lists: ReadonlyMap<string, number>;
  /** Per position: the list number of the row's node and type. */
  list: Int32Array;
  /** Per position: UP, PENDING, RUNNING bits of the stored status. */
  state: Uint8Array;
  /** Per position: the stored start time (epoch ms), NaN when unknown. */
  startedAt: Float64Array;
  /** Per list number: the positions stored there that are up. */
  upIn: readonly Int32Array[];
  /**
   * Scratch of the checks: per position, the check that last saw the guest listed. Kept with the
   * index from one sweep to the next (one look-up per listed guest, nothing allocated).
   */
  seenBy: Int32Array;
  checks: number;
}

/** Indexes the cluster's live (not deleted) rows by vmid and by node list. */
export function indexStored(stored: readonly InventoryRow[]): StoredIndex {
  const live = stored.filter((r) => !r.deleted);
  const at = new Map<number, number>();
  const lists = new Map<string, number>();
  const list = new Int32Array(live.length);
  const state = new Uint8Array(live.length);
  const startedAt = new Float64Array(live.length);
  const upIn: number[][] = [];
  for (let p = 0; p < live.length; p++) {
    const r = live[p];
    at.set(r.vmid, p);
    const k = `${r.node}/${r.type}`;
    let n = lists.get(k);
    if (n === undefined) { n = lists.size; lists.set(k, n); upIn.push([]); }
    list[p] = n;
    state[p] = (up(r.status) ? UP : 0) | (pending(r.status) ? PENDING : 0) | (r.status === 'running' ? RUNNING : 0);
    startedAt[p] = r.started_at ?? NaN;
    if (state[p] & UP) upIn[n].push(p);
  }
  return { at, lists, list, state, startedAt, upIn: upIn.map((ps) => Int32Array.from(ps)), seenBy: new Int32Array(live.length), checks: 0 };
}

/** Checks one node's list of one guest type against the cluster's stored rows (as an array or indexed once per sweep). */
export function checkNodeList(
  stored: readonly InventoryRow[] | StoredIndex, node: string, type: GuestType, listed: NodeGuestColumns, held: ReadonlySet<number>, now: number,
): NodeListVerdict {
  const index = Array.isArray(stored) ? indexStored(stored) : stored as StoredIndex;
  const { at, list, state, startedAt, seenBy } = index;
  const mine = index.lists.get(`${node}/${type}`) ?? -1;
  const check = ++index.checks;
  const out: NodeListVerdict = { watch: [], membershipChanged: false };
  const anyHeld = held.size > 0;
  // Indexed loops over columns: a sweep every few seconds, often before the optimising compiler took these.
  const { vmid: vmids, status: statuses, uptime: uptimes } = listed;
  for (let i = 0; i < listed.length; i++) {
    const vmid = vmids[i];
    const status = statuses[i];
    const p = at.get(vmid);
    if (p === undefined) { out.membershipChanged = true; continue; }
    seenBy[p] = check;
    if (list[p] !== mine) { out.membershipChanged = true; continue; }
    const st = state[p];
    if ((st & PENDING) !== 0 || status === 'unknown' || (anyHeld && held.has(vmid))) continue;
    // A node list says only running or stopped (paused shows as running without full=1).
    if (up(status) !== ((st & UP) !== 0)) { out.watch.push(vmid); continue; }
    // Running both times but booted since: a reboot from inside moves the start time (NaN: no uptime).
    const uptime = uptimes[i];
    if (status === 'running' && (st & RUNNING) !== 0 && now - uptime * 1000 - startedAt[p] > START_TOLERANCE_MS) out.watch.push(vmid);
  }
  // A stored running guest its list no longer shows has moved or gone.
  if (mine >= 0) {
    const ups = index.upIn[mine];
    for (let i = 0; i < ups.length; i++) if (seenBy[ups[i]] !== check) { out.membershipChanged = true; break; }
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
