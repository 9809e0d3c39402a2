// The one provisioning job runner: takes queued jobs (and, at start, the ones a restart
// interrupted) and walks each VM through allocate → clone → record in the class → tags →
// baseline → assign, at most `perNode` at once per Proxmox node. Every step is written before
// the next Proxmox call, so a restart resumes where it stopped and no VM is ever unrecorded.
import type { GuestAdmin } from '../pve/guest-admin.js';
import { PveError } from '../pve/errors.js';
import { taskSucceeded } from '../actions/power.js';
import { log } from '../log.js';
import { BASELINE, classifyFailure, provisionTags, retryDelay, type Failure } from './failures.js';
import { KeyedLimiter } from './limiter.js';
import type { JobRow, ProvisionRepo, VmRow } from './repository.js';

/** What the runner needs from the rest of labdeck. */
export interface RunnerDeps {
  repo: ProvisionRepo;
  admin(cluster: string): GuestAdmin | undefined;
  /** Puts a made VM in the class's pool (labdeck's list of class VMs). */
  register(classId: number, cluster: string, vmid: number): Promise<void>;
  /** Takes a removed VM out of the class (its pool entry and assignment). */
  unregister(classId: number, cluster: string, vmid: number): Promise<void>;
  /** Assigns it to a student (false when the student left the class meanwhile). */
  assign(classId: number, cluster: string, vmid: number, userId: number): Promise<boolean>;
  /** Whether the inventory knows a live VM with that id (ids nextid offers may still be in use elsewhere). */
  known(cluster: string, vmid: number): Promise<boolean>;
  /** A job or one of its VMs changed: push it to the class's teachers. */
  changed(jobId: number): void;
  /** New VMs exist: ask for a sync pass of the cluster so they show in the inventory. */
  refresh(cluster: string): void;
  /** The vmid range the class's scope allows on the cluster, if it has one. */
  vmidRange?(classId: number, cluster: string): { min: number; max: number } | null;
}

export interface RunnerOptions {
  perNode: number;
  retries: number;
  retryBaseMs: number;
  pollMs: number;
  /** How long a task is followed before the step counts as failed. */
  taskTimeoutMs?: number;
  /** This instance's name: the owner written on the jobs it runs. */
  instance?: string;
  /**
   * Several instances on one database: the lease renewal period. A job is taken over only once its
   * owner's lease is 3 periods old, and unfinished jobs are looked for every 2 periods. Absent
   * (a single instance): every unfinished job is this process's own, resumed at start at once.
   */
  leaseRenewMs?: number;
}

class Closing extends Error {}
/** Another instance took the job over (this one was stalled past its lease): stop working on it. */
class Lost extends Error {}

const errText = (err: unknown): string => (err instanceof PveError ? err.reason : err instanceof Error ? err.message : String(err));

export class ProvisionRunner {
  readonly limiter: KeyedLimiter;
  private readonly jobs = new Map<number, Promise<void>>();
  /** vmids handed out and not yet visible to nextid, per cluster. */
  private readonly reserved = new Map<string, Set<number>>();
  private readonly allocating = new Map<string, Promise<unknown>>();
  private readonly timers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  private closed = false;
  private readonly me: string;
  /** Jobs this process claimed and runs (their leases are renewed). */
  private readonly owned = new Set<number>();
  /** Jobs another instance took over while this one ran them. */
  private readonly lost = new Set<number>();
  private renewTimer: NodeJS.Timeout | null = null;
  private scanTimer: NodeJS.Timeout | null = null;

  constructor(private readonly deps: RunnerDeps, private readonly opts: RunnerOptions) {
    this.limiter = new KeyedLimiter(opts.perNode);
    this.me = opts.instance ?? `labdeck-${process.pid}`;
  }

  private get shared(): boolean {
    return this.opts.leaseRenewMs !== undefined;
  }

  /** The lease renewal period (a single instance renews too, but nobody waits on it). */
  private get renewMs(): number {
    return this.opts.leaseRenewMs ?? 5000;
  }

  /**
   * Resumes the jobs a previous run left queued or running. Several instances: only those nobody
   * alive holds, and from then on every 2 renewal periods those whose owner's lease ran out.
   */
  async start(): Promise<void> {
    this.renewTimer = setInterval(() => void this.renew(), this.renewMs);
    this.renewTimer.unref();
    await this.scan();
    if (this.shared) {
      this.scanTimer = setInterval(() => void this.scan().catch((err) => log.warn({ err: errText(err) }, 'looking for provisioning jobs to take over failed')), 2 * this.renewMs);
      this.scanTimer.unref();
    }
  }

