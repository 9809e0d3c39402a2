// Config-file locks as PVE::Tools::lock_file_full takes them (flock on /var/lock/qemu-server/
// lock-<vmid>.conf): shared or exclusive, a timeout to acquire, and PVE's "got timeout" text.

/** The lock file qemu-server (or pve-container) flocks for a guest's config. */
export function lockPath(type: 'qemu' | 'lxc', vmid: number): string {
  return type === 'qemu' ? `/var/lock/qemu-server/lock-${vmid}.conf` : `/run/lock/lxc/pve-config-${vmid}.lock`;
}

interface Holders { shared: number; exclusive: boolean; waiters: Set<() => void> }

/** flock semantics per path: many shared holders or one exclusive holder. */
export class FileLocks {
  private readonly held = new Map<string, Holders>();

  private entry(path: string): Holders {
    let h = this.held.get(path);
    if (!h) this.held.set(path, (h = { shared: 0, exclusive: false, waiters: new Set() }));
    return h;
  }

  /** Takes the lock if it is free now; returns its release, or null when it is held against us. */
  tryLock(path: string, shared: boolean): (() => void) | null {
    const h = this.entry(path);
    if (h.exclusive || (!shared && h.shared > 0)) return null;
    if (shared) h.shared++;
    else h.exclusive = true;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (shared) h.shared--;
      else h.exclusive = false;
      const waiters = [...h.waiters];
      if (!h.shared && !h.exclusive && !waiters.length) this.held.delete(path);
      for (const w of waiters) w();
    };
  }

  /** Takes the lock, waiting up to `timeoutMs`; rejects with PVE's message when it does not come free. */
  lock(path: string, shared: boolean, timeoutMs: number): Promise<() => void> {
    const now = this.tryLock(path, shared);
    if (now) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const h = this.entry(path);
      const retry = (): void => {
        const release = this.tryLock(path, shared);
        if (!release) return;
        clearTimeout(timer);
        h.waiters.delete(retry);
        resolve(release);
      };
      const timer = setTimeout(() => {
        h.waiters.delete(retry);
        reject(new Error(`can't lock file '${path}' - got timeout`));
      }, timeoutMs);
      timer.unref();
      h.waiters.add(retry);
    });
  }

  /** Whether anybody holds the lock (tests and the control API). */
  isHeld(path: string): boolean {
    const h = this.held.get(path);
    return !!h && (h.exclusive || h.shared > 0);
  }
}
