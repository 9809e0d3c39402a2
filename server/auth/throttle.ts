// Sign-in throttling that holds under parallel attack and cannot be turned against an account's
// owner. Every attempt is counted before its password is checked (20 parallel guesses are 20
// attempts, not 20 free verifications); failures slow down the pair (account, address) and the
// address with growing waits, never the account as a whole, so someone else's failures from
// another address do not lock the owner out. Password checks (scrypt, on libuv's small thread
// pool) run at most `concurrent` at a time, in a bounded queue, with caps per account+address,
// per address and per account on what may be running or waiting. In memory, injectable clock.

export interface ThrottleLimits {
  /** Failures of one account from one address within the window before each further attempt waits. */
  perAccountAddress: number;
  /** Failures from one address (any accounts) within the window before each further attempt waits. */
  perAddress: number;
  windowMs: number;
  /** Wait after the account+address limit; doubles with each further failure, up to accountMaxDelayMs. */
  accountDelayMs: number;
  accountMaxDelayMs: number;
  /** Wait after the address limit; doubles, up to addressMaxDelayMs (a school NAT is slowed, not locked). */
  addressDelayMs: number;
  addressMaxDelayMs: number;
  /** Checks running or queued at once for one account from one address, one address, one account. */
  inFlightPerAccountAddress: number;
  inFlightPerAddress: number;
  inFlightPerAccount: number;
  /** Password checks running at once in all (the rest wait in a queue of at most `queue`). */
  concurrent: number;
  queue: number;
}

export const defaultThrottleLimits: ThrottleLimits = {
  perAccountAddress: 5, perAddress: 30, windowMs: 15 * 60_000,
  accountDelayMs: 30_000, accountMaxDelayMs: 15 * 60_000,
  addressDelayMs: 2_000, addressMaxDelayMs: 60_000,
  // A class behind one NAT signs in within seconds: 16 checks may wait per address, 2 run in all.
  inFlightPerAccountAddress: 1, inFlightPerAddress: 16, inFlightPerAccount: 8,
  concurrent: 2, queue: 64,
};

/** Why an attempt is not checked now, and when to try again. */
export class ThrottledError extends Error {
  constructor(readonly retryAfterMs: number, message: string) {
    super(message);
  }
}

export interface ThrottleStats {
  /** Password checks started since the start. */
  verifications: number;
  running: number;
  queued: number;
  /** Most checks ever running at once. */
  maxRunning: number;
}

export class LoginThrottle {
  private readonly limits: ThrottleLimits;
  /** key → times of failed (or still running) attempts within the window. */
  private readonly failures = new Map<string, number[]>();
  private readonly inFlight = new Map<string, number>();
  private readonly waiting: Array<() => void> = [];
  private running = 0;
  private readonly counters = { verifications: 0, maxRunning: 0 };

  /** Told of every verdict on a password (several instances relay them to each other). */
  onVerdict: ((account: string, address: string, ok: boolean, at: number) => void) | null = null;

  constructor(limits: Partial<ThrottleLimits> = {}, private readonly now: () => number = Date.now) {
    this.limits = { ...defaultThrottleLimits, ...limits };
  }

  private recent(key: string): number[] {
    const cutoff = this.now() - this.limits.windowMs;
    const list = (this.failures.get(key) ?? []).filter((t) => t > cutoff);
    if (list.length) this.failures.set(key, list); else this.failures.delete(key);
    return list;
  }

  /** Time until a key over its limit may try again: each failure past the limit doubles the wait. */
  private waitFor(key: string, limit: number, base: number, max: number): number {
    const list = this.recent(key);
    if (list.length < limit) return 0;
    const wait = Math.min(max, base * 2 ** (list.length - limit));
    return Math.max(0, list[list.length - 1] + wait - this.now());
  }

  private keys(account: string, address: string) {
    const a = account.toLowerCase();
    return { pair: `p:${a}|${address}`, address: `a:${address}`, account: `u:${a}` };
  }

