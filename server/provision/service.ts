// The rules of a class's VM lifecycle: who may provision (the class's teachers, inside its
// scope), what a job looks like, who may revert a VM to its baseline (whoever may act on it),
// resetting a whole class, and removing only the VMs labdeck made for that class.
import { searchNeedle, vmMatchesText } from '../../contract/vm-search.js';
import type { Access } from '../auth/permissions.js';
import type { AuditLog } from '../auth/audit-log.js';
import type { SessionUser } from '../auth/session.js';
import type { ClassesRepo } from '../classes/repository.js';
import type { InventoryReader } from '../inventory/reader.js';
import { DomainError, badRequest, conflict, forbidden, notFound, proxmoxError } from '../../contract/errors.js';
import type { Vm } from '../../contract/vm.js';
import { vmKey } from '../../contract/vm.js';
import { taskSucceeded } from '../actions/power.js';
import { mapLimit } from '../limit.js';
import type { GuestAdmin } from '../pve/guest-admin.js';
import { PveError } from '../pve/errors.js';
import { log } from '../log.js';
import { BASELINE, classifyFailure, vmName } from './failures.js';
import type { JobView, ProvisionedVm, VmOutcome } from '../../contract/provision.js';
import type { JobRow, ProvisionRepo, VmRow } from './repository.js';
import type { ProvisionRunner } from './runner.js';
import type { ScopeGate } from './scope-gate.js';

export type { JobVmView, JobView, ProvisionedVm, VmOutcome } from '../../contract/provision.js';

export interface ProvisionInput {
  cluster: string;
  templateVmid: number;
  count: number;
  namePrefix?: string;
  full?: boolean;
  baseline?: boolean;
  assign?: boolean;
}

export interface ProvisionServiceDeps {
  repo: ProvisionRepo;
  runner: ProvisionRunner;
  classesRepo: ClassesRepo;
  access: Access;
  audit: AuditLog;
  inventory: InventoryReader;
  admin(cluster: string): GuestAdmin | undefined;
  scope: ScopeGate;
  maxCount: number;
  /** How long a revert or removal follows one task. */
  taskWaitMs?: number;
  pollMs?: number;
  /** After a change in Proxmox: look at the VM now (fast lane) and resync the cluster. */
  watch(cluster: string, vmid: number): void;
  refresh(cluster: string): void;
}

const PREFIX_RE = /^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$/;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A DNS-safe name prefix from a class name ("Networks 1" → "networks-1"). */
export function prefixFor(className: string): string {
  const s = className.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 30).replace(/-+$/, '');
  return s || 'class';
}

export function jobView(job: JobRow, vms: VmRow[]): JobView {
  return {
    id: job.id, classId: job.class_id, cluster: job.cluster_id,
    template: { vmid: job.template_vmid, name: job.template_name, type: job.template_type },
    state: job.state, full: Boolean(job.full_clone), baseline: Boolean(job.baseline), total: vms.length,
    done: vms.filter((v) => v.state === 'done').length, failed: vms.filter((v) => v.state === 'failed').length,
    cancelled: vms.filter((v) => v.state === 'cancelled').length, createdAt: job.created_at, finishedAt: job.finished_at,
    vms: vms.map((v) => ({ vmid: v.vmid, name: v.name, state: v.state, error: v.error, attempts: v.attempts, node: v.node, assignedTo: v.assign_user_id })),
  };
}

export class ProvisionService {
  constructor(private readonly d: ProvisionServiceDeps) {}

  private manageable(user: SessionUser, classId: number): void {
    if (!this.d.access.snapshot().classes.has(classId)) throw notFound(`class ${classId} does not exist`);
    if (!this.d.access.canManageClass(user, classId)) throw forbidden('only the teachers of this class may do this');
  }

  private adminFor(cluster: string): GuestAdmin {
    const a = this.d.admin(cluster);
    if (!a) throw badRequest(`cluster ${cluster} is not configured`, 'cluster');
    return a;
  }

