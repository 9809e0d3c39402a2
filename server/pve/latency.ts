// Call latency of one Proxmox cluster over its most recent calls (for the admin's sync status).

export interface LatencySummary { p50: number | null; p95: number | null; last: number | null; count: number }

/** A fixed-size ring of recent call durations. */
export class LatencyWindow {
  private readonly samples: number[] = [];
  private next = 0;
  private total = 0;
  private lastMs: number | null = null;

  constructor(private readonly size = 200) {}

  /** Records one call's duration in ms. */
  add(ms: number): void {
    if (this.samples.length < this.size) this.samples.push(ms);
    else this.samples[this.next] = ms;
    this.next = (this.next + 1) % this.size;
    this.total++;
    this.lastMs = ms;
  }

  /** p50 / p95 over the window, the last call, and the number of calls ever. */
  summary(): LatencySummary {
    if (!this.samples.length) return { p50: null, p95: null, last: null, count: 0 };
    // A typed copy sorts natively, without boxing two numbers for a comparator call at every step
    // (the sync status asks for this per cluster after every pass).
    const s = Float64Array.from(this.samples).sort();
    const at = (q: number) => Math.round(s[Math.min(s.length - 1, Math.floor(q * s.length))]);
    return { p50: at(0.5), p95: at(0.95), last: this.lastMs === null ? null : Math.round(this.lastMs), count: this.total };
  }
}
