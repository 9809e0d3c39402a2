// One sync pass of one cluster, read as plan → apply → details → apply: one /cluster/resources
// call; a pure plan decides from the stored rows, inside the repository's one-at-a-time write
// path, what to write and which guests need details; those are fetched outside it and a second
// plan writes them. A quick pass that would only repeat the last one's verdict skips the diff.
import { diffInventory, guestsNeedingDetails, type DiffResult, type GuestDetails } from '../inventory/diff.js';
import type { InventoryRow } from '../inventory/row.js';
import type { ResourceRow } from '../pve/normalise.js';
import type { InventoryRepo, Planned, StoredView } from '../inventory/repository.js';
import type { PveClient, ResourceSnapshot } from '../pve/client.js';
import { fetchDetails } from './details.js';
import type { SnapshotPassKind } from '../../contract/sync.js';

/** From this many guests needing details on, the pass writes the list's view first, details after. */
const EARLY_WRITE_AT = 50;

/**
 * What the last quick pass established: with this very answer (same row objects) and these fast
 * lane holds, every guest whose stored row has not changed since `storedVersion` needs no write
 * until `until` (rows written since, by that pass or anyone, must be diffed again).
 */
export interface QuietPass {
  /** The decoding of the answer it saw (not its rows: kept 30 s, they would outlive the young generation). */
  decoding: number;
  storedVersion: number;
  held: string;
  from: number;
  until: number;
  /** Held guests that answer contradicted: each repeat of the answer asks for their live check again. */
  verify: readonly number[];
}

export interface PassContext {
  cluster: string;
  client: PveClient;
  repo: InventoryRepo;
  detailConcurrency: number;
  probePorts: boolean;
  /** Guests whose status the fast lane read live recently. */
  heldStatus: () => ReadonlySet<number>;
  now?: () => number;
  /** Kept between passes by the caller: lets a quick pass that would repeat a no-op skip the diff. */
  quiet?: { last: QuietPass | null };
  /** Guests a finished destroy task removed: a quick pass tombstones them too (see diffInventory). */
  destroyed?: ReadonlySet<number>;
}

export interface PassOutcome {
  guests: number;
  changed: number;
  removed: number;
  /** Guests whose status changed (candidates for the fast lane). */
  statusChanged: number[];
  /** Held guests whose status the snapshot contradicts: the fast lane checks them live. */
  verify: number[];
  requests: number;
  /** Guest entries Proxmox listed that could not be read, and why the first could not. */
  skipped: number;
  skipReason: string | null;
  /** The cluster's nodes as the answer listed them. */
  nodes: Array<{ name: string; online: boolean }>;
}

/** What a pass decides from besides the stored rows: fixed once Proxmox has answered. */
interface PassInput {
  cluster: string;
  kind: SnapshotPassKind;
  snapshot: ResourceSnapshot;
  held: ReadonlySet<number>;
  heldKey: string;
  destroyed?: ReadonlySet<number>;
  offlineNodes?: ReadonlySet<string>;
  /** The last quick pass's record when this answer repeats it (see QuietPass): only rows written since need a diff. */
  memo: QuietPass | null;
}

/** What the plan of the list's write decided besides the write. */
interface ListPlan {
  statusChanged: number[];
  verify: number[];
  /** Guests whose details the pass fetches next, for a second write (none: the pass is done). */
  targets: ResourceRow[];
  /** The record this write leaves for the next quick pass (a quick pass needing no details), else null. */
  quiet: QuietPass | null;
}

/** Runs one full or quick pass; throws (having written nothing) when Proxmox fails. */
export async function runPass(ctx: PassContext, kind: SnapshotPassKind): Promise<PassOutcome> {
  const now = ctx.now ?? Date.now;
  const requestsBefore = ctx.client.requestCount();
  const snapshot = await ctx.client.resourceSnapshot();
  const input = passInput(ctx, kind, snapshot, now);
  const outcome = (changed: number, removed: number, statusChanged: number[], verify: readonly number[]): PassOutcome => ({
    guests: snapshot.rows.length, changed, removed, statusChanged, verify: [...verify],
    requests: ctx.client.requestCount() - requestsBefore,
    skipped: snapshot.skipped, skipReason: snapshot.firstSkipReason, nodes: [...snapshot.nodes],
  });
  // Not a stored row changed since the last quick pass either: its verdict is this one's.
  if (input.memo && input.memo.storedVersion === ctx.repo.storedVersion(ctx.cluster)) return outcome(0, 0, [], input.memo.verify);
  if (ctx.quiet) ctx.quiet.last = null;
  const list = await ctx.repo.applyPlan(ctx.cluster, (view) => planList(input, view, now()));
  if (!list.plan.targets.length) {
    if (ctx.quiet && list.plan.quiet) ctx.quiet.last = list.plan.quiet;
    return outcome(list.changed.length, list.removed.length, list.plan.statusChanged, list.plan.verify);
  }
  const details = await fetchDetails(ctx.client, list.plan.targets, { concurrency: ctx.detailConcurrency, probePorts: ctx.probePorts });
  const detailed = await ctx.repo.applyPlan(ctx.cluster, (view) => planDetails(input, view, now(), details));
  return outcome(
    new Set([...list.changed, ...detailed.changed].map((v) => v.id)).size,
    list.removed.length + detailed.removed.length,
    [...new Set([...list.plan.statusChanged, ...detailed.plan.statusChanged])],
    detailed.plan.verify,
  );
}