  /** Starts a job that makes `count` VMs from a template for the class; answers at once. */
  async provision(user: SessionUser, classId: number, input: ProvisionInput): Promise<JobView> {
    this.manageable(user, classId);
    this.adminFor(input.cluster);
    if (input.count > this.d.maxCount) throw badRequest(`count may be at most ${this.d.maxCount}`, 'count');
    const admin = user.role === 'admin';
    const found = await this.d.inventory.get(input.cluster, input.templateVmid);
    const tpl = found && !(found as Vm & { deleted?: boolean }).deleted ? found : null;
    // The scope is asked before anything about the VM is told: a teacher learns nothing of a VM
    // outside it, not even whether it exists (an unknown one is judged by its cluster and vmid alone).
    const decision = this.d.scope.decide(classId, tpl
      ? { cluster: tpl.cluster, vmid: tpl.vmid, tags: tpl.tags, pool: tpl.pool, template: true, use: 'clone-source' }
      : { cluster: input.cluster, vmid: input.templateVmid, tags: [], pool: null, template: true, use: 'clone-source' }, admin);
    if (!decision.allowed) throw forbidden(decision.reason);
    if (!tpl) throw notFound(`VM ${input.templateVmid} does not exist on cluster ${input.cluster}`);
    if (!tpl.template) throw conflict(`${tpl.name} (${tpl.vmid}) is not a template: convert it to a template in Proxmox first`);
    const klass = this.d.access.snapshot().classes.get(classId)!;
    const prefix = input.namePrefix ?? prefixFor(klass.name);
    if (!PREFIX_RE.test(prefix)) throw badRequest('namePrefix must be lower-case letters, digits and -, at most 42 characters, as in a host name', 'namePrefix');
    const placement = this.d.scope.placement(classId, tpl.cluster);
    let assignees: Array<number | null> = [];
    if (input.assign) {
      const [members, assignments] = await Promise.all([this.d.classesRepo.members(classId), this.d.classesRepo.assignments(classId)]);
      const busy = new Set(assignments.map((a) => a.userId));
      assignees = members.filter((m) => !busy.has(m.id)).map((m) => m.id);
    }
    const id = await this.d.repo.createJob({
      classId, cluster: tpl.cluster, template: { vmid: tpl.vmid, type: tpl.type, node: tpl.node, name: tpl.name },
      namePrefix: prefix, full: input.full ?? false, baseline: input.baseline ?? true, pvePool: placement.pool, scopeTag: placement.tag, createdBy: user.id,
      vms: Array.from({ length: input.count }, (_, i) => ({ name: vmName(prefix, i + 1, input.count), assignUserId: assignees[i] ?? null })),
    });
    await this.d.audit.record({ actor: { id: user.id, username: user.username }, action: 'class.provision', target: 'class', classId, cluster: tpl.cluster, vmid: tpl.vmid, outcome: 'ok', detail: `job ${id}: ${input.count} from ${tpl.name}` });
    this.d.runner.enqueue(id);
    return (await this.view(id))!;
  }

  async view(jobId: number): Promise<JobView | null> {
    const job = await this.d.repo.job(jobId);
    return job ? jobView(job, await this.d.repo.vmsOfJob(jobId)) : null;
  }

  /** One job of the class (its teachers). */
  async job(user: SessionUser, classId: number, jobId: number): Promise<JobView> {
    this.manageable(user, classId);
    const v = await this.view(jobId);
    if (!v || v.classId !== classId) throw notFound(`job ${jobId} does not exist in this class`);
    return v;
  }

  /** The class's recent jobs, newest first. */
  async jobs(user: SessionUser, classId: number): Promise<JobView[]> {
    this.manageable(user, classId);
    const rows = await this.d.repo.jobsOfClass(classId);
    return Promise.all(rows.map(async (j) => jobView(j, await this.d.repo.vmsOfJob(j.id))));
  }

  /** Stops a job: VMs not yet started are cancelled; those under way finish their current VM. */
  async cancel(user: SessionUser, classId: number, jobId: number): Promise<JobView> {
    const v = await this.job(user, classId, jobId);
    if (v.state === 'done' || v.state === 'failed' || v.state === 'cancelled') throw conflict(`job ${jobId} has already ended (${v.state})`);
    await this.d.repo.updateJob(jobId, { cancel_requested: 1 });
    await this.d.repo.cancelPending(jobId);
    await this.d.audit.record({ actor: { id: user.id, username: user.username }, action: 'class.provision.cancel', target: 'class', classId, outcome: 'ok', detail: `job ${jobId}` });
    // A job that is not running here nor on another live instance (queued behind nothing) ends now.
    if (!this.d.runner.isRunning(jobId) && !(await this.d.runner.heldElsewhere(jobId))) await this.d.repo.updateJob(jobId, { state: 'cancelled', finished_at: Date.now() });
    return (await this.view(jobId))!;
  }

