// One sync pass of one cluster: one /cluster/resources call, details for the guests that need
// them, the pure diff in the repository's one-at-a-time write path; a quick pass that would only
// repeat the last one's verdict skips the diff.
import { diffInventory, guestsNeedingDetails, type GuestDetails } from '../inventory/diff.js';
import type { InventoryRow } from '../inventory/row.js';
import type { ResourceRow } from '../pve/normalise.js';
import type { InventoryRepo } from '../inventory/repository.js';
import type { PveClient } from '../pve/client.js';
import { fetchDetails } from './details.js';

/** From this many guests needing details on, the pass writes the list's view first, details after. */
const EARLY_WRITE_AT = 50;

/**
 * What the last quick pass established: with this very answer (same row objects) and these fast
 * lane holds, every guest whose stored row has not changed since `storedVersion` needs no write
 * until `until` (rows written since, by that pass or anyone, must be diffed again).
 */
export interface QuietPass {
  rows: readonly ResourceRow[];
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

/** Runs one full or quick pass; throws (having written nothing) when Proxmox fails. */
export async function runPass(ctx: PassContext, kind: 'full' | 'quick'): Promise<PassOutcome> {
  const now = ctx.now ?? Date.now;
  const requestsBefore = ctx.client.requestCount();
  const snapshot = await ctx.client.resourceSnapshot();
  const fetched = snapshot.rows;
  const held = ctx.heldStatus();
  const heldKey = [...held].sort((a, b) => a - b).join(',');
  const outcome = (changed: number, removed: number, statusChanged: number[], verify: readonly number[]): PassOutcome => ({
    guests: fetched.length, changed, removed, statusChanged, verify: [...verify],
    requests: ctx.client.requestCount() - requestsBefore,
    skipped: snapshot.skipped, skipReason: snapshot.firstSkipReason, nodes: [...snapshot.nodes],
  });
  const offline = snapshot.nodes.filter((n) => !n.online);
  const offlineNodes = offline.length ? new Set(offline.map((n) => n.name)) : undefined;
  // The same bytes from Proxmox, the same holds, no clock-driven change due yet: only guests whose
  // stored rows changed since the last quick pass can differ from it (usually none at all).
  const q = ctx.quiet?.last;
  const t = now();
  const reusable = kind === 'quick' && !ctx.destroyed?.size && !!q && snapshot.unchanged && q.rows === fetched && q.held === heldKey && t >= q.from && t < q.until;
  if (reusable && q!.storedVersion === ctx.repo.storedVersion(ctx.cluster)) return outcome(0, 0, [], q!.verify);
  if (ctx.quiet) ctx.quiet.last = null;
  let quiet: QuietPass | null = null;
  let statusChanged: number[] = [];
  let verify: number[] = [];
  let details: Map<number, GuestDetails> | undefined;
  let targets: ResourceRow[] = [];
  const compute = (all: InventoryRow[]) => {
    const at = now();
    const version = ctx.repo.storedVersion(ctx.cluster);
    let current = all;
    let listed = fetched;
    // Contradictions the last pass found in rows not diffed again still stand.
    let verifyKept: number[] = [];
    if (reusable && !details) {
      const only = new Set(ctx.repo.changedSince(ctx.cluster, q!.storedVersion));
      current = all.filter((r) => only.has(r.vmid));
      listed = fetched.filter((f) => only.has(f.vmid));
      verifyKept = q!.verify.filter((vmid) => !only.has(vmid));
    }
    if (!details) {
      // Usually nothing needs details: then this one read serves the diff too.
      targets = guestsNeedingDetails(current, listed, kind, at);
      // Details take a while (a booting guest's agent answers only after its ~3 s timeout): show what
      // the list says first when many need them, or when any of them is new or changed status, so a
      // start is on screen at once and its address follows.
      if (targets.length && targets.length < EARLY_WRITE_AT && !statusNews(current, targets)) return { upserts: [], tombstones: [], events: [] };
    }
    const d = diffInventory({
      cluster: ctx.cluster, stored: current, fetched: listed, kind, now: at, details, holdStatus: held, listedUnreadable: snapshot.skippedVmids,
      destroyed: ctx.destroyed, offlineNodes,
    });
    statusChanged = d.statusChanged;
    verify = [...verifyKept, ...d.verify];
    if (kind === 'quick' && !targets.length) {
      // Rows this write changes get a newer version than `version`, so the next pass diffs them again.
      quiet = { rows: fetched, storedVersion: version, held: heldKey, from: at, until: Math.min(d.quietUntil, reusable ? q!.until : Infinity), verify };
    }
    return d;
  };
  const first = await ctx.repo.apply(ctx.cluster, compute);
  let changed = first.changed.length;
  let removed = first.removed.length;
  if (targets.length) {
    const early = statusChanged;
    details = await fetchDetails(ctx.client, targets, { concurrency: ctx.detailConcurrency, probePorts: ctx.probePorts });
    const second = await ctx.repo.apply(ctx.cluster, compute);
    changed = new Set([...first.changed, ...second.changed].map((v) => v.id)).size;
    removed += second.removed.length;
    statusChanged = [...new Set([...early, ...statusChanged])];
  }
  if (ctx.quiet && quiet) ctx.quiet.last = quiet;
  return outcome(changed, removed, statusChanged, verify);
}

/** True when a guest needing details is new or the list shows it in another status than stored. */
function statusNews(stored: readonly InventoryRow[], targets: readonly ResourceRow[]): boolean {
  const was = new Map(stored.map((r) => [r.vmid, r.status]));
  return targets.some((t) => was.get(t.vmid) !== t.status);
}