/** The pass's inputs, and whether it repeats the last quick pass. */
function passInput(ctx: PassContext, kind: SnapshotPassKind, snapshot: ResourceSnapshot, now: () => number): PassInput {
  const held = ctx.heldStatus();
  const heldKey = [...held].sort((a, b) => a - b).join(',');
  const offline = snapshot.nodes.filter((n) => !n.online);
  // The same bytes from Proxmox, the same holds, no clock-driven change due yet: only guests whose
  // stored rows changed since the last quick pass can differ from it (usually none at all).
  const q = ctx.quiet?.last ?? null;
  const t = now();
  const repeats = kind === 'quick' && !ctx.destroyed?.size && !!q && snapshot.unchanged && q.decoding === snapshot.decoding && q.held === heldKey && t >= q.from && t < q.until;
  return {
    cluster: ctx.cluster, kind, snapshot, held, heldKey, destroyed: ctx.destroyed,
    offlineNodes: offline.length ? new Set(offline.map((n) => n.name)) : undefined, memo: repeats ? q : null,
  };
}

/** The list's write (pure): the diff of what the answer lists, unless details are worth waiting for. */
function planList(input: PassInput, view: StoredView, at: number): Planned<ListPlan> {
  const { memo } = input;
  const only = memo ? new Set(view.changedSince(memo.storedVersion)) : null;
  const stored = only ? view.rows.filter((r) => only.has(r.vmid)) : view.rows;
  const listed = only ? input.snapshot.rows.filter((f) => only.has(f.vmid)) : input.snapshot.rows;
  // Usually nothing needs details: then this one read serves the diff too.
  const targets = guestsNeedingDetails(stored, listed, input.kind, at);
  // Details take a while (a booting guest's agent answers only after its ~3 s timeout): show what
  // the list says first when many need them, or when any of them is new or changed status, so a
  // start is on screen at once and its address follows.
  if (targets.length && targets.length < EARLY_WRITE_AT && !statusNews(stored, targets)) {
    return { write: { upserts: [], tombstones: [], events: [] }, plan: { statusChanged: [], verify: [], targets, quiet: null } };
  }
  const d = diff(input, stored, listed, at);
  // Contradictions the last pass found in rows not diffed again still stand.
  const verify = [...(only ? memo!.verify.filter((vmid) => !only.has(vmid)) : []), ...d.verify];
  // Rows this write changes get a newer version than the view's, so the next pass diffs them again.
  const quiet = input.kind === 'quick' && !targets.length
    ? { decoding: input.snapshot.decoding, storedVersion: view.version, held: input.heldKey, from: at, until: Math.min(d.quietUntil, memo ? memo.until : Infinity), verify }
    : null;
  return { write: d, plan: { statusChanged: d.statusChanged, verify, targets, quiet } };
}

/** The write once details are in (pure): the whole answer diffed again, with them. */
function planDetails(input: PassInput, view: StoredView, at: number, details: ReadonlyMap<number, GuestDetails>): Planned<Pick<ListPlan, 'statusChanged' | 'verify'>> {
  const d = diff(input, view.rows, input.snapshot.rows, at, details);
  return { write: d, plan: { statusChanged: d.statusChanged, verify: d.verify } };
}

function diff(input: PassInput, stored: readonly InventoryRow[], listed: readonly ResourceRow[], at: number, details?: ReadonlyMap<number, GuestDetails>): DiffResult {
  return diffInventory({
    cluster: input.cluster, stored, fetched: listed, kind: input.kind, now: at, details, holdStatus: input.held,
    listedUnreadable: input.snapshot.skippedVmids, destroyed: input.destroyed, offlineNodes: input.offlineNodes,
  });
}

/** True when a guest needing details is new or the list shows it in another status than stored. */
function statusNews(stored: readonly InventoryRow[], targets: readonly ResourceRow[]): boolean {
  const was = new Map(stored.map((r) => [r.vmid, r.status]));
  return targets.some((t) => was.get(t.vmid) !== t.status);
}