  /** The VMs labdeck made for the class that may still exist (what "remove" would remove). */
  async provisioned(user: SessionUser, classId: number): Promise<ProvisionedVm[]> {
    this.manageable(user, classId);
    const rows = await this.d.repo.classVms(classId);
    const vms = rows.length ? await this.d.inventory.list({ keys: rows.map((r) => vmKey(r.cluster_id, r.vmid!)) }) : [];
    const byKey = new Map(vms.map((v) => [v.id, v]));
    return rows.map((r) => ({
      cluster: r.cluster_id, vmid: r.vmid!, name: r.name, state: r.state, error: r.error, hasBaseline: Boolean(r.has_baseline),
      jobId: r.job_id, status: byKey.get(vmKey(r.cluster_id, r.vmid!))?.status ?? null,
    }));
  }

  private async follow(admin: GuestAdmin, node: string, upid: string): Promise<string> {
    const deadline = Date.now() + (this.d.taskWaitMs ?? 120_000);
    while (Date.now() < deadline) {
      const t = await admin.taskStatus(node, upid);
      if (t.status === 'stopped') return t.exitstatus ?? 'unknown exit status';
      await sleep(this.d.pollMs ?? 250);
    }
    return 'the task did not end in time';
  }

  /**
   * Rolls a VM back to its labdeck baseline, starting it again when it ran. Whoever may act on
   * the VM may revert it. A storage that rolls back only to its newest snapshot answers 409
   * `not_most_recent` (the teacher can re-clone instead).
   */
  async revert(user: SessionUser, vm: Vm): Promise<{ vm: { cluster: string; vmid: number }; started: boolean }> {
    if (!this.d.access.canActOnVm(user, vm.cluster, vm.vmid)) throw forbidden('you may not act on this VM');
    const admin = this.adminFor(vm.cluster);
    const fail = (text: string): never => {
      const f = classifyFailure(text);
      if (f.kind === 'not-most-recent') throw new DomainError('not_most_recent', f.message, { reclone: true, proxmox: text });
      if (f.kind === 'lock') throw conflict(f.message, { proxmox: text });
      throw proxmoxError(f.message, { proxmox: text });
    };
    const auditId = await this.d.audit.record({ actor: { id: user.id, username: user.username }, action: 'vm.revert', target: 'vm', cluster: vm.cluster, vmid: vm.vmid, outcome: 'pending' });
    try {
      let snaps: string[];
      let running: boolean;
      try {
        [snaps, running] = await Promise.all([admin.snapshots(vm.node, vm.type, vm.vmid), admin.running(vm.node, vm.type, vm.vmid)]);
      } catch (err) {
        return fail(err instanceof PveError ? err.reason : (err as Error).message);
      }
      if (!snaps.includes(BASELINE)) throw conflict(`${vm.name} has no baseline (${BASELINE}) to revert to: labdeck takes one when it makes a VM`);
      let exit: string;
      try {
        exit = await this.follow(admin, vm.node, await admin.rollback(vm.node, vm.type, vm.vmid, BASELINE, running));
      } catch (err) {
        return fail(err instanceof PveError ? err.reason : (err as Error).message);
      }
      if (!taskSucceeded(exit)) fail(exit);
      await this.d.audit.settle(auditId, 'ok', running ? 'restarted' : undefined);
      return { vm: { cluster: vm.cluster, vmid: vm.vmid }, started: running };
    } catch (err) {
      await this.d.audit.settle(auditId, 'failed', (err as Error).message).catch(() => undefined);
      throw err;
    } finally {
      this.d.watch(vm.cluster, vm.vmid);
    }
  }

