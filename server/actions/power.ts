// Power actions: one Proxmox call, the pending state written at once (a new revision, pushed), the
// task followed briefly so a quick action answers with its final state, then the sync fast lane.
// Failures: Proxmox's reason is reported; a failed task reverts the pending state. The audit entry
// notes the task's UPID; when labdeck stops while a task runs, the entry stays pending with
// "outcome unknown: labdeck stopped" and the next start settles it from Proxmox (recovery.ts).
//   conflict      – Proxmox says the VM's state forbids it (already running, not running, locked, template, paused)
//   proxmox_error – any other Proxmox failure or an unreachable cluster
import { finalOf, pendingOf, powerActions, type PowerAction, type Vm, type VmStatus } from '../../contract/vm.js';
import { DomainError, conflict, proxmoxError, unavailable } from '../../contract/errors.js';
import { PveError } from '../pve/errors.js';
import type { PveClient } from '../pve/client.js';
import type { AuditLog } from '../auth/audit-log.js';
import { log } from '../log.js';

/** The actions this module runs (the contract's list; routes validate against it). */
export const actionNames = powerActions;
export type ActionName = PowerAction;


const CONFLICT = /already running|not running|is paused|cannot (shutdown|start|stop)|is locked|template|is running|can't start|no such vm|does not exist/i;

/** Maps a Proxmox failure text to our answer: a conflict when the state forbids it, else a Proxmox error (pure). */
export function failureFor(reason: string, unreachable = false): DomainError {
  const text = reason.trim() || 'unknown error';
  if (!unreachable && CONFLICT.test(text)) return conflict(`Proxmox refused: ${text}`, { proxmox: text });
  return proxmoxError(unreachable ? `Proxmox is unreachable: ${text}` : `Proxmox: ${text}`, { proxmox: text, ...(unreachable ? { unreachable: true } : {}) });
}

/** True for a task exit status that means success ("OK" or "WARNINGS: n"). */
export function taskSucceeded(exitstatus: string | undefined): boolean {
  return exitstatus === 'OK' || /^WARNINGS/.test(exitstatus ?? '');
}

/** The sync's side of an action: the cluster's client, the fast lane, and the state labdeck writes (the sync owns the inventory's writes). */
export interface PowerBackend {
  client(clusterId: string): PveClient | undefined;
  watch(cluster: string, vmid: number): void;
  setStatus(cluster: string, vmid: number, status: VmStatus): Promise<Vm>;
}

export interface PowerOptions {
  backend: PowerBackend;
  audit: AuditLog;
  /** How long a request waits for the task before answering 202 (ms). */
  followMs?: number;
  pollMs?: number;
  /** How long a task is followed in the background at most (ms). */
  backgroundMs?: number;
}

export interface ActionResult {
  /** The task ended within the follow time (false: it still runs, the VM shows its pending state). */
  done: boolean;
  vm: Vm;
  task: string;
}

type Outcome = { ok: true; vm: Vm } | { ok: false; error: DomainError } | { ok: 'unknown' };

/** The detail of an audit entry whose task labdeck stopped following (settled after the restart). */
export const OUTCOME_UNKNOWN = 'outcome unknown: labdeck stopped';

