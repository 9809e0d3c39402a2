// After a restart: settles what the previous labdeck process left open. Every power action's audit
// entry still pending (the process was killed, or stopped while following a task) is settled from the real
// outcome of its Proxmox task, looked up by UPID; every VM left in a pending state ("starting",
// "shutting-down", ...) goes to the fast lane at once instead of waiting out the pending hold.
//
// Several instances on one database: an entry left pending may be one another live instance is
// following right now. Those are told apart without a lease: a live instance settles every entry
// it follows within its background bound (power.ts backgroundMs, 15 min: from the task's end, or
// "gave up following"), and one that stops cleanly marks its entries "outcome unknown: labdeck
// stopped". So an instance settles only entries so marked, or older than that bound (their
// follower was killed), at start and every `sweepMs`; and it leaves VMs' pending states to the
// pending hold and the leader's passes, since it cannot tell whose they are.
import type { Logger } from '../log.js';
import type { AuditLog } from '../auth/audit-log.js';
import type { InventoryReader } from '../inventory/reader.js';
import { vmKey } from '../../contract/vm.js';
import type { PveClient } from '../pve/client.js';
import { PveError } from '../pve/errors.js';
import type { WatchOptions } from '../sync/fast-lane.js';
import { actionNames, OUTCOME_UNKNOWN, taskSucceeded } from './power.js';

const POWER_ACTIONS = new Set(actionNames.map((a) => `vm.${a}`));

export interface RecoveryDeps {
  audit: AuditLog;
  inventory: Pick<InventoryReader, 'pendingRows'>;
  backend: { client(cluster: string): PveClient | undefined; watch(cluster: string, vmid: number, opts?: WatchOptions): void };
  logger: Logger;
  /** Entries written before this moment belong to the previous process. */
  startedAt: number;
  /** How long a task still running (or a Proxmox not answering) is asked again (default 15 min). */
  followMs?: number;
  pollMs?: number;
  /**
   * Several instances on one database: settle only entries their instance let go of (it stopped
   * cleanly) or older than `olderThanMs` (no live instance follows one that long), looked for
   * again every `sweepMs`.
   */
  shared?: { olderThanMs: number; sweepMs: number };
}

export interface Recovery {
  /** Resolves once every entry was looked at once (tasks still running are followed on in the background). */
  readonly firstPass: Promise<{ settled: number; following: number; watched: number }>;
  stop(): Promise<void>;
}