  /**
   * Re-creates a VM labdeck made from its template, for when its storage cannot roll back to the
   * baseline: a one-VM job through the runner removes it, clones the template again with the same
   * name, tags and baseline, and gives it to the same student. Whoever may act on the VM may ask.
   */
  async reclone(user: SessionUser, vm: Vm): Promise<JobView> {
    if (!this.d.access.canActOnVm(user, vm.cluster, vm.vmid)) throw forbidden('you may not act on this VM');
    this.adminFor(vm.cluster);
    const row = await this.d.repo.findVm(vm.cluster, vm.vmid);
    if (!row) throw conflict(`labdeck did not make ${vm.name} from a template, so it cannot re-create it`);
    if (row.state !== 'done') throw conflict(`${vm.name} is ${row.state === 'removing' ? 'being removed' : row.state === 'failed' ? 'a failed clone: remove it instead' : 'still being made'}`);
    if (await this.d.repo.replacing(row.id)) throw conflict(`${vm.name} is already being re-created`);
    const job = (await this.d.repo.job(row.job_id))!;
    const tpl = await this.d.inventory.get(job.cluster_id, job.template_vmid);
    if (!tpl || (tpl as Vm & { deleted?: boolean }).deleted || !tpl.template) {
      throw conflict(`the template ${job.template_name} (${job.template_vmid}) that ${vm.name} was made from is gone: ask your teacher to make a new VM from another template`);
    }
    const decision = this.d.scope.decide(job.class_id, { cluster: tpl.cluster, vmid: tpl.vmid, tags: tpl.tags, pool: tpl.pool, template: true, use: 'clone-source' }, user.role === 'admin');
    if (!decision.allowed) throw forbidden(decision.reason);
    const student = (this.d.access.snapshot().assignmentsOfVm.get(vmKey(vm.cluster, vm.vmid)) ?? []).find((a) => a.classId === job.class_id)?.userId ?? null;
    // Where the VM is now (it may have moved since it was made): the runner removes it there.
    await this.d.repo.updateVm(row.id, { node: vm.node });
    const id = await this.d.repo.createJob({
      classId: job.class_id, cluster: job.cluster_id, template: { vmid: tpl.vmid, type: tpl.type, node: tpl.node, name: tpl.name },
      namePrefix: job.name_prefix, full: Boolean(job.full_clone), baseline: Boolean(job.baseline), pvePool: job.pve_pool, scopeTag: job.scope_tag,
      createdBy: user.id, vms: [{ name: row.name, assignUserId: student, replacesId: row.id }],
    });
    await this.d.audit.record({ actor: { id: user.id, username: user.username }, action: 'vm.reclone', target: 'vm', classId: job.class_id, cluster: vm.cluster, vmid: vm.vmid, outcome: 'ok', detail: `job ${id}: ${row.name} re-created from ${tpl.name}` });
    this.d.runner.enqueue(id);
    return (await this.view(id))!;
  }

  /** Reverts every VM labdeck made for the class that has a baseline, four at a time. */
  async reset(user: SessionUser, classId: number): Promise<VmOutcome[]> {
    this.manageable(user, classId);
    const rows = (await this.d.repo.classVms(classId)).filter((r) => r.state === 'done' && r.has_baseline);
    await this.d.audit.record({ actor: { id: user.id, username: user.username }, action: 'class.reset', target: 'class', classId, outcome: 'ok', detail: `${rows.length} VMs` });
    return mapLimit(rows, 4, async (r): Promise<VmOutcome> => {
      const vm = await this.d.inventory.get(r.cluster_id, r.vmid!);
      const base = { cluster: r.cluster_id, vmid: r.vmid! };
      if (!vm) return { ...base, ok: false, error: 'not in the inventory yet', code: 'not_found' };
      try {
        await this.revert(user, vm);
        return { ...base, ok: true };
      } catch (err) {
        return { ...base, ok: false, error: (err as Error).message, code: err instanceof DomainError ? err.code : 'internal' };
      }
    });
  }

