// The pure diff: stored rows + what a pass fetched (+ guest details) → rows to write, tombstones
// and events. No I/O, no clock: `now` comes in. Revisions are assigned by the writer.
import type { GuestAddress, GuestConfig, LiveStatus, ResourceRow } from '../pve/normalise.js';
import { categoryOf } from '../pve/normalise.js';
import { guestProcessUp as isUp, isPending, type VmCategory, type VmStatus } from '../../contract/vm.js';
import type { InventoryRow } from './row.js';
import { START_TOLERANCE_MS, memoryFraction, quantiseCpu, quantiseUsage, startedAtFrom } from './noise.js';
import type { SnapshotPassKind } from '../../contract/sync.js';

export type PassKindForDiff = SnapshotPassKind;

/** How long a pending state survives passes that still show the old state (pvestatd lag). */
export const PENDING_HOLD_MS = 90_000;
/** After a live reading or a status labdeck wrote, a snapshot up to pvestatd's 10 s old must not undo it. */
export const LIVE_HOLD_MS = 15_000;

/** Details that /cluster/resources lacks; each part is optional (the fast lane may fetch only the address). */
export interface GuestDetails {
  config?: GuestConfig;
  address?: GuestAddress;
  rdp?: boolean | null;
  ssh?: boolean | null;
  /** Why a detail call failed, shown as the row's sync_error; null clears it. */
  error?: string | null;
}

export interface VmEventInput {
  cluster_id: string;
  vmid: number;
  at: number;
  kind: 'status' | 'migrated' | 'created' | 'removed';
  from_value: string | null;
  to_value: string | null;
  detail: string | null;
}

/** A row to write; `revision` is a placeholder until the writer assigns one. */
export type RowToWrite = InventoryRow;

export interface DiffResult {
  upserts: RowToWrite[];
  tombstones: RowToWrite[];
  events: VmEventInput[];
  /** Guests whose status changed in this pass (not new ones): candidates for the fast lane. */
  statusChanged: number[];
  /**
   * Held guests whose snapshot says up where the stored status says down, or the reverse: the
   * snapshot may lag or the guest really changed outside labdeck, so a live check must decide.
   */
  verify: number[];
  /**
   * When nothing changed: until when the same inputs stay a no-op as time passes (the earliest
   * moment a status hold ends or a start time drifts out of tolerance); Infinity when never.
   */
  quietUntil: number;
}

export interface DiffInput {
  cluster: string;
  stored: readonly InventoryRow[];
  fetched: readonly ResourceRow[];
  kind: PassKindForDiff;
  now: number;
  details?: ReadonlyMap<number, GuestDetails>;
  /** Guests whose status the fast lane read live recently: the lagging snapshot must not undo it. */
  holdStatus?: ReadonlySet<number>;
  /** Guests listed but unreadable (malformed entries): not seen, yet not gone either. */
  listedUnreadable?: readonly number[];
  /** Guests a finished destroy task says are gone: any pass may remove them once the answer lacks them. */
  destroyed?: ReadonlySet<number>;
  /** Nodes the answer lists as offline: their guests' last status is no longer known. */
  offlineNodes?: ReadonlySet<string>;
}

/** The sync_error of a guest whose node is offline (its status then reads "unknown"). */
export { NODE_OFFLINE } from '../../contract/classes.js';
import { NODE_OFFLINE } from '../../contract/classes.js';

/** True when the two rows differ in anything a user would notice (bookkeeping columns excluded). */
export function rowChanged(a: InventoryRow, b: InventoryRow): boolean {
  // Spelled out rather than looped over a key list: this runs for every guest on every pass, and
  // named property reads are several times faster than keyed ones here.
  return a.name !== b.name || a.node !== b.node || a.type !== b.type || a.status !== b.status
    || a.started_at !== b.started_at || a.cpu_usage !== b.cpu_usage || a.memory_usage !== b.memory_usage
    || a.ip !== b.ip || a.ip_reason !== b.ip_reason || a.mac_address !== b.mac_address
    || a.rdp_available !== b.rdp_available || a.ssh_available !== b.ssh_available
    || a.memory !== b.memory || a.cores !== b.cores || a.disk_size !== b.disk_size || a.is_template !== b.is_template
    || a.tags !== b.tags || a.category !== b.category || a.ostype !== b.ostype || a.pool !== b.pool
    || a.lock !== b.lock || a.sync_error !== b.sync_error || a.deleted !== b.deleted;
}

const bool = (x: boolean | null | undefined): number | null => (x === null || x === undefined ? null : x ? 1 : 0);

