// Demo activity: simulated students start and stop guests now and then (Proxmox tasks, or a
// shutdown from inside the guest), and now and then one
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
    // Starts and stops come as Proxmox tasks; now and then a student shuts the guest down from inside.
    const r = rnd();
    const [action, via] = g.status === 'stopped' ? ['start', 'ui'] as const
      : g.status !== 'running' ? ['stop', 'ui'] as const
        : r < 0.3 ? ['shutdown', 'guest'] as const : r < 0.65 ? ['shutdown', 'ui'] as const : ['stop', 'ui'] as const;
    try {
      cluster.powerOutside(g.vmid, action, via);
    } catch {
      // A guest that vanished between listing and acting is simply skipped this round.
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