  private async scan(): Promise<void> {
    for (const job of await this.deps.repo.unfinishedJobs()) {
      if (this.closed) return;
      if (!this.jobs.has(job.id)) this.enqueue(job.id, true);
    }
  }

  private async renew(): Promise<void> {
    const now = Date.now();
    for (const id of [...this.owned]) {
      try {
        if (!(await this.deps.repo.renewJob(id, this.me, now)) && this.owned.has(id)) {
          log.warn({ job: id, instance: this.me }, 'another instance took over a provisioning job this one was running: stopping it here');
          this.lost.add(id);
        }
      } catch (err) {
        log.warn({ job: id, err: errText(err) }, 'could not renew the lease of a provisioning job');
      }
    }
  }

  /** Whether another live instance runs the job (its lease is fresh). */
  async heldElsewhere(jobId: number): Promise<boolean> {
    if (!this.shared) return false;
    return this.deps.repo.heldElsewhere(jobId, this.me, Date.now() - 3 * this.renewMs);
  }

  /** Starts running a job (no-op when it already runs, or another live instance holds it). */
  enqueue(jobId: number, resumed = false): void {
    if (this.closed || this.jobs.has(jobId)) return;
    const run = this.runJob(jobId, resumed).catch((err) => {
      if (!(err instanceof Lost)) log.error({ job: jobId, err: errText(err) }, 'provisioning job crashed');
    }).finally(() => {
      this.jobs.delete(jobId);
      this.owned.delete(jobId);
      this.lost.delete(jobId);
    });
    this.jobs.set(jobId, run);
  }

  /** Whether a job is being worked on in this process. */
  isRunning(jobId: number): boolean {
    return this.jobs.has(jobId);
  }

  /** Waits for a job's run in this process to end (tests, the bench). */
  async settled(jobId: number): Promise<void> {
    await this.jobs.get(jobId);
  }

  /** Stops: steps under way end at their next wait; their state stays in the database for the next start. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.renewTimer) clearInterval(this.renewTimer);
    if (this.scanTimer) clearInterval(this.scanTimer);
    for (const t of this.timers) {
      clearTimeout(t.timer);
      t.resolve();
    }
    await Promise.allSettled([...this.jobs.values()]);
    // Let go of what is left, so another instance takes it without waiting out the lease.
    if (this.shared) await this.deps.repo.releaseJobs(this.me).catch((err) => log.warn({ err: errText(err) }, 'could not let go of provisioning jobs'));
  }

  private sleep(ms: number): Promise<void> {
    if (this.closed) return Promise.reject(new Closing());
    return new Promise((resolve, reject) => {
      const entry = {
        timer: setTimeout(() => {
          this.timers.delete(entry);
          resolve();
        }, ms),
        resolve: () => reject(new Closing()),
      };
      this.timers.add(entry);
    });
  }

  private async runJob(jobId: number, resumed: boolean): Promise<void> {
    const now = Date.now();
    // One instance runs a job: claimed here unless another live one holds it (a single instance takes every job).
    if (!(await this.deps.repo.claimJob(jobId, this.me, now, this.shared ? now - 3 * this.renewMs : null))) return;
    this.owned.add(jobId);
    let job = await this.deps.repo.job(jobId);
    if (!job || (job.state !== 'queued' && job.state !== 'running')) return;
    if (resumed) log.info({ job: job.id, classId: job.class_id, cluster: job.cluster_id, instance: this.me }, 'resuming a provisioning job');
    if (job.state === 'queued') {
      if (!(await this.deps.repo.updateOwnedJob(jobId, this.me, { state: 'running' }))) throw new Lost();
      job = { ...job, state: 'running' };
      this.deps.changed(jobId);
    }
    const vms = await this.deps.repo.vmsOfJob(jobId);
    const refresher = setInterval(() => this.deps.refresh(job!.cluster_id), 3000);
    try {
      await Promise.all(vms.filter((vm) => !['done', 'failed', 'cancelled', 'removed', 'removing'].includes(vm.state)).map((vm) => this.runVm(job!, vm)));
    } finally {
      clearInterval(refresher);
    }
    if (this.closed || this.lost.has(jobId)) return;
    const after = await this.deps.repo.vmsOfJob(jobId);
    const fresh = await this.deps.repo.job(jobId);
    const state = fresh?.cancel_requested ? 'cancelled' : after.some((v) => v.state === 'failed') ? 'failed' : 'done';
    if (!(await this.deps.repo.updateOwnedJob(jobId, this.me, { state, finished_at: Date.now() }))) throw new Lost();
    this.deps.refresh(job.cluster_id);
    this.deps.changed(jobId);
    log.info({ job: jobId, classId: job.class_id, state, done: after.filter((v) => v.state === 'done').length, failed: after.filter((v) => v.state === 'failed').length }, 'provisioning job ended');
  }

  /** Writes a step, only while this instance still holds the job (else Lost: nothing more is sent to Proxmox for it). */
  private async update(vm: VmRow, patch: Parameters<ProvisionRepo['updateVm']>[1]): Promise<void> {
    if (this.lost.has(vm.job_id) || !(await this.deps.repo.updateOwnedVm(vm.id, vm.job_id, this.me, patch))) {
      this.lost.add(vm.job_id);
      throw new Lost();
    }
    Object.assign(vm, patch);
    this.deps.changed(vm.job_id);
  }