/** Tags as stored (joined by ';'): normalising hands out one frozen list per raw string, so the join is kept per list. */
const joinedTags = new WeakMap<readonly string[], string>();
function tagsText(tags: readonly string[]): string {
  if (tags.length === 0) return '';
  let s = joinedTags.get(tags);
  if (s === undefined) joinedTags.set(tags, (s = tags.join(';')));
  return s;
}

/** True when a stored pending state is young enough that a lagging snapshot must not replace it. */
export function pendingHeld(row: InventoryRow, now: number): boolean {
  return isPending(row.status) && now - row.last_updated < PENDING_HOLD_MS;
}

/** True when the stored status is newer than any snapshot could be (pending, or read live moments ago). */
export function statusHeld(row: InventoryRow, now: number): boolean {
  return pendingHeld(row, now) || (row.last_status_check !== null && now - row.last_status_check < LIVE_HOLD_MS);
}

/** When statusHeld(row) turns false (in the past when it is not held). */
export function holdEndsAt(row: InventoryRow): number {
  const pending = isPending(row.status) ? row.last_updated + PENDING_HOLD_MS : -Infinity;
  const live = row.last_status_check !== null ? row.last_status_check + LIVE_HOLD_MS : -Infinity;
  return Math.max(pending, live);
}

/**
 * True when a snapshot entry contradicts a held stored status (up against down). Pending states
 * are left to the action that wrote them; stubs and "unknown" claim nothing.
 */
export function snapshotContradicts(stored: InventoryRow, f: ResourceRow): boolean {
  if (f.status === 'unknown' || isPending(stored.status)) return false;
  return isUp(f.status) !== isUp(stored.status);
}

/** An empty row for a guest seen for the first time. */
function blankRow(cluster: string, f: ResourceRow, now: number): InventoryRow {
  return {
    cluster_id: cluster, vmid: f.vmid, name: '', node: f.node, type: f.type, status: 'unknown',
    started_at: null, cpu_usage: null, memory_usage: null, ip: null, ip_reason: 'not-checked',
    mac_address: null, rdp_available: null, ssh_available: null, memory: null, cores: null, disk_size: null,
    is_template: 0, tags: '', category: f.type === 'lxc' ? 'lxc' : 'unknown', ostype: null, pool: null,
    lock: null, last_updated: now, last_seen: now, last_status_check: null, sync_error: null, revision: 0, deleted: 0,
  };
}

/** Applies details (config, address, probes) onto a row being built. */
function applyDetails(next: InventoryRow, d: GuestDetails | undefined): void {
  if (!d) return;
  if (d.config) {
    next.mac_address = d.config.mac;
    next.ostype = d.config.ostype;
    next.category = categoryOf(next.type, d.config.ostype) as VmCategory;
    if (next.cores === null) next.cores = d.config.cores;
    if (next.memory === null) next.memory = d.config.memory;
    if (!next.name && d.config.name) next.name = d.config.name;
  }
  if (d.address) {
    next.ip = d.address.ip;
    next.ip_reason = d.address.ip ? null : d.address.reason;
    if (!d.address.ip) { next.rdp_available = null; next.ssh_available = null; }
  }
  if (d.rdp !== undefined) next.rdp_available = bool(d.rdp);
  if (d.ssh !== undefined) next.ssh_available = bool(d.ssh);
  if (d.error !== undefined) next.sync_error = d.error;
}

/** Address bookkeeping that follows from a status change when no fresh address was fetched. */
export function addressFollowsStatus(prev: InventoryRow | null, next: InventoryRow): void {
  if (next.status === 'stopped') {
    next.ip = null; next.ip_reason = 'stopped'; next.rdp_available = null; next.ssh_available = null;
  } else if (next.status === 'running' && next.ip === null && (prev === null || prev.ip_reason === 'stopped' || prev.status === 'stopped')) {
    next.ip_reason = 'not-checked';
  }
}

/**
 * The row a fetched /cluster/resources entry makes of the stored one; built in `into` when given
 * (a scratch row the caller copies only if it differs from the stored one).
 */
