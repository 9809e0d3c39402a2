// SQL for provisioning jobs and the VMs they make. No rules here: the service and the runner
// decide; this file only reads and writes rows.
import type { Db } from '../db/index.js';
import type { ProvisionJobsTable, ProvisionVmsTable } from '../db/schema.js';
import type { VmType } from '../../contract/vm.js';

export type JobRow = Omit<ProvisionJobsTable, 'id'> & { id: number };
export type VmRow = Omit<ProvisionVmsTable, 'id'> & { id: number };
export type JobState = ProvisionJobsTable['state'];
export type VmState = ProvisionVmsTable['state'];

export interface NewJob {
  classId: number;
  cluster: string;
  template: { vmid: number; type: VmType; node: string; name: string };
  namePrefix: string;
  full: boolean;
  baseline: boolean;
  pvePool: string | null;
  scopeTag: string | null;
  createdBy: number;
  vms: Array<{ name: string; assignUserId: number | null; replacesId?: number }>;
}

/** VM states of a row the runner has not finished with yet. */
const UNFINISHED_VM_STATES: VmState[] = ['pending', 'cloning', 'configuring', 'baseline'];
/** VM states that still hold (or may hold) a guest in Proxmox. */
export const LIVE_VM_STATES: VmState[] = [...UNFINISHED_VM_STATES, 'done', 'failed', 'removing'];

export class ProvisionRepo {
  constructor(private readonly db: Db) {}

  /** Stores a queued job with one pending row per VM; returns its id. */
  async createJob(j: NewJob): Promise<number> {
    const now = Date.now();
    return this.db.transaction().execute(async (tx) => {
      const { id } = await tx.insertInto('provision_jobs').values({
        class_id: j.classId, cluster_id: j.cluster, template_vmid: j.template.vmid, template_type: j.template.type,
        template_node: j.template.node, template_name: j.template.name, count: j.vms.length, name_prefix: j.namePrefix,
        full_clone: j.full ? 1 : 0, baseline: j.baseline ? 1 : 0, pve_pool: j.pvePool, scope_tag: j.scopeTag, state: 'queued', cancel_requested: 0,
        created_by: j.createdBy, created_at: now, updated_at: now, finished_at: null,
      }).returning('id').executeTakeFirstOrThrow();
      await tx.insertInto('provision_vms').values(j.vms.map((vm, idx) => ({
        job_id: id, class_id: j.classId, cluster_id: j.cluster, idx, name: vm.name, vmid: null, node: null, type: j.template.type,
        state: 'pending' as const, upid: null, error: null, attempts: 0, assign_user_id: vm.assignUserId, has_baseline: 0, updated_at: now,
        replaces_id: vm.replacesId ?? null,
      }))).execute();
      return id;
    });
  }

  async job(id: number): Promise<JobRow | null> {
    return (await this.db.selectFrom('provision_jobs').selectAll().where('id', '=', id).executeTakeFirst()) ?? null;
  }

  async jobsOfClass(classId: number, limit = 20): Promise<JobRow[]> {
    return this.db.selectFrom('provision_jobs').selectAll().where('class_id', '=', classId).orderBy('id', 'desc').limit(limit).execute();
  }

  /** Jobs still to run or running when the process stopped (resumed at start). */
  async unfinishedJobs(): Promise<JobRow[]> {
    return this.db.selectFrom('provision_jobs').selectAll().where('state', 'in', ['queued', 'running']).orderBy('id').execute();
  }

