// Bounded concurrency per key (a Proxmox node): at most `limit` holders at once, the rest wait
// in order. The runner takes one slot per VM for its clone, config and baseline steps.

export class KeyedLimiter {
  private readonly active = new Map<string, number>();
  private readonly waiting = new Map<string, Array<() => void>>();
  /** Highest number of holders seen at once per key (tests and the bench read it). */
  readonly peak = new Map<string, number>();

  constructor(private readonly limit: number) {}

  /** Waits for a slot of `key`; returns its release. */
  async acquire(key: string): Promise<() => void> {
    if ((this.active.get(key) ?? 0) >= this.limit) {
      await new Promise<void>((resolve) => {
        const q = this.waiting.get(key) ?? [];
        q.push(resolve);
        this.waiting.set(key, q);
      });
    } else this.active.set(key, (this.active.get(key) ?? 0) + 1);
    this.peak.set(key, Math.max(this.peak.get(key) ?? 0, this.active.get(key)!));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.get(key)?.shift();
      // The slot passes straight to the next waiter; the count stays.
      if (next) next();
      else this.active.set(key, (this.active.get(key) ?? 1) - 1);
    };
  }

  /** Holders of `key` now. */
  holders(key: string): number {
    return this.active.get(key) ?? 0;
  }
}
