// One sync pass of one cluster: one /cluster/resources call, details for the guests that need
// them, the pure diff inside the repository's write transaction.
import { diffInventory, guestsNeedingDetails, type GuestDetails } from '../inventory/diff.js';
import type { InventoryRow } from '../inventory/row.js';
import type { ResourceRow } from '../pve/normalise.js';
import type { InventoryRepo } from '../inventory/repository.js';
import type { PveClient } from '../pve/client.js';
import { fetchDetails } from './details.js';

export interface PassContext {
  cluster: string;
  client: PveClient;
  repo: InventoryRepo;
  detailConcurrency: number;
  probePorts: boolean;
  /** Guests whose status the fast lane read live recently. */
  heldStatus: () => ReadonlySet<number>;
  now?: () => number;
}

export interface PassOutcome {
  guests: number;
  changed: number;
  removed: number;
  /** Guests whose status changed (candidates for the fast lane). */
  statusChanged: number[];
  requests: number;
}

/** Runs one full or quick pass; throws (having written nothing) when Proxmox fails. */
export async function runPass(ctx: PassContext, kind: 'full' | 'quick'): Promise<PassOutcome> {
  const now = ctx.now ?? Date.now;
  const requestsBefore = ctx.client.requestCount();
  const fetched = await ctx.client.resources();
  const held = ctx.heldStatus();
  let statusChanged: number[] = [];
  let details: Map<number, GuestDetails> | undefined;
  let targets: ResourceRow[] = [];
  const compute = (current: InventoryRow[]) => {
    if (!details) {
      // Usually nothing needs details: then this one read serves the diff too.
      targets = guestsNeedingDetails(current, fetched, kind, now());
      if (targets.length) return { upserts: [], tombstones: [], events: [] };
    }
    const d = diffInventory({ cluster: ctx.cluster, stored: current, fetched, kind, now: now(), details, holdStatus: held });
    statusChanged = d.statusChanged;
    return d;
  };
  let result = await ctx.repo.apply(ctx.cluster, compute);
  if (targets.length) {
    details = await fetchDetails(ctx.client, targets, { concurrency: ctx.detailConcurrency, probePorts: ctx.probePorts });
    result = await ctx.repo.apply(ctx.cluster, compute);
  }
  return {
    guests: fetched.length,
    changed: result.changed.length,
    removed: result.removed.length,
    statusChanged,
    requests: ctx.client.requestCount() - requestsBefore,
  };
}