export function mergeResource(cluster: string, stored: InventoryRow | null, f: ResourceRow, now: number,
  details: GuestDetails | undefined, hold: boolean, nodeOffline = false, into?: InventoryRow): InventoryRow {
  const base = stored && !stored.deleted ? stored : null;
  const next: InventoryRow = base ? (into ? Object.assign(into, base) : { ...base }) : blankRow(cluster, f, now);
  next.node = f.node;
  next.type = f.type;
  next.deleted = 0;
  const stub = f.name === null && f.status === 'unknown';
  if (nodeOffline) {
    // Proxmox lists the guests of an offline node as stubs (or with its last, frozen figures):
    // whatever was stored is a guess now, so say so instead of showing it running or stopped.
    if (!stub) {
      next.name = f.name ?? next.name;
      next.tags = tagsText(f.tags);
      next.pool = f.pool;
    }
    next.status = 'unknown';
    next.started_at = null;
    next.cpu_usage = null;
    next.memory_usage = null;
    next.sync_error = NODE_OFFLINE;
  } else if (!stub) {
    if (next.sync_error === NODE_OFFLINE) next.sync_error = null;
    next.name = f.name ?? next.name;
    next.is_template = f.template ? 1 : 0;
    next.tags = tagsText(f.tags);
    next.pool = f.pool;
    next.lock = f.lock;
    if (f.maxcpu !== null) next.cores = f.maxcpu;
    if (f.maxmem !== null) next.memory = f.maxmem;
    if (f.maxdisk !== null) next.disk_size = f.maxdisk;
    if (!hold) {
      next.status = f.status;
      const up = isUp(f.status);
      next.started_at = up ? startedAtFrom(f.uptime, now, base?.started_at ?? null) : null;
      next.cpu_usage = up ? quantiseCpu(f.cpu, base?.cpu_usage ?? null) : null;
      next.memory_usage = up ? quantiseUsage(memoryFraction(f.mem, f.maxmem), base?.memory_usage ?? null) : null;
      addressFollowsStatus(base, next);
    }
  } else if (!base) {
    next.status = 'unknown';
  }
  if (next.type === 'lxc') next.category = 'lxc';
  applyDetails(next, details);
  return next;
}

/** The row a live status/current reading (fast lane) makes of the stored one. */
export function mergeLive(stored: InventoryRow, live: LiveStatus, now: number, details?: GuestDetails): InventoryRow {
  const next: InventoryRow = { ...stored };
  next.status = live.status;
  const up = isUp(live.status);
  next.started_at = up ? startedAtFrom(live.uptime, now, stored.started_at) : null;
  next.cpu_usage = up ? quantiseCpu(live.cpu, stored.cpu_usage) : null;
  next.memory_usage = up ? quantiseUsage(memoryFraction(live.mem, live.maxmem), stored.memory_usage) : null;
  next.lock = live.lock;
  addressFollowsStatus(stored, next);
  applyDetails(next, details);
  next.last_status_check = now;
  return next;
}

/**
 * A status change between two versions of a guest's row as its history event (none when the
 * status held); `detail` says who saw it ('live' for the fast lane, 'labdeck' for an action).
 * Passes, the fast lane and the repository's own status writes all record changes through it.
 */
export function statusChange(cluster: string, prev: Pick<InventoryRow, 'status'>, next: Pick<InventoryRow, 'vmid' | 'status'>, now: number, detail: string | null = null): VmEventInput[] {
  return prev.status === next.status ? [] : [{ cluster_id: cluster, vmid: next.vmid, at: now, kind: 'status', from_value: prev.status, to_value: next.status, detail }];
}

/**
 * A live status/current reading (fast lane) against the stored row → what to write (nothing when
 * the row is gone or reads the same). `details` fetched after the reading apply only while the
 * stored status is still the one read: a status written meanwhile is newer than the reading.
 */
export function diffLive(cluster: string, stored: InventoryRow | undefined, live: LiveStatus, now: number, details?: GuestDetails): Pick<DiffResult, 'upserts' | 'tombstones' | 'events'> {
  const none = { upserts: [], tombstones: [], events: [] };
  if (!stored || stored.deleted || (details && stored.status !== live.status)) return none;
  const next = mergeLive(stored, live, now, details);
  if (!rowChanged(stored, next)) return none;
  next.last_updated = now;
  return { upserts: [next], tombstones: [], events: statusChange(cluster, stored, next, now, 'live') };
}

function eventsBetween(cluster: string, prev: InventoryRow | null, next: InventoryRow, now: number): VmEventInput[] {
  if (!prev || prev.deleted) return [{ cluster_id: cluster, vmid: next.vmid, at: now, kind: 'created', from_value: null, to_value: next.status, detail: next.name || null }];
  const out = statusChange(cluster, prev, next, now);
  if (prev.node !== next.node) out.push({ cluster_id: cluster, vmid: next.vmid, at: now, kind: 'migrated', from_value: prev.node, to_value: next.node, detail: null });
  return out;
}