  /**
   * Makes `owner` the instance running the job, if it is unfinished and nobody else holds it: no
   * owner, the same owner, or an owner whose lease was last renewed before `expiredBefore`
   * (null: take it whoever holds it, a single instance). One UPDATE, so two instances claiming at
   * once cannot both win. True when claimed.
   */
  async claimJob(id: number, owner: string, now: number, expiredBefore: number | null): Promise<boolean> {
    let q = this.db.updateTable('provision_jobs').set({ owner, renewed_at: now })
      .where('id', '=', id).where('state', 'in', ['queued', 'running']);
    if (expiredBefore !== null) {
      q = q.where((eb) => eb.or([eb('owner', 'is', null), eb('owner', '=', owner), eb('renewed_at', 'is', null), eb('renewed_at', '<', expiredBefore)]));
    }
    const r = await q.executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Renews the lease of a job this owner holds; false when another instance took it over. */
  async renewJob(id: number, owner: string, now: number): Promise<boolean> {
    const r = await this.db.updateTable('provision_jobs').set({ renewed_at: now }).where('id', '=', id).where('owner', '=', owner).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Lets go of the unfinished jobs this owner holds (it stops), so another instance takes them at once. */
  async releaseJobs(owner: string): Promise<void> {
    await this.db.updateTable('provision_jobs').set({ owner: null, renewed_at: null })
      .where('owner', '=', owner).where('state', 'in', ['queued', 'running']).execute();
  }

  async vmsOfJob(jobId: number): Promise<VmRow[]> {
    return this.db.selectFrom('provision_vms').selectAll().where('job_id', '=', jobId).orderBy('idx').execute();
  }

  async updateJob(id: number, patch: Partial<Pick<JobRow, 'state' | 'cancel_requested' | 'finished_at'>>): Promise<void> {
    await this.db.updateTable('provision_jobs').set({ ...patch, updated_at: Date.now() }).where('id', '=', id).execute();
  }

  /**
   * Like updateJob, only while `owner` holds the job (the runner's writes: an instance whose job
   * another one took over writes nothing more). False when refused.
   */
  async updateOwnedJob(id: number, owner: string, patch: Partial<Pick<JobRow, 'state' | 'finished_at'>>): Promise<boolean> {
    const r = await this.db.updateTable('provision_jobs').set({ ...patch, updated_at: Date.now() }).where('id', '=', id).where('owner', '=', owner).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Like updateVm, only while `owner` holds the VM's job. False when refused. */
  async updateOwnedVm(id: number, jobId: number, owner: string, patch: Partial<Omit<VmRow, 'id' | 'job_id' | 'class_id' | 'cluster_id' | 'idx'>>): Promise<boolean> {
    const r = await this.db.updateTable('provision_vms').set({ ...patch, updated_at: Date.now() }).where('id', '=', id)
      .where('job_id', 'in', (eb) => eb.selectFrom('provision_jobs').select('id').where('id', '=', jobId).where('owner', '=', owner))
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Whether another instance holds a live lease on the job (renewed at or after `liveSince`). */
  async heldElsewhere(id: number, owner: string, liveSince: number): Promise<boolean> {
    const row = await this.db.selectFrom('provision_jobs').select(['owner', 'renewed_at']).where('id', '=', id).executeTakeFirst();
    return !!row && row.owner !== null && row.owner !== owner && row.renewed_at !== null && row.renewed_at >= liveSince;
  }

  async updateVm(id: number, patch: Partial<Omit<VmRow, 'id' | 'job_id' | 'class_id' | 'cluster_id' | 'idx'>>): Promise<void> {
    await this.db.updateTable('provision_vms').set({ ...patch, updated_at: Date.now() }).where('id', '=', id).execute();
  }

  /** Cancels the VMs of a job not yet started. */
  async cancelPending(jobId: number): Promise<void> {
    await this.db.updateTable('provision_vms').set({ state: 'cancelled', updated_at: Date.now() })
      .where('job_id', '=', jobId).where('state', '=', 'pending').execute();
  }

  /** The VMs labdeck made for a class that may still exist in Proxmox (vmid known). */
  async classVms(classId: number): Promise<VmRow[]> {
    return this.db.selectFrom('provision_vms').selectAll().where('class_id', '=', classId).where('vmid', 'is not', null)
      .where('state', 'in', LIVE_VM_STATES).orderBy('cluster_id').orderBy('vmid').execute();
  }

  /** The live provisioning record of a VM, if labdeck made it. */
  async findVm(cluster: string, vmid: number): Promise<VmRow | null> {
    return (await this.db.selectFrom('provision_vms').selectAll().where('cluster_id', '=', cluster).where('vmid', '=', vmid)
      .where('state', 'in', LIVE_VM_STATES).orderBy('id', 'desc').executeTakeFirst()) ?? null;
  }

  async vm(id: number): Promise<VmRow | null> {
    return (await this.db.selectFrom('provision_vms').selectAll().where('id', '=', id).executeTakeFirst()) ?? null;
  }

  /** An unfinished re-creation of the VM of that row, if one is under way. */
  async replacing(rowId: number): Promise<VmRow | null> {
    return (await this.db.selectFrom('provision_vms').selectAll().where('replaces_id', '=', rowId)
      .where('state', 'in', UNFINISHED_VM_STATES).executeTakeFirst()) ?? null;
  }

  /**
   * vmids on a cluster held by unfinished rows (so allocation skips them after a restart), and the
   * ids of VMs an unfinished re-creation replaces: once the old VM is gone nextid offers its id,
   * and the new clone must not take it (it would pass for the old VM, its history and its card).
   */
  async reservedVmids(cluster: string): Promise<number[]> {
    const rows = await this.db.selectFrom('provision_vms').select('vmid').where('cluster_id', '=', cluster).where('vmid', 'is not', null)
      .where((eb) => eb.or([
        eb('state', 'in', UNFINISHED_VM_STATES),
        eb('id', 'in', eb.selectFrom('provision_vms as r').select('r.replaces_id').where('r.replaces_id', 'is not', null).where('r.state', 'in', UNFINISHED_VM_STATES)),
      ])).execute();
    return rows.map((r) => r.vmid!);
  }
}