  private async cancelled(jobId: number): Promise<boolean> {
    return Boolean((await this.deps.repo.job(jobId))?.cancel_requested);
  }

  private async runVm(job: JobRow, vm: VmRow): Promise<void> {
    const admin = this.deps.admin(job.cluster_id);
    if (!admin) {
      await this.update(vm, { state: 'failed', error: `cluster ${job.cluster_id} is not configured` });
      return;
    }
    if (vm.state === 'pending' && await this.cancelled(job.id)) {
      await this.update(vm, { state: 'cancelled' });
      return;
    }
    const release = await this.limiter.acquire(`${job.cluster_id}/${job.template_node}`);
    try {
      if (vm.state === 'pending' && await this.cancelled(job.id)) {
        await this.update(vm, { state: 'cancelled' });
        return;
      }
      if (vm.state === 'pending' && vm.replaces_id !== null) await this.replaceStep(job, vm, admin);
      if (!(await this.cloneStep(job, vm, admin))) return;
      await this.deps.register(job.class_id, job.cluster_id, vm.vmid!);
      if (vm.state === 'configuring') await this.configureStep(job, vm, admin);
      if (vm.state === 'baseline') await this.baselineStep(job, vm, admin);
      if (vm.assign_user_id !== null && !(await this.deps.assign(job.class_id, job.cluster_id, vm.vmid!, vm.assign_user_id))) {
        log.info({ job: job.id, vmid: vm.vmid, userId: vm.assign_user_id }, 'student left the class: VM left unassigned');
      }
      await this.update(vm, { state: 'done', error: null, upid: null });
    } catch (err) {
      if (err instanceof Closing || err instanceof Lost || this.closed || this.lost.has(job.id)) return;
      const message = err instanceof StepFailed ? err.message : `unexpected error: ${errText(err)}`;
      log.warn({ job: job.id, cluster: job.cluster_id, vmid: vm.vmid, err: message }, 'provisioning a VM failed');
      await this.update(vm, { state: 'failed', error: message, upid: null }).catch(() => undefined);
    } finally {
      release();
      if (vm.vmid !== null) this.reserved.get(job.cluster_id)?.delete(vm.vmid);
    }
  }

  /** Allocates an id and clones until the clone exists (true), retrying lock timeouts; false when it failed for good. */
  private async cloneStep(job: JobRow, vm: VmRow, admin: GuestAdmin): Promise<boolean> {
    const node = job.template_node;
    for (;;) {
      if (vm.state !== 'pending' && vm.state !== 'cloning') return true;
      if (vm.state === 'pending') {
        const vmid = await this.allocate(job, admin);
        // Written before the clone is sent: whatever happens next, labdeck knows this id is its own.
        await this.update(vm, { state: 'cloning', vmid, node, upid: null, attempts: vm.attempts + 1, error: null });
      }
      const vmid = vm.vmid!;
      let failure: Failure | null = null;
      if (!vm.upid) {
        // A restart between writing the id and storing the task: the clone may or may not have been sent.
        const existing = vm.attempts > 0 ? await admin.config(node, vm.type, vmid).catch(() => null) : null;
        if (existing) {
          await this.waitUnlocked(admin, node, vm, vmid);
          await this.update(vm, { state: 'configuring' });
          return true;
        }
        try {
          const upid = await admin.clone(node, vm.type, job.template_vmid, {
            newid: vmid, name: vm.name, full: job.full_clone ? true : undefined, pool: job.pve_pool ?? undefined,
            description: `Made by labdeck for class ${job.class_id} (job ${job.id}) from ${job.template_name}`,
          });
          await this.update(vm, { upid });
        } catch (err) {
          if (err instanceof Closing || err instanceof Lost) throw err;
          failure = classifyFailure(errText(err));
        }
      }
      if (!failure) {
        const exit = await this.follow(admin, node, vm.upid!);
        if (taskSucceeded(exit)) {
          await this.update(vm, { state: 'configuring', upid: null });
          return true;
        }
        failure = classifyFailure(exit);
        // PVE removes a failed clone's config itself; make sure nothing half-made stays behind.
        await this.cleanup(admin, node, vm, vmid);
      }
      const retryable = failure.kind === 'lock' || failure.kind === 'id-taken';
      if (!retryable || vm.attempts > this.opts.retries) {
        const gone = (await admin.config(node, vm.type, vmid).catch(() => 'unknown' as const)) === null;
        await this.update(vm, { state: 'failed', error: retryable ? `${failure.message}; gave up after ${vm.attempts} attempts` : failure.message, upid: null, vmid: gone ? null : vmid });
        return false;
      }
      log.info({ job: job.id, cluster: job.cluster_id, vmid, attempt: vm.attempts, why: failure.message }, 'clone will be retried');
      this.reserved.get(job.cluster_id)?.delete(vmid);
      await this.update(vm, { state: 'pending', vmid: null, upid: null, error: `retrying: ${failure.message}` });
      await this.sleep(retryDelay(vm.attempts, this.opts.retryBaseMs));
    }
  }