/** The node a task ran on: UPID:<node>:<pid>:... (pure). */
export function nodeOfUpid(upid: string): string | null {
  const m = /^UPID:([^:]+):/.exec(upid);
  return m ? m[1] : null;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/** Starts the recovery; call once the sync loops run (the fast lane needs them). */
export function startRecovery(deps: RecoveryDeps): Recovery {
  const log = deps.logger.child({ module: 'recovery' });
  const followMs = deps.followMs ?? 15 * 60_000;
  const pollMs = deps.pollMs ?? 1_000;
  let stopped = false;
  const followers = new Set<Promise<void>>();
  /** Entries settled or being followed here (a sweep does not take them again). */
  const taken = new Set<number>();
  const mine = (e: { at: number; detail: string | null }): boolean => deps.shared
    ? e.detail === OUTCOME_UNKNOWN || e.at < Date.now() - deps.shared.olderThanMs
    : e.at < deps.startedAt;

  /** One look at a task: 'done' when its entry is settled now, 'again' when it must be asked later. */
  const settleOnce = async (entry: { id: number; cluster: string | null; vmid: number | null; task: string | null }): Promise<'done' | 'again'> => {
    const client = entry.cluster ? deps.backend.client(entry.cluster) : undefined;
    const node = entry.task ? nodeOfUpid(entry.task) : null;
    if (!entry.task || !node) {
      await deps.audit.settle(entry.id, 'failed', 'outcome unknown: labdeck stopped before Proxmox answered');
      return 'done';
    }
    if (!client) {
      await deps.audit.settle(entry.id, 'failed', `outcome unknown: cluster ${entry.cluster ?? '?'} is no longer configured (${entry.task})`);
      return 'done';
    }
    let t: { status: 'running' | 'stopped'; exitstatus?: string };
    try {
      t = await client.taskStatus(node, entry.task);
    } catch (err) {
      // Proxmox answered that it does not know the task: it will never end.
      if (err instanceof PveError && err.kind === 'http' && err.status >= 400 && err.status < 500 && err.status !== 401) {
        await deps.audit.settle(entry.id, 'failed', `task not found in Proxmox: ${err.reason} (${entry.task})`);
        return 'done';
      }
      if (err instanceof PveError && err.kind === 'http' && /no such task|unable to open file/i.test(err.reason)) {
        await deps.audit.settle(entry.id, 'failed', `task not found in Proxmox: ${err.reason} (${entry.task})`);
        return 'done';
      }
      return 'again';
    }
    if (t.status !== 'stopped') return 'again';
    const exit = t.exitstatus ?? '';
    if (taskSucceeded(exit)) await deps.audit.settle(entry.id, 'ok', exit === 'OK' ? entry.task : `${exit} (${entry.task})`);
    else await deps.audit.settle(entry.id, 'failed', exit || 'task failed');
    if (entry.cluster && entry.vmid !== null) deps.backend.watch(entry.cluster, entry.vmid, { settled: true });
    return 'done';
  };

  const follow = (entry: Parameters<typeof settleOnce>[0]) => {
    const p = (async () => {
      const deadline = Date.now() + followMs;
      while (!stopped && Date.now() < deadline) {
        await sleep(pollMs);
        if (stopped) return;
        try {
          if (await settleOnce(entry) === 'done') return;
        } catch (err) {
          log.warn({ audit: entry.id, err: (err as Error).message }, 'could not settle an audit entry yet');
        }
      }
    })();
    followers.add(p);
    void p.finally(() => followers.delete(p));
  };

  const pass = async (): Promise<{ settled: number; following: number; watched: number }> => {
    let settled = 0;
    let following = 0;
    let watched = 0;
    // Power actions only: other pending entries (a console session, a revert) are their modules' own.
    const open = (await deps.audit.open()).filter((e) => !taken.has(e.id) && mine(e) && e.target === 'vm' && POWER_ACTIONS.has(e.action));
    const settledVms = new Set<string>();
    for (const entry of open) {
      if (stopped) break;
      taken.add(entry.id);
      log.info({ audit: entry.id, action: entry.action, cluster: entry.cluster, vmid: entry.vmid }, 'Taking up a power action left open');
      let r: 'done' | 'again';
      try {
        r = await settleOnce(entry);
      } catch (err) {
        log.warn({ audit: entry.id, err: (err as Error).message }, 'could not settle an audit entry yet');
        r = 'again';
      }
      if (r === 'done') {
        settled++;
        if (entry.cluster && entry.vmid !== null) settledVms.add(vmKey(entry.cluster, entry.vmid));
      } else {
        following++;
        follow(entry);
      }
    }
    // Several instances: a pending state may be another live instance's action (the hold and the leader's passes end it).
    for (const row of deps.shared ? [] : await deps.inventory.pendingRows()) {
      if (stopped) break;
      // Settled above: already handed to the fast lane with the task's outcome.
      if (settledVms.has(vmKey(row.cluster_id, row.vmid))) continue;
      deps.backend.watch(row.cluster_id, row.vmid);
      watched++;
    }
    if (settled || following || watched) {
      log.info({ settled, following, watched }, 'Settled what the previous run left open: audit entries from their Proxmox tasks, pending states live');
    }
    return { settled, following, watched };
  };
  const firstPass = pass();
  // The caller may not wait for it; a failure here must not go unhandled.
  firstPass.catch((err: unknown) => log.error({ err: (err as Error).message }, 'recovery after restart failed'));
  let sweeping: Promise<unknown> | null = null;
  const sweep = deps.shared ? setInterval(() => {
    if (stopped || sweeping) return;
    sweeping = firstPass.then(pass).catch((err: unknown) => log.warn({ err: (err as Error).message }, 'looking for power actions left open by other instances failed'))
      .finally(() => { sweeping = null; });
  }, deps.shared.sweepMs) : null;
  sweep?.unref();

  return {
    firstPass,
    async stop() {
      stopped = true;
      if (sweep) clearInterval(sweep);
      await Promise.allSettled([firstPass, sweeping, ...followers]);
    },
  };
}
