// Sign-in throttling: failed attempts counted per account and per address in a sliding window.
// Pure in-memory bookkeeping with an injectable clock; a success clears the account's count.

export interface ThrottleLimits {
  perAccount: number;
  perAddress: number;
  windowMs: number;
}

export const defaultThrottleLimits: ThrottleLimits = { perAccount: 5, perAddress: 30, windowMs: 15 * 60_000 };

export class LoginThrottle {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly limits: ThrottleLimits = defaultThrottleLimits, private readonly now: () => number = Date.now) {}

  private recent(key: string): number[] {
    const cutoff = this.now() - this.limits.windowMs;
    const list = (this.failures.get(key) ?? []).filter((t) => t > cutoff);
    if (list.length) this.failures.set(key, list); else this.failures.delete(key);
    return list;
  }

  /** Milliseconds until another attempt is allowed for this account/address; 0 when allowed now. */
  retryAfterMs(account: string, address: string): number {
    let wait = 0;
    for (const [key, limit] of [[`u:${account.toLowerCase()}`, this.limits.perAccount], [`a:${address}`, this.limits.perAddress]] as const) {
      const list = this.recent(key);
      if (list.length >= limit) wait = Math.max(wait, list[list.length - limit] + this.limits.windowMs - this.now());
    }
    return Math.max(0, wait);
  }

  /** Counts a failed attempt. */
  fail(account: string, address: string): void {
    for (const key of [`u:${account.toLowerCase()}`, `a:${address}`]) {
      const list = this.recent(key);
      list.push(this.now());
      this.failures.set(key, list);
    }
    if (this.failures.size > 50_000) this.prune();
  }

  /** Clears the account's failures after a good sign-in. */
  succeed(account: string): void {
    this.failures.delete(`u:${account.toLowerCase()}`);
  }

  private prune(): void {
    for (const key of [...this.failures.keys()]) this.recent(key);
  }
}
