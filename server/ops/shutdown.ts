// Graceful shutdown on SIGTERM/SIGINT within a deadline (default 10 s): /readyz answers 503 at
// once and keeps answering it for a grace period (so a load balancer sees it before the listener
// goes), requests under way get their answers, power actions stop following their tasks (their
// audit entries say "outcome unknown: labdeck stopped" and are settled after the restart) before
// the sync stops and closes the Proxmox clients, browsers are told, alerts and retention stop, the
// database closes, the process exits. A second signal or the deadline ends the process at once.
import type { Server as HttpServer } from 'node:http';
import { log as rootLog, type Logger } from '../log.js';

/** The parts of the running server shutdown touches (a Labdeck satisfies it). */
export interface ShutdownTarget {
  httpServer: HttpServer;
  sync: { stop(timeoutMs?: number): Promise<void> };
  power?: { close(): Promise<void> };
  /** The realtime hub's typed send (browsers are told); only this instance's sockets, whose server this is. */
  realtime?: { send(audience: { local: true }, event: 'server:shutdown', msg: { at: number; reason: string }): void } | null;
  close(): Promise<void>;
}

export interface ShutdownOptions {
  /** Whole budget from signal to exit. */
  timeoutMs?: number;
  logger?: Logger;
  /** Extra work before the database closes (e.g. ops.close()). */
  beforeClose?: () => Promise<void> | void;
  /** Called first (e.g. ops.markShuttingDown() so /readyz answers 503). */
  onBegin?: () => void;
  /** How long the listener stays open answering 503 to readiness probes (default 3 s, within the budget). */
  graceMs?: number;
  exit?: (code: number) => void;
  signals?: NodeJS.Signals[];
}

export interface ShutdownHandle {
  /** Runs the shutdown (what a signal does); resolves when everything is closed. */
  shutdown(reason: string): Promise<void>;
  /** HTTP requests currently being answered. */
  inFlight(): number;
  /** Removes the signal handlers. */
  uninstall(): void;
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

/** Counts requests under way on the server, so shutdown can wait for them. */
function trackRequests(server: HttpServer): { count(): number; drained(timeoutMs: number): Promise<boolean> } {
  let n = 0;
  const waiters = new Set<() => void>();
  server.on('request', (_req, res) => {
    n++;
    res.once('close', () => {
      n--;
      if (n === 0) for (const w of [...waiters]) w();
    });
  });
  return {
    count: () => n,
    drained(timeoutMs) {
      if (n === 0) return Promise.resolve(true);
      return new Promise((resolve) => {
        const done = () => { waiters.delete(done); clearTimeout(timer); resolve(true); };
        const timer = setTimeout(() => { waiters.delete(done); resolve(false); }, timeoutMs);
        timer.unref();
        waiters.add(done);
      });
    },
  };
}

/** Installs the signal handlers; call once right after the server started. */
export function installShutdown(target: ShutdownTarget, opts: ShutdownOptions = {}): ShutdownHandle {
  const log = (opts.logger ?? rootLog).child({ module: 'shutdown' });
  const budget = opts.timeoutMs ?? 10_000;
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const signals = opts.signals ?? ['SIGTERM', 'SIGINT'];
  const requests = trackRequests(target.httpServer);
  let running: Promise<void> | null = null;

  const steps = async (reason: string) => {
    const t0 = Date.now();
    const left = () => Math.max(0, budget - (Date.now() - t0));
    log.info({ reason, inFlight: requests.count() }, 'Shutting down');
    opts.onBegin?.();
    // The listener stays open for the grace period: /readyz answers 503 (other new requests too),
    // so whatever routes traffic here sees the shutdown before connections are refused.
    const graceUntil = t0 + Math.min(opts.graceMs ?? 3_000, budget * 0.4);
    target.realtime?.send({ local: true }, 'server:shutdown', { at: Date.now(), reason: 'restart' });
    // Power actions stop following their tasks first, while the Proxmox clients are still open, so
    // each records "outcome unknown" instead of a failure the closed sockets would make up.
    await Promise.race([target.power?.close(), delay(Math.min(2_000, left() * 0.2))]);
    // Requests under way and the running pass share one wait; a request may itself wait on that
    // pass (a sync trigger), so it gets a short extra moment to answer once the pass is done.
    const wait = Math.min(6_000, left() * 0.6);
    await Promise.all([
      requests.drained(wait),
      target.sync.stop(wait).catch((err) => log.warn({ err: (err as Error).message }, 'sync stop failed')),
    ]);
    const drained = await requests.drained(Math.min(1_000, left() * 0.25));
    if (!drained) log.warn({ inFlight: requests.count() }, 'requests still running at shutdown: their connections are closed');
    if (Date.now() < graceUntil) await delay(graceUntil - Date.now());
    // No new connections; idle keep-alive ones close now, busy ones after their answer.
    target.httpServer.close();
    target.httpServer.closeIdleConnections();
    await Promise.race([opts.beforeClose?.(), delay(Math.min(2_000, left() * 0.5))]);
    await target.close();
    log.info({ ms: Date.now() - t0 }, 'Shutdown complete');
  };

  const shutdown = (reason: string) => {
    if (running) return running;
    const deadline = setTimeout(() => {
      log.error({ reason, budgetMs: budget }, 'Shutdown took too long: exiting now');
      exit(1);
    }, budget);
    deadline.unref();
    running = steps(reason).then(
      () => { clearTimeout(deadline); exit(0); },
      (err) => { clearTimeout(deadline); log.error({ err }, 'Shutdown failed'); exit(1); },
    );
    return running;
  };

  const handlers = new Map<NodeJS.Signals, () => void>();
  for (const sig of signals) {
    const h = () => {
      if (running) {
        log.warn({ signal: sig }, 'Second signal: exiting now');
        exit(1);
        return;
      }
      void shutdown(sig);
    };
    handlers.set(sig, h);
    process.on(sig, h);
  }

  return {
    shutdown,
    inFlight: () => requests.count(),
    uninstall() {
      for (const [sig, h] of handlers) process.off(sig, h);
    },
  };
}