  /**
   * Removes VMs labdeck made for the class (all of them, or the listed ones): stopped first, then
   * destroyed with purge, then dropped from the class. VMs labdeck did not make are refused.
   */
  async remove(user: SessionUser, classId: number, only?: Array<{ cluster: string; vmid: number }>): Promise<VmOutcome[]> {
    this.manageable(user, classId);
    const mine = await this.d.repo.classVms(classId);
    let rows = mine;
    if (only) {
      const keys = new Set(mine.map((r) => vmKey(r.cluster_id, r.vmid!)));
      const foreign = only.filter((o) => !keys.has(vmKey(o.cluster, o.vmid)));
      if (foreign.length) throw forbidden(`labdeck did not make ${foreign.map((f) => vmKey(f.cluster, f.vmid)).join(', ')} for this class: only VMs it made may be removed here`);
      const want = new Set(only.map((o) => vmKey(o.cluster, o.vmid)));
      rows = mine.filter((r) => want.has(vmKey(r.cluster_id, r.vmid!)));
    }
    await this.d.audit.record({ actor: { id: user.id, username: user.username }, action: 'class.remove-vms', target: 'class', classId, outcome: 'ok', detail: `${rows.length} VMs` });
    const results = await mapLimit(rows, 4, (r) => this.removeOne(user, r));
    const pool = await this.d.classesRepo.pool(classId);
    for (const res of results.filter((x) => x.ok)) {
      const entry = pool.find((p) => p.kind === 'vm' && p.cluster === res.cluster && p.vmid === res.vmid);
      if (entry) await this.d.classesRepo.removePoolEntry(classId, entry.id);
      else await this.d.classesRepo.unassign(classId, res.cluster, res.vmid);
    }
    const byCluster = new Set(results.map((r) => r.cluster));
    await this.d.access.changed({ userIds: rows.map((r) => r.assign_user_id).filter((x): x is number => x !== null), classIds: [classId] });
    for (const c of byCluster) this.d.refresh(c);
    return results;
  }

  private async removeOne(user: SessionUser, r: VmRow): Promise<VmOutcome> {
    const base = { cluster: r.cluster_id, vmid: r.vmid! };
    const admin = this.d.admin(r.cluster_id);
    if (!admin) return { ...base, ok: false, error: `cluster ${r.cluster_id} is not configured`, code: 'bad_request' };
    const node = (await this.d.inventory.get(r.cluster_id, r.vmid!))?.node ?? r.node!;
    const previous = r.state;
    await this.d.repo.updateVm(r.id, { state: 'removing' });
    try {
      const cfg = await admin.config(node, r.type, r.vmid!);
      if (cfg) {
        if (await admin.running(node, r.type, r.vmid!)) {
          const stopped = await this.follow(admin, node, await admin.stop(node, r.type, r.vmid!));
          if (!taskSucceeded(stopped)) throw new Error(`could not stop it: ${stopped}`);
        }
        const exit = await this.follow(admin, node, await admin.destroy(node, r.type, r.vmid!));
        if (!taskSucceeded(exit)) throw new Error(exit);
      }
      await this.d.repo.updateVm(r.id, { state: 'removed', error: null });
      await this.d.audit.record({ actor: { id: user.id, username: user.username }, action: 'vm.remove', target: 'vm', classId: r.class_id, cluster: r.cluster_id, vmid: r.vmid!, outcome: 'ok', detail: cfg ? 'destroyed with purge' : 'already gone from Proxmox' });
      this.d.watch(r.cluster_id, r.vmid!);
      return { ...base, ok: true };
    } catch (err) {
      const text = err instanceof PveError ? err.reason : (err as Error).message;
      log.warn({ cluster: r.cluster_id, vmid: r.vmid, err: text }, 'removing a provisioned VM failed');
      await this.d.repo.updateVm(r.id, { state: previous, error: `remove failed: ${text}` });
      return { ...base, ok: false, error: classifyFailure(text).message, code: 'proxmox_error' };
    }
  }

  /** Inventory search inside the class's scope for the pickers: by name, vmid, tag or node. */
  async search(user: SessionUser, classId: number, q: { q: string; templates: boolean; cluster?: string; limit: number }): Promise<Vm[]> {
    this.manageable(user, classId);
    const text = searchNeedle(q.q);
    const all = await this.d.inventory.list(q.cluster ? { cluster: q.cluster } : {});
    const out: Vm[] = [];
    for (const vm of all) {
      if (vm.template !== q.templates || !vmMatchesText(vm, text)) continue;
      const d = this.d.scope.decide(classId, { cluster: vm.cluster, vmid: vm.vmid, tags: vm.tags, pool: vm.pool, template: vm.template, use: q.templates ? 'clone-source' : 'pool' }, user.role === 'admin');
      if (!d.allowed) continue;
      out.push(vm);
      if (out.length >= q.limit) break;
    }
    return out;
  }
}