  /**
   * A re-creation: removes the VM it replaces first (stopped, destroyed with purge, taken out of
   * the class), so that the new clone takes its place with the same name and student. A failure
   * leaves the old VM as it was, with the reason.
   */
  private async replaceStep(job: JobRow, vm: VmRow, admin: GuestAdmin): Promise<void> {
    const old = await this.deps.repo.vm(vm.replaces_id!);
    if (!old || old.vmid === null || old.state === 'removed') return;
    const node = old.node ?? job.template_node;
    const vmid = old.vmid;
    const before = old.state;
    await this.deps.repo.updateVm(old.id, { state: 'removing', error: null });
    try {
      const cfg = await this.retryLocked(`reading VM ${vmid}`, () => admin.config(node, old.type, vmid));
      if (cfg) {
        if (await admin.running(node, old.type, vmid)) {
          const stopped = await this.follow(admin, node, await this.retryLocked(`stopping VM ${vmid}`, () => admin.stop(node, old.type, vmid)));
          if (!taskSucceeded(stopped)) throw new StepFailed(`could not stop VM ${vmid} to re-create it: ${classifyFailure(stopped).message}`);
        }
        const exit = await this.follow(admin, node, await this.retryLocked(`removing VM ${vmid}`, () => admin.destroy(node, old.type, vmid)));
        if (!taskSucceeded(exit)) throw new StepFailed(`could not remove VM ${vmid} to re-create it: ${classifyFailure(exit).message}`);
      }
    } catch (err) {
      if (!(err instanceof Closing || err instanceof Lost)) await this.deps.repo.updateVm(old.id, { state: before, error: `re-creating failed: ${err instanceof Error ? err.message : String(err)}` });
      throw err;
    }
    await this.deps.repo.updateVm(old.id, { state: 'removed', error: null });
    await this.deps.unregister(job.class_id, job.cluster_id, vmid);
    this.deps.refresh(job.cluster_id);
  }

  private async configureStep(job: JobRow, vm: VmRow, admin: GuestAdmin): Promise<void> {
    const node = vm.node ?? job.template_node;
    const cfg = await this.retryLocked('reading the new VM\'s config', () => admin.config(node, vm.type, vm.vmid!));
    if (!cfg) throw new StepFailed(`VM ${vm.vmid} vanished after its clone`);
    await this.retryLocked('setting the tags', () => admin.setConfig(node, vm.type, vm.vmid!, { tags: provisionTags([...cfg.tags, ...(job.scope_tag ? [job.scope_tag] : [])], job.class_id).join(';') }));
    await this.update(vm, { state: job.baseline ? 'baseline' : 'done' });
  }

