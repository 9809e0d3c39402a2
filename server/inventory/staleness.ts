// When a cluster's data is stale: no successful pass for longer than `staleAfterMs` (or none yet).
// The one rule behind the VM list's `stale` flags (database and memory paths), the sync status and
// the cluster:stale push.

/** Is data last confirmed at `lastSuccessAt` stale at `now`? */
export function isStale(lastSuccessAt: number | null | undefined, staleAfterMs: number, now: number): boolean {
  return lastSuccessAt === null || lastSuccessAt === undefined || now - lastSuccessAt > staleAfterMs;
}

/** Cluster id → is its data stale at `now`, from the stored cluster states (a cluster without one is stale). */
export function stalenessOf(states: ReadonlyArray<{ cluster_id: string; last_success_at: number | null }>, staleAfterMs: number, now: number): (cluster: string) => boolean {
  const at = new Map(states.map((s) => [s.cluster_id, s.last_success_at]));
  return (cluster) => isStale(at.get(cluster), staleAfterMs, now);
}