  /** Milliseconds until this account may try again from this address; 0 when it may now. */
  retryAfterMs(account: string, address: string): number {
    const k = this.keys(account, address);
    const l = this.limits;
    return Math.max(this.waitFor(k.pair, l.perAccountAddress, l.accountDelayMs, l.accountMaxDelayMs),
      this.waitFor(k.address, l.perAddress, l.addressDelayMs, l.addressMaxDelayMs));
  }

  /**
   * Runs one password check under the throttle: refused at once (ThrottledError) while the pair or
   * the address must wait or has too many checks under way; otherwise counted as a failure first,
   * run when a slot is free, and un-counted when `check` says the password was right (true/object).
   * `cpu: false` (a check Proxmox does over the network) skips the slots, not the counting.
   */
  async attempt<T>(account: string, address: string, check: () => Promise<T | null>, opts: { cpu?: boolean } = {}): Promise<T | null> {
    const cpu = opts.cpu ?? true;
    const k = this.keys(account, address);
    const l = this.limits;
    const wait = this.retryAfterMs(account, address);
    if (wait > 0) throw new ThrottledError(wait, 'too many failed sign-ins: try again later');
    const busy = (key: string, cap: number) => (this.inFlight.get(key) ?? 0) >= cap;
    if (busy(k.pair, l.inFlightPerAccountAddress) || busy(k.address, l.inFlightPerAddress) || busy(k.account, l.inFlightPerAccount)) {
      throw new ThrottledError(1000, 'a sign-in for this account is already being checked: try again in a moment');
    }
    if (this.waiting.length >= l.queue) throw new ThrottledError(1000, 'too many sign-ins at once: try again in a moment');
    const at = this.now();
    for (const key of [k.pair, k.address]) {
      const list = this.recent(key);
      list.push(at);
      this.failures.set(key, list);
    }
    if (this.failures.size > 50_000) this.prune();
    for (const key of [k.pair, k.address, k.account]) this.inFlight.set(key, (this.inFlight.get(key) ?? 0) + 1);
    try {
      if (cpu) await this.slot();
      let result: T | null;
      try {
        this.counters.verifications++;
        result = await check();
      } catch (err) {
        // The check itself failed (Proxmox unreachable): no verdict on the password, no failure.
        this.uncount(k.pair, at);
        this.uncount(k.address, at);
        throw err;
      } finally {
        if (cpu) this.release();
      }
      if (result) {
        // The owner's right password: their pair starts afresh, and this attempt was no failure.
        this.failures.delete(k.pair);
        this.uncount(k.address, at);
      }
      this.onVerdict?.(account, address, Boolean(result), at);
      return result;
    } finally {
      for (const key of [k.pair, k.address, k.account]) {
        const n = (this.inFlight.get(key) ?? 1) - 1;
        if (n > 0) this.inFlight.set(key, n); else this.inFlight.delete(key);
      }
    }
  }

  /** A verdict another instance reached: a failure counts here too, a success starts the pair afresh. */
  remoteVerdict(account: string, address: string, ok: boolean, at: number): void {
    const k = this.keys(account, address);
    if (ok) {
      this.failures.delete(k.pair);
      return;
    }
    for (const key of [k.pair, k.address]) {
      const list = this.recent(key);
      list.push(at);
      list.sort((x, y) => x - y);
      this.failures.set(key, list);
    }
  }

  private uncount(key: string, at: number): void {
    const list = this.failures.get(key);
    const i = list?.indexOf(at) ?? -1;
    if (list && i >= 0) list.splice(i, 1);
  }

  private slot(): Promise<void> {
    if (this.running < this.limits.concurrent) {
      this.running++;
      this.counters.maxRunning = Math.max(this.counters.maxRunning, this.running);
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(() => {
      this.running++;
      this.counters.maxRunning = Math.max(this.counters.maxRunning, this.running);
      resolve();
    }));
  }

  private release(): void {
    this.running--;
    this.waiting.shift()?.();
  }

  stats(): ThrottleStats {
    return { verifications: this.counters.verifications, running: this.running, queued: this.waiting.length, maxRunning: this.counters.maxRunning };
  }

  private prune(): void {
    for (const key of [...this.failures.keys()]) this.recent(key);
  }
}