/** Stored rows vs one pass's fetched rows → what to write. A quick pass tombstones nothing. */
export function diffInventory(input: DiffInput): DiffResult {
  const { cluster, now, kind } = input;
  const byVmid = new Map<number, InventoryRow>();
  // Indexed loops: these run a few times a minute over thousands of rows, often before the
  // optimising compiler has taken them, where for...of makes an iterator result per element.
  const storedRows = input.stored;
  const fetched = input.fetched;
  for (let i = 0; i < storedRows.length; i++) byVmid.set(storedRows[i].vmid, storedRows[i]);
  const seen = new Set<number>();
  const result: DiffResult = { upserts: [], tombstones: [], events: [], statusChanged: [], verify: [], quietUntil: Infinity };
  // Most guests come out unchanged: their merge is built in one scratch row, copied only when it differs.
  let scratch: InventoryRow | undefined;

  for (let i = 0; i < fetched.length; i++) {
    const f = fetched[i];
    if (seen.has(f.vmid)) continue;
    seen.add(f.vmid);
    const stored = byVmid.get(f.vmid) ?? null;
    const live = !!stored && !stored.deleted;
    const holdEnd = live ? holdEndsAt(stored) : -Infinity;
    if (holdEnd > now) result.quietUntil = Math.min(result.quietUntil, holdEnd);
    const hold = live && (input.holdStatus?.has(f.vmid) === true || holdEnd > now);
    // Neither accepted nor ignored: a held status the snapshot contradicts goes to a live check.
    if (hold && stored && snapshotContradicts(stored, f)) result.verify.push(f.vmid);
    const offline = input.offlineNodes?.has(f.node) === true;
    if (live) scratch ??= { ...stored };
    const merged = mergeResource(cluster, stored, f, now, input.details?.get(f.vmid), hold, offline, live ? scratch : undefined);
    if (live && !rowChanged(stored, merged)) {
      // The same uptime reads as a later start time as the clock runs on, until it leaves tolerance.
      if (!hold && merged.started_at !== null && f.uptime !== null && f.uptime > 0) {
        result.quietUntil = Math.min(result.quietUntil, merged.started_at + f.uptime * 1000 + START_TOLERANCE_MS);
      }
      continue;
    }
    const next = merged === scratch ? { ...merged } : merged;
    next.last_updated = now;
    next.last_seen = now;
    result.upserts.push(next);
    result.events.push(...eventsBetween(cluster, stored, next, now));
    // A guest of an offline node cannot be asked live: no fast lane for it.
    if (stored && !stored.deleted && stored.status !== next.status && !offline) result.statusChanged.push(f.vmid);
  }

  // An empty answer from a cluster that had guests is far likelier a Proxmox hiccup (pmxcfs
  // without quorum answers []) than every guest destroyed at once: keep them.
  const destroyed = input.destroyed;
  if ((kind === 'full' || (destroyed && destroyed.size > 0)) && input.fetched.length > 0) {
    for (const vmid of input.listedUnreadable ?? []) seen.add(vmid);
    for (let i = 0; i < storedRows.length; i++) {
      const s = storedRows[i];
      if (s.deleted || seen.has(s.vmid)) continue;
      // A quick pass removes only what a destroy task vouches for; a full pass, whatever is missing.
      if (kind !== 'full' && !destroyed!.has(s.vmid)) continue;
      result.tombstones.push({ ...s, deleted: 1, last_updated: now });
      result.events.push({ cluster_id: cluster, vmid: s.vmid, at: now, kind: 'removed', from_value: s.status, to_value: null, detail: s.name || null });
    }
  }
  return result;
}

/** Guests whose details (config, address, probes) should be fetched in this pass. */
export function guestsNeedingDetails(stored: readonly InventoryRow[], fetched: readonly ResourceRow[], kind: PassKindForDiff, now: number): ResourceRow[] {
  const byVmid = new Map<number, InventoryRow>();
  for (let i = 0; i < stored.length; i++) byVmid.set(stored[i].vmid, stored[i]);
  const out: ResourceRow[] = [];
  for (let i = 0; i < fetched.length; i++) {
    const f = fetched[i];
    if (f.name === null && f.status === 'unknown') continue;
    if (f.template && byVmid.get(f.vmid)?.ostype) continue;
    const s = byVmid.get(f.vmid);
    if (!s || s.deleted) { out.push(f); continue; }
    if (statusHeld(s, now)) continue;
    if (s.status !== f.status && isUp(f.status) !== isUp(s.status)) { out.push(f); continue; }
    if (kind !== 'full') continue;
    if (s.ostype === null && s.mac_address === null) { out.push(f); continue; }
    if (f.status === 'running' && s.ip === null && s.ip_reason !== 'no-agent') out.push(f);
  }
  return out;
}
