// Demo activity: simulated students start and stop guests now and then, and now and then one
// starts real work on a guest (it gets busy) or stops (it idles again), so that a dashboard
// pointed at the simulator has something to show without anyone clicking.
import { prng } from './generator.js';
import type { SimCluster } from './index.js';

/** Starts the activity loop over the clusters; returns the function that stops it. */
export function startActivity(clusters: SimCluster[], intervalMs = 4000, seed = 7): () => void {
  const rnd = prng(seed);
  const timer = setInterval(() => {
    const cluster = clusters[Math.floor(rnd() * clusters.length)];
    if (rnd() < 0.25) {
      // As many guests go busy as go idle, on average: the busy share wanders around its seeded ~10 %.
      const busy = rnd() < 0.5;
      const pool = cluster.guests().filter((g) => g.status === 'running' && cluster.isBusy(g.vmid) !== busy);
      if (pool.length) cluster.setLoad(pool[Math.floor(rnd() * pool.length)].vmid, busy ? 'busy' : 'idle');
      return;
    }
    const candidates = cluster.guests().filter((g) => !g.template && !g.lock);
    if (!candidates.length) return;
    const g = candidates[Math.floor(rnd() * candidates.length)];
    const action = g.status === 'stopped' ? 'start' : rnd() < 0.5 ? 'shutdown' : 'stop';
    try {
      cluster.powerOutside(g.vmid, action);
    } catch {
      // A guest that vanished between listing and acting is simply skipped this round.
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