  private async baselineStep(job: JobRow, vm: VmRow, admin: GuestAdmin): Promise<void> {
    const node = vm.node ?? job.template_node;
    if ((await admin.snapshots(node, vm.type, vm.vmid!)).includes(BASELINE)) {
      await this.update(vm, { has_baseline: 1, state: 'done' });
      return;
    }
    const exit = await this.retryLocked('the baseline snapshot', async () => {
      const upid = vm.upid ?? await admin.snapshot(node, vm.type, vm.vmid!, BASELINE, 'State as labdeck made it: revert goes back here');
      await this.update(vm, { upid });
      const e = await this.follow(admin, node, upid);
      await this.update(vm, { upid: null });
      if (!taskSucceeded(e) && classifyFailure(e).kind === 'lock') throw new PveError(job.cluster_id, 500, e);
      return e;
    });
    if (!taskSucceeded(exit) && !/already used/.test(exit)) throw new StepFailed(`the baseline snapshot failed: ${classifyFailure(exit).message}`);
    await this.update(vm, { has_baseline: 1, state: 'done' });
  }

  /** Runs a call, retrying while Proxmox answers with a lock error. */
  private async retryLocked<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (err instanceof Closing || err instanceof Lost) throw err;
        const f = classifyFailure(errText(err));
        if (f.kind !== 'lock' || attempt > this.opts.retries) throw new StepFailed(`${what} failed: ${f.message}`);
        await this.sleep(retryDelay(attempt, this.opts.retryBaseMs));
      }
    }
  }

  /** Follows a task to its end; returns its exit status (a lost task reads as its error). */
  private async follow(admin: GuestAdmin, node: string, upid: string): Promise<string> {
    const deadline = Date.now() + (this.opts.taskTimeoutMs ?? 30 * 60_000);
    let misses = 0;
    while (Date.now() < deadline) {
      if (this.closed) throw new Closing();
      try {
        const t = await admin.taskStatus(node, upid);
        if (t.status === 'stopped') return t.exitstatus ?? 'unknown exit status';
        misses = 0;
      } catch (err) {
        if (err instanceof PveError && err.status === 400) return `task ${upid} is unknown to Proxmox`;
        if (++misses > 20) return `lost track of the task: ${errText(err)}`;
      }
      await this.sleep(this.opts.pollMs);
    }
    return 'the task did not end in time';
  }

  /** Waits for a guest's clone lock to go (a restart found the clone still copying). */
  private async waitUnlocked(admin: GuestAdmin, node: string, vm: VmRow, vmid: number): Promise<void> {
    for (;;) {
      const cfg = await admin.config(node, vm.type, vmid);
      if (!cfg) throw new StepFailed(`VM ${vmid} vanished while it was being cloned`);
      if (cfg.lock !== 'clone' && cfg.lock !== 'create') return;
      await this.sleep(this.opts.pollMs);
    }
  }

  /** Removes what a failed clone may have left (stopped, never started by anyone). */
  private async cleanup(admin: GuestAdmin, node: string, vm: VmRow, vmid: number): Promise<void> {
    try {
      const cfg = await admin.config(node, vm.type, vmid);
      if (!cfg) return;
      const exit = await this.follow(admin, node, await admin.destroy(node, vm.type, vmid));
      if (!taskSucceeded(exit)) log.warn({ cluster: admin.cluster, vmid, exit }, 'could not remove a failed clone');
    } catch (err) {
      if (err instanceof Closing || err instanceof Lost) throw err;
      log.warn({ cluster: admin.cluster, vmid, err: errText(err) }, 'could not check or remove a failed clone');
    }
  }

  /**
   * A vmid free now: nextid (or the scope's range), confirmed free with `nextid?vmid=` and unknown
   * to the inventory, never one this process handed out and Proxmox does not show yet.
   * One allocation at a time per cluster.
   */
  private async allocate(job: JobRow, admin: GuestAdmin): Promise<number> {
    const cluster = job.cluster_id;
    const prev = this.allocating.get(cluster) ?? Promise.resolve();
    const mine = prev.catch(() => undefined).then(async () => {
      const reserved = this.reserved.get(cluster) ?? new Set<number>();
      this.reserved.set(cluster, reserved);
      for (const id of await this.deps.repo.reservedVmids(cluster)) reserved.add(id);
      const range = this.deps.vmidRange?.(job.class_id, cluster) ?? null;
      let candidate = range ? range.min : await admin.nextId();
      for (let tries = 0; tries < 200; tries++, candidate++) {
        if (range && candidate > range.max) break;
        if (reserved.has(candidate)) continue;
        if (!(await admin.isFree(candidate)) || await this.deps.known(cluster, candidate)) continue;
        reserved.add(candidate);
        return candidate;
      }
      throw new StepFailed(range ? `no free VM id left in ${range.min}-${range.max} (the class's scope)` : 'no free VM id found');
    });
    this.allocating.set(cluster, mine);
    return mine;
  }
}

/** A step failed for good, with a message for the teacher. */
export class StepFailed extends Error {}