export interface Actor { id: number; username: string }

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class PowerActions {
  private readonly inFlight = new Map<string, string>();
  private readonly background = new Set<Promise<unknown>>();
  private readonly followMs: number;
  private readonly pollMs: number;
  /** How long a task is followed in the background at most: every entry is settled by then. */
  readonly backgroundMs: number;
  private closed = false;

  constructor(private readonly opts: PowerOptions) {
    this.followMs = opts.followMs ?? 2000;
    this.pollMs = opts.pollMs ?? 200;
    this.backgroundMs = opts.backgroundMs ?? 15 * 60_000;
  }

  /**
   * Runs one action on a VM the caller may act on; waits up to `followMs` (or the given budget).
   * `classId` is the class the action is recorded under, so the class's audit trail finds it.
   */
  async run(actor: Actor, vm: Vm, action: ActionName, followMs = this.followMs, classId: number | null = null): Promise<ActionResult> {
    const started = Date.now();
    const client = this.opts.backend.client(vm.cluster);
    if (!client) throw unavailable(`cluster ${vm.cluster} is not configured`);
    if (this.inFlight.has(vm.id)) throw conflict(`an action is already running on VM ${vm.vmid}`);
    const auditId = await this.opts.audit.record({ actor, action: `vm.${action}`, target: 'vm', cluster: vm.cluster, vmid: vm.vmid, classId, outcome: 'pending' });
    let upid: string;
    this.inFlight.set(vm.id, '');
    try {
      upid = await client.power(vm.node, vm.type, vm.vmid, action);
    } catch (err) {
      this.inFlight.delete(vm.id);
      const e = err instanceof PveError ? failureFor(err.reason, err.kind !== 'http') : failureFor((err as Error).message, true);
      await this.opts.audit.settle(auditId, 'failed', e.message);
      throw e;
    }
    this.inFlight.set(vm.id, upid);
    await this.opts.audit.attachTask(auditId, upid).catch((err: unknown) =>
      log.warn({ cluster: vm.cluster, vmid: vm.vmid, action, err: (err as Error).message }, 'could not note the task on the audit entry'));
    let pending: Vm;
    try {
      pending = await this.opts.backend.setStatus(vm.cluster, vm.vmid, pendingOf[action]);
    } catch (err) {
      // The task runs in Proxmox whatever happens here (e.g. a pass just removed the row): keep following it.
      log.warn({ cluster: vm.cluster, vmid: vm.vmid, action, err: (err as Error).message }, 'could not write the pending state');
      pending = { ...vm, status: pendingOf[action] };
    }
    const follow = this.follow(client, vm, action, upid, auditId);
    const done = follow.then((o) => o);
    this.background.add(done);
    void done.finally(() => this.background.delete(done));
    const budget = Math.max(0, followMs - (Date.now() - started));
    const first = await Promise.race([done, sleep(budget).then(() => null)]);
    if (first === null || first.ok === 'unknown') return { done: false, vm: pending, task: upid };
    if (!first.ok) throw first.error;
    return { done: true, vm: first.vm, task: upid };
  }

  /** Follows the task to its end, writes the outcome, audits it and hands the VM to the fast lane. */
  private async follow(client: PveClient, vm: Vm, action: ActionName, upid: string, auditId: number): Promise<Outcome> {
    const deadline = Date.now() + this.backgroundMs;
    let exit: string | undefined;
    let lastError = '';
    try {
      while (!this.closed && Date.now() < deadline) {
        try {
          const t = await client.taskStatus(vm.node, upid);
          if (t.status === 'stopped') { exit = t.exitstatus ?? ''; break; }
        } catch (err) {
          lastError = err instanceof PveError ? err.reason : (err as Error).message;
        }
        await sleep(this.pollMs);
      }
      if (exit === undefined && this.closed) {
        // Shutting down: the task runs on in Proxmox; the next start settles the entry from it.
        await this.opts.audit.settle(auditId, 'pending', OUTCOME_UNKNOWN);
        return { ok: 'unknown' };
      }
      const ok = exit !== undefined && taskSucceeded(exit);
      let status: VmStatus = ok ? finalOf[action] : vm.status;
      try {
        const live = await client.statusCurrent(vm.node, vm.type, vm.vmid);
        if (ok || exit !== undefined) status = live.status;
      } catch {
        // Keep the expected state; the fast lane corrects it once Proxmox answers again.
      }
      if (exit === undefined) {
        await this.opts.audit.settle(auditId, 'failed', `task not finished: ${lastError || 'gave up following'}`);
        return { ok: false, error: failureFor(lastError || 'task did not finish', true) };
      }
      const finalVm = await this.opts.backend.setStatus(vm.cluster, vm.vmid, status);
      if (ok) {
        await this.opts.audit.settle(auditId, 'ok', exit === 'OK' ? upid : `${exit} (${upid})`);
        return { ok: true, vm: finalVm };
      }
      await this.opts.audit.settle(auditId, 'failed', exit);
      log.info({ cluster: vm.cluster, vmid: vm.vmid, action, exit }, 'power action failed');
      return { ok: false, error: failureFor(exit) };
    } catch (err) {
      log.warn({ cluster: vm.cluster, vmid: vm.vmid, action, err: (err as Error).message }, 'following a power action failed');
      await this.opts.audit.settle(auditId, 'failed', (err as Error).message).catch(() => undefined);
      return { ok: false, error: failureFor((err as Error).message, true) };
    } finally {
      this.inFlight.delete(vm.id);
      if (!this.closed) this.opts.backend.watch(vm.cluster, vm.vmid);
    }
  }

  /** Actions still being followed. */
  pending(): number { return this.background.size; }

  /** Stops following tasks (server shutdown); waits for the followers to notice. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.background]);
  }
}
